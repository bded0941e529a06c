"""The session grant function with IAM Identity Center people (lambdas/session_grant/identity_center.py):
permission-set requesters get their grant in the grants policy their permission set references, and the
runbook's ResolveApprovers step learns the approver permission sets' roles in this account. moto IAM and
Parameter Store (the lock); the Automation and document calls are stubbed as in test_session_grant.py."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from test_session_grant import (  # noqa: F401 (grant is a fixture)
    ACCOUNT,
    CAROL,
    CONTEXT,
    EXECUTION_ID,
    NOW,
    REGION,
    UNTRUSTED_SHAPES,
    documents,
    end,
    execution,
    grant,
    invoke,
    refused,
)

#: Identity Center's roles: AWSReservedSSO_<permission set>_<16 characters> under
#: /aws-reserved/sso.amazonaws.com/<Region>/, and its sign-in names the session after the user
#: (https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html). Their
#: trust policy trusts the SAML provider Identity Center keeps; whatever it holds, the path makes a person.
PATH = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
REQUESTER_ROLE = "AWSReservedSSO_SessionRequester_1234567890abcdef"
APPROVER_ROLE = "AWSReservedSSO_SessionApprover_abcdef1234567890"
LOOK_ALIKES = (
    "AWSReservedSSO_SessionRequester_Admin_1234567890abcdef",
    "AWSReservedSSO_SessionApprover_All_abcdef1234567890",
)
ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/{REQUESTER_ROLE}/alice@example.com"
DAVE = f"arn:aws:sts::{ACCOUNT}:assumed-role/{APPROVER_ROLE}/dave@example.com"
LOCK = "/guardrails/session-grants-lock"
BASE = {"Sid": "NoSessionUntilTheGrantFunctionAddsOne", "Effect": "Deny", "Action": "ssm:StartSession",
        "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}}  # fmt: skip
OTHER_EXECUTION = "0a0a0a0a-1111-2222-3333-444455556666"


@pytest.fixture
def ic(grant: Any, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811 (the imported fixture)
    """The grant function of a stack whose requesters and approvers include permission sets."""
    for role in (REQUESTER_ROLE, APPROVER_ROLE, *LOOK_ALIKES):
        grant.iam.create_role(RoleName=role, Path=PATH, AssumeRolePolicyDocument=UNTRUSTED_SHAPES["account"])
    policy = grant.iam.create_policy(PolicyName="SsmGuardrails-SessionGrants", Path="/ssm-guardrails/",
                                     PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [BASE]}))  # fmt: skip
    parameters = boto3.client("ssm", region_name=REGION)
    monkeypatch.setattr(grant.module, "_lock_ssm", lambda: parameters)
    for key, value in {
        "OPERATOR_PERMISSION_SETS": "SessionRequester", "GRANTS_POLICY_ARN": policy["Policy"]["Arn"], "GRANTS_LOCK_PARAMETER": LOCK,
        "APPROVER_PERMISSION_SETS": "SessionApprover", "APPROVER_ARNS": f"arn:aws:iam::{ACCOUNT}:role/Approver",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    return SimpleNamespace(**vars(grant), parameters=parameters, policy=policy["Policy"]["Arn"])


def statements(f: Any) -> list[dict[str, Any]]:
    version = f.iam.get_policy(PolicyArn=f.policy)["Policy"]["DefaultVersionId"]
    document = f.iam.get_policy_version(PolicyArn=f.policy, VersionId=version)["PolicyVersion"]["Document"]
    return (json.loads(document) if isinstance(document, str) else document)["Statement"]


def grants_of(f: Any, execution_id: str) -> list[dict[str, Any]]:
    return [
        s for s in statements(f) if s["Sid"].startswith("Grant") and s["Sid"].endswith(execution_id.replace("-", ""))
    ]


def test_a_permission_set_requester_gets_its_grant_in_the_grants_policy_and_revoke_removes_it(ic: Any) -> None:
    result = invoke(ic, execution(ALICE, (DAVE,)))
    assert result == {"PolicyName": ic.policy, "Principal": f"role/{REQUESTER_ROLE}", "Session": "alice@example.com",
                      "ExpiresAt": "2030-01-01T12:10:00Z"}  # fmt: skip
    role_id = ic.iam.get_role(RoleName=REQUESTER_ROLE)["Role"]["RoleId"]
    expected = ic.persons.grant_policy(
        userid=f"{role_id}:alice@example.com", node_id="i-0123456789abcdef0", account=ACCOUNT,
        regions=["eu-west-1", "us-east-1"], expires_at="2030-01-01T12:10:00Z", key_alias="alias/session-manager/data",
    )["Statement"]  # fmt: skip
    written = grants_of(ic, EXECUTION_ID)
    assert [
        {**s, "Sid": s["Sid"].removeprefix("Grant")[: -len(EXECUTION_ID.replace("-", ""))]} for s in written
    ] == expected
    assert statements(ic)[0] == BASE  # the stack's own statement stays
    assert ic.iam.list_role_policies(RoleName=REQUESTER_ROLE)["PolicyNames"] == []  # a protected role: untouched
    with pytest.raises(ic.parameters.exceptions.ParameterNotFound):  # the lock was given back
        ic.parameters.get_parameter(Name=LOCK)
    assert end(ic, execution(ALICE, (DAVE,), step="Revoke"))["Removed"] is True
    assert statements(ic) == [BASE]


def _grant_of(f: Any, execution_id: str, expires_at: str) -> list[dict[str, Any]]:
    policy = f.persons.grant_policy(userid="AROAOTHER:bob@example.com", node_id="i-0123456789abcdef1", account=ACCOUNT,
                                    regions=["eu-west-1", "us-east-1"], expires_at=expires_at,
                                    key_alias="alias/session-manager/data")  # fmt: skip
    return [{**s, "Sid": f"Grant{s['Sid']}{execution_id.replace('-', '')}"} for s in policy["Statement"]]


def _preload(f: Any, *grants: list[dict[str, Any]]) -> None:
    document = {"Version": "2012-10-17", "Statement": [BASE, *(s for g in grants for s in g)]}
    f.iam.create_policy_version(PolicyArn=f.policy, PolicyDocument=json.dumps(document), SetAsDefault=True)


def test_other_running_grants_stay_expired_ones_go_and_versions_do_not_pile_up(ic: Any) -> None:
    running = _grant_of(ic, OTHER_EXECUTION, "2030-01-01T12:05:00Z")
    expired = _grant_of(ic, "0b0b0b0b-1111-2222-3333-444455556666", "2030-01-01T11:59:00Z")
    _preload(ic, running, expired)
    # "A managed policy can have up to five versions. If the policy has five versions, you must delete an
    # existing version": https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html
    for _ in range(4):  # every write makes room first
        invoke(ic, execution(ALICE, (DAVE,)))
        end(ic, execution(ALICE, (DAVE,), step="Revoke"))
    assert statements(ic) == [BASE, *running]
    assert len(ic.iam.list_policy_versions(PolicyArn=ic.policy)["Versions"]) <= 2


def test_a_full_grants_policy_refuses_the_next_grant_and_writes_nothing(ic: Any) -> None:
    """A managed policy holds at most 6,144 characters, white space not counted (IAM and AWS STS quotas:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): four running grants fill it."""
    others = [_grant_of(ic, f"0c0c0c0{i}-1111-2222-3333-444455556666", "2030-01-01T12:09:00Z") for i in range(4)]
    _preload(ic, *others)
    before = statements(ic)
    ic.sns.add_response("publish", {"MessageId": "1"})
    with pytest.raises(ic.module.GrantTooLargeError, match="holds 4 running grants and has no room"):
        invoke(ic, execution(ALICE, (DAVE,)))
    assert statements(ic) == before


def test_a_held_lock_makes_the_writer_wait_and_a_stale_one_is_broken(ic: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import identity_center

    monkeypatch.setattr(identity_center, "LOCK_WAIT_SECONDS", 0)
    monkeypatch.setattr(identity_center.time, "sleep", lambda _: None)
    held = f"{OTHER_EXECUTION} token {identity_center.time.time():.0f}"
    ic.parameters.put_parameter(Name=LOCK, Value=held, Type="String")
    ic.sns.add_response("publish", {"MessageId": "1"})
    with pytest.raises(identity_center.Busy, match="another session grant was being written"):
        invoke(ic, execution(ALICE, (DAVE,)))
    assert grants_of(ic, EXECUTION_ID) == []
    assert ic.parameters.get_parameter(Name=LOCK)["Parameter"]["Value"] == held  # not ours to delete
    stale = identity_center.time.time() - identity_center.LOCK_STALE.total_seconds() - 1
    ic.parameters.put_parameter(Name=LOCK, Value=f"{OTHER_EXECUTION} token {stale:.0f}", Type="String", Overwrite=True)
    invoke(ic, execution(ALICE, (DAVE,)))  # the holder died: its lock is broken
    assert grants_of(ic, EXECUTION_ID) != []


def test_a_lock_value_this_function_did_not_write_is_broken(ic: Any) -> None:
    ic.parameters.put_parameter(Name=LOCK, Value="not a lock", Type="String")
    invoke(ic, execution(ALICE, (DAVE,)))
    assert grants_of(ic, EXECUTION_ID) != []


@pytest.mark.parametrize(
    ("requester", "message"),
    [
        # a permission set whose name starts with the configured one's
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/{LOOK_ALIKES[0]}/alice@example.com", "is not an operator"),
        # the configured permission set's name as an ordinary role outside Identity Center's path
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/SessionRequester/alice", "is not an operator"),
        # another letter case: the policies' ArnLike patterns compare permission set names case-sensitively
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_sessionrequester_1234567890abcdef/alice",
            "is not an operator",
        ),
    ],
)
def test_look_alike_requesters_get_nothing(ic: Any, requester: str, message: str) -> None:
    refused(ic, message, lambda: end(ic, execution(requester, (DAVE,))))  # refused before the documents are read
    assert grants_of(ic, EXECUTION_ID) == []


def test_an_identity_center_role_named_as_a_role_is_refused_with_the_fix(ic: Any) -> None:
    """Identity Center roles are protected, so a grant can only reach them through the grants policy."""
    ic.iam.create_role(RoleName="Federated", Path=PATH, AssumeRolePolicyDocument=UNTRUSTED_SHAPES["account"])
    refused(ic, "is an IAM Identity Center role: name its permission set", lambda: invoke(
        ic, execution(f"arn:aws:sts::{ACCOUNT}:assumed-role/Federated/alice@example.com")))  # fmt: skip


def test_the_same_person_through_an_approver_permission_set_is_refused(ic: Any) -> None:
    me = f"arn:aws:sts::{ACCOUNT}:assumed-role/{APPROVER_ROLE}/Alice@example.com"
    ic.sns.add_response("publish", {"MessageId": "1"})
    with pytest.raises(ic.module.Refused, match="is the same person as the requester"):
        invoke(ic, execution(ALICE, (me,)))
    assert grants_of(ic, EXECUTION_ID) == []


def test_resolve_approvers_names_the_approvers_roles_in_this_account(ic: Any) -> None:
    answer = invoke(ic, execution(ALICE, (), step="ResolveApprovers"))
    approver = ic.iam.get_role(RoleName=APPROVER_ROLE)["Role"]["Arn"]
    assert answer == {"Approvers": [f"arn:aws:iam::{ACCOUNT}:role/Approver", approver]}  # not the look-alike
    assert approver.endswith(f":role{PATH}{APPROVER_ROLE}")


def test_resolve_approvers_refuses_when_too_few_have_a_role_here(ic: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVER_ARNS", "")
    monkeypatch.setenv("MIN_APPROVALS", "2")
    refused(ic, "1 of the configured approvers have a role in this account, 2 approvals are needed",
            lambda: invoke(ic, execution(ALICE, (), step="ResolveApprovers")), ic.module.TooFewApprovers)  # fmt: skip


def test_resolve_approvers_checks_the_runbook_like_a_grant(ic: Any) -> None:
    def run() -> Any:
        ic.ssm.add_response("get_automation_execution", execution(ALICE, (), step="ResolveApprovers", version="2"))
        documents(ic, default="3", fetch=False)  # an older version: its content is not even read
        return ic.module.handler({"ExecutionId": EXECUTION_ID}, CONTEXT)

    refused(ic, "version 2 is not the default version 3", run)


def test_a_grant_retried_later_keeps_its_window(ic: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke(ic, execution(ALICE, (DAVE,)))
    monkeypatch.setattr(ic.module, "_now", lambda: NOW + timedelta(minutes=4))
    assert invoke(ic, execution(ALICE, (DAVE,)))["ExpiresAt"] == "2030-01-01T12:10:00Z"
    assert len(grants_of(ic, EXECUTION_ID)) == 3  # replaced, not added twice


def test_role_requesters_still_get_an_inline_policy(ic: Any) -> None:
    invoke(ic, execution())  # REQUESTER: the role Operator by name, approved by CAROL
    assert ic.iam.list_role_policies(RoleName="Operator")["PolicyNames"] == [
        "SsmGuardrailsSessionGrant-" + EXECUTION_ID
    ]
    assert statements(ic) == [BASE]
    assert CAROL  # the default approver of execution()
