"""Self-protection of SeparationOfDuties (issue 21 item 6): operators may not delete or change what
the control alerts with: its log groups (and their metric filters), alarms, topic and keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

#: Changing or removing what the control alerts with (issue 21 item 6), per resource kind.
MONITORING_ACTIONS = {
    "logs": ["logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:AssociateKmsKey",
             "logs:DisassociateKmsKey", "logs:PutMetricFilter", "logs:DeleteMetricFilter",
             "logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter"],
    "alarms": ["cloudwatch:DeleteAlarms", "cloudwatch:DisableAlarmActions", "cloudwatch:PutMetricAlarm",
               "cloudwatch:SetAlarmState"],
    "topic": ["sns:DeleteTopic", "sns:SetTopicAttributes", "sns:AddPermission", "sns:RemovePermission",
              "sns:PutDataProtectionPolicy"],
    "keys": ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:DisableKeyRotation",
             "kms:CreateGrant", "kms:UpdateAlias", "kms:DeleteAlias"],
}  # fmt: skip


def monitoring_denies(monitoring: Mapping[str, Sequence[str]]) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(
            sid=f"NoChangingTheControls{kind.capitalize()}",
            effect=iam.Effect.DENY,
            actions=MONITORING_ACTIONS[kind],
            resources=list(arns),
        )
        for kind, arns in monitoring.items()
        if arns
    ]


def named_alarm_arns(owner: Construct, alarms: Sequence[cloudwatch.Alarm]) -> list[str]:
    """Give each alarm a fixed name (its path under ``owner``: the stack exists once per account and
    Region) and return the ARNs built from those names, so that a policy names them without a
    deploy-time reference."""
    stack, arns = cdk.Stack.of(owner), []
    for alarm in alarms:
        relative = alarm.node.path.removeprefix(owner.node.path + "/").replace("/", "-")
        name = f"SsmGuardrails-SeparationOfDuties-{relative}"
        alarm.node.default_child.alarm_name = name
        arns.append(stack.format_arn(service="cloudwatch", resource="alarm", resource_name=name,
                                     arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME))  # fmt: skip
    return arns
