"""Self-protection of SeparationOfDuties (issue 21 item 6): operators may not delete or change what
the control alerts with: its log groups (and their metric filters), alarms, topic and keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_iam as iam

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
