"""PasswordRotationWindow: scheduled rotation of the local Administrator password of tagged Windows nodes.

A maintenance window runs ``AWSSupport-RunEC2RescueForWindowsTool`` with ``Command=ResetAccess``
on every running instance that carries the given tags. EC2Rescue sets a new random password and
stores it as the SecureString ``/EC2Rescue/Passwords/<instance-id>`` under the dedicated key
(the path is fixed by EC2Rescue). Only named administrators can decrypt it. Failures are
notified, and a daily freshness report names every targeted instance whose password was not
rotated in time, which catches instances that were stopped during the window or whose agent was
offline.

One module per concern, each creating its resources directly in this construct's scope (the
logical ids are those of deployed stacks, so no concern gets a construct level of its own):

* :mod:`guardrails.password_rotation.props`: prop checks;
* :mod:`guardrails.password_rotation.task`: the window, its target, service role and EC2Rescue task;
* :mod:`guardrails.password_rotation.report`: the failure alerts and the daily freshness report;
* :class:`guardrails.PasswordVault`: the key and the reader/writer statements.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.password_rotation.props import PasswordRotationSettings, RotationWindowSettings
from guardrails.password_rotation.report import create_failure_alerts, create_freshness_report
from guardrails.password_rotation.task import (  # noqa: F401 (EC2RESCUE_DOCUMENT is re-exported)
    EC2RESCUE_DOCUMENT,
    PASSWORD_PATH,
    create_task,
    create_window,
    create_window_role,
    output_log_statements,
)
from guardrails.shared.encrypted_log_group import EncryptedLogGroup
from guardrails.shared.encrypted_topic import EncryptedTopic
from guardrails.shared.nag import acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails.shared.password_vault import PasswordVault
from guardrails.shared.principals import Principal, contract_policy, roles_and_patterns
from guardrails.shared.validation import check_not_empty


class PasswordRotationWindow(Construct):
    """Rotate the local Administrator password of tagged Windows instances on a schedule.

    :param administrators: roles that may read (decrypt) rotated passwords: ``iam.IRole`` or
        :class:`guardrails.shared.Principal` (role name, role ARN with a path, IAM Identity Center
        permission set); they are the only readers the created key admits. Roles get
        ``administrator_policy`` (fixed name ``SsmGuardrails-PasswordAdministrator-<id>-<region>``,
        path ``/ssm-guardrails/``, which a permission set references instead). At least one.
    :param window: which instances, when and how many at once (:class:`RotationWindowSettings`;
        the README's "controls.password_rotation.windows" table). Required: its ``tag_filters``.
    :param settings: what the windows of an account share (:class:`PasswordRotationSettings`: the key
        alias). Default: all defaults.
    :param window_name: name of the maintenance window. Default: generated from the construct path.
    :param key: bring your own key (for example another window's ``key``). Default: a dedicated
        key, rotation on, retained.
    :param log_group: where command output goes. Default: a new KMS-encrypted log group.
    :param alert_topic: where failures and the freshness report go. Default: a new encrypted topic.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        administrators: Sequence[iam.IRole | Principal],
        window: RotationWindowSettings,
        settings: PasswordRotationSettings | None = None,
        window_name: str | None = None,
        key: kms.IKey | None = None,
        log_group: logs.ILogGroup | None = None,
        alert_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        settings = settings or PasswordRotationSettings()
        check_not_empty("PasswordRotationWindow.administrators", administrators)
        self.window_settings = window
        tag_filters = window.tag_filters
        self.tag_filters = {key_: list(values) for key_, values in tag_filters.items()}
        self.vault = PasswordVault(
            self,
            "Vault",
            parameter_name_pattern=f"{PASSWORD_PATH[1:]}/*",
            description="rotated Windows Administrator passwords",
            key=key,
            key_alias=settings.key_alias,
        )
        self.key = self.vault.key
        self.log_group = log_group or EncryptedLogGroup(self, "Output", description="password rotation").log_group
        self.alert_topic = alert_topic or EncryptedTopic(self, "Alerts", description="password rotation alerts").topic
        self.key_changed_rule = self.vault.notify_key_changes(self.alert_topic)
        self.window, self.target = create_window(
            self, window_name=window_name, schedule=window.schedule, schedule_timezone=window.schedule_timezone,
            duration=cdk.Duration.hours(window.duration_hours), cutoff=cdk.Duration.hours(window.cutoff_hours),
            tag_filters=self.tag_filters, owner_information=window.owner_information,
        )  # fmt: skip
        self.window_role = create_window_role(self, self.tag_filters)
        self.task = create_task(
            self, window=self.window, target=self.target, role=self.window_role, key=self.key,
            log_group=self.log_group, max_concurrency=window.max_concurrency, max_errors=window.max_errors,
            priority=window.priority, task_timeout=cdk.Duration.minutes(window.task_timeout_minutes),
        )  # fmt: skip
        self.instance_policy = iam.ManagedPolicy(
            self,
            "InstancePolicy",
            description="Lets a Windows instance store its rotated Administrator password and log the run",
            statements=[*self.vault.writer_statements(), *output_log_statements(self.log_group)],
        )
        administrator_roles, administrator_patterns = roles_and_patterns(self, "Administrator", administrators)
        self.administrator_policy = contract_policy(
            self,
            "AdministratorPolicy",
            f"PasswordAdministrator-{id}",
            regional=True,
            description="Lets a password administrator read rotated Windows Administrator passwords",
            statements=[*self.vault.reader_statements(), *self.no_retagging_statements()],
            roles=administrator_roles,
        )
        for role in administrator_roles:  # named readers (their IAM changes are alerted), then permission sets
            self.vault.allow_reader(role)
        self.vault.allow_reader_patterns(administrator_patterns)
        create_failure_alerts(self, self.window, self.alert_topic)
        self.freshness_function = create_freshness_report(
            self, tag_filters=self.tag_filters, max_password_age=cdk.Duration.days(window.max_password_age_days),
            window=self.window, max_concurrency=window.max_concurrency, alert_topic=self.alert_topic,
        )  # fmt: skip
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
            (report_policy, "*", "ec2:DescribeInstances, ssm:DescribeParameters, ListCommandInvocations and the "
             "window run's task and invocation listings have no resource-level permissions; they return metadata "
             "(tags, dates, statuses), never a password."),
        ]  # fmt: skip
        for policy, resource, reason in reviewed:
            acknowledge_wildcard_resource(policy, resource, reason)
        acknowledge_wildcard_action(
            report_policy,
            "kms:GenerateDataKey*",
            "Granted by topic.grant_publish on the alert topic's own key: SNS needs a data key to encrypt the report.",
        )
