"""SessionPrefs: one enforced set of Session Manager preferences per account and Region.

Session Manager reads its preferences from the Session document ``SSM-SessionManagerRunShell``,
which the console creates on first save; CloudFormation cannot own it. A custom resource (CDK
Provider framework, boto3-only handler) creates or adopts it, merges the configured keys into it,
and a daily reconcile puts them back when someone changes them by hand. The handler takes the
desired preferences from its own environment (set by the stack), never from the event, and accepts
custom-resource events of its own stack and resource only. The construct also provides the keys,
the log group, the instance policy, an operator policy (tag-scoped sessions, port forwarding only
when allowed, AWS-PasswordReset allowed or denied, no re-tagging with the operator tag keys), alarms
on both functions and, optionally, VPC endpoints.

One module per concern, each creating its resources directly in this construct's scope (the
logical ids are those of deployed stacks, so no concern gets a construct level of its own):

* :mod:`guardrails.session_prefs.props`: prop checks;
* :mod:`guardrails.session_prefs.storage`: the session data key and the log group;
* :mod:`guardrails.session_prefs.resource`: the custom resource, its handler and the reconcile;
* :mod:`guardrails.session_prefs.policies`: the instance and operator policy statements;
* :mod:`guardrails.session_prefs.endpoints`: the optional VPC endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.session_prefs.endpoints import create_endpoints
from guardrails.session_prefs.policies import (  # noqa: F401 (the constants are re-exported)
    PORT_FORWARDING_DOCUMENTS,
    REMOTE_HOST_PORT_FORWARDING_DOCUMENT,
    instance_statements,
    operator_statements,
)
from guardrails.session_prefs.props import (  # noqa: F401 (re-exported: stacks/config.py checks with them)
    BUCKET_NAME,
    IDLE_TIMEOUT_RANGE_MINUTES,
    LINUX_USER,
    LOG_GROUP_NAME,
    MAX_SESSION_RANGE_MINUTES,
    MAX_SHELL_PROFILES_CHARS,
    RETENTION_DAYS,
    validate,
)
from guardrails.session_prefs.resource import create_handler, create_preferences, schedule_reconcile
from guardrails.session_prefs.storage import JUST_IN_TIME_KEY_TAG, create_data_key, session_log_group  # noqa: F401 (re-exported)
from guardrails.shared.encrypted_topic import EncryptedTopic
from guardrails.shared.nag import acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails.shared.principals import POLICY_PATH, contract_policy_name
from guardrails.shared.sessions import OPEN_DATA_CHANNEL_REASON, OWN_SESSIONS_REASON


class SessionPrefs(Construct):
    """Session Manager preferences, enforced, plus the policies instances and operators need.

    :param operator_instance_tag: ``{key: [values]}``: operators may start sessions only on
        instances carrying one of those tag values. Required.
    :param idle_session_timeout_minutes: 1-60. Default: 20.
    :param max_session_duration_minutes: 1-1440, not below the idle timeout. Default: none (no limit).
    :param cloudwatch_logging: stream or upload session logs to CloudWatch Logs. Default: true.
    :param log_group_name: use this existing log group instead of creating one. Default: create a
        group encrypted with the logs key (alias ``alias/session-manager/logs``).
    :param log_retention_days: retention of the created group. Default: 90.
    :param cloudwatch_encryption_required: only send logs to an encrypted group. Default: true.
    :param cloudwatch_streaming: stream session data (rather than upload at the end). Default: true.
    :param s3_logging: also write session logs to an S3 bucket. Default: false.
    :param s3_bucket_name: that existing bucket; required with ``s3_logging``. Default: none.
    :param s3_key_prefix: prefix in the bucket; ``<account>/<region>/`` is appended. Default: ``session-logs``.
    :param s3_encryption_required: only write to the bucket if it is encrypted. Default: true.
    :param session_encryption: encrypt session data with the data key (alias
        ``alias/session-manager/data``); required for AWS-PasswordReset. The key is tagged
        ``SystemsManagerJustInTimeNodeAccessManaged=true`` so just-in-time sessions can use it. Default: true.
    :param run_as_enabled: Linux/macOS sessions run as an OS user of your choice instead of
        ``ssm-user``. Default: false.
    :param run_as_default_user: that user; required with ``run_as_enabled``. Default: none.
    :param shell_profile_linux: commands run at the start of each Linux session. Default: none.
    :param shell_profile_windows: same for Windows. Default: none.
    :param allow_port_forwarding: operators may use ``AWS-StartPortForwardingSession`` and
        ``AWS-StartSSHSession``. Session Manager does not log the content of those sessions.
        Default: false.
    :param allow_remote_host_port_forwarding: ... and ``AWS-StartPortForwardingSessionToRemoteHost``
        (not logged either). Default: false.
    :param allow_password_reset: operators may reset local passwords with ``AWS-PasswordReset``;
        false denies it explicitly. Default: false.
    :param vpc: create the interface endpoints Session Manager needs in this VPC (private subnets).
        Default: none.
    :param notification_topic: where drift corrections and the functions' alarms (errors, a
        reconcile that did not run for 26 hours) are reported. Default: a new encrypted topic.
    :param document_name: Default: ``SSM-SessionManagerRunShell`` (the name Session Manager reads).
    :param key_id_parameter_name: SSM parameter that publishes the data key id for other stacks.
        Parameter Store refuses names that begin with ``aws`` or ``ssm``. Default:
        ``/guardrails/session-manager/data-key-id``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        operator_instance_tag: Mapping[str, list[str]],
        idle_session_timeout_minutes: int = 20,
        max_session_duration_minutes: int | None = None,
        cloudwatch_logging: bool = True,
        log_group_name: str | None = None,
        log_retention_days: int = 90,
        cloudwatch_encryption_required: bool = True,
        cloudwatch_streaming: bool = True,
        s3_logging: bool = False,
        s3_bucket_name: str | None = None,
        s3_key_prefix: str = "session-logs",
        s3_encryption_required: bool = True,
        session_encryption: bool = True,
        run_as_enabled: bool = False,
        run_as_default_user: str | None = None,
        shell_profile_linux: str = "",
        shell_profile_windows: str = "",
        allow_port_forwarding: bool = False,
        allow_remote_host_port_forwarding: bool = False,
        allow_password_reset: bool = False,
        vpc: ec2.IVpc | None = None,
        notification_topic: sns.ITopic | None = None,
        document_name: str = "SSM-SessionManagerRunShell",
        key_id_parameter_name: str = "/guardrails/session-manager/data-key-id",
    ) -> None:
        super().__init__(scope, id)
        validate(
            operator_instance_tag, idle_session_timeout_minutes, max_session_duration_minutes, log_group_name,
            log_retention_days, s3_logging, s3_bucket_name, run_as_enabled, run_as_default_user, allow_password_reset,
            session_encryption, key_id_parameter_name, shell_profile_linux, shell_profile_windows,
        )  # fmt: skip
        stack = cdk.Stack.of(self)
        self.document_name = document_name
        self.data_key = create_data_key(self, key_id_parameter_name) if session_encryption else None
        self.log_group = session_log_group(self, cloudwatch_logging, log_group_name, log_retention_days)
        self.s3_bucket_name = s3_bucket_name if s3_logging else None
        self.s3_key_prefix = "/".join(p for p in (s3_key_prefix.strip("/"), stack.account, stack.region) if p)
        self.inputs = {
            "s3BucketName": self.s3_bucket_name or "",
            "s3KeyPrefix": self.s3_key_prefix if self.s3_bucket_name else "",
            "s3EncryptionEnabled": s3_encryption_required,
            "cloudWatchLogGroupName": self.log_group.log_group_name if self.log_group else "",
            "cloudWatchEncryptionEnabled": cloudwatch_encryption_required,
            "cloudWatchStreamingEnabled": cloudwatch_streaming and self.log_group is not None,
            "idleSessionTimeout": str(idle_session_timeout_minutes),
            "maxSessionDuration": str(max_session_duration_minutes or ""),
            "kmsKeyId": self.data_key.key_id if self.data_key else "",
            "runAsEnabled": run_as_enabled,
            "runAsDefaultUser": (run_as_default_user or "") if run_as_enabled else "",
            "shellProfile": {"windows": shell_profile_windows, "linux": shell_profile_linux},
        }
        self.notification_topic = (
            notification_topic
            or EncryptedTopic(self, "Notifications", description="Session Manager preference drift").topic
        )
        self.handler = create_handler(self, self.notification_topic, document_name, self.inputs)
        self.preferences, self.provider_errors_alarm = create_preferences(
            self, self.handler, self.notification_topic, document_name, self.inputs
        )
        schedule_reconcile(self, self.handler)
        self.instance_policy = iam.ManagedPolicy(
            self,
            "InstancePolicy",
            description="What a managed node needs for the configured Session Manager preferences",
            statements=instance_statements(
                self, self.log_group, self.s3_bucket_name, self.s3_key_prefix, self.data_key
            ),
        )
        # Fixed name and path (a contract): IAM Identity Center permission sets reference it.
        self.operator_policy = iam.ManagedPolicy(
            self,
            "OperatorPolicy",
            managed_policy_name=contract_policy_name("SessionOperator", regional=True),
            path=POLICY_PATH,
            description="Sessions on tagged instances only, through the preferences document (and the allowed "
            "unlogged port-forwarding documents); no re-tagging with the operator tag keys",
            statements=operator_statements(
                self,
                document_name,
                self.data_key,
                operator_instance_tag,
                allow_port_forwarding,
                allow_remote_host_port_forwarding,
                allow_password_reset,
            ),
        )
        if vpc is not None:
            create_endpoints(
                self, vpc, kms=self.data_key is not None, logs=self.log_group is not None,
                s3=bool(self.s3_bucket_name),
            )  # fmt: skip
        self._acknowledge_reviewed_wildcards()

    # ----------------------------------------------------------------------------- public API

    def attach_to_instance_role(self, role: iam.IRole) -> None:
        """Give the nodes that use ``role`` what the preferences need (channels, logs, key)."""
        self.instance_policy.attach_to_role(role)

    def attach_to_operator_role(self, role: iam.IRole) -> None:
        """Give ``role`` the operator policy (sessions on tagged instances only)."""
        self.operator_policy.attach_to_role(role)

    # ----------------------------------------------------------------------------- nag

    def _acknowledge_reviewed_wildcards(self) -> None:
        stack = cdk.Stack.of(self)
        handler_policy = self.handler.role.node.find_child("DefaultPolicy")
        acknowledge_wildcard_action(
            handler_policy, "kms:GenerateDataKey*", "Granted by topic.grant_publish on the drift topic's own key."
        )
        reviewed: list[tuple[Any, str, str]] = [
            (self.instance_policy, "*", "ssmmessages channel actions and logs:DescribeLogGroups have no "
             "resource-level permissions."),
            (self.operator_policy, stack.format_arn(service="ec2", resource="instance", resource_name="*"),
             "Limited by condition to instances with the operator tag, through the allowed documents only."),
            (self.operator_policy, stack.format_arn(service="ssm", resource="session", resource_name="*"),
             OWN_SESSIONS_REASON),
            (self.operator_policy, "*", f"Describe calls the console needs; they take no resource ARN. "
             f"{OPEN_DATA_CHANNEL_REASON}"),
        ]  # fmt: skip
        if self.log_group is not None and not cdk.Token.is_unresolved(self.log_group.log_group_name):
            reviewed.append(
                (self.instance_policy, self.log_group.log_group_arn,
                 "The streams of the configured session log group (<group ARN>:*) only.")
            )  # fmt: skip
        if self.s3_bucket_name:
            reviewed.append(
                (self.instance_policy, f"arn:{stack.partition}:s3:::{self.s3_bucket_name}/{self.s3_key_prefix}/*",
                 "Session log objects under this account's and Region's prefix only.")
            )  # fmt: skip
        for policy, resource, reason in reviewed:
            acknowledge_wildcard_resource(policy, resource, reason)
