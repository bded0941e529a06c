"""The SeparationOfDuties organization guard (issue 21 item 7): the stack that attaches the SCP, and
what the SCP denies, judged by the IAM simulator with the SCP applied next to AWS's FullAWSAccess
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html).

Each denied call is also judged without the SCP: the principal's own policies allow it, so the SCP
is what denies it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk_helpers import ROOT, SynthesizedApp, new_app, resources_of
from simulator import PolicySet, Request, simulate

from guardrails import SeparationOfDuties
from stacks.build import build_app
from stacks.config import ConfigError, load_config
from stacks.stages import GUARD_STACK_NAME

ACCOUNT = "111122223333"
REGION = "eu-west-1"
ADMINISTRATOR_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _config(tmp_path: Path, **organization: Any) -> Path:
    raw = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    raw["organization"].update(organization)
    path = tmp_path / "guarded.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    directory = tmp_path_factory.mktemp("guarded")
    app = new_app(directory / "out")
    build_app(app, load_config(str(_config(directory, guard_policy=True))))
    return SynthesizedApp(app, app.synth())


def _control(app: SynthesizedApp) -> SeparationOfDuties:
    [control] = [c for c in app.app.node.find_all() if isinstance(c, SeparationOfDuties)]
    return control


def test_the_guard_is_an_scp_on_the_target_ous_in_the_stack_set_account(guarded: SynthesizedApp) -> None:
    config = load_config("example")
    stack = guarded.stack(GUARD_STACK_NAME)
    assert stack.environment.account == config.organization.stack_set_account
    [policy] = resources_of(stack.template, "AWS::Organizations::Policy").values()
    properties = policy["Properties"]
    assert properties["Type"] == "SERVICE_CONTROL_POLICY"
    assert properties["TargetIds"] == config.organization.target_ous
    assert properties["Content"] == _control(guarded).scp_document
    first_wave = next(
        s for s in guarded.assembly.stacks_recursively if s.stack_name.startswith("SsmGuardrails-Rollout")
    )
    assert GUARD_STACK_NAME in {d.id.split("/")[-1] for d in first_wave.dependencies} | {
        d.stack_name for d in first_wave.dependencies if hasattr(d, "stack_name")
    }


def test_the_guard_is_off_by_default(example_app: SynthesizedApp) -> None:
    assert GUARD_STACK_NAME not in example_app.stack_names


def test_the_guard_needs_the_control(tmp_path: Path) -> None:
    path = _config(tmp_path, guard_policy=True)
    raw = yaml.safe_load(path.read_text())
    raw["controls"]["separation_of_duties"]["enabled"] = False
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"organization\.guard_policy: got True; allowed: true only with"):
        load_config(str(path))


def _role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def _session(role: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/alice"


def _arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _context(role: str, **extra: Any) -> dict[str, Any]:
    return {"aws:PrincipalArn": _role(role), "aws:PrincipalAccount": ACCOUNT, "aws:SecureTransport": "true", **extra}


#: (id, principal role, action, resource, context, expected with the SCP); every principal holds
#: AdministratorAccess, so "denied" is the guard's doing.
CASES = [
    # a non-operator with UpdateDocument, CreateDocument and PassRole makes nothing grant
    ("admin-updates-the-runbook", "Administrator", "ssm:UpdateDocument", _arn("ssm", "document/AllowStartSsmSession"),
     {}, "denied"),
    ("admin-moves-the-default-version", "Administrator", "ssm:UpdateDocumentDefaultVersion",
     _arn("ssm", "document/AllowStartSsmSession"), {}, "denied"),
    ("admin-lends-the-runbook-role", "Administrator", "iam:PassRole", _role("SsmSessionControlChangeMangerRole"),
     {"iam:PassedToService": "ssm.amazonaws.com"}, "denied"),
    ("admin-passes-the-grant-role-to-a-function", "Administrator", "iam:PassRole",
     _role("SsmGuardrailsSessionGrantRole"), {"iam:PassedToService": "lambda.amazonaws.com"}, "denied"),
    ("admin-changes-the-grant-function", "Administrator", "lambda:UpdateFunctionCode",
     _arn("lambda", "function:SsmGuardrailsSessionGrant"), {}, "denied"),
    ("admin-writes-a-grant", "Administrator", "iam:PutRolePolicy", _role("SessionRequester"), {}, "denied"),
    ("admin-changes-the-runbook-role", "Administrator", "iam:PutRolePolicy",
     _role("SsmSessionControlChangeMangerRole"), {}, "denied"),
    ("operator-passes-the-runbook-role-elsewhere", "SessionRequester", "iam:PassRole",
     _role("SsmSessionControlChangeMangerRole"), {"iam:PassedToService": "lambda.amazonaws.com"}, "denied"),
    # what must keep working under the guard
    ("grant-function-writes-a-grant", "SsmGuardrailsSessionGrantRole", "iam:PutRolePolicy",
     _role("SessionRequester"), {}, "allowed"),
    ("operator-passes-the-runbook-role", "SessionRequester", "iam:PassRole",
     _role("SsmSessionControlChangeMangerRole"), {"iam:PassedToService": "ssm.amazonaws.com"}, "allowed"),
    ("stacksets-update-the-runbook", "stacksets-exec-0123456789abcdef", "ssm:UpdateDocument",
     _arn("ssm", "document/AllowStartSsmSession"), {}, "allowed"),
    ("cloudformation-passes-the-grant-role", "stacksets-exec-0123456789abcdef", "iam:PassRole",
     _role("SsmGuardrailsSessionGrantRole"), {"iam:PassedToService": "lambda.amazonaws.com"}, "allowed"),
]  # fmt: skip


@pytest.fixture(scope="module")
def judged(guarded: SynthesizedApp) -> dict[str, Any]:
    guard = _control(guarded).scp_document
    batch = []
    for case_id, role, action, resource, context, _ in CASES:
        request = Request(_session(role), action, resource, _context(role, **context))
        batch.append((f"{case_id}@guard", PolicySet(identity=[ADMINISTRATOR_ACCESS], scps=[guard]), request))
        batch.append((f"{case_id}@unguarded", PolicySet(identity=[ADMINISTRATOR_ACCESS], scps=[]), request))
    return simulate(batch)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_guard_denies_what_no_account_policy_can(judged: dict[str, Any], case: tuple[Any, ...]) -> None:
    case_id, *_, expected = case
    guarded_decision = judged[f"{case_id}@guard"].decision
    assert guarded_decision is not None
    assert (guarded_decision.allowed, expected) in {(True, "allowed"), (False, "denied")}, judged[f"{case_id}@guard"]
    assert judged[f"{case_id}@unguarded"].decision.allowed  # the principal's own policies allow it
