"""PasswordRotationWindow: scheduled rotation of the local Administrator password of tagged Windows nodes.

A maintenance window runs ``AWSSupport-RunEC2RescueForWindowsTool`` with ``Command=ResetAccess``
on every running instance that carries the given tags. EC2Rescue sets a new random password and
stores it as the SecureString ``/EC2Rescue/Passwords/<instance-id>`` under the dedicated key
(the path is fixed by EC2Rescue). Only named administrators can decrypt it. Failures are
notified, and a daily freshness report names every targeted instance whose password was not
rotated in time, which catches instances that were stopped during the window or whose agent was
offline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails._nag import acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails._principals import systems_manager_of_this_account
from guardrails._validation import (
    TIMEZONE,
    PropsError,
    check_kms_alias,
    check_not_empty,
    check_pattern,
    check_range,
    check_schedule,
    check_tag_filters,
    check_threshold,
)
from guardrails.encrypted_log_group import EncryptedLogGroup
from guardrails.encrypted_topic import EncryptedTopic
from guardrails.guardrail_function import GuardrailFunction
from guardrails.password_vault import PasswordVault

EC2RESCUE_DOCUMENT = "AWSSupport-RunEC2RescueForWindowsTool"
#: Where EC2Rescue ResetAccess stores passwords; fixed by the tool.
PASSWORD_PATH = "/EC2Rescue/Passwords"  # noqa: S105 (a path, not a password)
DURATION_RANGE_HOURS = (1, 24)
TASK_TIMEOUT_RANGE_SECONDS = (30, 172800)
MAX_PASSWORD_AGE_RANGE_DAYS = (1, 365)
PRIORITY_RANGE = (0, 5)
_NON_FAILED_COMMAND_STATUSES = ["Success", "Pending", "InProgress", "Delayed", "Cancelling"]


class PasswordRotationWindow(Construct):
    """Rotate the local Administrator password of tagged Windows instances on a schedule.

    :param administrators: roles that may read (decrypt) rotated passwords; they are the only
        readers the created key admits. At least one.
    :param tag_filters: tag key -> values; an instance is targeted when it matches every key
        (with any of its values), e.g. ``{"Environment": ["Production"]}``.
    :param schedule: ``cron(...)`` (6 fields) or ``rate(...)``. Default: every Sunday 05:00,
        ``cron(0 5 ? * SUN *)``.
    :param schedule_timezone: IANA time zone of the schedule. Default: UTC.
    :param duration: window length, 1-24 hours. Default: 2 hours.
    :param cutoff: stop starting new tasks this long before the end, 0 to duration - 1 hours.
        Default: 1 hour.
    :param owner_information: text attached to the target and to its events. Default: none.
    :param max_concurrency: instances rotated at once, a whole number or a percentage.
        Default: ``5``.
    :param max_errors: failures after which the task stops, a whole number or a percentage.
        Default: ``1``.
    :param priority: task priority in the window (0 is highest), 0-5. Default: 1.
    :param task_timeout: how long a command may wait to start on an instance. Default: 10 minutes.
    :param max_password_age: the freshness report names instances whose password is older than
        this (schedule interval plus a grace period). Default: 8 days (weekly rotation + 1 day).
    :param window_name: name of the maintenance window. Default: generated from the construct path.
    :param key: bring your own key (for example another window's ``key``). Default: a dedicated
        key, rotation on, retained.
    :param key_alias: alias of the created key. Default: ``alias/WindowsPasswordRotation-EncryptionKey``.
    :param log_group: where command output goes. Default: a new KMS-encrypted log group.
    :param alert_topic: where failures and the freshness report go. Default: a new encrypted topic.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        administrators: Sequence[iam.IRole],
        tag_filters: Mapping[str, Sequence[str]],
        schedule: str = "cron(0 5 ? * SUN *)",
        schedule_timezone: str | None = None,
        duration: cdk.Duration | None = None,
        cutoff: cdk.Duration | None = None,
        owner_information: str | None = None,
        max_concurrency: str = "5",
        max_errors: str = "1",
        priority: int = 1,
        task_timeout: cdk.Duration | None = None,
        max_password_age: cdk.Duration | None = None,
        window_name: str | None = None,
        key: kms.IKey | None = None,
        key_alias: str = "alias/WindowsPasswordRotation-EncryptionKey",
        log_group: logs.ILogGroup | None = None,
        alert_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        duration = duration or cdk.Duration.hours(2)
        cutoff = cutoff or cdk.Duration.hours(1)
        task_timeout = task_timeout or cdk.Duration.minutes(10)
        max_password_age = max_password_age or cdk.Duration.days(8)
        _validate(
            administrators, tag_filters, schedule, schedule_timezone, duration, cutoff, max_concurrency,
            max_errors, priority, task_timeout, max_password_age, key_alias,
        )  # fmt: skip
        self.tag_filters = {key_: list(values) for key_, values in tag_filters.items()}
        self.vault = PasswordVault(
            self,
            "Vault",
            parameter_name_pattern=f"{PASSWORD_PATH[1:]}/*",
            description="rotated Windows Administrator passwords",
            key=key,
            key_alias=key_alias,
        )
        self.key = self.vault.key
        self.log_group = log_group or EncryptedLogGroup(self, "Output", description="password rotation").log_group
        self.alert_topic = alert_topic or EncryptedTopic(self, "Alerts", description="password rotation alerts").topic
        self.key_changed_rule = self.vault.notify_key_changes(self.alert_topic)
        self.window = ssm.CfnMaintenanceWindow(
            self,
            "Window",
            name=window_name or cdk.Names.unique_resource_name(self, max_length=128, separator="-"),
            description="Rotates the local Administrator password of tagged Windows instances (EC2Rescue)",
            schedule=schedule,
            schedule_timezone=schedule_timezone,
            duration=int(duration.to_hours()),
            cutoff=int(cutoff.to_hours()),
            allow_unassociated_targets=False,
        )
        self.target = ssm.CfnMaintenanceWindowTarget(
            self,
            "Target",
            window_id=self.window.ref,
            resource_type="INSTANCE",
            targets=[
                ssm.CfnMaintenanceWindowTarget.TargetsProperty(key=f"tag:{key_}", values=values)
                for key_, values in self.tag_filters.items()
            ],
            owner_information=owner_information,
        )
        self.window_role = self._create_window_role()
        self.task = self._create_task(max_concurrency, max_errors, priority, task_timeout)
        self.instance_policy = iam.ManagedPolicy(
            self,
            "InstancePolicy",
            description="Lets a Windows instance store its rotated Administrator password and log the run",
            statements=[*self.vault.writer_statements(), *self._output_log_statements()],
        )
        self.administrator_policy = iam.ManagedPolicy(
            self,
            "AdministratorPolicy",
            description="Lets a password administrator read rotated Windows Administrator passwords",
            statements=[*self.vault.reader_statements(), *self.no_retagging_statements()],
            roles=list(administrators),
        )
        for administrator in administrators:
            self.vault.allow_reader(administrator)
        self._create_failure_alerts()
        self.freshness_function = self._create_freshness_report(max_password_age)
        self._acknowledge_reviewed_wildcards()

    # ----------------------------------------------------------------------------- public API

    def attach_to_instance_role(self, role: iam.IRole) -> None:
        """Let the instances that use ``role`` store their rotated password (write only)."""
        self.instance_policy.attach_to_role(role)

    def grant_read_passwords(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` read and decrypt rotated passwords, through Parameter Store only; it may
        not re-tag instances with the window's target tag keys either."""
        self.vault.grant_read(grantee)
        for statement in self.no_retagging_statements():
            grantee.grant_principal.add_to_principal_policy(statement)

    def no_retagging_statements(self) -> list[iam.PolicyStatement]:
        """Readers may not change or remove the window's target tags on a node.

        A reader who could untag an instance (or change its tag value) would take it out of the
        rotation, so the password they read would never change. Tag keys are compared ignoring case
        (the stricter reading). Tagging at launch (``ec2:CreateAction`` set) stays possible: a new
        instance that carries the tags is only rotated too. ``DeleteTags`` without tags deletes every
        tag and carries no ``aws:TagKeys``, so it is denied on its own. Condition keys:
        https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html and
        https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
        """
        stack = cdk.Stack.of(self)
        instances = stack.format_arn(service="ec2", resource="instance", resource_name="*")
        managed_instances = stack.format_arn(service="ssm", resource="managed-instance", resource_name="*")
        target_keys = {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": sorted(self.tag_filters)}}
        return [
            iam.PolicyStatement(
                sid="NoRetaggingOfRotationTargets",
                effect=iam.Effect.DENY,
                actions=["ec2:CreateTags", "ec2:DeleteTags"],
                resources=[instances],
                conditions={**target_keys, "Null": {"ec2:CreateAction": "true"}},
            ),
            iam.PolicyStatement(
                sid="NoDeletingEveryTagOfRotationTargets",
                effect=iam.Effect.DENY,
                actions=["ec2:DeleteTags"],
                resources=[instances],
                conditions={"Null": {"aws:TagKeys": "true"}},
            ),
            iam.PolicyStatement(
                sid="NoRetaggingOfRotationTargetsHybrid",
                effect=iam.Effect.DENY,
                actions=["ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"],
                resources=[managed_instances],
                conditions=target_keys,
            ),
        ]

    # ----------------------------------------------------------------------------- window

    def _create_window_role(self) -> iam.Role:
        stack = cdk.Stack.of(self)
        role = iam.Role(
            self,
            "WindowRole",
            description="Maintenance window service role: runs EC2Rescue ResetAccess on the targeted instances",
            assumed_by=systems_manager_of_this_account(self),
        )
        document_arn = stack.format_arn(
            service="ssm", account="", resource="document", resource_name=EC2RESCUE_DOCUMENT
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="RunEc2RescueDocument", actions=["ssm:SendCommand"], resources=[document_arn])
        )
        # Only instances that carry the target tags: a changed target cannot reach other instances.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="OnTaggedInstancesOnly",
                actions=["ssm:SendCommand"],
                resources=[stack.format_arn(service="ec2", resource="instance", resource_name="*")],
                conditions={
                    "StringEquals": {f"ssm:resourceTag/{key_}": values for key_, values in self.tag_filters.items()}
                },
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="FollowAndCancelCommands",
                actions=[
                    "ssm:ListCommands",
                    "ssm:ListCommandInvocations",
                    "ssm:GetCommandInvocation",
                    "ssm:CancelCommand",
                ],
                resources=["*"],
            )
        )
        return role

    def _create_task(
        self, max_concurrency: str, max_errors: str, priority: int, task_timeout: cdk.Duration
    ) -> ssm.CfnMaintenanceWindowTask:
        run_command = ssm.CfnMaintenanceWindowTask.MaintenanceWindowRunCommandParametersProperty(
            comment="SSM Guardrails password rotation (EC2Rescue ResetAccess)",
            parameters={"Command": ["ResetAccess"], "Parameters": [self.key.key_id]},
            timeout_seconds=int(task_timeout.to_seconds()),
            cloud_watch_output_config=ssm.CfnMaintenanceWindowTask.CloudWatchOutputConfigProperty(
                cloud_watch_log_group_name=self.log_group.log_group_name, cloud_watch_output_enabled=True
            ),
        )
        return ssm.CfnMaintenanceWindowTask(
            self,
            "Task",
            window_id=self.window.ref,
            task_type="RUN_COMMAND",
            task_arn=EC2RESCUE_DOCUMENT,
            targets=[ssm.CfnMaintenanceWindowTask.TargetProperty(key="WindowTargetIds", values=[self.target.ref])],
            service_role_arn=self.window_role.role_arn,
            max_concurrency=max_concurrency,
            max_errors=max_errors,
            priority=priority,
            task_invocation_parameters=ssm.CfnMaintenanceWindowTask.TaskInvocationParametersProperty(
                maintenance_window_run_command_parameters=run_command
            ),
        )

    def _output_log_statements(self) -> list[iam.PolicyStatement]:
        """SSM Agent sends the command output to CloudWatch Logs with the instance's credentials."""
        return [
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[self.log_group.log_group_arn],
            ),
            iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=["*"]),
        ]

    # ----------------------------------------------------------------------------- alerts and report

    def _create_failure_alerts(self) -> None:
        detail = events.EventField.from_path
        events.Rule(
            self,
            "WindowFailedRule",
            description="The password rotation task failed or timed out",
            event_pattern=events.EventPattern(
                source=["aws.ssm"],
                detail_type=[
                    "Maintenance Window Task Execution State-change Notification",
                    "Maintenance Window Task Target Invocation State-change Notification",
                ],
                detail={"window-id": [self.window.ref], "status": ["FAILED", "TIMED_OUT", "CANCELLED"]},
            ),
            targets=[
                targets.SnsTopic(
                    self.alert_topic,
                    message=events.RuleTargetInput.from_text(
                        f"Password rotation window {self.window.name} ({detail('$.detail.window-id')}): "
                        f"{detail('$.detail-type')} {detail('$.detail.status')} "
                        f"(window execution {detail('$.detail.window-execution-id')})."
                    ),
                )
            ],
        )
        events.Rule(
            self,
            "InstanceFailedRule",
            description="EC2Rescue ResetAccess failed on an instance",
            event_pattern=events.EventPattern(
                source=["aws.ssm"],
                detail_type=["EC2 Command Invocation Status-change Notification"],
                detail={
                    "document-name": [EC2RESCUE_DOCUMENT],
                    "status": [{"anything-but": _NON_FAILED_COMMAND_STATUSES}],
                },
            ),
            targets=[
                targets.SnsTopic(
                    self.alert_topic,
                    message=events.RuleTargetInput.from_text(
                        f"{EC2RESCUE_DOCUMENT} ended with status {detail('$.detail.status')} on instance "
                        f"{detail('$.detail.instance-id')} (command {detail('$.detail.command-id')}); its "
                        f"Administrator password was not rotated. Window: {self.window.name}."
                    ),
                )
            ],
        )

    def _create_freshness_report(self, max_password_age: cdk.Duration) -> GuardrailFunction:
        report = GuardrailFunction(
            self,
            "FreshnessReport",
            handler="rotation_freshness",
            description="Reports targeted Windows instances whose rotated password is missing or too old",
            environment={
                "TAG_FILTERS": json.dumps(self.tag_filters, sort_keys=True),
                "PASSWORD_PATH": PASSWORD_PATH,
                "MAX_AGE_SECONDS": str(int(max_password_age.to_seconds())),
                "TOPIC_ARN": self.alert_topic.topic_arn,
                "WINDOW_NAME": self.window.name,
            },
            timeout=cdk.Duration.minutes(5),
            alarm_topic=self.alert_topic,
            runs_every=cdk.Duration.days(1),
        )
        # Both calls have no resource-level permissions; they return metadata only, never a value.
        report.role.add_to_policy(
            iam.PolicyStatement(
                sid="FindTargetsAndPasswordDates",
                actions=["ec2:DescribeInstances", "ssm:DescribeParameters"],
                resources=["*"],
            )
        )
        self.alert_topic.grant_publish(report.role)
        events.Rule(
            self,
            "FreshnessReportRule",
            description="Daily report of Windows instances whose password was not rotated in time",
            schedule=events.Schedule.rate(cdk.Duration.days(1)),
            targets=[targets.LambdaFunction(report.function, retry_attempts=2)],
        )
        return report

    def _acknowledge_reviewed_wildcards(self) -> None:
        stack = cdk.Stack.of(self)
        window_policy = self.window_role.node.find_child("DefaultPolicy")
        report_policy = self.freshness_function.role.node.find_child("DefaultPolicy")
        reviewed = [
            (self.instance_policy, self.vault.parameter_arn_pattern,
             "Write-only (PutParameter) under /EC2Rescue/Passwords/, the path EC2Rescue uses; IAM has no "
             "policy variable for the caller's instance id in a parameter ARN. No read, no decrypt."),
            (self.instance_policy, "*", "logs:DescribeLogGroups has no resource-level permissions; SSM Agent "
             "calls it before sending command output."),
            (window_policy, stack.format_arn(service="ec2", resource="instance", resource_name="*"),
             "Limited by condition to instances that carry the window's target tags."),
            (window_policy, "*", "ssm:ListCommands, ListCommandInvocations, GetCommandInvocation and "
             "CancelCommand have no resource-level permissions."),
            (self.administrator_policy, self.vault.parameter_arn_pattern,
             "Administrators read rotated passwords only (/EC2Rescue/Passwords/*), decryptable via SSM only."),
            (report_policy, "*", "ec2:DescribeInstances and ssm:DescribeParameters have no resource-level "
             "permissions; they return metadata (tags, dates), never a password."),
        ]  # fmt: skip
        for policy, resource, reason in reviewed:
            acknowledge_wildcard_resource(policy, resource, reason)
        acknowledge_wildcard_action(
            report_policy,
            "kms:GenerateDataKey*",
            "Granted by topic.grant_publish on the alert topic's own key: SNS needs a data key to encrypt the report.",
        )


def _validate(
    administrators: Sequence[iam.IRole],
    tag_filters: Mapping[str, Sequence[str]],
    schedule: str,
    schedule_timezone: str | None,
    duration: cdk.Duration,
    cutoff: cdk.Duration,
    max_concurrency: str,
    max_errors: str,
    priority: int,
    task_timeout: cdk.Duration,
    max_password_age: cdk.Duration,
    key_alias: str,
) -> None:
    name = "PasswordRotationWindow"
    check_not_empty(f"{name}.administrators", administrators)
    check_tag_filters(f"{name}.tag_filters", tag_filters)
    check_schedule(f"{name}.schedule", schedule)
    if schedule_timezone is not None:
        check_pattern(
            f"{name}.schedule_timezone", schedule_timezone, TIMEZONE, "an IANA time zone such as Europe/Paris"
        )
    hours = duration.to_seconds() / 3600
    check_range(f"{name}.duration", hours, *DURATION_RANGE_HOURS, unit="hours")
    if hours != int(hours):
        raise PropsError(f"{name}.duration", hours, "whole hours")
    cutoff_hours = cutoff.to_seconds() / 3600
    check_range(f"{name}.cutoff", cutoff_hours, 0, hours - 1, unit="hours (duration - 1 at most)")
    if cutoff_hours != int(cutoff_hours):
        raise PropsError(f"{name}.cutoff", cutoff_hours, "whole hours")
    check_threshold(f"{name}.max_concurrency", max_concurrency)
    check_threshold(f"{name}.max_errors", max_errors)
    check_range(f"{name}.priority", priority, *PRIORITY_RANGE)
    check_range(f"{name}.task_timeout", task_timeout.to_seconds(), *TASK_TIMEOUT_RANGE_SECONDS, unit="seconds")
    check_range(
        f"{name}.max_password_age", max_password_age.to_seconds() / 86400, *MAX_PASSWORD_AGE_RANGE_DAYS, unit="days"
    )
    check_kms_alias(f"{name}.key_alias", key_alias)
