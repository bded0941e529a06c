"""Where SessionPrefs sessions are encrypted and logged: the session data key and the log group.

Both are created directly in the :class:`guardrails.SessionPrefs` scope (no construct level of
their own), so their logical ids are those of deployed stacks: a new id would replace the key.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.session_prefs.props import RETENTION_DAYS
from guardrails.shared.encrypted_log_group import EncryptedLogGroup
from guardrails.shared.sessions import SESSION_DATA_KEY_ALIAS

#: AWSSystemsManagerJustInTimeAccessTokenSessionPolicy allows kms:GenerateDataKey only on keys that
#: carry this tag: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSSystemsManagerJustInTimeAccessTokenSessionPolicy.html
#: ("SessionManagerKmsPermission"), and "You must tag the AWS KMS keys used for Session Manager
#: encryption ... in just-in-time node access with the tag key SystemsManagerJustInTimeNodeAccessManaged
#: and tag value true":
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-just-in-time-node-access-session-preferences.html
JUST_IN_TIME_KEY_TAG = ("SystemsManagerJustInTimeNodeAccessManaged", "true")


def create_data_key(scope: Construct, key_id_parameter_name: str) -> kms.Key:
    """The session data key (``DataKey``), and the parameter that publishes its id to other stacks."""
    key = kms.Key(
        scope,
        "DataKey",
        alias=SESSION_DATA_KEY_ALIAS,
        description="Encrypts Session Manager session data (never used for passwords)",
        enable_key_rotation=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    # Always tagged, whichever approval path the account uses (this regional stack does not
    # know it, and an account may switch paths): without the tag a just-in-time session cannot
    # encrypt its data (see JUST_IN_TIME_KEY_TAG). The tag widens nothing else: the AWS policies
    # that read it are the just-in-time access-token policies, usable only by a session that was
    # approved; every other principal still needs an IAM allow for this key.
    cdk.Tags.of(key).add(*JUST_IN_TIME_KEY_TAG)
    ssm.StringParameter(
        scope,
        "DataKeyIdParameter",
        parameter_name=key_id_parameter_name,
        string_value=key.key_id,
        description="Id of the Session Manager session data key (alias/session-manager/data)",
    )
    return key


def session_log_group(
    scope: Construct, enabled: bool, name: str | None, retention_days: int, readers: Sequence[str]
) -> tuple[logs.ILogGroup | None, kms.IKey | None]:
    """The existing group named ``name``, else a new one encrypted with its own key, which only
    ``readers`` (principal ARNs) may decrypt (issue 23 item 6); none when disabled."""
    if not enabled:
        return None, None
    if name:
        return logs.LogGroup.from_log_group_name(scope, "LogGroup", name), None
    created = EncryptedLogGroup(
        scope,
        "Logs",
        description="Session Manager session logs",
        retention=RETENTION_DAYS[retention_days],
        key_alias="alias/session-manager/logs",
        readers=readers,
    )
    return created.log_group, created.key


def log_reader_statements(log_group: logs.ILogGroup, key: kms.IKey) -> list[iam.PolicyStatement]:
    """Read the session transcripts of ``log_group``: its events, and its key through CloudWatch Logs."""
    stack = cdk.Stack.of(log_group)
    return [
        iam.PolicyStatement(
            sid="ReadSessionTranscripts",
            actions=["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"],
            resources=[log_group.log_group_arn],
        ),
        iam.PolicyStatement(
            sid="DecryptSessionTranscriptsThroughCloudWatchLogs",
            actions=["kms:Decrypt"],
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"logs.{stack.region}.amazonaws.com"}},
        ),
    ]
