"""Scenarios -> simulator requests (one batch per session), and requests' results -> a scenario's decision."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from access_settings import (
    ADMINISTRATOR_ACCESS,
    APPROVAL_PATHS,
    CENTRAL,
    CONFIG,
    CONFIGS,
    DEFAULT_PATH,
    MEMBER,
    ORG,
    OTHER_REGION,
    ROLLOUT,
    SCENARIOS,
    SESSION_WINDOW,
    path_of,
)
from cdk_helpers import ROOT, SynthesizedApp, new_app
from implied import implied_requests
from resolve import Environment, ResolvedTemplate
from service_reference import missing_required
from simulator import Decision, PolicySet, Request, Result
from world import Principal, World

from guardrails.separation_of_duties import SeparationOfDuties
from stacks.build import (
    CENTRAL_STACK_NAME,
    MEMBER_GLOBAL_STACK_NAME,
    MEMBER_REGIONAL_STACK_NAME,
    ROLLOUT_STACK_NAME,
)
from stacks.config import load_config
from stacks.stages import MemberStage

#: AWS-owned documents have ARNs without an account ("The account ID shouldn't be specified in the
#: ARN for AWS owned public documents":
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-setup-identity-based-policies.html).
#: The simulator refuses request ARNs with an empty account, so the empty account becomes this
#: stand-in in requests and policies alike: it matches exactly what the empty field matched.
AWS_OWNED_STAND_IN = "000000000000"
_AWS_OWNED_DOCUMENT = re.compile(r"^(arn:[\w-]+:ssm:[\w*?-]*)::document/")


def aws_owned_stand_in(value: Any) -> Any:
    if isinstance(value, str):
        return _AWS_OWNED_DOCUMENT.sub(rf"\1:{AWS_OWNED_STAND_IN}:document/", value)
    if isinstance(value, list):
        return [aws_owned_stand_in(item) for item in value]
    if isinstance(value, dict):
        return {key: aws_owned_stand_in(item) for key, item in value.items()}
    return value


def _formatted(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return value.format_map(values)
    if isinstance(value, list):
        return [_formatted(item, values) for item in value]
    return {key: _formatted(item, values) for key, item in value.items()}


#: Deliberately weakened policies that must flip every answer: nothing at all for a call expected
#: allowed (the answer cannot be "allowed" without a grant), and allow-everything identity and
#: resource policies for a call expected denied (so the request itself is one IAM can allow).
ALLOW_EVERYTHING_TO_ANYONE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*", "Resource": "*"}],
}


def weakened(policies: PolicySet, expect: str) -> PolicySet:
    if expect == "allowed":
        return PolicySet()
    return PolicySet(identity=[ADMINISTRATOR_ACCESS], resource=policies.resource and ALLOW_EVERYTHING_TO_ANYONE)


def grant_policy(grant: Mapping[str, str], principals: Mapping[str, Principal], default: str) -> dict[str, Any]:
    """``grant: {instance, expires, for}``: the Grant step's policy for the session of ``for`` (default:
    the scenario's principal), rendered by the runbook script itself."""
    prefs = CONFIG.controls.session_prefs
    return SESSION_WINDOW.grant_policy(
        userid=principals[grant.get("for", default)].userid,
        node_id=grant["instance"],
        account=MEMBER.account,
        regions=list(ORG.regions),
        expires_at=grant["expires"],
        key_alias="alias/session-manager/data" if prefs.enabled and prefs.session_encryption else "",
    )


def arns_of(scenario: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
    """The scenario's resources: one ARN, or a list (one per resource type AWS checks)."""
    resource = scenario["resource"]
    return _formatted(resource if isinstance(resource, list) else [resource], values)


def requests_of(scenario: Mapping[str, Any], arns: list[str], context: dict[str, Any]) -> list[tuple[str, str, dict]]:
    """Every request AWS authorizes for the scenario's call: the action on each of its resources,
    and the actions it implies (implied.py)."""
    action = scenario["action"]
    implied, _ = implied_requests(action, arns, context)
    return [(action, arn, context) for arn in arns] + implied


def scenario_batch(
    world: World, suffix: str, path: str = DEFAULT_PATH, scenarios: list[dict[str, Any]] | None = None
) -> list[tuple[str, PolicySet, Request]]:
    """The scenarios (default: SCENARIOS) of approval path ``path`` against ``world``: item ids are
    ``<scenario id>@<suffix>#<n>``, one per request (see requests_of)."""
    principals = world.principals()
    values = world.values(principals)
    resource_policies = world.resource_policies()
    trust_policies = world.trust_policies()
    batch = []
    for scenario in (s for s in (SCENARIOS if scenarios is None else scenarios) if path_of(s) == path):
        if scenario_problems(scenario, values):
            continue  # judged by nothing less than AWS checks: test_scenario fails, naming the problem
        principal = principals[scenario["as"]]
        tags = _formatted(scenario.get("tags", {}), values)
        arns = arns_of(scenario, values)
        context = {**principal.context(tags), **_formatted(scenario.get("context", {}), values)}
        identity = principal.policies
        if "grant" in scenario:  # the inline policy the runbook's Grant step writes on the role
            identity = [*identity, grant_policy(_formatted(scenario["grant"], values), principals, scenario["as"])]
            # AWS sends the Region of every request (aws:RequestedRegion), here the resource's
            context.setdefault("aws:RequestedRegion", arns[0].split(":")[3] if arns[0] != "*" else MEMBER.region)
        for index, (action, resource, request_context) in enumerate(requests_of(scenario, arns, context)):
            # AWS-owned documents are evaluated like resources of the caller's account (no resource
            # policy); S3 ARNs have no account: the rollout's asset buckets are the reader's own
            own = _AWS_OWNED_DOCUMENT.match(resource) or resource.startswith("arn:aws:s3:::")
            request = Request(
                principal.session_arn,
                action,
                aws_owned_stand_in(resource),
                request_context,
                resource_account=principal.account if own else None,
            )
            # a role's trust policy is the resource policy of sts:AssumeRole* only
            resource_policy = (trust_policies if action.startswith("sts:Assume") else resource_policies).get(resource)
            policies = PolicySet(
                identity=aws_owned_stand_in(identity),
                resource=resource_policy,
                scps=[world.scp] if scenario.get("scp") and world.scp else [],
            )
            batch.append((f"{scenario['id']}@{suffix}#{index}", policies, request))
            if suffix == "stage":
                batch.append((f"{scenario['id']}@weakened#{index}", weakened(policies, scenario["expect"]), request))
    return batch


def judged(results: Mapping[str, Result], scenario_id: str, source: str) -> tuple[Decision, list[str]]:
    """The scenario's decision: allowed only when every one of its requests is allowed (AWS
    authorizes a call on every resource and implied action); the denied requests, explained."""
    prefix = f"{scenario_id}@{source}#"
    mine = [(key, result) for key, result in results.items() if key.startswith(prefix)]
    assert mine, f"{scenario_id} was not judged: {'; '.join(PROBLEMS.get(scenario_id, ['no requests']))}"
    denied = [(key, r) for key, r in mine if r.decision is None or r.decision.denied]
    if not denied:
        return Decision.ALLOWED, []
    decision = (
        Decision.EXPLICIT_DENY
        if any(r.decision is Decision.EXPLICIT_DENY for _, r in denied)
        else Decision.IMPLICIT_DENY
    )
    return decision, [
        f"{key.rsplit('#', 1)[1]}: {r.decision} ({r.statement or ', '.join(map(str, r.statements))})"
        for key, r in denied
    ]


def worlds(example_app: SynthesizedApp) -> dict[str, World]:
    """The Member stage's templates and the StackSet copies of the same stacks."""
    stackset = {
        name: json.loads(
            next(
                p for p in example_app.template_paths if name.split("-")[-1] in p.name and "stackset" in p.name
            ).read_text()
        )
        for name in (MEMBER_REGIONAL_STACK_NAME, MEMBER_GLOBAL_STACK_NAME)
    }
    stage = {name: example_app.template_json(name) for name in stackset}
    central = ResolvedTemplate(example_app.template_json(CENTRAL_STACK_NAME), CENTRAL_STACK_NAME, CENTRAL)
    other_region = Environment(MEMBER.account, OTHER_REGION)

    def world(templates: dict[str, dict[str, Any]]) -> World:
        regional = templates[MEMBER_REGIONAL_STACK_NAME]
        return World(
            regional=ResolvedTemplate(regional, MEMBER_REGIONAL_STACK_NAME, MEMBER),
            other_region=ResolvedTemplate(regional, MEMBER_REGIONAL_STACK_NAME, other_region),
            global_=ResolvedTemplate(templates[MEMBER_GLOBAL_STACK_NAME], MEMBER_GLOBAL_STACK_NAME, MEMBER),
            central=central,
            scp=separation_of_duties_scp(example_app),
            rollout=ResolvedTemplate(example_app.template_json(ROLLOUT_STACK_NAME), ROLLOUT_STACK_NAME, ROLLOUT),
        )

    return {"stage": world(stage), "stackset": world(stackset)}


def separation_of_duties_scp(app: SynthesizedApp) -> dict[str, Any]:
    [control] = [c for c in app.app.node.find_all() if isinstance(c, SeparationOfDuties)]
    return control.scp_document


def path_world(path: str, directory: Path, central: ResolvedTemplate) -> World:
    """The Member stage (only) of the example config with approval path ``path`` (or of the config
    ``CONFIGS[path]``), validated like any config file; the central stack is the example's."""
    raw = yaml.safe_load((ROOT / "config" / f"{CONFIGS.get(path, 'example')}.yaml").read_text())
    raw["controls"]["separation_of_duties"].update(APPROVAL_PATHS.get(path, {}))
    config_file = directory / f"{path}.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    app = new_app(directory / f"{path}.out")
    MemberStage(app, "Member", config=load_config(str(config_file)))
    synthesized = SynthesizedApp(app, app.synth())
    regional = synthesized.template_json(MEMBER_REGIONAL_STACK_NAME)
    return World(
        regional=ResolvedTemplate(regional, MEMBER_REGIONAL_STACK_NAME, MEMBER),
        other_region=ResolvedTemplate(regional, MEMBER_REGIONAL_STACK_NAME, Environment(MEMBER.account, OTHER_REGION)),
        global_=ResolvedTemplate(synthesized.template_json(MEMBER_GLOBAL_STACK_NAME), MEMBER_GLOBAL_STACK_NAME, MEMBER),
        central=central,
        scp=separation_of_duties_scp(synthesized),
    )


#: scenario id -> why it could not be judged as AWS authorizes it (filled by scenario_batch)
PROBLEMS: dict[str, list[str]] = {}


def scenario_problems(scenario: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
    """What keeps the scenario from being judged as AWS authorizes its call."""
    if any(key not in values for key in _placeholders(scenario["resource"])):
        return []  # a value of another approval path (its World has it): judged by test_scenario
    arns = arns_of(scenario, values)
    missing = missing_required(scenario["action"], arns)
    problems = [f"{scenario['action']} requires a {t} resource: the scenario names none" for t in missing]
    context = _formatted(scenario.get("context", {}), values)
    problems += implied_requests(scenario["action"], arns, context)[1]
    if problems:
        PROBLEMS[scenario["id"]] = problems
    return problems


def _placeholders(resource: str | list[str]) -> set[str]:
    return {
        name
        for text in ([resource] if isinstance(resource, str) else resource)
        for name in re.findall(r"\{(\w+)\}", text)
    }
