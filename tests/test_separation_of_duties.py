"""SeparationOfDuties: templates of the three approval paths, the runbook and its grant script
(moto IAM, stubbed Automation), the grant sweeper (moto), cdk-nag, cfn-lint and the prop checks."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import assertions
from aws_cdk import aws_iam as iam
from botocore.stub import Stubber
from cdk_helpers import ROOT, as_list, nag_findings, new_app, only_resource, rendered, resources_of, statements
from moto import mock_aws
from ssm_docs import references

from guardrails import PropsError
from guardrails.separation_of_duties import JustInTimeApprover, SeparationOfDuties, SeparationOfDutiesSettings
from guardrails.separation_of_duties.approval_runbook import REQUEST_TAG_KEY
from guardrails.separation_of_duties.grant import GRANT_PREFIX
from guardrails.separation_of_duties.just_in_time import check_cedar
from guardrails.shared import Principal
from guardrails.shared.documents import load_document
from stacks.build import MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME

ACCOUNT = "111111111111"
APPROVER = f"arn:aws:iam::{ACCOUNT}:role/Approver"
SECOND_APPROVER = f"arn:aws:iam::{ACCOUNT}:user/alice"
SCRIPT = ROOT / "ssm_documents" / "scripts" / "session_window.py"
PERSONS = ROOT / "lambdas" / "session_grant" / "persons.py"
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


SETTINGS = set(SeparationOfDutiesSettings.model_fields)


def _build(stack: cdk.Stack, construct_id: str, props: dict[str, Any]) -> SeparationOfDuties:
    """The construct from one flat dict: its settings (SeparationOfDutiesSettings) and its other props."""
    settings = {k: v for k, v in props.items() if k in SETTINGS}
    if "just_in_time_approvers" in settings:
        settings["just_in_time_approvers"] = [
            JustInTimeApprover(type=t, id=i) for t, i in settings["just_in_time_approvers"]
        ]
    others = {k: v for k, v in props.items() if k not in SETTINGS}
    return SeparationOfDuties(stack, construct_id, settings=SeparationOfDutiesSettings(**settings), **others)


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
        built[stack_name] = _build(stack, "Sod", props)
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


def _deployed(value: Any) -> Any:
    """``value`` as CloudFormation would deploy it in the test stack's account and Region."""
    text = json.dumps(rendered(value))
    for pseudo, actual in (("AWS::Partition", "aws"), ("AWS::Region", "eu-west-1"), ("AWS::AccountId", ACCOUNT)):
        text = text.replace(f"<{pseudo}>", actual)
    return json.loads(text)


def _arns(statement: dict[str, Any], key: str = "Resource") -> list[str]:
    return [json.dumps(r) if not isinstance(r, str) else r for r in as_list(statement[key])]


# ------------------------------------------------------------------------------------------ nag, cfn-lint


def test_cdk_nag_reports_nothing_for_any_approval_path(synthesized: dict[str, Any]) -> None:
    assert synthesized["nag"] == [], "\n".join(synthesized["nag"])


def test_cfn_lint_reports_no_error_or_warning(synthesized: dict[str, Any]) -> None:
    """Through the project's gate (scripts/lint_templates.py): warnings fail like errors."""
    lint_templates = _load(ROOT / "scripts" / "lint_templates.py", "lint_templates")
    returncode, findings = lint_templates.lint(
        Path(synthesized["directory"]) / f"{name}.template.json" for name in STACKS
    )
    assert findings == [] and returncode == 0, "\n".join(findings)


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
    assert policy["NoApprovingAnyAutomation"]["Action"] == "ssm:SendAutomationSignal"
    stop = policy["NoStoppingAutomationsButRequests"]
    assert stop["Condition"] == {"StringNotEquals": {f"aws:ResourceTag/{REQUEST_TAG_KEY}": "AllowStartSsmSession"}}
    cancel = policy["CancelRequests"]  # `ssm-guardrails cancel`: only tagged requests
    assert cancel["Action"] == "ssm:StopAutomationExecution" and cancel["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/{REQUEST_TAG_KEY}": "AllowStartSsmSession"}
    }


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


def test_operators_cannot_touch_the_grant_function_or_what_the_control_alerts_with(runbook_stack: dict) -> None:
    """Issue 21 item 6: the log groups, alarms, approvals topic and its key are the control's too."""
    policy = _statements(runbook_stack, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    grant = policy["NoTouchingTheGrantFunction"]
    assert {"lambda:Invoke*", "lambda:Update*"} <= set(grant["Action"])
    assert any("function:SsmGuardrailsSessionGrant" in arn for arn in rendered(_arns(grant)))
    expected = {
        "NoChangingTheControlsLogs": ("logs:DeleteLogGroup", 2, "LogGroup"),
        "NoChangingTheControlsAlarms": ("cloudwatch:DeleteAlarms", 5, "Alarm"),
        "NoChangingTheControlsTopic": ("sns:DeleteTopic", 1, "Topic"),
        "NoChangingTheControlsKeys": ("kms:ScheduleKeyDeletion", 1, "ApprovalsKey"),
    }
    for sid, (action, count, resource) in expected.items():
        statement = policy[sid]
        assert statement["Effect"] == "Deny" and action in statement["Action"], sid
        assert len(as_list(statement["Resource"])) == count and resource in json.dumps(statement["Resource"]), sid
    alarms = resources_of(runbook_stack, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 5  # grant function errors, throttles; sweeper errors, did-not-run, latest-not-default


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


def test_runbook_role_may_only_invoke_the_grant_function(runbook_stack: dict) -> None:
    """Grant power sits in fixed code: the runbook role writes nothing, it invokes the function."""
    role = only_resource(runbook_stack, "AWS::IAM::Role", "SodRunbookRole")["Properties"]
    assert role["RoleName"] == "SsmSessionControlChangeMangerRole"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT}
    }
    policy = _statements(runbook_stack, "AWS::IAM::Policy", "SodRunbookRoleDefaultPolicy")
    actions = {a for s in policy.values() for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith(("iam:", "ssm:"))}
    invoke = policy["InvokeTheGrantFunctionOnly"]
    assert invoke["Action"] == "lambda:InvokeFunction"
    assert rendered(_arns(invoke)) == ["arn:aws:lambda:eu-west-1:111111111111:function:SsmGuardrailsSessionGrant"]
    assert actions - {"lambda:InvokeFunction"} <= {"sns:Publish", "kms:Decrypt", "kms:GenerateDataKey*"}  # notify


def test_only_the_grant_function_writes_grants_and_only_on_operators(runbook_stack: dict) -> None:
    function = only_resource(runbook_stack, "AWS::Lambda::Function", "SodGrantFunction")["Properties"]
    assert function["FunctionName"] == "SsmGuardrailsSessionGrant"
    role = only_resource(runbook_stack, "AWS::IAM::Role", "SodGrantFunctionRole")["Properties"]
    assert role["RoleName"] == "SsmGuardrailsSessionGrantRole"
    policy = _statements(runbook_stack, "AWS::IAM::Policy", "SodGrantFunctionRoleDefaultPolicy")
    roles, users = policy["WriteSessionGrantsOnRoleOperatorsOnly"], policy["WriteSessionGrantsOnUserOperatorsOnly"]
    assert set(roles["Action"]) == {"iam:GetRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                                    "iam:ListRolePolicies", "iam:GetRolePolicy"}  # fmt: skip
    assert _arns(roles) == ["arn:aws:iam::111111111111:role/Operator"]
    assert _arns(users) == ["arn:aws:iam::111111111111:user/bob"]
    assert policy["ReadTheApproversTrustPolicies"]["Action"] == "iam:GetRole"
    assert _arns(policy["ReadTheApproversTrustPolicies"]) == [APPROVER]
    actions = {a for s in policy.values() for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith(("iam:Tag", "iam:Untag", "iam:Attach", "iam:PassRole"))}
    assert set(policy["ReadTheDeployedDocuments"]["Action"]) == {"ssm:DescribeDocument", "ssm:GetDocument"}
    # IAM writes on operators by no other role of the stack
    for logical_id, resource in resources_of(runbook_stack, "AWS::IAM::Policy").items():
        written = {a for s in statements(resource["Properties"]["PolicyDocument"]) for a in as_list(s["Action"])}
        if "iam:PutRolePolicy" in written or "iam:PutUserPolicy" in written:
            assert logical_id.startswith("SodGrantFunctionRole"), logical_id


def test_grant_function_checks_the_deployed_content_of_both_documents(synthesized: dict[str, Any]) -> None:
    """The fingerprints in the function's configuration are those of the documents in the template,
    as the function computes them from GetDocument (lambdas/session_grant/persons.py)."""
    persons = _load(PERSONS, "session_grant_persons_for_templates")
    for stack_name in ("Runbook", "ChangeManager"):
        template = synthesized[stack_name]
        variables = only_resource(template, "AWS::Lambda::Function", "SodGrantFunction")["Properties"]["Environment"]
        variables = variables["Variables"]
        for document_type, key in (("Automation", "RUNBOOK_SHA256"), ("Automation.ChangeTemplate", "TEMPLATE_SHA256")):
            if key not in variables:
                assert stack_name == "Runbook" and document_type == "Automation.ChangeTemplate"
                continue
            content = _deployed(_document(template, document_type)["Content"])
            assert (
                persons.content_sha256(content, partition="aws", region="eu-west-1", account=ACCOUNT) == variables[key]
            )
            changed = {**content, "mainSteps": content["mainSteps"][:-1]}  # one step less
            assert (
                persons.content_sha256(changed, partition="aws", region="eu-west-1", account=ACCOUNT) != variables[key]
            )
    assert only_resource(synthesized["Runbook"], "AWS::Lambda::Function", "SodGrantFunction")["Properties"][
        "Environment"]["Variables"]["APPROVE_STEP"] == "Approve"  # fmt: skip


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
    assert rendered(content["parameters"]["AutomationAssumeRole"]["allowedValues"]) == [
        "arn:aws:iam::111111111111:role/SsmSessionControlChangeMangerRole"
    ]
    assert content["parameters"]["ValidityMinutes"]["allowedValues"] == [str(m) for m in range(1, 11)]
    approve, grant = content["mainSteps"][:2]
    assert approve["action"] == "aws:approve" and approve["inputs"]["Approvers"] == [APPROVER, SECOND_APPROVER]
    assert approve["inputs"]["MinRequiredApprovals"] == 2
    assert (grant["name"], grant["inputs"]["Handler"]) == ("GrantSession", "invoke")
    scripts = [s for s in content["mainSteps"] if s["action"] == "aws:executeScript"]
    for step in scripts:  # nothing but the execution id, to the grant function
        assert step["inputs"]["InputPayload"] == {
            "ExecutionId": "{{ automation:EXECUTION_ID }}", "FunctionName": "SsmGuardrailsSessionGrant"
        }  # fmt: skip
    assert [s["name"] for s in scripts] == ["GrantSession", "Revoke", "TerminateSessions"]
    assert all(s["inputs"]["Script"] == SCRIPT.read_text() for s in scripts)


def test_change_manager_runbook_grants_on_the_change_requests_approval(synthesized: dict) -> None:
    template = synthesized["ChangeManager"]
    runbook = _document(template, "Automation")["Content"]
    names = [step["name"] for step in runbook["mainSteps"]]
    assert names == ["GrantSession", "WaitForWindow", "Revoke", "TerminateSessions"]  # terminate: default true
    variables = only_resource(template, "AWS::Lambda::Function", "SodGrantFunction")["Properties"]["Environment"]
    assert (variables["Variables"]["CHANGE_TEMPLATE_NAME"], variables["Variables"]["APPROVE_STEP"]) == (
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
    # The auto-approval policy is Cedar policy text (TEXT document):
    # https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-just-in-time-node-access-create-auto-approval-policies.html
    auto = _document(template, "AutoApprovalPolicy")
    assert (auto["DocumentFormat"], auto["Content"]) == ("TEXT", CEDAR)
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


def test_the_organization_guard_keeps_the_runbook_role_with_operators_and_nodes_untagged(
    synthesized: dict[str, Any],
) -> None:
    construct = synthesized["constructs"]["Runbook"]
    statements_by_sid = {s["Sid"]: s for s in construct.scp_document["Statement"]}
    pass_role, tagging = statements_by_sid["OnlyOperatorsPassTheSessionRunbookRole"], statements_by_sid[
        "NoReTaggingNodesAroundTheControls"]  # fmt: skip
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
    writers = statements_by_sid["OnlyTheGrantFunctionWritesInlinePoliciesOnOperators"]
    assert writers["Resource"] == ["arn:*:iam::*:role/Operator", "arn:*:iam::*:user/bob"]
    assert "arn:*:iam::*:role/SsmGuardrailsSessionGrantRole" in writers["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert json.dumps(construct.scp_document, indent=2) in construct.scp_readme
    assert [s["Sid"] for s in synthesized["constructs"]["JustInTime"].scp_document["Statement"]] == [
        "NoReTaggingNodesAroundTheControls", "ServiceRolesToTheirServicesOnly", "OnlyCloudFormationChangesTheControls",
        "OnlyCloudFormationChangesTheControlsKeysAndStateMachines", "OnlyCloudFormationSetsTheGuardTag",
    ]  # fmt: skip
    passing = next(s for s in construct.scp_document["Statement"] if s["Sid"] == "ServiceRolesToTheirServicesOnly")
    assert passing["Resource"] == "arn:*:iam::*:role/*SsmGuardrails*"
    assert "ec2.amazonaws.com" not in passing["Condition"]["StringNotEquals"]["iam:PassedToService"]


def test_readme_shows_the_example_configurations_scp(example_app: Any) -> None:
    [control] = [c for c in example_app.app.node.find_all() if isinstance(c, SeparationOfDuties)]
    assert json.dumps(control.scp_document, indent=2) in (ROOT / "README.md").read_text()
    [tagging] = [s for s in control.scp_document["Statement"] if s["Sid"] == "NoReTaggingNodesAroundTheControls"]
    assert tagging["Condition"]["ForAnyValue:StringEqualsIgnoreCase"]["aws:TagKeys"] == [
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


def test_the_runbook_sleeps_until_the_grant_expires() -> None:
    """aws:sleep takes an ISO 8601 Timestamp (an alternative to Duration) and proceeds at once when it
    has passed: https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-sleep.html"""
    content = load_document("allow_start_ssm_session")
    sleep = next(step for step in content["mainSteps"] if step["action"] == "aws:sleep")
    assert sleep["inputs"] == {"Timestamp": "{{ GrantSession.ExpiresAt }}"}
    grant = next(step for step in content["mainSteps"] if step["name"] == "GrantSession")
    assert {"Name": "ExpiresAt", "Selector": "$.Payload.ExpiresAt", "Type": "String"} in grant["outputs"]
    persons = _load(PERSONS, "session_grant_persons_for_sleep")
    expires = "2030-01-01T12:10:00Z"  # the function's EXPIRY_FORMAT: ISO 8601, UTC
    policy = persons.grant_policy(userid="AROA:alice", node_id=NODE, account=ACCOUNT, regions=["eu-west-1"],
                                  expires_at=expires)  # fmt: skip
    assert {s["Condition"]["DateLessThan"]["aws:CurrentTime"] for s in policy["Statement"]} == {expires}
    assert datetime.fromisoformat(expires) == NOW + timedelta(minutes=10)


def test_the_script_steps_fail_when_the_grant_function_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runbook's script passes the execution id only and turns a function error into a failed step."""
    import io

    script = _load(SCRIPT, "session_window_invoke")
    client = boto3.client("lambda", region_name="eu-west-1")
    stubber = Stubber(client)
    monkeypatch.setattr(script, "_lambda", lambda: client)
    expected = {"FunctionName": "SsmGuardrailsSessionGrant", "Payload": json.dumps({"ExecutionId": "e-1"}).encode()}
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": io.BytesIO(b'{"ExpiresAt": "x"}')}, expected)
    error = {"errorMessage": "refused: version 2 is not the default version 3"}
    stubber.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                    "Payload": io.BytesIO(json.dumps(error).encode())}, expected)  # fmt: skip
    events = {"ExecutionId": "e-1", "FunctionName": "SsmGuardrailsSessionGrant"}
    with stubber:
        assert script.invoke(events, None) == {"ExpiresAt": "x"}
        with pytest.raises(RuntimeError, match="refused: version 2 is not the default"):
            script.invoke(events, None)


# ------------------------------------------------------------------------------------------ sweeper (moto)

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
NODE = "i-0123456789abcdef0"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


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
        script = _load(PERSONS, "session_grant_persons_for_sweeper")
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


@pytest.mark.parametrize(
    ("default", "deleted", "latest_is_default"),
    [("3", ["1", "2"], True), ("2", ["1"], False)],  # 3 never promoted (CloudFormation NewVersion case): kept
)
def test_sweeper_deletes_only_versions_older_than_the_default(
    sweeper: Any, monkeypatch: pytest.MonkeyPatch, default: str, deleted: list[str], latest_is_default: bool
) -> None:
    """Only the current runbook can run: an old version (other approvers, the Change Manager path
    without approval) is deleted at the next sweep after an update; a newer version that is not the
    default is kept and reported (the latest-not-default alarm counts that log field). moto 5.2 has no
    ListDocumentVersions: a Stubber answers with the API reference's shape
    (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListDocumentVersions.html)."""
    module, _, _ = sweeper
    monkeypatch.setenv("RUNBOOK_NAME", "AllowStartSsmSession")
    ssm = boto3.client("ssm", region_name="us-east-1")
    stubber = Stubber(ssm)
    versions = [{"Name": "AllowStartSsmSession", "DocumentVersion": v, "IsDefaultVersion": v == default} for v in "123"]
    stubber.add_response("list_document_versions", {"DocumentVersions": versions}, {"Name": "AllowStartSsmSession"})
    for version in deleted:
        stubber.add_response("delete_document", {}, {"Name": "AllowStartSsmSession", "DocumentVersion": version})
    monkeypatch.setattr(module, "_ssm", lambda: ssm)
    with stubber:
        result = module.handler(SCHEDULED, None)
    assert result["deleted_runbook_versions"] == deleted
    assert result["runbook_latest_is_default"] is latest_is_default
    stubber.assert_no_pending_responses()


def test_sweeper_alarms_on_a_latest_version_that_is_not_the_default_and_when_it_did_not_run(
    runbook_stack: dict,
) -> None:
    filters = resources_of(runbook_stack, "AWS::Logs::MetricFilter")
    [latest] = [f["Properties"] for i, f in filters.items() if i.startswith("SodSweeperLatestNotDefault")]
    assert latest["FilterPattern"] == "{ $.runbook_latest_is_default IS FALSE }"
    transformation = latest["MetricTransformations"][0]
    alarms = [a["Properties"] for a in resources_of(runbook_stack, "AWS::CloudWatch::Alarm").values()]
    assert any(a.get("MetricName") == transformation["MetricName"] for a in alarms)
    assert any(a["AlarmDescription"].startswith("Did not run") and "grants" in a["AlarmDescription"] for a in alarms)


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
        ({"approval_path": "slack"}, "approval_path: got 'slack'; allowed: Input should be 'approval_runbook', "
         "'change_manager' or 'just_in_time'"),
        ({"operators": []}, "operators: got []"),
        ({"topic_name": "ssm-approvals"}, "topic_name: got 'ssm-approvals'; allowed: a name starting with Automation"),
        ({"role_name": "a" * 65}, "role_name: got"),
        ({"runbook_name": "AWS-Mine"}, "runbook_name: got 'AWS-Mine'; allowed: a name not starting with aws"),
        ({"session_regions": ["Europe"]}, "session_regions: got 'Europe'"),
        ({"session_data_key_alias": "alias/aws/ssm"}, "session_data_key_alias: got 'alias/aws/ssm'; allowed: an alias "
         "outside alias/aws/"),
        ({"session_data_key_alias": "session-manager/data"}, "session_data_key_alias: got 'session-manager/data'; "
         "allowed: alias/<name>"),
        ({"sweep_interval_minutes": 120}, "sweep_interval_minutes: got 120"),
        (
            {"approval_path": "just_in_time", "just_in_time_node_tags": {"Environment": ["Production"]}},
            "just_in_time_approvers: got []",
        ),
        (
            {"approval_path": "just_in_time", "just_in_time_approvers": [("Group", "x")],
             "just_in_time_node_tags": {"Environment": ["Production"]}},
            "SeparationOfDuties.type: got 'Group'; allowed: Input should be 'SSOUser', 'SSOGroup' or 'IAMUser'",
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
        _build(stack, "Sod", {**defaults, **props})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_topic_known_only_at_deploy_time_cannot_be_fingerprinted(tmp_path: Path) -> None:
    """The grant function compares the runbook with its synth-time content: every ARN in it must be
    built from names, so a topic created in the same stack (a Ref) is refused with one line."""
    from aws_cdk import aws_sns as sns

    stack = cdk.Stack(new_app(tmp_path), "Props")
    with pytest.raises(PropsError, match=r"SeparationOfDuties\.topic: got .*allowed: ARNs built from names") as caught:
        SeparationOfDuties(stack, "Sod", operators=[iam.Role.from_role_name(stack, "Operator", "Operator")],
                           approvers=[APPROVER], topic=sns.Topic(stack, "Mine"))  # fmt: skip
    assert "\n" not in str(caught.value)
    imported = sns.Topic.from_topic_arn(stack, "Imported", f"arn:aws:sns:eu-west-1:{ACCOUNT}:Automation-mine")
    SeparationOfDuties(stack, "Other", operators=[iam.Role.from_role_name(stack, "Operator2", "Operator")],
                       approvers=[APPROVER], topic=imported, role_name="R2", sweeper_role_name="S2",
                       grant_role_name="G2", grant_function_name="F2", policy_name="P2")  # fmt: skip


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
    (tagging,) = [
        s
        for s in synthesized["constructs"]["JustInTime"].scp_document["Statement"]
        if s.get("Sid") == "NoReTaggingNodesAroundTheControls"
    ]
    # one pattern for both paths in the SCP (5,120 characters): `*` spans the Region segment too
    assert [f"arn:*:iam::*:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_SessionRequester_{'?' * 16}"] == [
        a for a in tagging["Condition"]["ArnLike"]["aws:PrincipalArn"] if "AWSReservedSSO" in a
    ]


@pytest.fixture(scope="module")
def identity_center(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The runbook and Change Manager paths with a permission-set requester (and, on the runbook path, a
    permission-set approver next to an approver role)."""
    app = new_app(tmp_path_factory.mktemp("identity-center.out"))
    built = {}
    for path in ("approval_runbook", "change_manager"):
        stack = cdk.Stack(app, f"Ic-{path.replace('_', '-')}", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
        props = _props(stack, path)
        props["operators"] = [Principal.from_permission_set("SessionRequester")]
        if path == "approval_runbook":
            props["approvers"] = [APPROVER, Principal.from_permission_set("SessionApprover")]
        built[path] = (_build(stack, "Sod", props), stack)
    return {
        path: (control, assertions.Template.from_stack(stack).to_json()) for path, (control, stack) in built.items()
    }


@pytest.mark.parametrize("path", ["approval_runbook", "change_manager"])
def test_a_permission_set_requester_gets_the_grants_policy_to_reference(
    identity_center: dict[str, Any], path: str
) -> None:
    """Identity Center's roles are protected ("this role is only modifiable by AWS":
    https://docs.aws.amazon.com/singlesignon/latest/userguide/troubleshooting.html), so the grant goes into a
    customer managed policy with a fixed name and path that the permission set references
    (https://docs.aws.amazon.com/singlesignon/latest/userguide/permissionsetcustom.html)."""
    control, template = identity_center[path]
    grants = only_resource(template, "AWS::IAM::ManagedPolicy", "SodIdentityCenterGrantsPolicy")["Properties"]
    assert (grants["Path"], grants["ManagedPolicyName"]) == ("/ssm-guardrails/", "SsmGuardrails-SessionGrants")
    assert [s["Effect"] for s in grants["PolicyDocument"]["Statement"]] == ["Deny"]  # grants nothing as deployed
    assert "Roles" not in grants and "Groups" not in grants and "Users" not in grants
    function = only_resource(template, "AWS::Lambda::Function", "SodGrantFunction")["Properties"]["Environment"]
    assert function["Variables"]["OPERATOR_PERMISSION_SETS"] == "SessionRequester"
    writes = _statements(template, "AWS::IAM::Policy", "SodGrantFunctionRoleDefaultPolicy")
    assert _deployed(writes["WriteTheIdentityCenterGrantsPolicyOnly"]["Resource"]) == (
        f"arn:aws:iam::{ACCOUNT}:policy/ssm-guardrails/SsmGuardrails-SessionGrants"
    )
    # operators may not change it; the organization guard lets only the function (and CloudFormation) write it
    no_editing = _statements(template, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")["NoEditingTheControl"]
    assert any(a.endswith(":policy/ssm-guardrails/SsmGuardrails-SessionGrants") for a in _arns(no_editing))
    [guard] = [
        s
        for s in control.scp_document["Statement"]
        if s["Sid"] == "OnlyTheGrantFunctionWritesInlinePoliciesOnOperators"
    ]
    assert guard["Resource"] == ["arn:*:iam::*:policy/ssm-guardrails/SsmGuardrails-SessionGrants"]
    assert "iam:CreatePolicyVersion" in guard["Action"]


def test_permission_set_approvers_are_named_by_the_grant_function_per_account(identity_center: dict[str, Any]) -> None:
    """aws:approve takes exact user or role ARNs, and a permission set's role name differs per account
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html,
    https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html): the first step
    asks the grant function, and the Approve step takes its StringList output."""
    _, template = identity_center["approval_runbook"]
    steps = only_resource(template, "AWS::SSM::Document", "SodRunbookDocument")["Properties"]["Content"]["mainSteps"]
    assert [s["name"] for s in steps[:2]] == ["ResolveApprovers", "Approve"]
    assert steps[0]["outputs"] == [{"Name": "Approvers", "Selector": "$.Payload.Approvers", "Type": "StringList"}]
    assert steps[1]["inputs"]["Approvers"] == "{{ ResolveApprovers.Approvers }}"
    variables = only_resource(template, "AWS::Lambda::Function", "SodGrantFunction")["Properties"]["Environment"][
        "Variables"
    ]
    assert (variables["APPROVER_PERMISSION_SETS"], variables["APPROVER_ARNS"]) == ("SessionApprover", APPROVER)
    listing = _statements(template, "AWS::IAM::Policy", "SodGrantFunctionRoleDefaultPolicy")[
        "FindTheApproverPermissionSetRoles"
    ]
    assert listing["Action"] == "iam:ListRoles"


def test_permission_set_approvers_are_refused_on_the_change_manager_path() -> None:
    """A change template names approvers by name when it is created
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/change-templates-custom-editor.html)."""
    stack = cdk.Stack(new_app(Path("/tmp/unused.out")), "S")
    props = _props(stack, "change_manager")
    props["approvers"] = [APPROVER, Principal.from_permission_set("SessionApprover")]
    with pytest.raises(PropsError, match=r"SeparationOfDuties.approvers: got \['permission set SessionApprover'\]"):
        _build(stack, "Sod", props)


def test_the_guard_lets_every_service_role_of_the_member_stacks_be_passed_to_its_service(example_app: Any) -> None:
    """ServiceRolesToTheirServicesOnly must not break a deploy: every service a member-stack role trusts
    (where CloudFormation passes it) is one the guard admits."""
    from guardrails.separation_of_duties.organization_guard import PROJECT_SERVICES

    trusted = set()
    for stack in (MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME):
        template = example_app.template_json(stack)
        for role in resources_of(template, "AWS::IAM::Role").values():
            for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                trusted |= set(as_list(statement.get("Principal", {}).get("Service", [])))
    assert trusted and trusted <= set(PROJECT_SERVICES), sorted(trusted - set(PROJECT_SERVICES))
