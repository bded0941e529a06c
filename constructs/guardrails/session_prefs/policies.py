"""The SessionPrefs instance and operator policy statements.

Instances get what the configured preferences need (session channels, the log group or bucket,
the data key). Operators get sessions on tagged instances only, through documents that keep the
preferences (and the allowed unlogged port-forwarding ones), AWS-PasswordReset allowed or denied,
and no re-tagging with the operator tag keys.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from guardrails.shared.sessions import OWN_SESSIONS_CONDITION, open_data_channel_statement

#: Session Manager does not log these sessions: "Logging isn't available for Session Manager sessions
#: that connect through port forwarding or SSH":
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-logging.html
PORT_FORWARDING_DOCUMENTS = ("AWS-StartPortForwardingSession", "AWS-StartSSHSession")
REMOTE_HOST_PORT_FORWARDING_DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost"


def instance_statements(
    scope: Construct,
    log_group: logs.ILogGroup | None,
    s3_bucket_name: str | None,
    s3_key_prefix: str,
    data_key: kms.IKey | None,
) -> list[iam.PolicyStatement]:
    """What a managed node needs for the configured preferences."""
    stack = cdk.Stack.of(scope)
    found = [
        iam.PolicyStatement(
            sid="SessionChannels",
            actions=[
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            resources=["*"],
        )
    ]
    if log_group is not None:
        found += [
            iam.PolicyStatement(
                sid="WriteSessionLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[log_group.log_group_arn],
            ),
            iam.PolicyStatement(sid="FindLogGroup", actions=["logs:DescribeLogGroups"], resources=["*"]),
        ]
    if s3_bucket_name:
        bucket_arn = f"arn:{stack.partition}:s3:::{s3_bucket_name}"
        found += [
            iam.PolicyStatement(
                sid="WriteSessionLogsToBucket",
                actions=["s3:PutObject"],
                resources=[f"{bucket_arn}/{s3_key_prefix}/*"],
            ),
            iam.PolicyStatement(
                sid="CheckBucketEncryption", actions=["s3:GetEncryptionConfiguration"], resources=[bucket_arn]
            ),
        ]
    if data_key is not None:
        found.append(
            iam.PolicyStatement(sid="DecryptSessionData", actions=["kms:Decrypt"], resources=[data_key.key_arn])
        )
    return found


def operator_statements(
    scope: Construct,
    document_name: str,
    data_key: kms.IKey | None,
    instance_tag: Mapping[str, list[str]],
    port_forwarding: bool,
    remote_port_forwarding: bool,
    password_reset: bool,
) -> list[iam.PolicyStatement]:
    """Sessions on tagged instances only, through ``document_name`` and the allowed AWS documents."""
    stack = cdk.Stack.of(scope)
    aws_document = lambda name: stack.format_arn(service="ssm", account="", resource="document", resource_name=name)  # noqa: E731
    unlogged = [aws_document(name) for name in PORT_FORWARDING_DOCUMENTS] if port_forwarding else []
    if remote_port_forwarding:
        unlogged.append(aws_document(REMOTE_HOST_PORT_FORWARDING_DOCUMENT))
    # Without this check a user could name any Session document and skip the preferences.
    access_check = {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
    found = [
        iam.PolicyStatement(
            sid="StartSessionsOnTaggedInstancesOnly",
            actions=["ssm:StartSession"],
            resources=[stack.format_arn(service="ec2", resource="instance", resource_name="*")],
            conditions={
                **access_check,
                "StringEquals": {f"ssm:resourceTag/{key}": values for key, values in instance_tag.items()},
            },
        ),
        iam.PolicyStatement(
            sid="ThroughDocumentsThatKeepThePreferences",
            actions=["ssm:StartSession"],
            resources=[stack.format_arn(service="ssm", resource="document", resource_name=document_name)],
            conditions=access_check,
        ),
        open_data_channel_statement(),
        *no_retagging_statements(scope, instance_tag),
        iam.PolicyStatement(
            sid="OwnSessionsOnly",
            actions=["ssm:TerminateSession", "ssm:ResumeSession"],
            resources=[stack.format_arn(service="ssm", resource="session", resource_name="*")],
            conditions=OWN_SESSIONS_CONDITION,
        ),
        iam.PolicyStatement(
            sid="WhatTheConsoleShows",
            actions=[
                "ssm:DescribeSessions",
                "ssm:GetConnectionStatus",
                "ssm:DescribeInstanceProperties",
                "ec2:DescribeInstances",
            ],
            resources=["*"],
        ),
    ]
    if unlogged:
        found.append(
            iam.PolicyStatement(
                sid="PortForwardingAndSshWithoutSessionLogs",
                actions=["ssm:StartSession"],
                resources=unlogged,
                conditions=access_check,
            )
        )
    if password_reset:
        found.append(
            iam.PolicyStatement(
                sid="ResetLocalPasswordsWithAwsPasswordReset",
                actions=["ssm:StartSession"],
                resources=[aws_document("AWS-PasswordReset")],
                conditions=access_check,
            )
        )
    else:
        found.append(
            iam.PolicyStatement(
                sid="NoPasswordResetThroughSessionManager",
                effect=iam.Effect.DENY,
                actions=["ssm:StartSession"],
                resources=[aws_document("AWS-PasswordReset")],
            )
        )
    if data_key is not None:
        found.append(
            iam.PolicyStatement(sid="EncryptSessionData", actions=["kms:GenerateDataKey"], resources=[data_key.key_arn])
        )
    return found


def no_retagging_statements(scope: Construct, instance_tag: Mapping[str, list[str]]) -> list[iam.PolicyStatement]:
    """Operators may not add, change or remove the tags that decide where they get sessions.

    Tag keys are case-insensitive for this check (aws:TagKeys compared IgnoreCase), and a
    DeleteTags that names no key (which removes every tag) is denied too. Tagging at launch
    (RunInstances with tags) is authorized as ec2:CreateTags as well:
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html
    """
    stack = cdk.Stack.of(scope)
    nodes = [
        stack.format_arn(service="ec2", resource="instance", resource_name="*"),
        stack.format_arn(service="ssm", resource="managed-instance", resource_name="*"),
    ]
    return [
        iam.PolicyStatement(
            sid="NoRetaggingWithTheOperatorTagKeys",
            effect=iam.Effect.DENY,
            actions=["ec2:CreateTags", "ec2:DeleteTags", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"],
            resources=nodes,
            conditions={"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": sorted(instance_tag)}},
        ),
        iam.PolicyStatement(
            sid="NoRemovingEveryTagAtOnce",
            effect=iam.Effect.DENY,
            actions=["ec2:DeleteTags"],
            resources=nodes,
            conditions={"Null": {"aws:TagKeys": "true"}},
        ),
    ]
