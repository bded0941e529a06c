"""SeparationOfDuties: templates of the three approval paths, the documents, the scripts and sweeper
(moto / stubbed clients), cdk-nag, cfn-lint and the prop checks."""

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
import botocore.session
import pytest
from aws_cdk import aws_iam as iam
from botocore.stub import Stubber
from cdk_helpers import (
    ROOT,
    SynthesizedApp,
    as_list,
    nag_findings,
    new_app,
    only_resource,
    rendered,
    resources_of,
    statements,
)
from moto import mock_aws
from ssm_docs import references, render

from guardrails import PropsError
from guardrails._documents import load_document
from guardrails.separation_of_duties import EXPIRY_TAG_KEY, TAG_KEY, SeparationOfDuties, check_cedar
from stacks.build import MEMBER_GLOBAL_STACK_NAME
from stacks.config import load_config
from stacks.member_global_stack import MemberGlobalStack

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
UNTAG_STEPS = {"ChooseUntag", "UntagUser", "UntagRole"}


def _props(stack: cdk.Stack, path: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "operators": [iam.Role.from_role_name(stack, "Operator", "Operator")],
        "approval_path": path,
    }
    if path == "just_in_time":
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


def test_operator_policy_has_the_contract_name_and_is_attached_to_every_operator(runbook_stack: dict) -> None:
    policy = only_resource(runbook_stack, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")["Properties"]
    assert policy["ManagedPolicyName"] == "AllowStartSsmSessionBasedOnIamTags"
    assert policy["Roles"] == ["Operator"]
    assert policy["Users"] == ["bob"]


def test_start_session_only_on_the_instance_named_by_the_principal_tag(runbook_stack: dict) -> None:
    policy = _statements(runbook_stack, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    start = policy["StartSessionOnlyOnTheApprovedInstance"]
    assert start["Effect"] == "Allow" and start["Action"] == "ssm:StartSession"
    assert start["Resource"] == [
        f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/${{aws:PrincipalTag/SecurityAllowSessionInstance}}",
        f"arn:aws:ssm:eu-west-1:{ACCOUNT}:managed-instance/${{aws:PrincipalTag/SecurityAllowSessionInstance}}",
    ]
    assert start["Condition"] == {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
    document = policy["ThroughTheDefaultSessionDocumentOnly"]
    assert document["Resource"] == f"arn:aws:ssm:eu-west-1:{ACCOUNT}:document/SSM-SessionManagerRunShell"
    assert document["Condition"] == {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
    allowed = {a for s in policy.values() if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert not {a for a in allowed if a.startswith(("iam:Tag", "iam:Untag", "sts:", "ssm:SendAutomationSignal"))}


@pytest.mark.parametrize("stack_name", ["Runbook", "ChangeManager"])
def test_approved_operators_can_open_the_channel_encrypt_and_end_only_own_sessions(
    synthesized: dict[str, Any], stack_name: str
) -> None:
    """Issue 11: an approved operator must be able to finish opening the session (data channel,
    session data key) and to end only the sessions they started (AWS's session-id tag)."""
    policy = _statements(synthesized[stack_name], "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    channel = policy["OpenTheSessionDataChannel"]
    assert (channel["Effect"], channel["Action"], channel["Resource"]) == ("Allow", "ssmmessages:OpenDataChannel", "*")
    own = policy["OwnSessionsOnly"]
    assert set(own["Action"]) == {"ssm:TerminateSession", "ssm:ResumeSession"}
    assert own["Resource"] == f"arn:aws:ssm:eu-west-1:{ACCOUNT}:session/*"
    assert own["Condition"] == {"StringLike": {"ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}"}}
    key = policy["EncryptSessionDataWithTheSessionKeyOnly"]
    assert (key["Effect"], key["Action"]) == ("Allow", "kms:GenerateDataKey")
    assert key["Resource"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*"
    assert key["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/session-manager/data"}}
    kms_actions = {a for s in policy.values() if s["Effect"] == "Allow" for a in as_list(s["Action"]) if "kms:" in a}
    assert kms_actions == {"kms:GenerateDataKey"}


def test_just_in_time_operators_get_no_session_permissions(synthesized: dict[str, Any]) -> None:
    """On the just-in-time path the access token carries the session permissions (the data key is
    tagged for it by SessionPrefs); the operator policy itself grants none."""
    policy = _statements(synthesized["JustInTime"], "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    allowed = {a for s in policy.values() if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert not {a for a in allowed if a.startswith(("kms:", "ssmmessages:", "ssm:StartSession", "ssm:Terminate"))}


def test_session_key_grant_covers_every_session_region_or_none(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    regions = ["eu-west-1", "eu-central-1"]
    for name, alias in (("TwoRegions", "alias/custom/sessions"), ("Unencrypted", None)):
        stack = cdk.Stack(app, name, env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
        props = {**_props(stack, "approval_runbook"), "session_regions": regions, "session_data_key_alias": alias}
        SeparationOfDuties(stack, "Sod", **props)
    assert nag_findings(app) == []
    assembly = app.synth()
    policy = _statements(assembly.get_stack_by_name("TwoRegions").template, "AWS::IAM::ManagedPolicy", "OperatorPolicy")
    key = policy["EncryptSessionDataWithTheSessionKeyOnly"]
    assert sorted(key["Resource"]) == sorted(f"arn:aws:kms:{region}:{ACCOUNT}:key/*" for region in regions)
    assert key["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/custom/sessions"}}
    assert sorted(policy["OwnSessionsOnly"]["Resource"]) == sorted(
        f"arn:aws:ssm:{region}:{ACCOUNT}:session/*" for region in regions
    )
    plain = _statements(assembly.get_stack_by_name("Unencrypted").template, "AWS::IAM::ManagedPolicy", "OperatorPolicy")
    assert "EncryptSessionDataWithTheSessionKeyOnly" not in plain and "OpenTheSessionDataChannel" in plain


def test_member_stack_grants_the_session_key_of_every_configured_region(example_app: SynthesizedApp) -> None:
    """The example encrypts sessions (SessionPrefs, regional stack); the global stack's operators get
    the data key of both configured Regions by alias."""
    template = example_app.template_json(MEMBER_GLOBAL_STACK_NAME)
    key = _statements(template, "AWS::IAM::ManagedPolicy", "OperatorPolicy")["EncryptSessionDataWithTheSessionKeyOnly"]
    assert sorted(key["Resource"]) == [
        f"arn:<AWS::Partition>:kms:{region}:<AWS::AccountId>:key/*" for region in ("eu-central-1", "eu-west-1")
    ]
    assert key["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/session-manager/data"}}


@pytest.mark.parametrize("session_prefs", [{"session_encryption": False}, {"enabled": False}])
def test_member_stack_grants_no_session_key_when_sessions_are_not_encrypted(
    tmp_path: Path, session_prefs: dict[str, Any]
) -> None:
    config = load_config("example")
    controls = config.controls.model_copy(
        update={"session_prefs": config.controls.session_prefs.model_copy(update=session_prefs)}
    )
    app = new_app(tmp_path)
    MemberGlobalStack(app, "Global", config=config.model_copy(update={"controls": controls}))
    template = app.synth().get_stack_by_name("Global").template
    policy = _statements(template, "AWS::IAM::ManagedPolicy", "OperatorPolicy")
    assert "EncryptSessionDataWithTheSessionKeyOnly" not in policy and "OwnSessionsOnly" in policy


def test_operators_cannot_tag_themselves_with_the_key_in_any_case(runbook_stack: dict) -> None:
    deny = _statements(runbook_stack, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")[
        "NoSelfTaggingWithTheSessionKeysInAnyCase"
    ]
    assert deny["Effect"] == "Deny" and deny["Resource"] == "*"
    assert {"iam:TagRole", "iam:UntagRole", "iam:TagUser", "iam:UntagUser", "sts:TagSession"} <= set(deny["Action"])
    assert deny["Condition"] == {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": [TAG_KEY, EXPIRY_TAG_KEY]}}


def test_operators_cannot_approve_or_edit_the_control(runbook_stack: dict) -> None:
    policy = _statements(runbook_stack, "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    signal = policy["NoApprovingAnyAutomation"]
    assert (signal["Effect"], signal["Action"]) == ("Deny", "ssm:SendAutomationSignal")
    assert signal["Resource"] == f"arn:aws:ssm:eu-west-1:{ACCOUNT}:automation-execution/*"
    edit = policy["NoEditingTheControl"]
    assert edit["Effect"] == "Deny"
    assert f"arn:aws:iam::{ACCOUNT}:role/SsmSessionControlChangeMangerRole" in edit["Resource"]
    assert f"arn:aws:ssm:eu-west-1:{ACCOUNT}:document/AllowStartSsmSession" in edit["Resource"]
    start = policy["RequestAccessWithTheRunbook"]
    assert start["Resource"] == f"arn:aws:ssm:eu-west-1:{ACCOUNT}:automation-definition/AllowStartSsmSession:*"
    assert policy["PassTheRunbookRoleToSystemsManager"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}
    }


def test_change_manager_operators_cannot_start_the_runbook_directly(synthesized: dict[str, Any]) -> None:
    policy = _statements(synthesized["ChangeManager"], "AWS::IAM::ManagedPolicy", "SodOperatorPolicy")
    deny = policy["NoStartingTheRunbookWithoutChangeManager"]
    assert (deny["Effect"], deny["Action"]) == ("Deny", "ssm:StartAutomationExecution")
    assert deny["Resource"].endswith(":automation-definition/AllowStartSsmSession:*")
    assert policy["RequestAccessThroughChangeManager"]["Action"] == "ssm:StartChangeRequestExecution"
    assert "NoApprovingAnyAutomation" in policy


def test_approver_policy_can_signal_but_is_not_attached(runbook_stack: dict) -> None:
    resource = only_resource(runbook_stack, "AWS::IAM::ManagedPolicy", "SodApproverPolicy")["Properties"]
    assert "Roles" not in resource and "ManagedPolicyName" not in resource
    policy = {s["Sid"]: s for s in rendered(statements(resource["PolicyDocument"]))}
    assert policy["ApproveOrRejectRequests"]["Action"] == "ssm:SendAutomationSignal"


# ------------------------------------------------------------------------------------------ runbook role


def test_runbook_role_has_the_contract_name_and_trusts_ssm_of_this_account(runbook_stack: dict) -> None:
    role = only_resource(runbook_stack, "AWS::IAM::Role", "SodRunbookRole")["Properties"]
    assert role["RoleName"] == "SsmSessionControlChangeMangerRole"
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_runbook_role_tags_operators_only_and_only_with_the_session_keys(runbook_stack: dict) -> None:
    policy = _statements(runbook_stack, "AWS::IAM::Policy", "SodRunbookRoleDefaultPolicy")
    tag = policy["TagRoleOperatorsWithTheSessionKeysOnly"]
    assert tag["Action"] == "iam:TagRole"
    assert tag["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/Operator"
    assert tag["Condition"] == {
        "ForAllValues:StringEquals": {"aws:TagKeys": [TAG_KEY, EXPIRY_TAG_KEY]},
        "Null": {"aws:TagKeys": "false"},
        "StringLike": {f"aws:RequestTag/{TAG_KEY}": ["i-*", "mi-*"]},
    }
    untag = policy["UntagUserOperatorsSessionKeysOnly"]
    assert untag["Resource"] == f"arn:aws:iam::{ACCOUNT}:user/bob"
    assert untag["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": [TAG_KEY, EXPIRY_TAG_KEY]}
    assert policy["ReadOwnExecutionForTheSelfApprovalCheck"]["Action"] == "ssm:GetAutomationExecution"
    assert policy["EndTheOperatorsSessions"]["Action"] == "ssm:TerminateSession"


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
        key = statements(only_resource(template, "AWS::KMS::Key")["Properties"]["KeyPolicy"])
        assert any(s.get("Sid") == "SystemsManagerPublishesApprovals" for s in key)
    assert not resources_of(synthesized["JustInTime"], "AWS::SNS::Topic")


# ------------------------------------------------------------------------------------------ documents in templates


def test_runbook_pins_role_approvers_topic_and_validity(runbook_stack: dict) -> None:
    document = _document(runbook_stack, "Automation")
    assert (document["Name"], document["UpdateMethod"]) == ("AllowStartSsmSession", "NewVersion")
    content = document["Content"]
    role = content["parameters"]["AutomationAssumeRole"]["allowedValues"][0]
    assert role["Fn::GetAtt"][0].startswith("SodRunbookRole")
    assert content["parameters"]["ValidityMinutes"]["allowedValues"] == [str(m) for m in range(1, 11)]
    assert content["parameters"]["PrincipalType"]["allowedValues"] == ["user", "role"]
    approve = content["mainSteps"][0]
    assert approve["action"] == "aws:approve"
    assert approve["inputs"]["Approvers"] == [APPROVER, SECOND_APPROVER]
    assert approve["inputs"]["MinRequiredApprovals"] == 2
    assert approve["inputs"]["NotificationArn"]["Ref"].startswith("SodApprovalsTopic")
    scripts = [s for s in content["mainSteps"] if s["action"] == "aws:executeScript"]
    assert {s["name"] for s in scripts} == {"CheckNotSelfApproved", "ComputeExpiry", "TerminateSessions"}
    assert all(s["inputs"]["Script"] == SCRIPT.read_text() for s in scripts)


def test_change_manager_runbook_has_no_approval_step_and_the_template_approves(synthesized: dict) -> None:
    template = synthesized["ChangeManager"]
    runbook = _document(template, "Automation")["Content"]
    names = [step["name"] for step in runbook["mainSteps"]]
    assert names[0] == "ComputeExpiry" and "Approve" not in names and "TerminateSessions" not in names
    assert runbook["parameters"]["PrincipalType"]["allowedValues"] == ["role"]
    change = _document(template, "Automation.ChangeTemplate")
    assert (change["Name"], change["UpdateMethod"]) == ("AllowSsmSessionStartTemplate", "NewVersion")
    content = change["Content"]
    assert content["schemaVersion"] == "0.3" and content["emergencyChange"] is False
    assert content["autoApprovable"] is False
    assert content["executableRunBooks"] == [{"name": "AllowStartSsmSession", "version": "$DEFAULT"}]
    # Per-level approval, as AWS's sample: MinRequiredApprovals directly under inputs, next to
    # EnhancedApprovals; each approver "may contribute" (0).
    # https://docs.aws.amazon.com/systems-manager/latest/userguide/approval-type-samples.html#per-level-approvals
    inputs = content["mainSteps"][0]["inputs"]
    assert content["mainSteps"][0]["action"] == "aws:approve"
    assert set(inputs) == {"Message", "MinRequiredApprovals", "EnhancedApprovals"}
    assert inputs["MinRequiredApprovals"] == 2
    approvals = inputs["EnhancedApprovals"]
    assert set(approvals) == {"NotificationArn", "Approvers"}
    assert approvals["Approvers"] == [
        {"approver": "Approver", "type": "IamRole", "minRequiredApprovals": 0},
        {"approver": "alice", "type": "IamUser", "minRequiredApprovals": 0},
    ]
    assert approvals["NotificationArn"]["Ref"].startswith("SodApprovalsTopic")


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
    assert "NoSelfTaggingWithTheSessionKeysInAnyCase" in policy
    assert not resources_of(template, "AWS::Lambda::Function")


def test_sweeper_runs_on_a_schedule_and_removes_only_the_session_keys(runbook_stack: dict) -> None:
    function = only_resource(runbook_stack, "AWS::Lambda::Function", "SodSweeper")["Properties"]
    assert function["Environment"]["Variables"] == {
        "TAG_KEY": TAG_KEY, "EXPIRY_TAG_KEY": EXPIRY_TAG_KEY, "MAX_VALIDITY_MINUTES": "10",
    }  # fmt: skip
    rule = only_resource(runbook_stack, "AWS::Events::Rule", "SodSweepRule")["Properties"]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    role = only_resource(runbook_stack, "AWS::IAM::Role", "SodSweeperRole")["Properties"]
    assert role["RoleName"] == "SsmSessionTagSweeperRole"
    untag = _statements(runbook_stack, "AWS::IAM::Policy", "SodSweeperRoleDefaultPolicy")["RemoveSessionKeysOnly"]
    assert untag["Condition"]["ForAllValues:StringEqualsIgnoreCase"] == {"aws:TagKeys": [TAG_KEY, EXPIRY_TAG_KEY]}


def test_scp_document_exempts_only_the_runbook_and_sweeper_roles(synthesized: dict[str, Any]) -> None:
    construct = synthesized["constructs"]["Runbook"]
    [statement] = construct.scp_document["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {
        "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": [TAG_KEY, EXPIRY_TAG_KEY]},
        "ArnNotLike": {
            "aws:PrincipalArn": [
                "arn:*:iam::*:role/SsmSessionControlChangeMangerRole",
                "arn:*:iam::*:role/SsmSessionTagSweeperRole",
            ]
        },
    }
    assert json.dumps(construct.scp_document, indent=2) in construct.scp_readme


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


def test_every_step_before_the_untag_fails_and_cancels_into_the_untag_steps() -> None:
    steps = load_document("allow_start_ssm_session")["mainSteps"]
    names = {step["name"] for step in steps}
    for step in steps:
        if step["name"] in UNTAG_STEPS or step.get("isEnd"):
            continue
        assert step["onFailure"] == "step:ChooseUntag", step["name"]
        assert step["onCancel"] == "step:ChooseUntag", step["name"]
    choose_untag = next(step for step in steps if step["name"] == "ChooseUntag")
    assert choose_untag["onFailure"] == choose_untag["onCancel"] == "step:UntagRole"
    for step in steps:  # every jump lands on a step that exists
        jumps = [step.get("nextStep"), step.get("onFailure"), step.get("onCancel")]
        jumps += [c["NextStep"] for c in step["inputs"].get("Choices", [])] + [step["inputs"].get("Default")]
        for jump in filter(None, jumps):
            target = jump.removeprefix("step:")
            assert target in names or target == "Abort", f"{step['name']} -> {jump}"
    untag = {step["name"]: step for step in steps if step["name"] in ("UntagUser", "UntagRole")}
    assert all(step["inputs"]["TagKeys"] == [TAG_KEY, EXPIRY_TAG_KEY] for step in untag.values())


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


def test_executeawsapi_steps_name_real_iam_request_fields() -> None:
    model = botocore.session.get_session().get_service_model("iam")
    for step in load_document("allow_start_ssm_session")["mainSteps"]:
        if step["action"] == "aws:executeAwsApi":
            operation = model.operation_model(step["inputs"]["Api"])
            assert {k for k in step["inputs"] if k not in ("Service", "Api")} <= set(operation.input_shape.members)


def _api_call(step: dict[str, Any], parameters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The boto3 method and arguments an aws:executeAwsApi step sends, with references substituted."""
    inputs = json.loads(render(json.dumps(step["inputs"]), parameters))
    method = re.sub(r"(?<!^)(?=[A-Z])", "_", inputs.pop("Api")).lower()
    inputs.pop("Service")
    return method, inputs


def test_tag_and_untag_steps_work_against_the_iam_api() -> None:
    steps = {step["name"]: step for step in load_document("allow_start_ssm_session")["mainSteps"]}
    with mock_aws():
        client = boto3.client("iam", region_name="us-east-1")
        client.create_role(RoleName="Operator", AssumeRolePolicyDocument="{}", Tags=[{"Key": "team", "Value": "ops"}])
        client.create_user(UserName="bob")
        for kind, name in (("Role", "Operator"), ("User", "bob")):
            values = {"InstanceId": "i-0123456789abcdef0", "PrincipalName": name,
                      "ComputeExpiry.ExpiresAt": "2030-01-01T00:10:00Z"}  # fmt: skip
            method, arguments = _api_call(steps[f"Tag{kind}"], values)
            getattr(client, method)(**arguments)
            listed = getattr(client, f"list_{kind.lower()}_tags")(**{f"{kind}Name": name})["Tags"]
            assert {TAG_KEY: "i-0123456789abcdef0", EXPIRY_TAG_KEY: "2030-01-01T00:10:00Z"}.items() <= {
                t["Key"]: t["Value"] for t in listed
            }.items()
            method, arguments = _api_call(steps[f"Untag{kind}"], values)
            getattr(client, method)(**arguments)
            left = {t["Key"] for t in getattr(client, f"list_{kind.lower()}_tags")(**{f"{kind}Name": name})["Tags"]}
            assert not left & {TAG_KEY, EXPIRY_TAG_KEY}
        assert client.list_role_tags(RoleName="Operator")["Tags"] == [{"Key": "team", "Value": "ops"}]


# ------------------------------------------------------------------------------------------ scripts


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return _load(SCRIPT, "session_window")


def _stubbed_ssm(script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = boto3.client("ssm", region_name="eu-west-1")
    stubber = Stubber(client)
    monkeypatch.setattr(script, "_ssm", lambda: client)
    stubber.activate()
    return stubber


def _execution(executed_by: str, approvers: list[str], decision: str = "Approve") -> dict[str, Any]:
    decisions = [json.dumps({"Approver": a, "Decision": decision, "Comment": "ok"}) for a in approvers]
    return {
        "AutomationExecution": {
            "AutomationExecutionId": "0123456789abcdef-0123-4567-89ab-0123456789ab",
            "ExecutedBy": executed_by,
            "StepExecutions": [
                {"StepName": "Approve", "Outputs": {"ApprovalStatus": ["Approved"], "ApproverDecisions": decisions}}
            ],
        }
    }


def _check(script: ModuleType, stubber: Stubber, executed_by: str, approvers: list[str], **kw: str) -> Any:
    execution_id = "0123456789abcdef-0123-4567-89ab-0123456789ab"
    stubber.add_response(
        "get_automation_execution", _execution(executed_by, approvers, **kw), {"AutomationExecutionId": execution_id}
    )
    events = {
        "ExecutionId": execution_id,
        "ApproveStepName": "Approve",
        "PrincipalType": "role",
        "PrincipalName": "Operator",
    }
    return script.check_not_self_approved(events, None)


REQUESTER = f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator/alice-session"


def test_approval_by_someone_else_passes(script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    stubber = _stubbed_ssm(script, monkeypatch)
    result = _check(script, stubber, REQUESTER, [f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/carol"])
    assert result == {"Requester": REQUESTER, "Approvers": [f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/carol"]}
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("requester", "approver", "why"),
    [
        (f"arn:aws:iam::{ACCOUNT}:user/dave", f"arn:aws:iam::{ACCOUNT}:user/Dave", "approved its own request"),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/s1",
            f"arn:aws:iam::{ACCOUNT}:role/approver",
            "its own request",
        ),
        (f"arn:aws:iam::{ACCOUNT}:user/dave", f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator/x", "access for itself"),
    ],
)
def test_self_approval_fails_the_step(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch, requester: str, approver: str, why: str
) -> None:
    stubber = _stubbed_ssm(script, monkeypatch)
    with pytest.raises(script.SelfApprovalError, match=why):
        _check(script, stubber, requester, [approver])


def test_no_recorded_approval_fails_closed(script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    stubber = _stubbed_ssm(script, monkeypatch)
    with pytest.raises(script.SelfApprovalError, match="no approval decision"):
        _check(script, stubber, REQUESTER, [f"arn:aws:iam::{ACCOUNT}:role/Approver"], decision="Reject")


def test_expiry_is_the_end_of_the_window_in_utc(script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(script, "_now", lambda: datetime(2030, 1, 1, 12, 0, 30, 999, tzinfo=UTC))
    assert script.expiry({"ValidityMinutes": "10"}, None) == {"ExpiresAt": "2030-01-01T12:10:30Z"}
    with pytest.raises(ValueError, match="1-60"):
        script.expiry({"ValidityMinutes": "61"}, None)


def test_terminate_sessions_ends_only_the_principals_sessions(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubber = _stubbed_ssm(script, monkeypatch)
    request = {"State": "Active", "Filters": [{"key": "Target", "value": "i-0123456789abcdef0"}]}
    stubber.add_response(
        "describe_sessions",
        {"Sessions": [{"SessionId": "Operator-1", "Owner": f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator/a"}],
         "NextToken": "page2"},
        request,
    )  # fmt: skip
    stubber.add_response(
        "describe_sessions",
        {"Sessions": [{"SessionId": "other-1", "Owner": f"arn:aws:sts::{ACCOUNT}:assumed-role/Other/b"}]},
        {**request, "NextToken": "page2"},
    )
    stubber.add_response("terminate_session", {"SessionId": "Operator-1"}, {"SessionId": "Operator-1"})
    events = {"InstanceId": "i-0123456789abcdef0", "PrincipalType": "role", "PrincipalName": "Operator"}
    assert script.terminate_sessions(events, None) == {"Terminated": ["Operator-1"]}
    stubber.assert_no_pending_responses()


# ------------------------------------------------------------------------------------------ sweeper (moto)


@pytest.fixture
def sweeper(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TAG_KEY", TAG_KEY)
    monkeypatch.setenv("EXPIRY_TAG_KEY", EXPIRY_TAG_KEY)
    monkeypatch.setenv("MAX_VALIDITY_MINUTES", "10")
    with mock_aws():
        module = _load(SWEEPER, "session_tag_sweeper")
        now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
        module._now = lambda: now
        yield module, boto3.client("iam", region_name="us-east-1"), now


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event"}


def test_sweeper_removes_expired_missing_and_implausible_expiries_only(sweeper: Any) -> None:
    module, client, now = sweeper
    grant = {"Key": TAG_KEY, "Value": "i-0123456789abcdef0"}
    cases = {
        "expired": [grant, {"Key": EXPIRY_TAG_KEY, "Value": _stamp(now - timedelta(seconds=1))}],
        "valid": [grant, {"Key": EXPIRY_TAG_KEY, "Value": _stamp(now + timedelta(minutes=5))}],
        "no-expiry": [grant],
        "too-far": [grant, {"Key": EXPIRY_TAG_KEY, "Value": _stamp(now + timedelta(hours=2))}],
        "garbage": [grant, {"Key": EXPIRY_TAG_KEY, "Value": "tomorrow"}],
        "lower-case-key": [{"Key": TAG_KEY.lower(), "Value": "i-0123456789abcdef0"}],
        "untouched": [{"Key": "team", "Value": "ops"}],
    }
    for name, tags in cases.items():
        client.create_role(RoleName=name, AssumeRolePolicyDocument="{}", Tags=tags)
    client.create_user(UserName="expired-user", Tags=cases["expired"])
    result = module.handler(SCHEDULED, None)
    removed = {entry["arn"].split("/")[-1] for entry in result["untagged"]}
    assert removed == {"expired", "no-expiry", "too-far", "garbage", "lower-case-key", "expired-user"}
    assert {t["Key"] for t in client.list_role_tags(RoleName="valid")["Tags"]} == {TAG_KEY, EXPIRY_TAG_KEY}
    assert client.list_role_tags(RoleName="expired")["Tags"] == []
    assert client.list_user_tags(UserName="expired-user")["Tags"] == []
    assert client.list_role_tags(RoleName="untouched")["Tags"] == [{"Key": "team", "Value": "ops"}]


def test_sweeper_reads_every_page_of_roles(sweeper: Any) -> None:
    module, client, _ = sweeper
    for index in range(130):  # ListRoles returns 100 per page
        client.create_role(RoleName=f"role-{index:03d}", AssumeRolePolicyDocument="{}")
    client.tag_role(RoleName="role-129", Tags=[{"Key": TAG_KEY, "Value": "i-0123456789abcdef0"}])
    result = module.sweep(TAG_KEY, EXPIRY_TAG_KEY, 10)
    assert result["checked"] == 130
    assert [entry["arn"].split("/")[-1] for entry in result["untagged"]] == ["role-129"]


def test_sweeper_rejects_other_events(sweeper: Any) -> None:
    module, _, _ = sweeper
    with pytest.raises(module.UnsupportedEvent):
        module.handler({"instance_id": "i-0123456789abcdef0"}, None)


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
