"""The session grant function (lambdas/session_grant): moto IAM (roles with real trust policies,
inline policies), a Stubber for the Automation and document calls moto does not implement
(GetAutomationExecution; GetDocument with DocumentFormat) and for the alert (SNS Publish)."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from cdk_helpers import ROOT
from moto import mock_aws

FUNCTION_DIR = ROOT / "lambdas" / "session_grant"
ACCOUNT, REGION = "111111111111", "eu-west-1"
CONTEXT = SimpleNamespace(invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:SsmGuardrailsSessionGrant")
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:Automation-ssm-session-approval"
EXECUTION_ID = "4f9b0c1e-1111-2222-3333-444455556666"
NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
NODE = "i-0123456789abcdef0"
REQUESTER = f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator/alice"
CAROL = f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/carol"
#: the deployed runbook, with this account's ARNs, as GetDocument returns it
RUNBOOK = {
    "schemaVersion": "0.3",
    "assumeRole": "{{ AutomationAssumeRole }}",
    "parameters": {"AutomationAssumeRole": {"type": "String", "allowedValues": [
        f"arn:aws:iam::{ACCOUNT}:role/SsmSessionControlChangeMangerRole"]}},
    "mainSteps": [{"name": "Approve", "action": "aws:approve", "inputs": {
        "NotificationArn": TOPIC, "Approvers": [f"arn:aws:iam::{ACCOUNT}:role/Approver"], "MinRequiredApprovals": 1}}],
}  # fmt: skip
TEMPLATE = {"schemaVersion": "0.3", "executableRunBooks": [{"name": "AllowStartSsmSession", "version": "$DEFAULT"}]}
#: trust policies (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)
ACCOUNT_ROOT = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
PINNED = {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}}


def trust(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]})


PINNED_TRUST = trust({"Principal": ACCOUNT_ROOT, "Action": "sts:AssumeRole", "Condition": PINNED})


@pytest.fixture
def grant(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The function with moto's IAM (pinned operator and approver roles, user bob) and stubbed SSM and SNS."""
    monkeypatch.syspath_prepend(str(FUNCTION_DIR))
    for name in ("index", "persons", "quota", "identity_center"):
        sys.modules.pop(name, None)
    with mock_aws():
        module = importlib.import_module("index")
        persons = importlib.import_module("persons")
        iam = boto3.client("iam", region_name="us-east-1")
        ssm, sns = boto3.client("ssm", region_name=REGION), boto3.client("sns", region_name=REGION)
        ssm_stub, sns_stub = Stubber(ssm), Stubber(sns)
        ssm_stub.activate()
        sns_stub.activate()
        monkeypatch.setattr(module, "_ssm", lambda: ssm)
        monkeypatch.setattr(module, "_iam", lambda: iam)
        monkeypatch.setattr(module, "_sns", lambda: sns)
        monkeypatch.setattr(module, "_now", lambda: NOW)
        fingerprint = {"partition": "aws", "region": REGION, "account": ACCOUNT}
        for key, value in {
            "RUNBOOK_NAME": "AllowStartSsmSession", "APPROVE_STEP": "Approve", "OPERATOR_ROLES": "Operator,Federated",
            "OPERATOR_USERS": "bob", "MAX_VALIDITY_MINUTES": "10", "REGIONS": "eu-west-1,us-east-1",
            "SESSION_DOCUMENT": "SSM-SessionManagerRunShell", "KEY_ALIAS": "alias/session-manager/data",
            "ALERT_TOPIC_ARN": TOPIC, "RUNBOOK_SHA256": persons.content_sha256(RUNBOOK, **fingerprint),
            "TEMPLATE_SHA256": persons.content_sha256(TEMPLATE, **fingerprint), "CHANGE_TEMPLATE_NAME": "",
        }.items():  # fmt: skip
            monkeypatch.setenv(key, value)
        for role in ("Operator", "Approver"):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=PINNED_TRUST)
        iam.create_user(UserName="bob")
        yield SimpleNamespace(module=module, persons=persons, iam=iam, ssm=ssm_stub, sns=sns_stub)
        ssm_stub.assert_no_pending_responses()
        sns_stub.assert_no_pending_responses()


def execution(executed_by: str = REQUESTER, approvers: tuple[str, ...] = (CAROL,), *, step: str = "GrantSession",
              version: str = "3", document: str = "AllowStartSsmSession", approve_step: str = "Approve",
              **extra: Any) -> dict[str, Any]:  # fmt: skip
    """GetAutomationExecution's answer (API reference shape:
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AutomationExecution.html)."""
    decisions = [json.dumps({"Approver": a, "Decision": "Approve", "Comment": "ok"}) for a in approvers]
    steps = [{"StepName": approve_step, "StepStatus": "Success", "Outputs": {"ApproverDecisions": decisions}}]
    if step:
        steps.append({"StepName": step, "StepStatus": "InProgress"})
    return {"AutomationExecution": {
        "AutomationExecutionId": EXECUTION_ID, "DocumentName": document, "DocumentVersion": version,
        "AutomationExecutionStatus": "InProgress", "ExecutedBy": executed_by, "StepExecutions": steps,
        "Parameters": {"InstanceId": [NODE], "ValidityMinutes": ["10"]}, **extra}}  # fmt: skip


def documents(
    f: Any,
    default: str = "3",
    content: dict[str, Any] = RUNBOOK,
    name: str = "AllowStartSsmSession",
    fetch: bool = True,
) -> None:
    f.ssm.add_response("describe_document", {"Document": {"Name": name, "DefaultVersion": default}}, {"Name": name})
    if fetch:  # only the default version's content is fetched
        f.ssm.add_response(
            "get_document", {"Name": name, "Content": json.dumps(content), "DocumentFormat": "JSON"},
            {"Name": name, "DocumentVersion": default, "DocumentFormat": "JSON"},
        )  # fmt: skip


def invoke(f: Any, answer: dict[str, Any], *, default: str = "3", content: dict[str, Any] = RUNBOOK) -> Any:
    f.ssm.add_response("get_automation_execution", answer, {"AutomationExecutionId": EXECUTION_ID})
    documents(f, default, content)
    return f.module.handler({"ExecutionId": EXECUTION_ID}, CONTEXT)


def end(f: Any, answer: dict[str, Any]) -> Any:
    """Revoke and TerminateSessions: no document checks (they only take access away)."""
    f.ssm.add_response("get_automation_execution", answer, {"AutomationExecutionId": EXECUTION_ID})
    return f.module.handler({"ExecutionId": EXECUTION_ID}, CONTEXT)


def refused(f: Any, match: str, run: Any, error: type[Exception] | None = None) -> None:
    f.sns.add_response("publish", {"MessageId": "1"}, {"TopicArn": TOPIC, "Subject": ANY, "Message": ANY})
    with pytest.raises(error or f.module.Refused, match=match):
        run()
    assert f.iam.list_role_policies(RoleName="Operator")["PolicyNames"] == []
    assert f.iam.list_user_policies(UserName="bob")["PolicyNames"] == []


# ------------------------------------------------------------------------------------------ grant and revoke


def test_grant_writes_a_policy_for_the_requesting_session_and_revoke_removes_it(grant: Any) -> None:
    result = invoke(grant, execution())
    name = "SsmGuardrailsSessionGrant-" + EXECUTION_ID
    assert result == {"PolicyName": name, "Principal": "role/Operator", "Session": "alice",
                      "ExpiresAt": "2030-01-01T12:10:00Z"}  # fmt: skip
    role_id = grant.iam.get_role(RoleName="Operator")["Role"]["RoleId"]
    written = grant.iam.get_role_policy(RoleName="Operator", PolicyName=name)["PolicyDocument"]
    assert written == grant.persons.grant_policy(
        userid=f"{role_id}:alice", node_id=NODE, account=ACCOUNT, regions=["eu-west-1", "us-east-1"],
        expires_at="2030-01-01T12:10:00Z", key_alias="alias/session-manager/data",
    )  # fmt: skip
    assert "aws:SourceIdentity" not in json.dumps(written)
    assert end(grant, execution(step="Revoke"))["Removed"] is True
    assert grant.iam.list_role_policies(RoleName="Operator")["PolicyNames"] == []
    assert end(grant, execution(step="Revoke", version="2"))["Removed"] is False  # gone; an old version still ends


def test_iam_user_requesters_get_a_grant_for_their_user_id(grant: Any) -> None:
    invoke(grant, execution(f"arn:aws:iam::{ACCOUNT}:user/bob"))
    written = grant.iam.get_user_policy(UserName="bob", PolicyName="SsmGuardrailsSessionGrant-" + EXECUTION_ID)
    user_id = grant.iam.get_user(UserName="bob")["User"]["UserId"]
    assert {s["Condition"]["StringEquals"]["aws:userid"] for s in written["PolicyDocument"]["Statement"]} == {user_id}


def test_a_retried_grant_keeps_its_window(grant: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke(grant, execution())
    monkeypatch.setattr(grant.module, "_now", lambda: NOW + timedelta(minutes=3))
    assert invoke(grant, execution())["ExpiresAt"] == "2030-01-01T12:10:00Z"


# ------------------------------------------------------------------------------------------ what is refused


def test_a_forged_execution_id_grants_nothing_and_alerts(grant: Any) -> None:
    grant.ssm.add_client_error("get_automation_execution", "AutomationExecutionNotFoundException")
    refused(grant, "no automation execution", lambda: grant.module.handler({"ExecutionId": EXECUTION_ID}, CONTEXT))
    refused(grant, "exactly", lambda: grant.module.handler({"ExecutionId": EXECUTION_ID, "InstanceId": NODE}, CONTEXT))


@pytest.mark.parametrize(
    ("answer", "default", "content", "message"),
    [
        (execution(version="2"), "3", RUNBOOK, "version 2 is not the default version 3"),  # an old version
        (execution(), "3", {**RUNBOOK, "mainSteps": []}, "is not the content this stack deployed"),  # changed default
        (execution(document="LendMeTheRole"), "3", RUNBOOK, "not AllowStartSsmSession"),
    ],
)
def test_a_changed_or_old_runbook_grants_nothing(
    grant: Any, answer: dict[str, Any], default: str, content: dict[str, Any], message: str
) -> None:
    def run() -> Any:
        grant.ssm.add_response("get_automation_execution", answer)
        if "LendMeTheRole" not in json.dumps(answer):
            documents(grant, default, content, fetch=answer["AutomationExecution"]["DocumentVersion"] == default)
        return grant.module.handler({"ExecutionId": EXECUTION_ID}, CONTEXT)

    refused(grant, message, run)


@pytest.mark.parametrize(
    ("answer", "message", "documents_read"),
    [
        (execution(step=""), "not at one of the steps", False),  # a finished or waiting execution
        (execution(step="WaitForWindow"), "not at one of the steps", False),
        (execution(f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/dave"), "not an operator", False),
        (execution(approvers=(f"arn:aws:iam::{ACCOUNT}:role/Approver",)), "names no person", True),
        (execution(approvers=()), "no approval decision", True),
        (execution(approvers=(f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/ALICE",)), "same person as the requester",
         True),
        (execution(approve_step="Other"), "no step Approve", True),
    ],
)  # fmt: skip
def test_the_execution_must_be_an_approved_request_at_its_grant_step(
    grant: Any, answer: dict[str, Any], message: str, documents_read: bool
) -> None:
    def run() -> Any:
        grant.ssm.add_response("get_automation_execution", answer, {"AutomationExecutionId": EXECUTION_ID})
        if documents_read:
            documents(grant)
        return grant.module.handler({"ExecutionId": EXECUTION_ID}, CONTEXT)

    refused(grant, message, run)


# ------------------------------------------------------------------------------------------ persons

UNTRUSTED_SHAPES = {
    # the account may assume it, any session name
    "account": trust({"Principal": ACCOUNT_ROOT, "Action": "sts:AssumeRole"}),
    # one statement pins the name, another does not
    "one-unpinned": trust({"Principal": ACCOUNT_ROOT, "Action": "sts:AssumeRole", "Condition": PINNED},
                          {"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/Ci"}, "Action": "sts:AssumeRole"}),
    # OIDC: AssumeRoleWithWebIdentity lets the caller choose RoleSessionName
    # (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html)
    "oidc": trust({"Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example.com"},
                   "Action": "sts:AssumeRoleWithWebIdentity"}),
}  # fmt: skip


@pytest.mark.parametrize("shape", list(UNTRUSTED_SHAPES))
@pytest.mark.parametrize("who", ["requester", "approver"])
def test_untrusted_session_names_grant_nothing_and_name_the_fix(grant: Any, shape: str, who: str) -> None:
    role = "Operator" if who == "requester" else "Approver"
    grant.iam.update_assume_role_policy(RoleName=role, PolicyDocument=UNTRUSTED_SHAPES[shape])
    refused(grant, f"role {role} lets its callers choose their session names; to fix: add", lambda: invoke(
        grant, execution()), grant.persons.UntrustedSessionName)  # fmt: skip


def test_source_identity_persons_get_a_grant_bound_to_their_source_identity(grant: Any) -> None:
    """A role that requires sts:SourceIdentity: the source identity persists across role chaining and
    cannot be changed (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html),
    so the grant requires aws:SourceIdentity = the requesting session's name."""
    required = {"StringLike": {"sts:SourceIdentity": "*"}}
    grant.iam.create_role(
        RoleName="Federated",
        AssumeRolePolicyDocument=trust(
            {"Principal": ACCOUNT_ROOT, "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"], "Condition": required}
        ),
    )
    invoke(grant, execution(f"arn:aws:sts::{ACCOUNT}:assumed-role/Federated/alice"))
    written = grant.iam.get_role_policy(RoleName="Federated", PolicyName="SsmGuardrailsSessionGrant-" + EXECUTION_ID)
    conditions = [s["Condition"]["StringEquals"] for s in written["PolicyDocument"]["Statement"]]
    assert all(c["aws:SourceIdentity"] == "alice" for c in conditions)
    # an approver's source identity is not recorded: such a role does not make an approver a person
    grant.iam.update_assume_role_policy(
        RoleName="Approver",
        PolicyDocument=trust({"Principal": ACCOUNT_ROOT, "Action": "sts:AssumeRole", "Condition": required}),
    )
    refused(grant, "only requires sts:SourceIdentity", lambda: invoke(grant, execution()),
            grant.persons.UntrustedSessionName)  # fmt: skip


@pytest.mark.parametrize(
    ("role", "kind"),
    [
        ({"RoleName": "R", "Path": "/aws-reserved/sso.amazonaws.com/", "AssumeRolePolicyDocument": "{}"}, "identity-center"),
        ({"RoleName": "R", "AssumeRolePolicyDocument": PINNED_TRUST}, "name"),
        ({"RoleName": "R", "AssumeRolePolicyDocument": trust({"Principal": {"Federated": "arn:aws:iam::1:saml-provider/Idp"},
                                                              "Action": "sts:AssumeRoleWithSAML"})}, "name"),
        ({"RoleName": "R", "AssumeRolePolicyDocument": "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal"
          "%22%3A%7B%22AWS%22%3A%22*%22%7D%2C%22Condition%22%3A%7B%22Null%22%3A%7B%22sts%3ASourceIdentity%22%3A%22false"
          "%22%7D%7D%7D%5D%7D"}, "source-identity"),  # URL-encoded, as the raw API returns it
    ],
)  # fmt: skip
def test_the_person_check_doctor_can_reuse(grant: Any, role: dict[str, Any], kind: str) -> None:
    assert grant.persons.session_name_trust(role) == kind
    who = grant.persons.identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/R/Alice")
    person = grant.persons.person_of(who, role)
    assert (person.name, person.by_source_identity) == ("alice", kind == "source-identity")
    with pytest.raises(grant.persons.UntrustedSessionName, match="role R lets its callers choose"):
        grant.persons.person_of(who, {**role, "Path": "/", "AssumeRolePolicyDocument": UNTRUSTED_SHAPES["account"]})


# ------------------------------------------------------------------------------------------ Change Manager, quota, end


def test_change_manager_grants_on_the_parent_change_requests_approval(
    grant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHANGE_TEMPLATE_NAME", "AllowSsmSessionStartTemplate")
    monkeypatch.setenv("APPROVE_STEP", "ApproveSessionAccess")
    parent_id = "0a0a0a0a-1111-2222-3333-444455556666"
    child = execution(approvers=(), approve_step="None", ParentAutomationExecutionId=parent_id)
    parent = execution(
        step="", version="2", document="AllowSsmSessionStartTemplate", approve_step="ApproveSessionAccess"
    )
    # a runbook started directly (not by a change request) grants nothing
    refused(grant, "not started by a change request", lambda: end(grant, execution()))
    old_template = json.loads(json.dumps(parent))
    old_template["AutomationExecution"]["DocumentVersion"] = "1"

    def run_old_template() -> Any:
        grant.ssm.add_response("get_automation_execution", child)
        grant.ssm.add_response("get_automation_execution", old_template, {"AutomationExecutionId": parent_id})
        documents(grant)
        documents(grant, "2", TEMPLATE, "AllowSsmSessionStartTemplate", fetch=False)
        return grant.module.handler({"ExecutionId": EXECUTION_ID}, CONTEXT)

    refused(grant, "AllowSsmSessionStartTemplate version 1 is not the default version 2", run_old_template)
    grant.ssm.add_response("get_automation_execution", child)
    grant.ssm.add_response("get_automation_execution", parent, {"AutomationExecutionId": parent_id})
    documents(grant)
    documents(grant, "2", TEMPLATE, "AllowSsmSessionStartTemplate")
    assert grant.module.handler({"ExecutionId": EXECUTION_ID}, CONTEXT)["Session"] == "alice"


def test_concurrent_grants_fit_and_one_more_than_fits_is_a_clear_error(
    grant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    granted = 0
    grant.sns.add_response("publish", {"MessageId": "1"})  # the alert of the one that does not fit
    with pytest.raises(grant.module.GrantTooLargeError, match=r"IAM role Operator has \d+ of 10240 characters"):
        for index in range(40):
            answer = execution()
            answer["AutomationExecution"]["AutomationExecutionId"] = f"4f9b0c1e-1111-2222-3333-{index:012d}"
            invoke(grant, answer)
            granted += 1
    assert granted >= 7  # a role holds several concurrent grants (10,240 characters)
    assert len(grant.iam.list_role_policies(RoleName="Operator")["PolicyNames"]) == granted


def test_terminate_sessions_ends_only_the_requesting_sessions_sessions(grant: Any) -> None:
    owner = f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator/"
    grant.ssm.add_response("get_automation_execution", execution(step="TerminateSessions"))
    grant.ssm.add_response(
        "describe_sessions",
        {
            "Sessions": [
                {"SessionId": "alice-1", "Owner": owner + "alice"},
                {"SessionId": "bob-1", "Owner": owner + "bob"},
            ]
        },
    )
    grant.ssm.add_response("terminate_session", {"SessionId": "alice-1"}, {"SessionId": "alice-1"})
    assert grant.module.handler({"ExecutionId": EXECUTION_ID}, CONTEXT) == {"Terminated": ["alice-1"]}
