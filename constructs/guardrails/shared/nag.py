"""Narrow cdk-nag acknowledgements.

cdk-nag reports each wildcard of an IAM policy as its own finding (``AwsSolutions-IAM5[...]``);
acknowledging the bare rule id does not cover them. These helpers acknowledge exactly one
wildcard resource on exactly one policy, so a new, unreviewed wildcard still fails the synth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def acknowledge_wildcard_resource(policy: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for one resource ARN (which may contain tokens) on ``policy``."""
    rendered = re.sub(r"\$\{([^}]+)\}", r"<\1>", _as_nag_renders_it(cdk.Stack.of(policy).resolve(resource)))
    acknowledge(policy, f"AwsSolutions-IAM5[Resource::{rendered}]", reason)


def _as_nag_renders_it(value: Any) -> str:
    """cdk-nag writes Ref as <Name>, GetAtt as <Logical.Attribute> and IAM policy variables
    (${aws:userid}) as <aws:userid>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_as_nag_renders_it(part) for part in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if isinstance(value.get("Fn::Sub"), str):
        return value["Fn::Sub"]
    raise ValueError(f"cannot render {value!r} for cdk-nag")


def acknowledge_wildcard_action(policy: IConstruct, action: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for one wildcard action (e.g. ``kms:GenerateDataKey*``) on ``policy``."""
    acknowledge(policy, f"AwsSolutions-IAM5[Action::{action}]", reason)


def acknowledge_managed_policy(role: IConstruct, policy_name: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM4 for one AWS managed policy (e.g. ``service-role/X``) on ``role``."""
    acknowledge(role, f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy_name}]", reason)


def acknowledge_grant(grantee: iam.IGrantable, statement: iam.PolicyStatement, reason: str) -> None:
    """Acknowledge every wildcard resource of ``statement`` on the policy a grant method wrote it to.

    Roles and users keep grants in a child ``DefaultPolicy``; imported roles in a child ``Policy``.
    """
    principal = grantee.grant_principal
    node = getattr(principal, "node", None)
    policy = node and (
        node.try_find_child("DefaultPolicy")
        or node.try_find_child("Policy")
        # an imported role of a newer aws-cdk-lib names it Policy<unique id of the role>
        or next((c for c in node.children if c.node.id.startswith("Policy")), None)
    )
    if policy is None:
        return
    for resource in statement.resources:
        if "*" in resource:
            acknowledge_wildcard_resource(policy, resource, reason)


def acknowledge_reviewed_wildcards(
    policy: iam.CfnPolicy,
    *,
    actions: Mapping[str, str],
    resources: Sequence[tuple[re.Pattern[str], str]],
    unscoped_actions: Mapping[str, str],
) -> None:
    """Acknowledge the reviewed wildcards of a policy that a library generated (CDK Pipelines).

    Each wildcard action found in ``actions``, each wildcard resource matching a pattern of
    ``resources`` and ``Resource: *`` when every action granted on it is in ``unscoped_actions``
    is acknowledged with its reason; anything else stays a finding and fails the synth.
    """
    document = cdk.Stack.of(policy).resolve(policy.policy_document)
    unscoped: set[str] = set()
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        granted = _as_list(statement["Action"])
        for action in granted:
            if "*" in action and action in actions:
                acknowledge_wildcard_action(policy, action, actions[action])
        for resource in _as_list(statement["Resource"]):
            rendered = re.sub(r"\$\{([^}]+)\}", r"<\1>", _as_nag_renders_it(resource))
            if rendered == "*":
                unscoped.update(granted)
                continue
            reason = next((why for pattern, why in resources if pattern.fullmatch(rendered)), None)
            if "*" in rendered and reason:
                acknowledge(policy, f"AwsSolutions-IAM5[Resource::{rendered}]", reason)
    if unscoped and unscoped <= set(unscoped_actions):
        reasons = "; ".join(f"{action}: {unscoped_actions[action]}" for action in sorted(unscoped))
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", reasons)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
