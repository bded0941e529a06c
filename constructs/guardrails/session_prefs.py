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
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails._nag import (
    acknowledge_wildcard_action,
    acknowledge_wildcard_resource,
)
from guardrails._sessions import (
    OPEN_DATA_CHANNEL_REASON,
    OWN_SESSIONS_CONDITION,
    OWN_SESSIONS_REASON,
    SESSION_DATA_KEY_ALIAS,
    open_data_channel_statement,
)
from guardrails._validation import PropsError, check_parameter_path, check_pattern, check_range, check_tag_filters
from guardrails.encrypted_log_group import EncryptedLogGroup
from guardrails.encrypted_topic import EncryptedTopic
from guardrails.guardrail_function import GuardrailFunction, watch_errors
from guardrails.scoped_provider import scoped_provider

#: AWSSystemsManagerJustInTimeAccessTokenSessionPolicy allows kms:GenerateDataKey only on keys that
#: carry this tag: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSSystemsManagerJustInTimeAccessTokenSessionPolicy.html
#: ("SessionManagerKmsPermission"), and "You must tag the AWS KMS keys used for Session Manager
#: encryption ... in just-in-time node access with the tag key SystemsManagerJustInTimeNodeAccessManaged
#: and tag value true":
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-just-in-time-node-access-session-preferences.html
JUST_IN_TIME_KEY_TAG = ("SystemsManagerJustInTimeNodeAccessManaged", "true")
IDLE_TIMEOUT_RANGE_MINUTES = (1, 60)
MAX_SESSION_RANGE_MINUTES = (1, 1440)
BUCKET_NAME = re.compile(r"(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
LOG_GROUP_NAME = re.compile(r"[\w/.#-]{1,512}")
LINUX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
#: The handler reads the preferences from its environment, and "the total size of the set [of
#: environment variables] can be no more than 4 KB": https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
#: The other keys, names and ids take well under 1.5 KB, so the two shell profiles share the rest.
MAX_SHELL_PROFILES_CHARS = 2048
#: Session Manager does not log these sessions: "Logging isn't available for Session Manager sessions
#: that connect through port forwarding or SSH":
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-logging.html
PORT_FORWARDING_DOCUMENTS = ("AWS-StartPortForwardingSession", "AWS-StartSSHSession")
REMOTE_HOST_PORT_FORWARDING_DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost"
RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


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
        _validate(
            operator_instance_tag, idle_session_timeout_minutes, max_session_duration_minutes, log_group_name,
            log_retention_days, s3_logging, s3_bucket_name, run_as_enabled, run_as_default_user, allow_password_reset,
            session_encryption, key_id_parameter_name, shell_profile_linux, shell_profile_windows,
        )  # fmt: skip
        stack = cdk.Stack.of(self)
        self.document_name = document_name
        self.data_key = self._create_data_key() if session_encryption else None
        if self.data_key is not None:
            ssm.StringParameter(
                self,
                "DataKeyIdParameter",
                parameter_name=key_id_parameter_name,
                string_value=self.data_key.key_id,
                description="Id of the Session Manager session data key (alias/session-manager/data)",
            )
        self.log_group = self._log_group(cloudwatch_logging, log_group_name, log_retention_days)
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
        self.handler = self._create_handler()
        self.preferences = self._create_custom_resource()
        self._schedule_reconcile()
        self.instance_policy = iam.ManagedPolicy(
            self,
            "InstancePolicy",
            description="What a managed node needs for the configured Session Manager preferences",
            statements=self._instance_statements(),
        )
        self.operator_policy = iam.ManagedPolicy(
            self,
            "OperatorPolicy",
            description="Sessions on tagged instances only, through the preferences document (and the allowed "
            "unlogged port-forwarding documents); no re-tagging with the operator tag keys",
            statements=self._operator_statements(
                operator_instance_tag, allow_port_forwarding, allow_remote_host_port_forwarding, allow_password_reset
            ),
        )
        if vpc is not None:
            self._create_endpoints(vpc)
        self._acknowledge_reviewed_wildcards()

    # ----------------------------------------------------------------------------- public API

    def attach_to_instance_role(self, role: iam.IRole) -> None:
        """Give the nodes that use ``role`` what the preferences need (channels, logs, key)."""
        self.instance_policy.attach_to_role(role)

    def attach_to_operator_role(self, role: iam.IRole) -> None:
        """Give ``role`` the operator policy (sessions on tagged instances only)."""
        self.operator_policy.attach_to_role(role)

    # ----------------------------------------------------------------------------- keys and logs

    def _create_data_key(self) -> kms.Key:
        key = kms.Key(
            self,
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
        return key

    def _log_group(self, enabled: bool, name: str | None, retention_days: int) -> logs.ILogGroup | None:
        if not enabled:
            return None
        if name:
            return logs.LogGroup.from_log_group_name(self, "LogGroup", name)
        return EncryptedLogGroup(
            self,
            "Logs",
            description="Session Manager session logs",
            retention=RETENTION_DAYS[retention_days],
            key_alias="alias/session-manager/logs",
        ).log_group

    # ----------------------------------------------------------------------------- custom resource

    def _create_handler(self) -> GuardrailFunction:
        handler = GuardrailFunction(
            self,
            "Handler",
            handler="session_prefs",
            description="Creates, updates, reconciles and releases the Session Manager preferences document",
            # The desired preferences: only the stack can change a function's environment.
            environment={
                "TOPIC_ARN": self.notification_topic.topic_arn,
                "DOCUMENT_NAME": self.document_name,
                "INPUTS_JSON": self._inputs_json(),
                "STACK_ID": cdk.Aws.STACK_ID,
            },
            timeout=cdk.Duration.minutes(2),
            alarm_topic=self.notification_topic,
            runs_every=cdk.Duration.days(1),
        )
        document_arn = cdk.Stack.of(self).format_arn(
            service="ssm", resource="document", resource_name=self.document_name
        )
        handler.role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageThePreferencesDocumentOnly",
                actions=[
                    "ssm:CreateDocument",
                    "ssm:GetDocument",
                    "ssm:DescribeDocument",
                    "ssm:UpdateDocument",
                    "ssm:UpdateDocumentDefaultVersion",
                ],
                resources=[document_arn],
            )
        )
        self.notification_topic.grant_publish(handler.role)
        return handler

    def _create_custom_resource(self) -> cdk.CustomResource:
        provider = scoped_provider(self, "Provider", on_event_handler=self.handler.function)
        framework = provider.node.find_child("framework-onEvent")
        # The framework function answers CloudFormation; when it fails, the deploy fails too, but a
        # failed delete or a StackSet instance would otherwise go unnoticed.
        self.provider_errors_alarm = watch_errors(
            self, "ProviderErrorsAlarm", framework, self.notification_topic,
            "CDK Provider framework of the Session Manager preferences",
        )  # fmt: skip
        # The properties only make CloudFormation send an Update when the preferences change: the
        # handler reads them from its environment, never from the event.
        resource = cdk.CustomResource(
            self,
            "Preferences",
            service_token=provider.service_token,
            resource_type="Custom::SessionManagerPreferences",
            properties={"DocumentName": self.document_name, "InputsJson": self._inputs_json()},
            service_timeout=cdk.Duration.minutes(5),
        )
        # Events are accepted for this stack (AWS::StackId) and this resource only. Not the
        # ServiceToken: it is the framework function's ARN, and that function already references
        # the handler (a cycle).
        self.handler.function.add_environment(
            "RESOURCE_LOGICAL_ID", cdk.Stack.of(self).get_logical_id(resource.node.default_child)
        )
        return resource

    def _inputs_json(self) -> str:
        # CloudFormation turns every property into a string; JSON keeps booleans booleans.
        return cdk.Stack.of(self).to_json_string(self.inputs)

    def _schedule_reconcile(self) -> None:
        rule = events.Rule(
            self,
            "ReconcileRule",
            description="Puts the Session Manager preferences back if they were changed by hand",
            schedule=events.Schedule.rate(cdk.Duration.days(1)),
        )
        rule.add_target(
            targets.LambdaFunction(
                self.handler.function,
                # Only the action: the handler ignores anything else an event carries.
                event=events.RuleTargetInput.from_object({"action": "reconcile"}),
                retry_attempts=2,
            )
        )

    # ----------------------------------------------------------------------------- policies

    def _instance_statements(self) -> list[iam.PolicyStatement]:
        stack = cdk.Stack.of(self)
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
        if self.log_group is not None:
            found += [
                iam.PolicyStatement(
                    sid="WriteSessionLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[self.log_group.log_group_arn],
                ),
                iam.PolicyStatement(sid="FindLogGroup", actions=["logs:DescribeLogGroups"], resources=["*"]),
            ]
        if self.s3_bucket_name:
            bucket_arn = f"arn:{stack.partition}:s3:::{self.s3_bucket_name}"
            found += [
                iam.PolicyStatement(
                    sid="WriteSessionLogsToBucket",
                    actions=["s3:PutObject"],
                    resources=[f"{bucket_arn}/{self.s3_key_prefix}/*"],
                ),
                iam.PolicyStatement(
                    sid="CheckBucketEncryption", actions=["s3:GetEncryptionConfiguration"], resources=[bucket_arn]
                ),
            ]
        if self.data_key is not None:
            found.append(
                iam.PolicyStatement(
                    sid="DecryptSessionData", actions=["kms:Decrypt"], resources=[self.data_key.key_arn]
                )
            )
        return found

    def _operator_statements(
        self,
        instance_tag: Mapping[str, list[str]],
        port_forwarding: bool,
        remote_port_forwarding: bool,
        password_reset: bool,
    ) -> list[iam.PolicyStatement]:
        stack = cdk.Stack.of(self)
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
                resources=[stack.format_arn(service="ssm", resource="document", resource_name=self.document_name)],
                conditions=access_check,
            ),
            open_data_channel_statement(),
            *self._no_retagging_statements(instance_tag),
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
        if self.data_key is not None:
            found.append(
                iam.PolicyStatement(
                    sid="EncryptSessionData", actions=["kms:GenerateDataKey"], resources=[self.data_key.key_arn]
                )
            )
        return found

    def _no_retagging_statements(self, instance_tag: Mapping[str, list[str]]) -> list[iam.PolicyStatement]:
        """Operators may not add, change or remove the tags that decide where they get sessions.

        Tag keys are case-insensitive for this check (aws:TagKeys compared IgnoreCase), and a
        DeleteTags that names no key (which removes every tag) is denied too. Tagging at launch
        (RunInstances with tags) is authorized as ec2:CreateTags as well:
        https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html
        """
        stack = cdk.Stack.of(self)
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

    # ----------------------------------------------------------------------------- network

    def _create_endpoints(self, vpc: ec2.IVpc) -> None:
        security_group = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=vpc, description="HTTPS from the VPC to Session Manager endpoints",
            allow_all_outbound=False,
        )  # fmt: skip
        security_group.add_ingress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS from the VPC")
        services = {
            "Ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
            "SsmMessages": ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
            "Ec2Messages": ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
        }
        if self.data_key is not None:
            services["Kms"] = ec2.InterfaceVpcEndpointAwsService.KMS
        if self.log_group is not None:
            services["Logs"] = ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS
        for name, service in services.items():
            vpc.add_interface_endpoint(
                f"{name}Endpoint", service=service, security_groups=[security_group], private_dns_enabled=True,
                open=False,
            )  # fmt: skip
        if self.s3_bucket_name:
            vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)

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


def _validate(
    instance_tag: Mapping[str, list[str]],
    idle: int,
    max_duration: int | None,
    log_group_name: str | None,
    retention_days: int,
    s3_logging: bool,
    bucket: str | None,
    run_as_enabled: bool,
    run_as_user: str | None,
    password_reset: bool,
    session_encryption: bool,
    key_id_parameter_name: str,
    shell_profile_linux: str,
    shell_profile_windows: str,
) -> None:
    name = "SessionPrefs"
    profiles = len(json.dumps(shell_profile_linux)) + len(json.dumps(shell_profile_windows)) - 4
    if profiles > MAX_SHELL_PROFILES_CHARS:
        raise PropsError(
            f"{name}.shell_profile_linux/shell_profile_windows", f"{profiles} characters together (JSON-escaped)",
            f"at most {MAX_SHELL_PROFILES_CHARS} (the handler reads them from its 4 KB Lambda environment)",
        )  # fmt: skip
    check_parameter_path(f"{name}.key_id_parameter_name", key_id_parameter_name)
    check_tag_filters(f"{name}.operator_instance_tag", instance_tag)
    check_range(f"{name}.idle_session_timeout_minutes", idle, *IDLE_TIMEOUT_RANGE_MINUTES, unit="minutes")
    if max_duration is not None:
        check_range(f"{name}.max_session_duration_minutes", max_duration, *MAX_SESSION_RANGE_MINUTES, unit="minutes")
        if idle > max_duration:
            raise PropsError(
                f"{name}.idle_session_timeout_minutes", idle, f"at most max_session_duration_minutes ({max_duration})"
            )
    if log_group_name is not None:
        check_pattern(f"{name}.log_group_name", log_group_name, LOG_GROUP_NAME, "1-512 of letters, digits, _ - / . #")
    if retention_days not in RETENTION_DAYS:
        raise PropsError(f"{name}.log_retention_days", retention_days, f"one of {sorted(RETENTION_DAYS)}")
    if s3_logging and not bucket:
        raise PropsError(f"{name}.s3_bucket_name", bucket, "an existing bucket name when s3_logging is on")
    if bucket is not None:
        check_pattern(f"{name}.s3_bucket_name", bucket, BUCKET_NAME, "an S3 bucket name: 3-63 of a-z 0-9 . -")
    if run_as_enabled and not run_as_user:
        raise PropsError(f"{name}.run_as_default_user", run_as_user, "an OS user name when run_as_enabled is on")
    if run_as_user is not None:
        check_pattern(f"{name}.run_as_default_user", run_as_user, LINUX_USER, "a Linux user name such as ssm-operator")
    if password_reset and not session_encryption:
        raise PropsError(
            f"{name}.allow_password_reset", True, "only with session_encryption (AWS-PasswordReset needs it)"
        )
