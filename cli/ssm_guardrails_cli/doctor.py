"""doctor: which controls this account and Region has, and whether the caller may run each command."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from ssm_guardrails_cli import persons
from ssm_guardrails_cli.permissions import COMMANDS, RUNNERS
from ssm_guardrails_cli.principals import match_jobs
from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.settings import ControlMissing, Settings, load_settings
from ssm_guardrails_cli.trails import covering_trail

EXAMPLE_NODE = "i-0123456789abcdef0"
EXAMPLE_EXECUTION = "4f9b0c1e-1111-2222-3333-444455556666"


def run_doctor(rt: Runtime) -> Exit:
    identity = rt.client("sts").get_caller_identity()
    settings = load_settings(rt)
    checks = {command: _may_run(rt, identity, settings, command) for command in COMMANDS}
    role = _caller_role(rt, identity["Arn"])
    report = {"caller": identity["Arn"], "region": rt.region, "controls": settings.deployed(), "commands": checks,
              "principals": principal_check(identity["Arn"], settings, role),
              "cloudtrail": trail_check(rt)}  # fmt: skip
    if settings.deployed().get("separation_of_duties"):
        report["person"] = person_check(identity["Arn"], role)
        report["runbook"] = runbook_check(rt, settings.raw["separation_of_duties"].get("runbook"))
    rt.emit(report, lambda: _print(rt, report))
    return Exit.OK


def _caller_role(rt: Runtime, caller_arn: str) -> dict[str, Any] | None:
    """GetRole of the caller's role (its path and trust policy), or None when not a role or not allowed."""
    from botocore.exceptions import ClientError

    who = persons.identity(caller_arn)
    if who is None or who.kind != "role":
        return None
    try:
        return rt.client("iam").get_role(RoleName=who.name)["Role"]
    except ClientError:
        return None


def principal_check(caller_arn: str, settings: Settings, role: dict[str, Any] | None) -> dict[str, str]:
    """Per job of the deployed config: which configured principal the caller is, or why none matched
    (role name, role ARN with its path, IAM Identity Center permission set; README "IAM Identity Center")."""
    path = role.get("Path") if role else None
    jobs = match_jobs(caller_arn, settings.raw.get("principals", {}), path)
    return {job: ("yes: " if match.matched else "no: ") + match.reason for job, match in jobs.items()}


def runbook_check(rt: Runtime, runbook: str | None) -> str:
    """Whether the runbook's latest version is its default: a newer version CloudFormation did not promote
    is kept by the sweeper (and alarmed), and the grant function grants only for the default one."""
    from botocore.exceptions import ClientError

    if not runbook:
        return "not used on this approval path"
    try:
        document = rt.client("ssm").describe_document(Name=runbook)["Document"]
    except ClientError as error:
        return f"unknown ({error.response['Error']['Code']})"
    latest, default = document.get("LatestVersion"), document.get("DefaultVersion")
    if latest == default:
        return f"default version {default} is the latest"
    return f"version {latest} is newer than the default {default}: update the stack so CloudFormation promotes it"


def person_check(caller_arn: str, role: dict[str, Any] | None) -> str:
    """The grant function's own person rule, for the caller (README "What makes a person")."""
    who = persons.identity(caller_arn)
    if who is None:
        return f"no: {caller_arn} is neither an IAM user nor a role session"
    try:
        return f"yes: {persons.person_of(who, role).name}"
    except persons.UntrustedSessionName as refusal:
        return f"no: {refusal}"


def _may_run(rt: Runtime, identity: dict[str, Any], settings: Settings, command: str) -> str:
    """allowed / denied: <action> / control missing / unknown (iam:SimulatePrincipalPolicy not allowed).

    SimulatePrincipalPolicy evaluates the caller's identity policies (and SCPs are not included):
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html"""
    runner, needs = COMMANDS[command]
    try:
        values = _values(rt, identity, settings.control(RUNNERS[runner]))
    except ControlMissing:
        return "control missing"
    from botocore.exceptions import ClientError

    iam = rt.client("iam")
    skipped: list[str] = []
    for need in needs:
        try:
            result = iam.simulate_principal_policy(
                PolicySourceArn=_policy_source(identity["Arn"]),
                ActionNames=[need.action],
                ResourceArns=[need.resource.format_map(values)],
                ContextEntries=[_context_entry(key, value, values) for key, value in need.context.items()],
            )["EvaluationResults"][0]
        except KeyError as missing:  # settings written by an older stack
            return f"unknown (the stack's settings lack {missing})"
        except ClientError as error:
            if error.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException"):
                return "unknown (iam:SimulatePrincipalPolicy is not allowed)"
            raise
        if result["EvalDecision"] != "allowed":
            if not need.optional:
                return f"denied: {need.action}"
            skipped.append(need.action)
    return f"allowed (without {', '.join(skipped)}: a check is skipped)" if skipped else "allowed"


def trail_check(rt: Runtime) -> str:
    """Whether a trail records, in this account and Region, the management events the controls'
    CloudTrail alerts read (README "Prerequisite: CloudTrail"; :mod:`ssm_guardrails_cli.trails`)."""
    from botocore.exceptions import ClientError

    try:
        arn, reasons = covering_trail(rt.client("cloudtrail"), rt.region)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException"):
            return "unknown (cloudtrail:DescribeTrails, GetTrailStatus and GetEventSelectors are not allowed)"
        raise
    if arn:
        return f"recorded by {arn}"
    return f"missing: {'; '.join(reasons)} (the CloudTrail-based alerts never fire)"


def _context_entry(key: str, value: str | list[str], values: dict[str, str]) -> dict[str, Any]:
    many = isinstance(value, list)
    filled = [v.format_map(values) for v in (value if many else [value])]
    return {"ContextKeyName": key, "ContextKeyValues": filled, "ContextKeyType": "stringList" if many else "string"}


def _values(rt: Runtime, identity: dict[str, Any], control: dict[str, Any]) -> dict[str, str]:
    functions = control.get("freshness_report_functions") or [""]
    return {
        "partition": identity["Arn"].split(":")[1],
        "region": rt.region,
        "account": identity["Account"],
        "node": EXAMPLE_NODE,
        "execution": EXAMPLE_EXECUTION,
        "freshness_report_function": functions[0],
        **{k: v for k, v in control.items() if isinstance(v, str)},
    }


def _policy_source(caller_arn: str) -> str:
    """An assumed-role session is simulated as its role (arn:...:sts::A:assumed-role/R/S -> role/R)."""
    parts = caller_arn.split(":")
    if parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{parts[5].split('/')[1]}"
    return caller_arn


def _print(rt: Runtime, report: dict[str, Any]) -> None:
    rt.console.print(f"Caller {report['caller']} in {report['region']}")
    controls = Table("control", "deployed", title="Controls")
    for control, deployed in report["controls"].items():
        controls.add_row(control, "yes" if deployed else "[red]missing[/red]")
    rt.console.print(controls)
    commands = Table("command", "may run", title="Commands (identity policies)")
    for command, verdict in report["commands"].items():
        commands.add_row(command, verdict)
    rt.console.print(commands)
    principals = Table("job", "you are", title="Configured principals")
    for job, verdict in report["principals"].items():
        principals.add_row(job, verdict)
    rt.console.print(principals)
    if "person" in report:
        rt.console.print(f"Person for separation of duties: {report['person']}")
        rt.console.print(f"Session runbook: {report['runbook']}")
    rt.console.print(f"CloudTrail: {report['cloudtrail']}")
