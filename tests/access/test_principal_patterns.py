"""The ``aws:PrincipalArn`` patterns of :class:`guardrails.shared.Principal`, judged by the IAM simulator.

A vault-shaped key policy (named readers decrypt, everyone else is denied) is built from the patterns
the class yields in a synthesized stack, and each caller below asks to decrypt with a full identity
policy: only the principal the config named may. Role ARN forms (path, Region segment, suffix) follow
https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html;
``aws:PrincipalArn`` of an assumed role is the role's ARN with its path:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from simulator import PolicySet, Request, Result, simulate

from guardrails.shared import Principal

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SUFFIX = "1234567890abcdef"
IDENTITY_CENTER = "aws-reserved/sso.amazonaws.com"
ALLOW_DECRYPT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}

CONFIGURED = {
    "permission set": Principal.from_permission_set("Admin"),
    "role ARN with a path": Principal.from_role_arn(f"arn:aws:iam::{ACCOUNT}:role/ops/PasswordAdministrator"),
    "role name": Principal.from_role_name("BreakGlassOperator"),
}
#: (configured principal, caller's role path and name, expected decision)
CALLERS = [
    ("permission set", f"{IDENTITY_CENTER}/eu-west-2/AWSReservedSSO_Admin_{SUFFIX}", "allowed"),
    ("permission set", f"{IDENTITY_CENTER}/AWSReservedSSO_Admin_{SUFFIX}", "allowed"),  # us-east-1: no Region
    ("permission set", f"{IDENTITY_CENTER}/eu-west-2/AWSReservedSSO_AdminReadOnly_{SUFFIX}", "denied"),
    ("permission set", f"{IDENTITY_CENTER}/eu-west-2/AWSReservedSSO_Admin_ReadOnly_{SUFFIX}", "denied"),
    ("permission set", f"{IDENTITY_CENTER}/AWSReservedSSO_Admin_ReadOnly_{SUFFIX}", "denied"),
    ("permission set", f"AWSReservedSSO_Admin_{SUFFIX}", "denied"),  # same name, outside Identity Center's path
    ("permission set", f"ops/AWSReservedSSO_Admin_{SUFFIX}", "denied"),
    ("permission set", f"{IDENTITY_CENTER}/eu-west-2/AWSReservedSSO_admin_{SUFFIX}", "denied"),  # ARNs: case
    ("role ARN with a path", "ops/PasswordAdministrator", "allowed"),
    ("role ARN with a path", "PasswordAdministrator", "denied"),
    ("role ARN with a path", "other/PasswordAdministrator", "denied"),
    ("role name", "BreakGlassOperator", "allowed"),
    ("role name", "ops/BreakGlassOperator", "denied"),
    ("role name", "BreakGlassOperatorTwo", "denied"),
]


def _resolved(value: Any) -> Any:
    """Intrinsics of an environment-agnostic stack, for the sample account in partition aws."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT}[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return separator.join(_resolved(part) for part in parts)


def _key_policy(patterns: list[str]) -> dict[str, Any]:
    """The two reader statements of PasswordVault's key policy, over ``patterns``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"ArnLike": {"aws:PrincipalArn": patterns}},
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": patterns}},
            },
        ],
    }


def _patterns(principal: Principal) -> list[str]:
    stack = cdk.Stack(cdk.App(), "Patterns")
    return [_resolved(stack.resolve(pattern)) for pattern in principal.arn_patterns(stack)]


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    batch = []
    for configured, role, _ in CALLERS:
        for account in (ACCOUNT, OTHER_ACCOUNT):
            role_arn = f"arn:aws:iam::{account}:role/{role}"
            request = Request(
                f"arn:aws:sts::{account}:assumed-role/{role.rsplit('/', 1)[-1]}/alice",
                "kms:Decrypt",
                KEY,
                {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": account},
            )
            policies = PolicySet(identity=[ALLOW_DECRYPT], resource=_key_policy(_patterns(CONFIGURED[configured])))
            batch.append((f"{configured}|{role}|{account}", policies, request))
    return simulate(batch)


@pytest.mark.parametrize(("configured", "role", "expect"), CALLERS, ids=[f"{c}:{r}" for c, r, _ in CALLERS])
def test_only_the_configured_principal_decrypts(
    results: dict[str, Result], configured: str, role: str, expect: str
) -> None:
    decision = results[f"{configured}|{role}|{ACCOUNT}"].decision
    assert decision is not None
    assert decision.allowed is (expect == "allowed"), f"{role}: {decision}"


@pytest.mark.parametrize(("configured", "role", "expect"), CALLERS, ids=[f"{c}:{r}" for c, r, _ in CALLERS])
def test_the_same_role_of_another_account_never_decrypts(
    results: dict[str, Result], configured: str, role: str, expect: str
) -> None:
    """The patterns carry the stack's account (a token): another account's role of the same name and
    path does not match, and the key policy admits only this account anyway."""
    decision = results[f"{configured}|{role}|{OTHER_ACCOUNT}"].decision
    assert decision is not None and decision.denied


def test_a_permission_set_yields_both_path_forms_and_an_exact_suffix() -> None:
    patterns = _patterns(Principal.from_permission_set("Admin"))
    assert patterns == [
        f"arn:aws:iam::{ACCOUNT}:role/{IDENTITY_CENTER}/AWSReservedSSO_Admin_{'?' * 16}",
        f"arn:aws:iam::{ACCOUNT}:role/{IDENTITY_CENTER}/*/AWSReservedSSO_Admin_{'?' * 16}",
    ]
