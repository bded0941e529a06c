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

from collections.abc import Sequence
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
from guardrails.session_prefs.props import SessionPrefsSettings
from guardrails.session_prefs.resource import create_handler, create_preferences, schedule_reconcile
from guardrails.session_prefs.storage import (  # noqa: F401 (JUST_IN_TIME_KEY_TAG is re-exported)
    JUST_IN_TIME_KEY_TAG,
    create_data_key,
    log_reader_statements,
    session_log_group,
)
from guardrails.shared.encrypted_topic import EncryptedTopic
from guardrails.shared.nag import acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails.shared.principals import Principal, contract_policy, roles_and_patterns
from guardrails.shared.sessions import OPEN_DATA_CHANNEL_REASON, OWN_SESSIONS_REASON
from guardrails.shared.validation import check_parameter_path


class SessionPrefs(Construct):
    """Session Manager preferences, enforced, plus the policies instances and operators need.

    :param settings: the preferences and what operators may do (:class:`SessionPrefsSettings`; the
        README's "controls.session_prefs" table). Required: its ``operator_instance_tag``.
    :param log_readers: roles that may read the created group's session transcripts (decrypt its
        key through CloudWatch Logs); the key denies decryption to every other principal, AWS
        services acting as themselves excepted. Matched on ``aws:PrincipalArn``, so a role that does
        not exist yet does not break the deployment. Default: none (nobody decrypts).
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
        settings: SessionPrefsSettings,
        log_readers: Sequence[iam.IRole | Principal] = (),
        vpc: ec2.IVpc | None = None,
        notification_topic: sns.ITopic | None = None,
        document_name: str = "SSM-SessionManagerRunShell",
        key_id_parameter_name: str = "/guardrails/session-manager/data-key-id",
    ) -> None:
        super().__init__(scope, id)
        check_parameter_path("SessionPrefs.key_id_parameter_name", key_id_parameter_name)
        self.settings = settings
        stack = cdk.Stack.of(self)
        self.document_name = document_name
        self.data_key = create_data_key(self, key_id_parameter_name) if settings.session_encryption else None
        reader_roles, reader_patterns = roles_and_patterns(self, "LogReader", log_readers)
        self.log_group, self.log_key = session_log_group(
            self, settings.cloudwatch_logging, settings.log_group_name, settings.log_retention_days, reader_patterns,
        )  # fmt: skip
        if log_readers and self.log_group is not None and self.log_key is not None:
            self.log_reader_policy = contract_policy(
                self, "LogReaderPolicy", "SessionLogReader", regional=True,
                description="Read Session Manager session transcripts",
                statements=log_reader_statements(self.log_group, self.log_key), roles=reader_roles,
            )  # fmt: skip
        self.s3_bucket_name = settings.s3_bucket_name if settings.s3_logging else None
        self.s3_key_prefix = "/".join(p for p in (settings.s3_key_prefix.strip("/"), stack.account, stack.region) if p)
        self.inputs = {
            "s3BucketName": self.s3_bucket_name or "",
            "s3KeyPrefix": self.s3_key_prefix if self.s3_bucket_name else "",
            "s3EncryptionEnabled": settings.s3_encryption_required,
            "cloudWatchLogGroupName": self.log_group.log_group_name if self.log_group else "",
            "cloudWatchEncryptionEnabled": settings.cloudwatch_encryption_required,
            "cloudWatchStreamingEnabled": settings.cloudwatch_streaming and self.log_group is not None,
            "idleSessionTimeout": str(settings.idle_session_timeout_minutes),
            "maxSessionDuration": str(settings.max_session_duration_minutes or ""),
            "kmsKeyId": self.data_key.key_id if self.data_key else "",
            "runAsEnabled": settings.run_as_enabled,
            "runAsDefaultUser": (settings.run_as_default_user or "") if settings.run_as_enabled else "",
            "shellProfile": {"windows": settings.shell_profile_windows, "linux": settings.shell_profile_linux},
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
        self.operator_policy = contract_policy(
            self,
            "OperatorPolicy",
            "SessionOperator",
            regional=True,
            description="Sessions on tagged instances only, through the preferences document (and the allowed "
            "unlogged port-forwarding documents); no re-tagging with the operator tag keys",
            statements=operator_statements(
                self,
                document_name,
                self.data_key,
                settings.operator_instance_tag,
                settings.allow_port_forwarding,
                settings.allow_remote_host_port_forwarding,
                settings.allow_password_reset,
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
