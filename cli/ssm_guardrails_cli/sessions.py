"""request-session: ask, wait for another person's approval, then connect (or print how)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ssm_guardrails_cli.connect import check_prerequisites, connect, start_session_command
from ssm_guardrails_cli.errors import CliError, check_id, check_node
from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.settings import load_settings
from ssm_guardrails_cli.waits import Ongoing, wait_for

#: Automation execution statuses:
#: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AutomationExecution.html
ENDED = {"Success", "TimedOut", "Cancelled", "Failed", "CompletedWithSuccess", "CompletedWithFailure", "Rejected"}
POLL_SECONDS = 5
MAX_REASON = 200  # the runbook's Reason parameter (allowedPattern in ssm_documents/allow_start_ssm_session.yaml)


def person_of(arn: str) -> str:
    """Who a caller is, as the runbook compares requesters and approvers: the role session name of
    an assumed role (IAM Identity Center and a trust policy that pins sts:RoleSessionName make it
    the person), or the user name of an IAM user."""
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        return rest.split("/", 1)[1].lower()
    return rest.rsplit("/", 1)[-1].lower()


def request_tag(settings: dict[str, Any]) -> dict[str, str]:
    """The tag every session request carries (runbook execution or change request)."""
    return {"Key": "SsmGuardrailsRequest", "Value": settings["runbook"]}


def run_request(
    rt: Runtime, node: str, minutes: int | None, connect_now: bool | None, reason: str, timeout: int,
    resume: str | None,
) -> Exit:  # fmt: skip
    check_node(node)
    if resume:
        check_id(resume, "--resume")
    if len(reason) > MAX_REASON or any(c in reason for c in "{}\r\n"):
        raise CliError(Exit.USAGE, f"--reason: at most {MAX_REASON} characters, one line, no braces")
    settings = load_settings(rt).control("separation_of_duties")
    if settings["approval_path"] != "approval_runbook":
        return _explain_other_path(rt, settings, node)
    if connect_now is None:
        connect_now = rt.is_tty() and not rt.json
    if connect_now:
        check_prerequisites(rt)
    ssm = rt.client("ssm", region=settings["home_region"])
    execution_id = resume or _start(rt, ssm, settings, node, minutes, reason)
    ongoing = Ongoing(
        f"session request {execution_id}",
        f"ssm-guardrails request-session {node} --resume {execution_id}",
        f"ssm-guardrails cancel {execution_id}",
    )
    execution = wait_for(
        rt, "Waiting for approval:", lambda: _decision(ssm, execution_id, settings),
        ongoing, timeout, POLL_SECONDS,
    )  # fmt: skip
    outcome = outcome_of(execution, settings["grant_step"])
    rt.emit({"execution_id": execution_id, "node": node, **outcome, "session_document": settings["session_document"]},
            lambda: _print_outcome(rt, outcome))  # fmt: skip
    if outcome["outcome"] != "approved":
        return Exit.NOT_APPROVED
    if connect_now:
        return connect(rt, node, settings["session_document"])
    if not rt.json:
        rt.say(f"Start it with: {start_session_command(rt, node, settings['session_document'])}")
    return Exit.OK


def _start(rt: Runtime, ssm: Any, settings: dict[str, Any], node: str, minutes: int | None, reason: str) -> str:
    parameters = {"InstanceId": [node], "ValidityMinutes": [str(minutes or settings["validity_minutes"])]}
    if reason:  # only when given: a runbook deployed before Reason existed still takes requests
        parameters["Reason"] = [reason]
    # The request tag is required by the operator policy and is what lets approvers signal it (issue 12).
    execution_id = ssm.start_automation_execution(
        DocumentName=settings["runbook"], Parameters=parameters, Tags=[request_tag(settings)]
    )["AutomationExecutionId"]
    approvers = ", ".join(settings.get("approver_roles", [])) or "the configured approvers"
    if not rt.json:
        rt.say(f"Request {execution_id} sent: one of {approvers} must approve it.")
    return execution_id


def _decision(ssm: Any, execution_id: str, settings: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The execution once the grant step succeeded or the execution ended; else its state."""
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    if execution["DocumentName"].split("/")[-1] != settings["runbook"]:
        raise CliError(Exit.REFUSED, f"{execution_id} runs {execution['DocumentName']}, not a session request")
    steps = {s["StepName"]: s for s in execution.get("StepExecutions", [])}
    state = execution["AutomationExecutionStatus"]
    if steps.get(settings["grant_step"], {}).get("StepStatus") == "Success" or state in ENDED:
        return execution, state
    return None, state


def outcome_of(execution: dict[str, Any], grant_step: str) -> dict[str, Any]:
    """approved (who approved, when the window ends) or why the execution ended without a grant.

    aws:approve puts the decisions in its ApproverDecisions output:
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html"""
    steps = {s["StepName"]: s for s in execution.get("StepExecutions", [])}
    grant = steps.get(grant_step, {})
    if grant.get("StepStatus") != "Success":
        state = execution["AutomationExecutionStatus"]
        return {"outcome": f"{state.lower()} {execution.get('FailureMessage', '')}".strip(), "approvers": [],
                "window_ends": None}  # fmt: skip
    decisions = [d for step in steps.values() for d in _decisions(step)]
    outputs = {**execution.get("Outputs", {}), **grant.get("Outputs", {})}
    ends = (outputs.get("ExpiresAt") or outputs.get(f"{grant_step}.ExpiresAt") or [None])[0]
    comments = [d["Comment"] for d in decisions if d.get("Comment")]
    approvers = [d.get("Approver", "") for d in decisions]
    return {"outcome": "approved", "approvers": approvers, "approver_comments": comments, "window_ends": ends}


def _decisions(step: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for value in step.get("Outputs", {}).get("ApproverDecisions", []):
        parsed = json.loads(value) if isinstance(value, str) else value
        found += [d for d in (parsed if isinstance(parsed, list) else [parsed]) if isinstance(d, dict)]
    return found


def _print_outcome(rt: Runtime, outcome: dict[str, Any]) -> None:
    if outcome["outcome"] != "approved":
        rt.say(f"Not approved: {outcome['outcome']}.")
        return
    by = ", ".join(person_of(a) + f" ({a})" for a in outcome["approvers"]) or "an approver"
    ends = outcome["window_ends"]
    said = "".join(f' "{comment}"' for comment in outcome.get("approver_comments", []))
    rt.say(f"Approved by {by}{':' + said if said else ''}. " + (f"Start the session before {ends}." if ends else ""))


def _explain_other_path(rt: Runtime, settings: dict[str, Any], node: str) -> Exit:
    template = settings.get("change_template", "AllowSsmSessionStartTemplate")
    tag = request_tag(settings)
    steps = {
        "change_manager": [
            f"Create a change request from the template {template} with InstanceId={node} and the tag "
            f"{tag['Key']}={tag['Value']} (Systems Manager > Change Manager > Create request).",
            "An approver approves it under Change Manager > Requests; Change Manager then runs the runbook.",
            f"Then: {start_session_command(rt, node, settings['session_document'])}",
        ],
        "just_in_time": [
            f"Systems Manager > Explore nodes > {node} > Connect, then submit an access request with a reason.",
            "An approver approves it under Manage node access > Access requests.",
            "Connect from the console once it is approved.",
        ],
    }[settings["approval_path"]]
    rt.emit({"approval_path": settings["approval_path"], "steps": steps}, lambda: [rt.say(s) for s in steps])
    return Exit.OK


def minutes_since(rt: Runtime, started: datetime) -> int:
    return int((rt.clock() - started).total_seconds() // 60)
