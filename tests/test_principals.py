"""guardrails.shared.Principal: the three forms of a person's role, and what a stack does with each.

The patterns themselves are judged by the IAM simulator in tests/access/test_principal_patterns.py.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from guardrails import PropsError
from guardrails.shared import Principal
from guardrails.shared.principals import (
    POLICY_PATH,
    contract_policy_name,
    organization_arn_patterns,
    roles_and_patterns,
)

ARN = "arn:aws:iam::111122223333:role/ops/team/Reader"


def test_each_form_parses_to_its_kind_and_back_to_its_config_form() -> None:
    for written, kind in [("Reader", "role_name"), (ARN, "role_arn"), ({"permission_set": "Reader"}, "permission_set")]:
        principal = Principal.parse(written)
        assert principal.kind == kind
        assert principal.config_form() == written
        assert principal.name == "Reader"


def test_only_names_and_arns_can_be_attached_to() -> None:
    assert Principal.parse("Reader").attachable
    assert Principal.parse(ARN).attachable
    assert not Principal.from_permission_set("Reader").attachable
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(PropsError, match="a permission set's role cannot be attached to"):
        Principal.from_permission_set("Reader").role(stack, "R")


def test_paths_and_identity() -> None:
    assert Principal.parse("Reader").path == "/"
    assert Principal.parse(ARN).path == "/ops/team/"
    assert Principal.from_permission_set("Reader").path == "/aws-reserved/sso.amazonaws.com/"
    # IAM names are case-insensitive; a role and a permission set of one name are different principals
    assert Principal.parse("reader").key == Principal.parse("Reader").key
    assert Principal.from_permission_set("reader").key == Principal.from_permission_set("Reader").key
    assert Principal.parse("Reader").key != Principal.from_permission_set("Reader").key
    assert Principal.parse("Reader").key != Principal.parse(ARN).key


@pytest.mark.parametrize(
    "bad",
    ["", "a/b", "arn:aws:iam::111122223333:user/alice", {"permission_set": ""}, {"permission_set": "x" * 33}, [], None],
)
def test_a_bad_value_raises_one_line_with_the_three_forms(bad: object) -> None:
    with pytest.raises(PropsError) as caught:
        Principal.parse(bad, "BreakGlass.operators[0]")
    message = str(caught.value)
    assert message.startswith(f"BreakGlass.operators[0]: got {bad!r}; allowed: a role name")
    assert "role ARN with any path" in message and "{permission_set: BreakGlass}" in message


def test_an_imported_role_arn_keeps_its_path_and_name() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    role = Principal.parse(ARN).role(stack, "R")
    assert role.role_arn == ARN
    assert stack.resolve(role.role_name) == "Reader"


def test_roles_and_patterns_split_what_is_attached_from_what_is_matched() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    existing = iam.Role.from_role_name(stack, "Existing", "Existing")
    roles, patterns = roles_and_patterns(
        stack, "Reader", [existing, Principal.parse(ARN), Principal.from_permission_set("Audit")]
    )
    assert [stack.resolve(role.role_name) for role in roles] == ["Existing", "Reader"]
    assert len(patterns) == 4  # existing, the ARN, the permission set with and without Region
    assert patterns[1] == ARN
    assert all("AWSReservedSSO_Audit_" in p for p in map(str, stack.resolve(patterns[2:])))


def test_organization_patterns_name_any_account() -> None:
    assert Principal.parse("Reader").organization_arn_patterns() == ["arn:*:iam::*:role/Reader"]
    # one pattern for both paths (with and without the Region segment): `*` may be empty
    assert Principal.from_permission_set("Audit").organization_arn_patterns() == [
        f"arn:*:iam::*:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_Audit_{'?' * 16}",
    ]


def test_organization_patterns_of_a_list_keep_a_role_arns_path() -> None:
    """The optional SCP names operators of every account: a role given by ARN keeps its path there."""
    stack = cdk.Stack(cdk.App(), "S")
    existing = iam.Role.from_role_name(stack, "Existing", "Existing")
    assert organization_arn_patterns([existing, Principal.parse(ARN)]) == ["arn:*:iam::*:role/Existing", ARN]


def test_contract_policy_names_carry_the_region_where_the_stack_is_regional() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    assert stack.resolve(contract_policy_name("BreakGlassOperator", regional=True)) == {
        "Fn::Join": ["", ["SsmGuardrails-BreakGlassOperator-", {"Ref": "AWS::Region"}]]
    }
    assert contract_policy_name("SessionApprover", regional=False) == "SsmGuardrails-SessionApprover"
    assert POLICY_PATH == "/ssm-guardrails/"
