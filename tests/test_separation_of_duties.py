"""SeparationOfDuties: templates of the three approval paths, the runbook and its grant script
(moto IAM, stubbed Automation), the grant sweeper (moto), cdk-nag, cfn-lint and the prop checks."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_iam as iam
from botocore.stub import Stubber
from cdk_helpers import ROOT, as_list, nag_findings, new_app, only_resource, rendered, resources_of, statements
from moto import mock_aws
from ssm_docs import references, render

from guardrails import PropsError
from guardrails.separation_of_duties import SeparationOfDuties
from guardrails.separation_of_duties.approval_runbook import REQUEST_TAG_KEY
from guardrails.separation_of_duties.grant import GRANT_PREFIX
from guardrails.separation_of_duties.just_in_time import check_cedar
from guardrails.shared import Principal
from guardrails.shared.documents import load_document

ACCOUNT = "111111111111"
APPROVER = f"arn:aws:iam::{ACCOUNT}:role/Approver"
SECOND_APPROVER = f"arn:aws:iam::{ACCOUNT}:user/alice"
SCRIPT = ROOT / "ssm_documents" / "scripts" / "session_window.py"
SWEEPER = ROOT / "lambdas" / "session_tag_sweeper" / "index.py"
CEDAR = (
    "// development nodes need no manual approval\n"
    'permit (principal, action == AWS::SSM::Action::"getTokenForInstanceAccess", resource)\n'
    'when { resource.hasTag("Environment") && resource.getTag("Environment") == "Development" };'
)
STACKS = {"Runbook": "approval_runbook", "ChangeManager": "change_manager", "JustInTime": "just_in_time"}
PROTECTED = ["SessionOperators", "PatchGroup"]


def _props(stack: cdk.Stack, path: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "operators": [iam.Role.from_role_name(stack, "Operator", "Operator")],
        "approval_path": path,
        "protected_tag_keys": PROTECTED,
        "scp_principals": ["PasswordReader"],
    }
    if path == "just_in_time":
        # IAM Identity Center requesters: a permission set references the requester policy by name
        props["operators"] = [*props["operators"], Principal.from_permission_set("SessionRequester")]
        props.update(
            just_in_time_approvers=[("SSOGroup", "e8c17310-e011-7089-d989-10da1example")],
            just_in_time_node_tags={"Environment": ["Production"]},
            just_in_time_auto_approval_cedar=CEDAR,
        )
    else:
        props["approvers"] = [APPROVER, SECOND_APPROVER]
    return props


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One app, one stack per approval path (the runbook path also terminates sessions and has a
    user operator); synthesized and checked by cdk-nag once for the module."""
    app = new_app(tmp_path_factory.mktemp("separation.out"))
    built: dict[str, SeparationOfDuties] = {}
    for stack_name, path in STACKS.items():
        stack = cdk.Stack(app, stack_name, env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
        props = _props(stack, path)
        if path == "approval_runbook":
            props.update(
                operator_users=[iam.User.from_user_name(stack, "OperatorUser", "bob")],
                terminate_sessions_at_end=True,
                min_approvals=2,
                session_regions=["eu-west-1", "us-east-1"],
            )
        if path == "change_manager":
            props["min_approvals"] = 2
        built[stack_name] = SeparationOfDuties(stack, "Sod", **props)
    findings = nag_findings(app)
    assembly = app.synth()
    return {
        "nag": findings,
        "constructs": built,
        "directory": assembly.directory,
        **{name: assembly.get_stack_by_name(name).template for name in STACKS},
    }


@pytest.fixture(scope="module")
def runbook_stack(synthesized: dict[str, Any]) -> dict[str, Any]:
    return synthesized["Runbook"]


def _statements(template: dict[str, Any], resource_type: str, id_contains: str) -> dict[str, dict[str, Any]]:
    document = only_resource(template, resource_type, id_contains)["Properties"]["PolicyDocument"]
    return {s.get("Sid", ""): s for s in rendered(statements(document))}


def _document(template: dict[str, Any], document_type: str) -> dict[str, Any]:
    found = [r["Properties"] for r in resources_of(template, "AWS::SSM::Document").values()]
    matches = [p for p in found if p["DocumentType"] == document_type]
    assert len(matches) == 1, f"expected one {document_type} document"
    return matches[0]


def _arns(statement: dict[str, Any], key: str = "Resource") -> list[str]:
    return [json.dumps(r) if not isinstance(r, str) else r for r in as_list(statement[key])]


# ------------------------------------------------------------------------------------------ nag, cfn-lint


def test_cdk_nag_reports_nothing_for_any_approval_path(synthesized: dict[str, Any]) -> None:
    assert synthesized["nag"] == [], "\n".join(synthesized["nag"])


def test_cfn_lint_reports_no_error(synthesized: dict[str, Any]) -> None:
    templates = [str(Path(synthesized["directory"]) / f"{name}.template.json") for name in STACKS]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == [], "\n".join(errors)


# ------------------------------------------------------------------------------------------ operator policy


@pytest.mark.parametrize("stack_name", list(STACKS))
def test_operator_policy_grants_no_start_session_on_any_path(synthesized: dict[str, Any], stack_name: str) -> None:
    """Tags, session tags and old runbook versions give nothing: only a grant policy allows StartSession."""
    policy = only_resource(synthesized[stack_name], "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")["Properties"]
    assert policy["ManagedPolicyName"] == "SsmGuardrailsSessionRequester"
    allowed = {a for s in statements(policy["PolicyDocument"]) if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert not {a for a in allowed if a.lower().startswith("ssm:startsession") or a in ("ssm:*", "*")}
    assert not any("PrincipalTag" in json.dumps(s) for s in statements(policy["PolicyDocument"]))
    assert policy["Roles"] == ["Operator"]


def test_operators_start_only_the_runbook_tagged_as_a_request(runbook_stack: dict) -> None:
    policy = _statements(runbook_stack, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    start = policy["RequestAccessWithTheRunbookTaggedAsARequest"]
    assert start["Condition"] == {"StringEquals": {f"aws:RequestTag/{REQUEST_TAG_KEY}": "AllowStartSsmSession"}}
    assert {a.split(":", 5)[-1] for a in _arns(start)} == {
        "automation-definition/AllowStartSsmSession:*", "document/AllowStartSsmSession", "automation-execution/*"
    }  # fmt: skip
    tag = policy["TagTheNewRequestWithTheRequestTagOnly"]
    assert tag["Action"] == "ssm:AddTagsToResource" and _arns(tag)[0].endswith(":automation-execution/*")
    assert as_list(tag["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]) == [REQUEST_TAG_KEY]
    others = policy["NoAutomationButTheRunbook"]
    assert others["Effect"] == "Deny" and others["Action"] == "ssm:StartAutomationExecution"
    assert {a.split(":", 5)[-1] for a in _arns(others, "NotResource")} == {
        "automation-definition/AllowStartSsmSession:*", "document/AllowStartSsmSession", "automation-execution/*"
    }  # fmt: skip
    lend = policy["NoLendingTheRunbookRole"]
    assert {"ssm:CreateDocument", "ssm:CreateAssociation", "ssm:RegisterTaskWithMaintenanceWindow",
            "ssm:UpdateMaintenanceWindowTask"} <= set(lend["Action"]) and lend["Resource"] == "*"  # fmt: skip
    assert policy["NoChangeRequests"]["Resource"] == "*"
    signal = policy["NoApprovingOrStoppingAnyAutomation"]
    assert set(signal["Action"]) == {"ssm:SendAutomationSignal", "ssm:StopAutomationExecution"}


def test_operators_cannot_re_tag_nodes_or_grant_themselves(runbook_stack: dict) -> None:
    policy = _statements(runbook_stack, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    tagging = policy["NoReTaggingNodes"]
    assert set(tagging["Action"]) == {"ec2:CreateTags", "ec2:DeleteTags", "ssm:AddTagsToResource",
                                      "ssm:RemoveTagsFromResource"}  # fmt: skip
    assert tagging["Condition"] == {
        "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": sorted([*PROTECTED, REQUEST_TAG_KEY])}
    }
    assert _arns(tagging, "NotResource")[0].endswith(":automation-execution/*")
    requests = policy["NoReTaggingRequests"]
    assert requests["Condition"] == {"Null": {f"aws:ResourceTag/{REQUEST_TAG_KEY}": "false"}}
    self_grant = policy["NoGrantingThemselves"]
    assert "iam:PutRolePolicy" in self_grant["Action"] and len(as_list(self_grant["Resource"])) == 2


def test_operators_cannot_touch_the_sweeper_or_the_control(runbook_stack: dict) -> None:
    policy = _statements(runbook_stack, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    function = policy["NoTouchingTheSweeperFunction"]
    assert {"lambda:Update*", "lambda:Invoke*", "lambda:Delete*", "lambda:Put*"} <= set(function["Action"])
    assert all("SodSweeperFunction" in arn for arn in _arns(function))
    rule = policy["NoTouchingTheSweeperSchedule"]
    assert {"events:DisableRule", "events:DeleteRule", "events:PutTargets", "events:RemoveTargets"} <= set(
        rule["Action"]
    )
    assert "SodSweeperSchedule" in _arns(rule)[0]
    control = " ".join(_arns(policy["NoEditingTheControl"]))
    for name in ("SsmGuardrailsSessionRequester", "SsmSessionControlChangeMangerRole", "SsmSessionTagSweeperRole",
                 "document/AllowStartSsmSession", "document/SSM-SessionManagerRunShell"):  # fmt: skip
        assert name in control


def test_change_manager_operators_start_no_automation_and_only_the_template(synthesized: dict[str, Any]) -> None:
    policy = _statements(synthesized["ChangeManager"], "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    assert policy["NoAutomationButTheChangeTemplate"]["Resource"] == "*"
    assert "AllowSsmSessionStartTemplate" in " ".join(_arns(policy["NoChangeRequestButTheTemplate"], "NotResource"))


def test_approvers_signal_only_executions_tagged_as_requests(runbook_stack: dict) -> None:
    policy = _statements(runbook_stack, "AWS::IAM::ManagedPolicy", "SodApproverPolicy")
    signal = policy["ApproveOrRejectRequestsOfThisRunbookOnly"]
    assert signal["Condition"] == {"StringEquals": {f"aws:ResourceTag/{REQUEST_TAG_KEY}": "AllowStartSsmSession"}}
    approver = only_resource(runbook_stack, "AWS::IAM::ManagedPolicy", "SodApproverPolicy")["Properties"]
    assert "Roles" not in approver and "Users" not in approver  # attached by the stack


# ------------------------------------------------------------------------------------------ runbook role


def test_runbook_role_writes_grants_on_the_operators_only(runbook_stack: dict) -> None:
    role = only_resource(runbook_stack, "AWS::IAM::Role", "SodRunbookRole")["Properties"]
    assert role["RoleName"] == "SsmSessionControlChangeMangerRole"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT}
    }
    policy = _statements(runbook_stack, "AWS::IAM::Policy", "SodRunbookRoleDefaultPolicy")
    roles, users = policy["WriteSessionGrantsOnRoleOperatorsOnly"], policy["WriteSessionGrantsOnUserOperatorsOnly"]
    assert set(roles["Action"]) == {"iam:GetRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                                    "iam:ListRolePolicies", "iam:GetRolePolicy"}  # fmt: skip
    assert _arns(roles) == ["arn:aws:iam::111111111111:role/Operator"]
    assert _arns(users) == ["arn:aws:iam::111111111111:user/bob"]
    actions = {a for s in policy.values() for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith(("iam:Tag", "iam:Untag", "iam:Attach", "iam:PassRole"))}
    assert policy["ReadTheRunbooksDefaultVersion"]["Action"] == "ssm:DescribeDocument"


# ------------------------------------------------------------------------------------------ topic


def test_approvals_topic_is_encrypted_tls_only_and_ssm_may_publish(synthesized: dict[str, Any]) -> None:
    for stack_name, name in (
        ("Runbook", "Automation-ssm-session-approval"),
        ("ChangeManager", "change-manager-ssm-approval"),
    ):
        template = synthesized[stack_name]
        topic = only_resource(template, "AWS::SNS::Topic")["Properties"]
        assert topic["TopicName"] == name and "KmsMasterKeyId" in topic
        policy = statements(only_resource(template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"])
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy
        )
        ssm_publish = next(s for s in policy if s.get("Sid") == "SystemsManagerOfThisAccountPublishes")
        assert ssm_publish["Principal"] == {"Service": "ssm.amazonaws.com"}
        assert ssm_publish["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert not resources_of(synthesized["JustInTime"], "AWS::SNS::Topic")


# ------------------------------------------------------------------------------------------ documents in templates


def test_runbook_pins_role_approvers_topic_validity_and_the_grants_inputs(runbook_stack: dict) -> None:
    document = _document(runbook_stack, "Automation")
    assert (document["Name"], document["UpdateMethod"]) == ("AllowStartSsmSession", "NewVersion")
    content = document["Content"]
    assert set(content["parameters"]) == {"InstanceId", "ValidityMinutes", "Reason", "AutomationAssumeRole"}
    reason = re.compile(content["parameters"]["Reason"]["allowedPattern"])  # what `request-session --reason` passes
    assert reason.match("INC-42 disk full") and reason.match(content["parameters"]["Reason"]["default"])
    assert not reason.match("x" * 201) and not reason.match("a\nb") and not reason.match("{{ InstanceId }}")
    assert "{{ Reason }}" in content["mainSteps"][0]["inputs"]["Message"]
    assert content["parameters"]["AutomationAssumeRole"]["allowedValues"][0]["Fn::GetAtt"][0].startswith(
        "SodRunbookRole"
    )
    assert content["parameters"]["ValidityMinutes"]["allowedValues"] == [str(m) for m in range(1, 11)]
    approve, grant = content["mainSteps"][:2]
    assert approve["action"] == "aws:approve" and approve["inputs"]["Approvers"] == [APPROVER, SECOND_APPROVER]
    assert approve["inputs"]["MinRequiredApprovals"] == 2
    payload = grant["inputs"]["InputPayload"]
    assert (grant["name"], grant["inputs"]["Handler"]) == ("GrantSession", "grant")
    assert payload | {"ExecutionId": "", "InstanceId": "", "ValidityMinutes": ""} == {
        "ExecutionId": "", "InstanceId": "", "ValidityMinutes": "", "RunbookName": "AllowStartSsmSession",
        "ChangeTemplateName": "", "ApproveStepName": "Approve", "MaxValidityMinutes": "10",
        "OperatorRoles": ["Operator"], "OperatorUsers": ["bob"], "Regions": ["eu-west-1", "us-east-1"],
        "SessionDocument": "SSM-SessionManagerRunShell", "KeyAlias": "alias/session-manager/data",
    }  # fmt: skip
    scripts = [s for s in content["mainSteps"] if s["action"] == "aws:executeScript"]
    assert [s["name"] for s in scripts] == ["GrantSession", "Revoke", "TerminateSessions"]
    assert all(s["inputs"]["Script"] == SCRIPT.read_text() for s in scripts)


def test_change_manager_runbook_grants_on_the_change_requests_approval(synthesized: dict) -> None:
    template = synthesized["ChangeManager"]
    runbook = _document(template, "Automation")["Content"]
    names = [step["name"] for step in runbook["mainSteps"]]
    assert names == ["GrantSession", "WaitForWindow", "Revoke"]
    payload = runbook["mainSteps"][0]["inputs"]["InputPayload"]
    assert (payload["ChangeTemplateName"], payload["ApproveStepName"]) == (
        "AllowSsmSessionStartTemplate", "ApproveSessionAccess"
    )  # fmt: skip
    change = _document(template, "Automation.ChangeTemplate")
    assert (change["Name"], change["UpdateMethod"]) == ("AllowSsmSessionStartTemplate", "NewVersion")
    content = change["Content"]
    assert content["executableRunBooks"] == [{"name": "AllowStartSsmSession", "version": "$DEFAULT"}]
    assert content["mainSteps"][0]["name"] == "ApproveSessionAccess"
    # Per-level approval, as AWS's sample: MinRequiredApprovals directly under inputs, next to
    # EnhancedApprovals; each approver "may contribute" (0).
    # https://docs.aws.amazon.com/systems-manager/latest/userguide/approval-type-samples.html#per-level-approvals
    inputs = content["mainSteps"][0]["inputs"]
    assert set(inputs) == {"Message", "MinRequiredApprovals", "EnhancedApprovals"}
    assert inputs["MinRequiredApprovals"] == 2
    assert inputs["EnhancedApprovals"]["Approvers"] == [
        {"approver": "Approver", "type": "IamRole", "minRequiredApprovals": 0},
        {"approver": "alice", "type": "IamUser", "minRequiredApprovals": 0},
    ]


def test_just_in_time_deploys_approval_policies_and_no_start_session(synthesized: dict[str, Any]) -> None:
    template = synthesized["JustInTime"]
    manual = _document(template, "ManualApprovalPolicy")["Content"]
    assert manual["targets"] == [{"Key": "tag:Environment", "Values": ["Production"]}]
    assert manual["accessDuration"] == 3600
    assert manual["mainSteps"][0]["inputs"]["EnhancedApprovals"]["Approvers"] == [
        {"approver": "e8c17310-e011-7089-d989-10da1example", "type": "SSOGroup"}
    ]
    auto = _document(template, "AutoApprovalPolicy")
    assert auto["Content"]["AutoApprovalPolicyDocuments"] == [{"type": "Cedar", "content": CEDAR}]
    policy = _statements(template, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    allowed = {a for s in policy.values() if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert "ssm:StartSession" not in allowed and "ssm:StartAccessRequest" in allowed
    assert "NoReTaggingNodesOrRequests" in policy
    assert not resources_of(template, "AWS::Lambda::Function")


def test_sweeper_runs_on_a_schedule_and_reads_only_the_operators(runbook_stack: dict) -> None:
    function = only_resource(runbook_stack, "AWS::Lambda::Function", "SodSweeper")["Properties"]
    assert function["Environment"]["Variables"] == {
        "GRANT_PREFIX": GRANT_PREFIX, "OPERATOR_ROLES": "Operator", "OPERATOR_USERS": "bob",
        "MAX_VALIDITY_MINUTES": "10", "RUNBOOK_NAME": "AllowStartSsmSession",
    }  # fmt: skip
    rule = only_resource(runbook_stack, "AWS::Events::Rule", "SodSweeperSchedule")["Properties"]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    role = only_resource(runbook_stack, "AWS::IAM::Role", "SodSweeperFunctionRole")["Properties"]
    assert role["RoleName"] == "SsmSessionTagSweeperRole"
    policy = _statements(runbook_stack, "AWS::IAM::Policy", "SodSweeperFunctionRoleDefaultPolicy")
    assert _arns(policy["DeleteExpiredGrantsOfRoleOperators"]) == ["arn:aws:iam::111111111111:role/Operator"]
    prune = policy["DeleteSupersededRunbookVersions"]
    assert sorted(prune["Action"]) == ["ssm:DeleteDocument", "ssm:ListDocumentVersions"]
    assert rendered(_arns(prune)) == ["arn:aws:ssm:eu-west-1:111111111111:document/AllowStartSsmSession"]
    assert not [s for s in policy.values() if "iam" in json.dumps(s["Action"]) and "*" in json.dumps(s["Resource"])]


def test_scp_keeps_the_runbook_role_with_operators_and_nodes_untagged(synthesized: dict[str, Any]) -> None:
    construct = synthesized["constructs"]["Runbook"]
    pass_role, tagging = construct.scp_document["Statement"]
    assert pass_role["Action"] == "iam:PassRole"
    assert pass_role["Resource"] == "arn:*:iam::*:role/SsmSessionControlChangeMangerRole"
    assert pass_role["Condition"] == {
        "ArnNotLike": {"aws:PrincipalArn": ["arn:*:iam::*:role/Operator", "arn:*:iam::*:user/bob"]}
    }
    assert tagging["Condition"] == {
        "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": sorted([*PROTECTED, REQUEST_TAG_KEY])},
        "ArnLike": {"aws:PrincipalArn": ["arn:*:iam::*:role/Operator", "arn:*:iam::*:user/bob",
                                          "arn:*:iam::*:role/PasswordReader"]},
    }  # fmt: skip
    assert json.dumps(construct.scp_document, indent=2) in construct.scp_readme
    assert [s["Sid"] for s in synthesized["constructs"]["JustInTime"].scp_document["Statement"]] == [
        "NoReTaggingNodesAroundTheControls"
    ]


def test_readme_shows_the_example_configurations_scp(example_app: Any) -> None:
    [control] = [c for c in example_app.app.node.find_all() if isinstance(c, SeparationOfDuties)]
    assert json.dumps(control.scp_document, indent=2) in (ROOT / "README.md").read_text()
    assert control.scp_document["Statement"][1]["Condition"]["ForAnyValue:StringEqualsIgnoreCase"]["aws:TagKeys"] == [
        "Environment", "SessionAccess", REQUEST_TAG_KEY
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------ documents


@pytest.mark.parametrize("name", ["allow_start_ssm_session", "allow_ssm_session_start_template"])
def test_document_references_resolve_to_parameters_variables_or_earlier_outputs(name: str) -> None:
    content = load_document(name)
    assert content["schemaVersion"] == "0.3"
    parameters = content.get("parameters", {})
    outputs: dict[str, set[str]] = {}
    for step in content["mainSteps"]:
        for reference in references(step):
            if reference.startswith(("global:", "automation:")):
                assert reference in {"global:ACCOUNT_ID", "global:REGION", "automation:EXECUTION_ID"}, reference
            elif "." in reference:
                step_name, output = reference.split(".", 1)
                assert output in outputs.get(step_name, set()), f"{reference} is not an earlier step's output"
            else:
                assert reference in parameters, reference
        outputs[step["name"]] = {output["Name"] for output in step.get("outputs", [])}
    for reference in content.get("outputs", []):
        step_name, output = reference.split(".")
        assert output in outputs[step_name]


def test_every_step_before_the_revoke_fails_and_cancels_into_it() -> None:
    steps = load_document("allow_start_ssm_session")["mainSteps"]
    names = [step["name"] for step in steps]
    for step in steps[: names.index("Revoke")]:
        assert (step["onFailure"], step["onCancel"]) == ("step:Revoke", "step:Revoke"), step["name"]
    for step in steps:  # every jump lands on a step that exists
        for jump in filter(None, [step.get("nextStep"), step.get("onFailure"), step.get("onCancel")]):
            assert jump.removeprefix("step:") in names or jump == "Abort", f"{step['name']} -> {jump}"


def test_sleep_duration_is_iso8601_for_every_allowed_validity() -> None:
    content = load_document("allow_start_ssm_session")
    sleep = next(step for step in content["mainSteps"] if step["action"] == "aws:sleep")
    pattern = re.compile(content["parameters"]["ValidityMinutes"]["allowedPattern"])
    assert not pattern.match("0") and not pattern.match("61")
    for minutes in range(1, 61):
        assert pattern.match(str(minutes))
        assert re.fullmatch(
            r"PT([1-9]|[1-5][0-9]|60)M", render(sleep["inputs"]["Duration"], {"ValidityMinutes": minutes})
        )


# ------------------------------------------------------------------------------------------ grant script (moto IAM)

EXECUTION_ID = "4f9b0c1e-1111-2222-3333-444455556666"
NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
REQUESTER = f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator/alice"
CAROL = f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/carol"
NODE = "i-0123456789abcdef0"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def runbook(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The script with moto's IAM (an operator role and user exist) and a stubbed Automation API."""
    with mock_aws():
        module = _load(SCRIPT, "session_window")
        iam_client = boto3.client("iam", region_name="us-east-1")
        ssm_client = boto3.client("ssm", region_name="eu-west-1")
        stubber = Stubber(ssm_client)
        stubber.activate()
        monkeypatch.setattr(module, "_ssm", lambda: ssm_client)
        monkeypatch.setattr(module, "_iam", lambda: iam_client)
        monkeypatch.setattr(module, "_now", lambda: NOW)
        iam_client.create_role(RoleName="Operator", AssumeRolePolicyDocument="{}")
        iam_client.create_user(UserName="bob")
        yield module, iam_client, stubber


def _execution(executed_by: str, approvers: list[str], *, decision: str = "Approve", version: str = "3",
               document: str = "AllowStartSsmSession", step: str = "Approve", **extra: Any) -> dict[str, Any]:  # fmt: skip
    decisions = [json.dumps({"Approver": a, "Decision": decision, "Comment": "ok"}) for a in approvers]
    return {
        "AutomationExecution": {
            "AutomationExecutionId": EXECUTION_ID, "DocumentName": document, "DocumentVersion": version,
            "ExecutedBy": executed_by,
            "StepExecutions": [{"StepName": step, "Outputs": {"ApproverDecisions": decisions}}], **extra,
        }
    }  # fmt: skip


def _events(execution_id: str = EXECUTION_ID, **changes: Any) -> dict[str, Any]:
    return {
        "ExecutionId": execution_id, "InstanceId": NODE, "ValidityMinutes": "10", "MaxValidityMinutes": "10",
        "RunbookName": "AllowStartSsmSession", "ChangeTemplateName": "", "ApproveStepName": "Approve",
        "OperatorRoles": ["Operator"], "OperatorUsers": ["bob"], "Regions": ["eu-west-1", "us-east-1"],
        "SessionDocument": "SSM-SessionManagerRunShell", "KeyAlias": "alias/session-manager/data", **changes,
    }  # fmt: skip


def _grant(module: ModuleType, stubber: Stubber, execution: dict[str, Any], default: str = "3", **events: Any) -> Any:
    stubber.add_response("get_automation_execution", execution)
    stubber.add_response("describe_document", {"Document": {"Name": "AllowStartSsmSession", "DefaultVersion": default}})
    return module.grant(_events(**events), None)


def test_grant_writes_a_policy_for_the_requesting_session_until_the_expiry(runbook: Any) -> None:
    module, client, stubber = runbook
    result = _grant(module, stubber, _execution(REQUESTER, [CAROL]))
    name = GRANT_PREFIX + EXECUTION_ID
    assert result == {"PolicyName": name, "Principal": "role/Operator", "Session": "alice",
                      "ExpiresAt": "2030-01-01T12:10:00Z"}  # fmt: skip
    role_id = client.get_role(RoleName="Operator")["Role"]["RoleId"]
    written = client.get_role_policy(RoleName="Operator", PolicyName=name)["PolicyDocument"]
    assert written == module.grant_policy(
        userid=f"{role_id}:alice", node_id=NODE, account=ACCOUNT, regions=["eu-west-1", "us-east-1"],
        expires_at="2030-01-01T12:10:00Z", key_alias="alias/session-manager/data",
    )  # fmt: skip
    assert module.expiry_of(written) == NOW + timedelta(minutes=10)
    stubber.add_response("get_automation_execution", _execution(REQUESTER, [CAROL]))
    assert module.revoke({"ExecutionId": EXECUTION_ID, **_events()}, None)["Removed"] is True
    assert client.list_role_policies(RoleName="Operator")["PolicyNames"] == []
    stubber.add_response("get_automation_execution", _execution(REQUESTER, [CAROL]))
    assert module.revoke(_events(), None)["Removed"] is False  # already gone: no error


def test_user_operators_get_a_grant_for_their_user_id(runbook: Any) -> None:
    module, client, stubber = runbook
    _grant(module, stubber, _execution(f"arn:aws:iam::{ACCOUNT}:user/bob", [CAROL]))
    written = client.get_user_policy(UserName="bob", PolicyName=GRANT_PREFIX + EXECUTION_ID)["PolicyDocument"]
    user_id = client.get_user(UserName="bob")["User"]["UserId"]
    assert {s["Condition"]["StringEquals"]["aws:userid"] for s in written["Statement"]} == {user_id}


@pytest.mark.parametrize(
    ("requester", "approver"),
    [
        (REQUESTER, f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/alice"),  # a second role, same person
        (REQUESTER, f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/ALICE"),
        (REQUESTER, f"arn:aws:iam::{ACCOUNT}:user/alice"),
        (f"arn:aws:iam::{ACCOUNT}:user/bob", f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/bob"),
    ],
)
def test_self_approval_by_another_role_of_the_same_person_is_rejected(
    runbook: Any, requester: str, approver: str
) -> None:
    module, client, stubber = runbook
    with pytest.raises(module.SelfApprovalError, match="same person as the requester"):
        _grant(module, stubber, _execution(requester, [CAROL, approver]))
    assert client.list_role_policies(RoleName="Operator")["PolicyNames"] == []
    assert client.list_user_policies(UserName="bob")["PolicyNames"] == []


@pytest.mark.parametrize(
    ("execution", "default", "error", "message"),
    [
        (_execution(REQUESTER, [CAROL], version="2"), "3", "ExecutionCheckError", "version 2 is not the default version 3"),
        (_execution(REQUESTER, [CAROL], document="MyOwnRunbook"), "3", "ExecutionCheckError", "not AllowStartSsmSession"),
        (_execution(f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/dave", [CAROL]), "3", "ExecutionCheckError",
         "not an operator"),
        (_execution(f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator", [CAROL]), "3", "ExecutionCheckError",
         "not an operator"),
        (_execution(REQUESTER, [f"arn:aws:iam::{ACCOUNT}:role/Approver"]), "3", "SelfApprovalError", "names no person"),
        (_execution(REQUESTER, [CAROL], decision="Reject"), "3", "SelfApprovalError", "no approval decision"),
        (_execution(REQUESTER, [CAROL], step="Other"), "3", "SelfApprovalError", "no step Approve"),
    ],
)  # fmt: skip
def test_the_grant_checks_document_version_requester_and_approvals(
    runbook: Any, execution: dict[str, Any], default: str, error: str, message: str
) -> None:
    module, client, stubber = runbook
    if "MyOwnRunbook" in json.dumps(execution):
        stubber.add_response("get_automation_execution", execution)
        with pytest.raises(module.ExecutionCheckError, match=message):
            module.grant(_events(), None)
    else:
        with pytest.raises(getattr(module, error), match=re.escape(message)):
            _grant(module, stubber, execution, default)
    assert client.list_role_policies(RoleName="Operator")["PolicyNames"] == []


def test_change_manager_grant_reads_the_parent_change_requests_approval(runbook: Any) -> None:
    module, _, stubber = runbook
    parent_id = "0a0a0a0a-1111-2222-3333-444455556666"
    change = {"ChangeTemplateName": "AllowSsmSessionStartTemplate", "ApproveStepName": "ApproveSessionAccess"}
    child = _execution(REQUESTER, [], step="GrantSession", ParentAutomationExecutionId=parent_id)
    parent = _execution(REQUESTER, [f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/alice"],
                        document="AllowSsmSessionStartTemplate", step="ApproveSessionAccess")  # fmt: skip
    stubber.add_response("get_automation_execution", child)
    stubber.add_response("get_automation_execution", parent)
    stubber.add_response("describe_document", {"Document": {"DefaultVersion": "3"}})
    with pytest.raises(module.SelfApprovalError, match="same person"):
        module.grant(_events(**change), None)
    stubber.add_response("get_automation_execution", _execution(REQUESTER, [CAROL]))  # started directly
    with pytest.raises(module.ExecutionCheckError, match="not started by a change request"):
        module.grant(_events(**change), None)
    approved = _execution(REQUESTER, [CAROL], document="AllowSsmSessionStartTemplate", step="ApproveSessionAccess")
    stubber.add_response("get_automation_execution", child)
    stubber.add_response("get_automation_execution", approved)
    stubber.add_response("describe_document", {"Document": {"DefaultVersion": "3"}})
    assert module.grant(_events(**change), None)["Session"] == "alice"


def test_concurrent_grants_fit_and_one_more_than_fits_is_a_clear_error(runbook: Any) -> None:
    module, client, stubber = runbook
    granted = []
    with pytest.raises(module.GrantTooLargeError) as caught:
        for index in range(40):
            execution_id = f"4f9b0c1e-1111-2222-3333-{index:012d}"
            _grant(module, stubber, _execution(REQUESTER, [CAROL]), ExecutionId=execution_id)
            granted.append(GRANT_PREFIX + execution_id)
    assert len(granted) >= 10  # a role holds many concurrent grants (10,240 characters)
    message = str(caught.value)
    assert "IAM role Operator has" in message and "of 10240 characters" in message and "Wait for one" in message
    assert sorted(client.list_role_policies(RoleName="Operator")["PolicyNames"]) == sorted(granted)
    used = sum(module.policy_size(client.get_role_policy(RoleName="Operator", PolicyName=n)["PolicyDocument"])
               for n in granted)  # fmt: skip
    assert used <= module.INLINE_LIMITS["role"]
    # once the running grants have expired, the next grant removes them and fits
    module._now = lambda: NOW + timedelta(minutes=11)
    _grant(module, stubber, _execution(REQUESTER, [CAROL]), ExecutionId="4f9b0c1e-1111-2222-3333-999999999999")
    assert client.list_role_policies(RoleName="Operator")["PolicyNames"] == [
        GRANT_PREFIX + "4f9b0c1e-1111-2222-3333-999999999999"
    ]


def test_terminate_sessions_ends_only_the_requesting_sessions_sessions(runbook: Any) -> None:
    module, _, stubber = runbook
    stubber.add_response("get_automation_execution", _execution(REQUESTER, [CAROL]))
    owner = f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator/"
    stubber.add_response(
        "describe_sessions",
        {"Sessions": [{"SessionId": "alice-1", "Owner": owner + "alice"}, {"SessionId": "bob-1", "Owner": owner + "bob"}]},
    )  # fmt: skip
    stubber.add_response("terminate_session", {"SessionId": "alice-1"}, {"SessionId": "alice-1"})
    assert module.terminate_sessions(_events(), None) == {"Terminated": ["alice-1"]}
    stubber.assert_no_pending_responses()


# ------------------------------------------------------------------------------------------ sweeper (moto)

SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event"}


@pytest.fixture
def sweeper(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GRANT_PREFIX", GRANT_PREFIX)
    monkeypatch.setenv("OPERATOR_ROLES", "Operator")
    monkeypatch.setenv("OPERATOR_USERS", "bob")
    monkeypatch.setenv("MAX_VALIDITY_MINUTES", "10")
    with mock_aws():
        module = _load(SWEEPER, "session_tag_sweeper")
        module._now = lambda: NOW
        script = _load(SCRIPT, "session_window_for_sweeper")
        yield module, boto3.client("iam", region_name="us-east-1"), script


def test_sweeper_removes_expired_grants_only_and_only_of_operators(sweeper: Any) -> None:
    module, client, script = sweeper
    for role in ("Operator", "NotAnOperator"):
        client.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    client.create_user(UserName="bob")

    def policy(minutes: float) -> str:
        end = (NOW + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json.dumps(script.grant_policy(userid="AROAEXAMPLE:alice", node_id=NODE, account=ACCOUNT,
                                              regions=["eu-west-1"], expires_at=end))  # fmt: skip

    grants = {"expired": policy(-1), "valid": policy(5), "too-far": policy(120), "garbage": '{"Version": "2012-10-17", '
              '"Statement": [{"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "*"}]}'}  # fmt: skip
    for name, document in grants.items():
        client.put_role_policy(RoleName="Operator", PolicyName=GRANT_PREFIX + name, PolicyDocument=document)
    client.put_role_policy(RoleName="Operator", PolicyName="Keep", PolicyDocument=policy(-1))
    client.put_role_policy(RoleName="NotAnOperator", PolicyName=GRANT_PREFIX + "x", PolicyDocument=policy(-1))
    client.put_user_policy(UserName="bob", PolicyName=GRANT_PREFIX + "expired", PolicyDocument=policy(-1))
    result = module.handler(SCHEDULED, None)
    assert {(r["principal"], r["policy"].removeprefix(GRANT_PREFIX)) for r in result["removed"]} == {
        ("role/Operator", "expired"), ("role/Operator", "too-far"), ("role/Operator", "garbage"),
        ("user/bob", "expired"),
    }  # fmt: skip
    assert sorted(client.list_role_policies(RoleName="Operator")["PolicyNames"]) == ["Keep", GRANT_PREFIX + "valid"]
    assert client.list_role_policies(RoleName="NotAnOperator")["PolicyNames"] == [GRANT_PREFIX + "x"]


def test_sweeper_deletes_every_runbook_version_but_the_default(sweeper: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the current runbook can run: an old version (other approvers, the Change Manager path
    without approval) is deleted at the next sweep after an update. moto 5.2 has no
    ListDocumentVersions: a Stubber answers with the API reference's shape
    (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListDocumentVersions.html)."""
    module, _, _ = sweeper
    monkeypatch.setenv("RUNBOOK_NAME", "AllowStartSsmSession")
    ssm = boto3.client("ssm", region_name="us-east-1")
    stubber = Stubber(ssm)
    versions = [{"Name": "AllowStartSsmSession", "DocumentVersion": v, "IsDefaultVersion": v == "3"} for v in "123"]
    stubber.add_response("list_document_versions", {"DocumentVersions": versions}, {"Name": "AllowStartSsmSession"})
    for version in ("1", "2"):
        stubber.add_response("delete_document", {}, {"Name": "AllowStartSsmSession", "DocumentVersion": version})
    monkeypatch.setattr(module, "_ssm", lambda: ssm)
    with stubber:
        result = module.handler(SCHEDULED, None)
    assert result["deleted_runbook_versions"] == ["1", "2"]
    stubber.assert_no_pending_responses()


def test_sweeper_skips_a_deleted_operator_and_rejects_other_events(sweeper: Any) -> None:
    module, _, _ = sweeper
    assert module.handler(SCHEDULED, None) == {"checked": 0, "removed": []}  # Operator, bob do not exist
    with pytest.raises(module.UnsupportedEvent):
        module.handler({"instance_id": NODE}, None)


# ------------------------------------------------------------------------------------------ props


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"validity_minutes": 0}, "SeparationOfDuties.validity_minutes: got 0; allowed: a number from 1 to 60"),
        ({"validity_minutes": 61}, "validity_minutes: got 61"),
        ({"approvers": []}, "SeparationOfDuties.approvers: got []; allowed: 1-10 IAM user or role ARNs"),
        ({"approvers": [f"arn:aws:iam::{ACCOUNT}:role/Operator"]}, "allowed: approvers who are not operators"),
        ({"approvers": ["Approver"]}, "approvers: got 'Approver'; allowed: an IAM ARN"),
        ({"approvers": [f"arn:aws:iam::{ACCOUNT}:group/Admins"]}, "allowed: an IAM ARN arn:aws:iam::<account>:(user|role)"),
        ({"approvers": ["arn:aws:iam::1234:role/Approver"]}, "approvers: got 'arn:aws:iam::1234:role/Approver'"),
        ({"approvers": [APPROVER] * 11}, "approvers: got 11; allowed: at most 10"),
        ({"min_approvals": 2}, "min_approvals: got 2; allowed: a number from 1 to 1"),
        ({"approval_path": "slack"}, "approval_path: got 'slack'; allowed: approval_runbook, change_manager"),
        ({"operators": []}, "operators: got []"),
        ({"topic_name": "ssm-approvals"}, "topic_name: got 'ssm-approvals'; allowed: a name starting with Automation"),
        ({"role_name": "a" * 65}, "role_name: got"),
        ({"runbook_name": "AWS-Mine"}, "runbook_name: got 'AWS-Mine'; allowed: a name not starting with aws"),
        ({"session_regions": ["Europe"]}, "session_regions: got 'Europe'"),
        ({"session_data_key_alias": "alias/aws/ssm"}, "session_data_key_alias: got 'alias/aws/ssm'; allowed: an alias "
         "outside alias/aws/"),
        ({"session_data_key_alias": "session-manager/data"}, "session_data_key_alias: got 'session-manager/data'; "
         "allowed: alias/<name>"),
        ({"sweep_interval": cdk.Duration.hours(2)}, "sweep_interval: got 120.0"),
        (
            {"approval_path": "just_in_time", "just_in_time_node_tags": {"Environment": ["Production"]}},
            "just_in_time_approvers: got []",
        ),
        (
            {"approval_path": "just_in_time", "just_in_time_approvers": [("Group", "x")],
             "just_in_time_node_tags": {"Environment": ["Production"]}},
            "just_in_time_approvers: got ('Group', 'x'); allowed: (type, id) with type one of SSOUser",
        ),
        (
            {"approval_path": "just_in_time", "just_in_time_approvers": [("SSOGroup", "x")]},
            "just_in_time_node_tags: got {}",
        ),
        (
            {"approval_path": "just_in_time", "just_in_time_approvers": [("SSOGroup", "x")],
             "just_in_time_node_tags": {"Environment": ["Production"]},
             "just_in_time_auto_approval_cedar": "permit (principal, action, resource) when { true }"},
            "just_in_time_auto_approval_cedar: got",
        ),
    ],
)  # fmt: skip
def test_bad_props_fail_at_synth_with_one_line(tmp_path: Path, props: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(new_app(tmp_path), "Props")
    defaults = {"operators": [iam.Role.from_role_name(stack, "Operator", "Operator")], "approvers": [APPROVER]}
    with pytest.raises(PropsError) as caught:
        SeparationOfDuties(stack, "Sod", **{**defaults, **props})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("permit (principal, action, resource) when { true }", "statements that end with ';'"),
        ("permit (principal, action, resource when { true };", "balanced parentheses"),
        ("permit (principal, action, resource) when { true }};", "unexpected '}'"),
        ("allow (principal, action, resource);", "start with permit or forbid"),
        ('permit (principal, action, resource) when { resource.getTag("a) == "b" };', "closed string literals"),
        ("   ", "at least one statement"),
    ],
)
def test_cedar_structural_check_rejects(text: str, allowed: str) -> None:
    with pytest.raises(PropsError, match=re.escape(allowed)):
        check_cedar("cedar", text)


def test_cedar_structural_check_accepts_comments_strings_and_several_statements() -> None:
    check_cedar("cedar", CEDAR + "\n" + 'forbid (principal, action, resource) when { resource.getTag("x") == "};" };')
    with pytest.raises(PropsError, match="start with permit"):
        check_cedar("cedar", "forbid (principal, action, resource);", effect="permit")


# ------------------------------------------------------------------------------- IAM Identity Center (issue 22)


def test_the_requester_and_approver_policies_are_contracts_a_permission_set_can_reference(
    synthesized: dict[str, Any],
) -> None:
    """Fixed name and path in every account: permission sets reference customer managed policies so."""
    for name in STACKS:
        policy = only_resource(synthesized[name], "AWS::IAM::ManagedPolicy", "OperatorPolicy")["Properties"]
        # path / as deployed before (CloudFormation cannot replace a named policy in place)
        assert (policy.get("Path", "/"), policy["ManagedPolicyName"]) == ("/", "SsmGuardrailsSessionRequester")
        assert policy["Roles"] == ["Operator"]  # the permission set's role is never attached to
    approver = only_resource(synthesized["Runbook"], "AWS::IAM::ManagedPolicy", "ApproverPolicy")["Properties"]
    assert (approver["Path"], approver["ManagedPolicyName"]) == ("/ssm-guardrails/", "SsmGuardrailsSessionApprover")
    no_editing = _statements(synthesized["Runbook"], "AWS::IAM::ManagedPolicy", "OperatorPolicy")["NoEditingTheControl"]
    assert any(a.endswith(":policy/SsmGuardrailsSessionRequester") for a in _arns(no_editing))


def test_a_permission_set_requester_is_denied_self_grants_and_named_in_the_scp(synthesized: dict[str, Any]) -> None:
    sets = [
        f"role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_SessionRequester_{'?' * 16}",
        f"role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_SessionRequester_{'?' * 16}",
    ]
    denied = _statements(synthesized["JustInTime"], "AWS::IAM::ManagedPolicy", "OperatorPolicy")["NoGrantingThemselves"]
    assert {a for a in _arns(denied) if "AWSReservedSSO" in a} == {f"arn:aws:iam::{ACCOUNT}:{s}" for s in sets}
    (tagging,) = synthesized["constructs"]["JustInTime"].scp_document["Statement"]
    assert [f"arn:*:iam::*:{s}" for s in sets] == [
        a for a in tagging["Condition"]["ArnLike"]["aws:PrincipalArn"] if "AWSReservedSSO" in a
    ]


@pytest.mark.parametrize("path", ["approval_runbook", "change_manager"])
def test_a_permission_set_requester_needs_the_just_in_time_path(path: str) -> None:
    """The grant of these paths is an inline policy on the requester's role, which Identity Center protects."""
    stack = cdk.Stack(new_app(Path("/tmp/unused.out")), "S")
    props = _props(stack, path)
    props["operators"] = [Principal.from_permission_set("SessionRequester")]
    with pytest.raises(PropsError, match=r"SeparationOfDuties.operators: got \['permission set SessionRequester'\]"):
        SeparationOfDuties(stack, "Sod", **props)
