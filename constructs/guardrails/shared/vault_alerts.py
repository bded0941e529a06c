"""Who hears when someone reaches for a password vault's key from outside its policy (issue 23 item 5).

The key policy admits only the named reader roles to decrypt, but two principals stand above it: an
IAM administrator can edit a reader role (trust policy, policies, boundary), assume it and decrypt;
the account (root, or whoever holds kms:PutKeyPolicy through IAM) can rewrite the key policy. Those
calls cannot be refused by this stack, so each one is reported, from CloudTrail, to the vault's topic:

* on the key: PutKeyPolicy, CreateGrant, ScheduleKeyDeletion, DisableKey (``requestParameters.keyId``
  is the key id or ARN as the caller passed it:
  https://docs.aws.amazon.com/kms/latest/developerguide/ct-put-key-policy.html);
* on the alias: UpdateAlias and DeleteAlias (``requestParameters.aliasName``: moving the alias to
  another key sends the stack's writers there:
  https://docs.aws.amazon.com/kms/latest/APIReference/API_UpdateAlias.html);
* on the reader roles: every IAM call that changes who may assume a role or what it may do
  (``requestParameters.roleName``: https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html).
  IAM is a global service and its CloudTrail events reach EventBridge in us-east-1 only ("AWS global
  services, such as AWS Identity and Access Management (IAM) ... deliver events only to us-east-1
  Region": https://repost.aws/knowledge-center/eventbridge-rule-triggers-iam-single-region), so this
  rule exists only in the stack instance deployed to us-east-1 (a CloudFormation condition): an
  organization that does not deploy the regional stack there gets no IAM alert (README).

All need a trail that records management events (:mod:`guardrails.shared.change_alerts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.shared.change_alerts import alert_on_calls

#: Key calls that could open the passwords to someone else, or lock them away.
WATCHED_KEY_CALLS = ["PutKeyPolicy", "CreateGrant", "ScheduleKeyDeletion", "DisableKey"]
WATCHED_ALIAS_CALLS = ["UpdateAlias", "DeleteAlias"]
#: IAM calls that change who may assume a role or what it may do.
WATCHED_ROLE_CALLS = [
    "UpdateAssumeRolePolicy",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
]
#: Where IAM's CloudTrail events reach EventBridge.
IAM_EVENTS_REGION = "us-east-1"


def key_changed_rule(scope: Construct, id: str, key: kms.IKey, description: str, topic: sns.ITopic) -> events.Rule:
    return alert_on_calls(
        scope, id, service="kms", event_names=WATCHED_KEY_CALLS, field="keyId", values=[key.key_id, key.key_arn],
        what=f"the {description} key", topic=topic,
    )  # fmt: skip


def alias_changed_rule(scope: Construct, id: str, alias: str, description: str, topic: sns.ITopic) -> events.Rule:
    return alert_on_calls(
        scope, id, service="kms", event_names=WATCHED_ALIAS_CALLS, field="aliasName", values=[alias],
        what=f"the alias of the {description} key", topic=topic,
    )  # fmt: skip


def readers_changed_rule(
    scope: Construct, id: str, role_names: Sequence[str], description: str, topic: sns.ITopic
) -> events.Rule:
    """The reader-role rule, created in us-east-1 only (see the module docstring)."""
    rule = alert_on_calls(
        scope, id, service="iam", event_names=WATCHED_ROLE_CALLS, field="roleName", values=role_names,
        what=f"a role that may decrypt the {description}", topic=topic,
    )  # fmt: skip
    # Nothing else may refer to this rule: a reference to a resource whose condition is false fails the deploy.
    rule.node.default_child.cfn_options.condition = _in_iam_events_region(scope)  # type: ignore[union-attr]
    return rule


def _in_iam_events_region(scope: Construct) -> cdk.CfnCondition:
    stack = cdk.Stack.of(scope)
    existing = stack.node.try_find_child("InIamEventsRegion")
    if isinstance(existing, cdk.CfnCondition):
        return existing
    return cdk.CfnCondition(
        stack, "InIamEventsRegion", expression=cdk.Fn.condition_equals(cdk.Aws.REGION, IAM_EVENTS_REGION)
    )
