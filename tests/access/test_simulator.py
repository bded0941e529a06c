"""Tests of the simulator bridge itself (tests/access/simulator.py and simulate.js).

Every scenario of this file goes to the simulator in ONE batch (the module fixture), as the
scenario suite sends all of its scenarios once per session. The policies here are small and
made up: they test the bridge and the simulator's fidelity to AWS's documented evaluation, not
this project's templates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import simulator
from simulator import Decision, PolicySet, Request, Result, raise_for_invalid, simulate

MEMBER = "111111111111"
CENTRAL = "222222222222"
REGION = "us-east-1"
ORG = "o-a1b2c3d4e5"
OPERATOR_ROLE = f"arn:aws:iam::{MEMBER}:role/Operator"
BOB = f"arn:aws:sts::{MEMBER}:assumed-role/Operator/bob"
BOB_USERID = "AROAEXAMPLEOPERATOR:bob"
EVE_USERID = "AROAEXAMPLEOPERATOR:eve"
INSTANCE = f"arn:aws:ec2:{REGION}:{MEMBER}:instance/i-0123456789abcdef0"
# AWS's Session Manager examples name the session document with the caller's account.
# https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-restrict-access-examples.html
SHELL_DOCUMENT = f"arn:aws:ssm:{REGION}:{MEMBER}:document/SSM-SessionManagerRunShell"
BOB_SESSION = f"arn:aws:ssm:{REGION}:{MEMBER}:session/{BOB_USERID}-0a1b2c3d4e5f6a7b8"
EVE_SESSION = f"arn:aws:ssm:{REGION}:{MEMBER}:session/{EVE_USERID}-0a1b2c3d4e5f6a7b8"
KEY = f"arn:aws:kms:{REGION}:{MEMBER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PARAMETER = f"arn:aws:ssm:{REGION}:{MEMBER}:parameter/guardrails/break-glass/password"
OTHER_PARAMETER = f"arn:aws:ssm:{REGION}:{MEMBER}:parameter/guardrails/rotation/password"
MEMBER_TOPIC = f"arn:aws:sns:{REGION}:{MEMBER}:alerts"
CENTRAL_TOPIC = f"arn:aws:sns:{REGION}:{CENTRAL}:findings"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(sid: str, action: str | list[str], resource: str | list[str], condition: dict | None = None) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource} | (
        {"Condition": condition} if condition else {}
    )


def deny(sid: str, action: str | list[str], resource: str | list[str], condition: dict | None = None) -> dict:
    return allow(sid, action, resource, condition) | {"Effect": "Deny"}


# Without a key policy that allows it, no IAM policy grants access to a KMS key; this is the
# default key policy's statement that enables IAM policies for the account.
# https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html
KEY_POLICY = policy(
    {
        "Sid": "EnableIamPolicies",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{MEMBER}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
)

SCENARIOS: dict[str, tuple[PolicySet, Request]] = {}


def scenario(scenario_id: str, policies: PolicySet, request: Request) -> None:
    assert scenario_id not in SCENARIOS, scenario_id
    SCENARIOS[scenario_id] = (policies, request)


# --- Allow, implicit deny, explicit deny ------------------------------------------------------
# An applicable Deny wins over any Allow (explicit deny); no applicable Allow is an implicit deny.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
# StartSession authorizes the node and the session document; both are resource types of it.
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
OPERATOR = PolicySet(
    identity={
        "Operator": policy(
            allow("StartOnTaggedNodes", "ssm:StartSession", f"arn:aws:ec2:*:{MEMBER}:instance/*"),
            allow("StartWithShellDocument", "ssm:StartSession", SHELL_DOCUMENT),
            deny(
                "DenyUntaggedNodes",
                "ssm:StartSession",
                "arn:aws:ec2:*:*:instance/*",
                {"Null": {"ssm:resourceTag/SessionAccess": "true"}},
            ),
        )
    }
)
scenario("allow", OPERATOR, Request(BOB, "ssm:StartSession", INSTANCE, {"ssm:resourceTag/SessionAccess": "ops"}))
scenario("allow-document", OPERATOR, Request(BOB, "ssm:StartSession", SHELL_DOCUMENT))
scenario(
    "implicit-deny",
    OPERATOR,
    Request(
        BOB,
        "ssm:StartSession",
        f"arn:aws:ec2:{REGION}:{CENTRAL}:instance/i-0123456789abcdef0",
        {"ssm:resourceTag/SessionAccess": "ops"},
    ),
)
scenario("explicit-deny", OPERATOR, Request(BOB, "ssm:StartSession", INSTANCE))

# --- Resource policies, same account and cross-account ---------------------------------------
# Cross-account: the identity policy in the principal's account AND the resource policy in the
# resource's account must both allow.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
# Same account: an allow in either the identity or the resource policy is enough.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
TOPIC_POLICY = policy(
    {
        "Sid": "PublishFromTheOrganization",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "sns:Publish",
        "Resource": CENTRAL_TOPIC,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    }
)
PUBLISHER = policy(allow("PublishFindings", "sns:Publish", CENTRAL_TOPIC))
IN_ORG = {"aws:PrincipalOrgID": ORG}
scenario("xacct-both", PolicySet([PUBLISHER], TOPIC_POLICY), Request(BOB, "sns:Publish", CENTRAL_TOPIC, IN_ORG))
scenario("xacct-resource-only", PolicySet([], TOPIC_POLICY), Request(BOB, "sns:Publish", CENTRAL_TOPIC, IN_ORG))
scenario(
    "xacct-outside-org",
    PolicySet([PUBLISHER], TOPIC_POLICY),
    Request(BOB, "sns:Publish", CENTRAL_TOPIC, {"aws:PrincipalOrgID": "o-zzzzzzzzzz"}),
)
scenario(
    "same-account-resource-only",
    PolicySet(
        [],
        policy(
            {
                "Sid": "OperatorPublishes",
                "Effect": "Allow",
                "Principal": {"AWS": OPERATOR_ROLE},
                "Action": "sns:Publish",
                "Resource": MEMBER_TOPIC,
            }
        ),
    ),
    Request(BOB, "sns:Publish", MEMBER_TOPIC),
)

# --- SCPs and permissions boundaries ----------------------------------------------------------
# An SCP Deny applies to every principal of the account; an allow must exist at every level,
# which AWS's default FullAWSAccess SCP provides (the bridge attaches it next to given SCPs).
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
# A permissions boundary caps identity permissions: what it does not allow is implicitly denied.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
SESSION_SCP = policy(
    deny(
        "DenySessionsOutsideOps",
        "ssm:StartSession",
        "*",
        {"StringNotEquals": {"aws:PrincipalTag/team": "ops"}},
    )
)
TAGGED = {"ssm:resourceTag/SessionAccess": "ops"}
scenario(
    "scp-deny",
    PolicySet(OPERATOR.identity, scps=[SESSION_SCP]),
    Request(BOB, "ssm:StartSession", INSTANCE, TAGGED | {"aws:PrincipalTag/team": "dev"}),
)
scenario(
    "scp-allows",
    PolicySet(OPERATOR.identity, scps=[SESSION_SCP]),
    Request(BOB, "ssm:StartSession", INSTANCE, TAGGED | {"aws:PrincipalTag/team": "ops"}),
)
scenario(
    "boundary-deny",
    PolicySet(OPERATOR.identity, boundary=policy(allow("OnlySns", "sns:*", "*"))),
    Request(BOB, "ssm:StartSession", INSTANCE, TAGGED),
)

# --- Policy variables -------------------------------------------------------------------------
# ${aws:userid} and ${aws:PrincipalTag/x} are replaced by the request context's values; a
# variable with no value makes the statement not apply.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
OWN_SESSIONS = PolicySet(
    [policy(allow("OwnSessions", "ssm:TerminateSession", "arn:aws:ssm:*:*:session/${aws:userid}-*"))]
)
scenario("var-userid-own", OWN_SESSIONS, Request(BOB, "ssm:TerminateSession", BOB_SESSION, {"aws:userid": BOB_USERID}))
scenario(
    "var-userid-other", OWN_SESSIONS, Request(BOB, "ssm:TerminateSession", EVE_SESSION, {"aws:userid": BOB_USERID})
)
scenario("var-userid-missing", OWN_SESSIONS, Request(BOB, "ssm:TerminateSession", BOB_SESSION))
TEAM_NODES = PolicySet(
    [
        policy(
            allow(
                "TeamNodes",
                "ssm:StartSession",
                "arn:aws:ec2:*:*:instance/*",
                {"StringEquals": {"ssm:resourceTag/Team": "${aws:PrincipalTag/team}"}},
            )
        )
    ]
)
scenario(
    "var-tag-match",
    TEAM_NODES,
    Request(BOB, "ssm:StartSession", INSTANCE, {"aws:PrincipalTag/team": "ops", "ssm:resourceTag/Team": "ops"}),
)
scenario(
    "var-tag-mismatch",
    TEAM_NODES,
    Request(BOB, "ssm:StartSession", INSTANCE, {"aws:PrincipalTag/team": "dev", "ssm:resourceTag/Team": "ops"}),
)

# --- Stand-in for kms:EncryptionContext:<key> -------------------------------------------------
# Parameter Store decrypts a SecureString with the encryption context PARAMETER_ARN = the
# parameter's ARN; kms:EncryptionContext:<key> tests one pair of it. The simulator drops keys
# whose variable part follows a colon, so the bridge renames them (see simulate.js).
# https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context
# https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-securestring.html
EC_KEY = "kms:EncryptionContext:PARAMETER_ARN"
ONE_PARAMETER = PolicySet(
    [policy(allow("DecryptOneParameter", "kms:Decrypt", KEY, {"StringEquals": {EC_KEY: PARAMETER}}))], KEY_POLICY
)
scenario("ec-match", ONE_PARAMETER, Request(BOB, "kms:Decrypt", KEY, {EC_KEY: PARAMETER}))
scenario("ec-mismatch", ONE_PARAMETER, Request(BOB, "kms:Decrypt", KEY, {EC_KEY: OTHER_PARAMETER}))
scenario("ec-missing", ONE_PARAMETER, Request(BOB, "kms:Decrypt", KEY))
scenario("ec-without-stand-in", ONE_PARAMETER, Request(BOB, "kms:Decrypt", KEY, {EC_KEY: PARAMETER}))
NOT_OTHER_PARAMETERS = PolicySet(
    [
        policy(
            allow("DecryptAny", "kms:Decrypt", KEY),
            deny("DenyOtherParameters", "kms:Decrypt", KEY, {"StringNotEquals": {EC_KEY: PARAMETER}}),
        )
    ],
    KEY_POLICY,
)
scenario("ec-negated-match", NOT_OTHER_PARAMETERS, Request(BOB, "kms:Decrypt", KEY, {EC_KEY: PARAMETER}))
scenario("ec-negated-mismatch", NOT_OTHER_PARAMETERS, Request(BOB, "kms:Decrypt", KEY, {EC_KEY: OTHER_PARAMETER}))
# A negated operator matches a missing key: the Deny applies.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
scenario("ec-negated-missing", NOT_OTHER_PARAMETERS, Request(BOB, "kms:Decrypt", KEY))
GUARDRAIL_PARAMETERS = PolicySet(
    [
        policy(
            allow(
                "DecryptGuardrailParameters",
                "kms:Decrypt",
                KEY,
                {"StringLike": {EC_KEY: "arn:aws:ssm:*:*:parameter/guardrails/break-glass/*"}},
            )
        )
    ],
    KEY_POLICY,
)
scenario("ec-like-match", GUARDRAIL_PARAMETERS, Request(BOB, "kms:Decrypt", KEY, {EC_KEY: PARAMETER}))
scenario("ec-like-mismatch", GUARDRAIL_PARAMETERS, Request(BOB, "kms:Decrypt", KEY, {EC_KEY: OTHER_PARAMETER}))

# --- ssmmessages:OpenDataChannel --------------------------------------------------------------
# The service authorization reference lists no resource type for OpenDataChannel, so the
# simulator requires the request's resource to be "*"; AWS's sample Session Manager policies
# grant it on arn:aws:ssm:*:*:session/${aws:userid}-* instead.
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonmessagegatewayservice.html
# https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-restrict-access-quickstart.html
DATA_CHANNEL_ANY = PolicySet([policy(allow("DataChannel", "ssmmessages:OpenDataChannel", "*"))])
DATA_CHANNEL_OWN = PolicySet(
    [policy(allow("OwnDataChannel", "ssmmessages:OpenDataChannel", "arn:aws:ssm:*:*:session/${aws:userid}-*"))]
)
scenario("odc-star", DATA_CHANNEL_ANY, Request(BOB, "ssmmessages:OpenDataChannel", "*", {"aws:userid": BOB_USERID}))
scenario(
    "odc-session-grant", DATA_CHANNEL_OWN, Request(BOB, "ssmmessages:OpenDataChannel", "*", {"aws:userid": BOB_USERID})
)
scenario(
    "odc-session-arn",
    DATA_CHANNEL_OWN,
    Request(BOB, "ssmmessages:OpenDataChannel", BOB_SESSION, {"aws:userid": BOB_USERID}),
)

# --- Requests the simulator must reject loudly ------------------------------------------------
ANY_SSM = PolicySet([policy(allow("Any", "*", "*"))])
INVALID = {
    # Actions and services are checked against the service authorization reference.
    "invented-action": (ANY_SSM, Request(BOB, "ssm:StartSessionX", INSTANCE), "ssm:StartSessionX"),
    "invented-service": (ANY_SSM, Request(BOB, "ssmx:StartSession", INSTANCE), "invalid.service"),
    # StartSession's resource types are instance, managed-instance, document and session.
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
    "wrong-arn-type": (ANY_SSM, Request(BOB, "ssm:StartSession", MEMBER_TOPIC), "no.resource.types"),
    # The simulator reads ${Account} in resource type patterns as one or more characters.
    "empty-account-arn": (
        ANY_SSM,
        Request(BOB, "ssm:SendCommand", f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript", resource_account=MEMBER),
        "account field is empty",
    ),
    "pattern-resource": (
        ANY_SSM,
        Request(BOB, "ssm:StartSession", f"arn:aws:ec2:{REGION}:{MEMBER}:instance/*"),
        "is a pattern",
    ),
    "odc-session-arn": (None, None, "must.use.wildcard"),
    # ssm:SessionDocumentAccessCheck is a key of StartSession, not of sns:Publish.
    "key-of-another-action": (
        ANY_SSM,
        Request(BOB, "sns:Publish", MEMBER_TOPIC, {"ssm:SessionDocumentAccessCheck": "true"}),
        "ssm:SessionDocumentAccessCheck",
    ),
    "invented-context-key": (
        ANY_SSM,
        Request(BOB, "sns:Publish", MEMBER_TOPIC, {"aws:PrincipalOrgIdentifier": ORG}),
        "aws:PrincipalOrgIdentifier",
    ),
    "bool-value": (
        ANY_SSM,
        Request(BOB, "ssm:StartSession", SHELL_DOCUMENT, {"ssm:SessionDocumentAccessCheck": "yes"}),
        "not true or false",
    ),
    # aws:PrincipalOrgID is single-valued: a request carries one organization.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid
    "two-values-single-key": (
        ANY_SSM,
        Request(BOB, "sns:Publish", MEMBER_TOPIC, {"aws:PrincipalOrgID": [ORG, "o-zzzzzzzzzz"]}),
        "single-valued",
    ),
    "invented-operator": (
        PolicySet([policy(allow("Typo", "sns:Publish", "*", {"StringEqualz": {"aws:PrincipalOrgID": ORG}}))]),
        Request(BOB, "sns:Publish", MEMBER_TOPIC, IN_ORG),
        "unknown condition operator 'StringEqualz'",
    ),
    "invented-condition-key": (
        PolicySet([policy(allow("Typo", "ssm:StartSession", "*", {"Bool": {"ssm:SessionDocumentCheck": "true"}}))]),
        Request(BOB, "ssm:StartSession", SHELL_DOCUMENT),
        "ssm:SessionDocumentCheck",
    ),
    "invented-policy-variable": (
        PolicySet([policy(allow("Typo", "ssm:TerminateSession", "arn:aws:ssm:*:*:session/${aws:useridd}-*"))]),
        Request(BOB, "ssm:TerminateSession", BOB_SESSION, {"aws:userid": BOB_USERID}),
        "aws:useridd",
    ),
    "invalid-policy": (
        PolicySet([{"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]}]),
        Request(BOB, "sns:Publish", MEMBER_TOPIC),
        "Effect",
    ),
    "no-resource-account": (
        ANY_SSM,
        Request(BOB, "s3:GetObject", "arn:aws:s3:::guardrails-bucket/key"),
        "resource_account",
    ),
}
for _id, (_policies, _request, _) in INVALID.items():
    if _policies is not None:
        scenario(_id, _policies, _request)

# --- Context keys the scenario suite relies on ------------------------------------------------
# Each key: a statement that tests it, once with a matching and once with a mismatching value.
# Types and set operators from the service authorization reference and the global keys page:
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
# Multivalued keys (kms:ResourceAliases, aws:TagKeys) need ForAnyValue/ForAllValues:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
# The session-id resource tag lets a user end only the sessions they started:
# https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-restrict-access-examples.html
KEY_CASES: dict[str, tuple[str, str, str, Any, Any, Any]] = {
    # key: (action, resource, operator, policy value, matching value, mismatching value)
    "kms:EncryptionContext:PARAMETER_ARN": ("kms:Decrypt", KEY, "StringEquals", PARAMETER, PARAMETER, OTHER_PARAMETER),
    "kms:EncryptionContext:aws:ssm:SessionId": (
        "kms:GenerateDataKey",
        KEY,
        "StringLike",
        "${aws:userid}-*",
        "AROAEXAMPLEOPERATOR:bob-0a1b2c3d4e5f6a7b8",
        "AROAEXAMPLEOPERATOR:eve-0a1b2c3d4e5f6a7b8",
    ),
    "kms:ResourceAliases": (
        "kms:GenerateDataKey",
        KEY,
        "ForAnyValue:StringLike",
        "alias/ssm-session-*",
        ["alias/ssm-session-data"],
        ["alias/other"],
    ),
    "kms:CallerAccount": ("kms:GenerateDataKey", KEY, "StringEquals", MEMBER, MEMBER, CENTRAL),
    "kms:ViaService": (
        "kms:Decrypt",
        KEY,
        "StringEquals",
        f"ssm.{REGION}.amazonaws.com",
        f"ssm.{REGION}.amazonaws.com",
        f"s3.{REGION}.amazonaws.com",
    ),
    "kms:GrantIsForAWSResource": ("kms:CreateGrant", KEY, "Bool", "true", "true", "false"),
    "ssm:SessionDocumentAccessCheck": ("ssm:StartSession", INSTANCE, "Bool", "true", "true", "false"),
    "ssm:resourceTag/aws:ssmmessages:session-id": (
        "ssm:TerminateSession",
        BOB_SESSION,
        "StringEquals",
        "${aws:userid}",
        BOB_USERID,
        EVE_USERID,
    ),
    "aws:ResourceTag/SessionAccess": ("ssm:StartSession", INSTANCE, "StringEquals", "ops", "ops", "dev"),
    "aws:PrincipalOrgID": ("sns:Publish", MEMBER_TOPIC, "StringEquals", ORG, ORG, "o-zzzzzzzzzz"),
    "aws:PrincipalArn": (
        "sns:Publish",
        MEMBER_TOPIC,
        "ArnLike",
        f"arn:aws:iam::{MEMBER}:role/Operator",
        OPERATOR_ROLE,
        f"arn:aws:iam::{MEMBER}:role/Other",
    ),
    "aws:userid": ("sns:Publish", MEMBER_TOPIC, "StringLike", "AROAEXAMPLEOPERATOR:*", BOB_USERID, "AROAOTHER:bob"),
    "aws:SourceAccount": ("sns:Publish", MEMBER_TOPIC, "StringEquals", MEMBER, MEMBER, CENTRAL),
    "aws:SourceArn": (
        "sns:Publish",
        MEMBER_TOPIC,
        "ArnLike",
        f"arn:aws:lambda:*:{MEMBER}:function:guardrails-*",
        f"arn:aws:lambda:{REGION}:{MEMBER}:function:guardrails-remediate",
        f"arn:aws:lambda:{REGION}:{MEMBER}:function:other",
    ),
    "aws:CurrentTime": (
        "sns:Publish",
        MEMBER_TOPIC,
        "DateLessThan",
        "2030-01-01T00:00:00Z",
        "2029-06-01T12:00:00Z",
        "2030-06-01T12:00:00Z",
    ),
    "aws:TagKeys": (
        "ssm:AddTagsToResource",
        f"arn:aws:ssm:{REGION}:{MEMBER}:managed-instance/mi-0123456789abcdef0",
        "ForAllValues:StringEquals",
        ["Owner", "Name"],
        ["Owner"],
        ["Owner", "SessionAccess"],
    ),
    "aws:PrincipalTag/team": ("sns:Publish", MEMBER_TOPIC, "StringEquals", "ops", "ops", "dev"),
}
#: The keys the simulator drops and the bridge renames (the rest it handles as they are).
STAND_IN_KEYS = {"kms:EncryptionContext:PARAMETER_ARN", "kms:EncryptionContext:aws:ssm:SessionId"}

for _key, (_action, _resource, _operator, _policy_value, _match, _mismatch) in KEY_CASES.items():
    _policies = PolicySet(
        [policy(allow("TestsTheKey", _action, _resource, {_operator: {_key: _policy_value}}))],
        KEY_POLICY if _action.startswith("kms:") else None,
    )
    for _outcome, _value in (("match", _match), ("mismatch", _mismatch)):
        scenario(
            f"key {_key} {_outcome}",
            _policies,
            Request(BOB, _action, _resource, {"aws:userid": BOB_USERID, _key: _value}),
        )


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    batch = [(scenario_id, policies, request) for scenario_id, (policies, request) in SCENARIOS.items()]
    return simulate(batch, check=False, without_stand_ins={"ec-without-stand-in"})


def decided(results: dict[str, Result], scenario_id: str) -> Result:
    result = results[scenario_id]
    assert not result.errors, (scenario_id, result.errors)
    return result


def test_allow_names_the_granting_statement(results: dict[str, Result]) -> None:
    for scenario_id, sid in (("allow", "StartOnTaggedNodes"), ("allow-document", "StartWithShellDocument")):
        result = decided(results, scenario_id)
        assert result.decision is Decision.ALLOWED
        assert result.statement is not None
        assert (result.statement.policy_type, result.statement.policy, result.statement.sid) == (
            "identity",
            "Operator",
            sid,
        )
        assert result.statement.index in (1, 2)


def test_implicit_deny_has_no_decisive_statement(results: dict[str, Result]) -> None:
    result = decided(results, "implicit-deny")
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.statement is None
    assert [s.policy_type for s in result.statements] == ["identity"]


def test_explicit_deny_names_the_denying_statement(results: dict[str, Result]) -> None:
    result = decided(results, "explicit-deny")
    assert result.decision is Decision.EXPLICIT_DENY
    assert result.statement is not None
    assert (result.statement.sid, result.statement.index) == ("DenyUntaggedNodes", 3)
    assert str(result.statement) == "identity policy 'Operator' statement 'DenyUntaggedNodes'"


def test_cross_account_needs_both_policies(results: dict[str, Result]) -> None:
    both = decided(results, "xacct-both")
    assert both.decision is Decision.ALLOWED
    assert {(s.policy_type, s.sid) for s in both.statements} == {
        ("identity", "PublishFindings"),
        ("resource", "PublishFromTheOrganization"),
    }
    assert decided(results, "xacct-resource-only").decision is Decision.IMPLICIT_DENY
    assert decided(results, "xacct-outside-org").decision is Decision.IMPLICIT_DENY


def test_same_account_resource_policy_alone_allows(results: dict[str, Result]) -> None:
    result = decided(results, "same-account-resource-only")
    assert result.decision is Decision.ALLOWED
    assert result.statement is not None
    assert (result.statement.policy_type, result.statement.sid) == ("resource", "OperatorPublishes")


def test_scp_deny_and_boundary(results: dict[str, Result]) -> None:
    scp = decided(results, "scp-deny")
    assert scp.decision is Decision.EXPLICIT_DENY
    assert scp.statement is not None
    assert (scp.statement.policy_type, scp.statement.sid) == ("scp", "DenySessionsOutsideOps")
    assert decided(results, "scp-allows").decision is Decision.ALLOWED
    boundary = decided(results, "boundary-deny")
    assert boundary.decision is Decision.IMPLICIT_DENY
    assert [s.policy_type for s in boundary.statements] == ["pb"]


def test_policy_variables_are_substituted(results: dict[str, Result]) -> None:
    assert decided(results, "var-userid-own").decision is Decision.ALLOWED
    assert decided(results, "var-userid-other").decision is Decision.IMPLICIT_DENY
    assert decided(results, "var-tag-match").decision is Decision.ALLOWED
    assert decided(results, "var-tag-mismatch").decision is Decision.IMPLICIT_DENY


def test_a_missing_policy_variable_denies_with_a_warning(results: dict[str, Result]) -> None:
    result = decided(results, "var-userid-missing")
    assert result.decision is Decision.IMPLICIT_DENY
    assert any("policy variable" in warning for warning in result.warnings), result.warnings


@pytest.mark.parametrize("scenario_id", sorted(i for i, (p, _, _) in INVALID.items()))
def test_invalid_requests_fail_loudly(results: dict[str, Result], scenario_id: str) -> None:
    expected = INVALID[scenario_id][2]
    result = results[scenario_id]
    assert result.decision is None
    assert any(expected in error for error in result.errors), result.errors
    with pytest.raises(AssertionError, match=rf"(?s)rejected 1 of 1 scenarios.*{scenario_id}:.*{expected}"):
        raise_for_invalid({scenario_id: result})


def test_valid_results_pass_the_check(results: dict[str, Result]) -> None:
    valid = {scenario_id: result for scenario_id, result in results.items() if scenario_id not in INVALID}
    raise_for_invalid({k: v for k, v in valid.items() if k != "ec-without-stand-in"})


@pytest.mark.parametrize("key", sorted(KEY_CASES))
def test_context_key_decides(results: dict[str, Result], key: str) -> None:
    match = decided(results, f"key {key} match")
    mismatch = decided(results, f"key {key} mismatch")
    assert match.decision is Decision.ALLOWED, match
    assert mismatch.decision is Decision.IMPLICIT_DENY, mismatch
    assert (key in match.stand_ins) is (key in STAND_IN_KEYS)


def test_encryption_context_stand_in(results: dict[str, Result]) -> None:
    assert decided(results, "ec-match").decision is Decision.ALLOWED
    assert decided(results, "ec-match").stand_ins == {EC_KEY: f"aws:RequestTag/{EC_KEY}"}
    assert decided(results, "ec-mismatch").decision is Decision.IMPLICIT_DENY
    assert decided(results, "ec-missing").decision is Decision.IMPLICIT_DENY
    assert decided(results, "ec-negated-match").decision is Decision.ALLOWED
    negated = decided(results, "ec-negated-mismatch")
    assert negated.decision is Decision.EXPLICIT_DENY
    assert negated.statement is not None
    assert negated.statement.sid == "DenyOtherParameters"
    assert decided(results, "ec-negated-missing").decision is Decision.EXPLICIT_DENY
    assert decided(results, "ec-like-match").decision is Decision.ALLOWED
    assert decided(results, "ec-like-mismatch").decision is Decision.IMPLICIT_DENY


def test_simulator_still_drops_colon_variable_keys(results: dict[str, Result]) -> None:
    """The gap the stand-in works around. When this fails, the pinned simulator understands
    kms:EncryptionContext:<key> itself: drop the stand-in from simulate.js."""
    result = results["ec-without-stand-in"]
    assert result.decision is None
    assert any(EC_KEY in error and "ignored" in error for error in result.errors), result.errors


def test_open_data_channel_takes_only_star(results: dict[str, Result]) -> None:
    assert decided(results, "odc-star").decision is Decision.ALLOWED
    # A grant on the session ARN never matches the "*" the simulator requires.
    assert decided(results, "odc-session-grant").decision is Decision.IMPLICIT_DENY
    assert any("must.use.wildcard" in error for error in results["odc-session-arn"].errors)


def test_duplicate_ids_are_refused() -> None:
    request = Request(BOB, "sns:Publish", MEMBER_TOPIC)
    with pytest.raises(ValueError, match="duplicate scenario ids: twice"):
        simulate([("twice", ANY_SSM, request), ("twice", ANY_SSM, request)])


def test_missing_simulator_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"devDependencies": {}}')
    monkeypatch.setattr(simulator, "ROOT", tmp_path)
    with pytest.raises(simulator.SimulatorUnavailable, match=r"make bootstrap"):
        simulate([("any", ANY_SSM, Request(BOB, "sns:Publish", MEMBER_TOPIC))])
