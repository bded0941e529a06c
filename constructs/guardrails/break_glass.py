"""BreakGlass: on-demand emergency root/Administrator password for Linux and Windows nodes.

An operator runs the construct's Command document against a managed node. The node sets a new
random password for ``root`` (Linux) or the built-in Administrator (Windows), stores it as a
SecureString ``<prefix>/pwd-<instance-id>`` under a dedicated KMS key, and the parameter is deleted
after a short TTL by two independent paths:

* the per-instance Run Command status event starts a state machine that waits the TTL and then
  deletes the parameter if it is at least TTL old (a newer run on the same node is left alone);
* a scheduled sweeper (every minute by default) deletes every break-glass parameter older than the
  TTL, so a password outlives its TTL by at most about a minute (one sweep interval plus one run)
  when the event path fails.

A parameter last written by anyone but its own node is deleted at once by either path, with an
alert to the audit topic. The key admits only the operators (and readers granted later) to decrypt,
and nobody to create grants; every PutKeyPolicy, CreateGrant and ScheduleKeyDeletion on it is
notified to the audit topic (see ``PasswordVault``).

Optionally the state machine runs the document again after ``reset_after`` so that the revealed
password stops working (like Windows LAPS post-authentication reset).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from guardrails._documents import load_document, pin_parameter
from guardrails._nag import acknowledge_grant, acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails._validation import (
    DOCUMENT_NAME,
    PropsError,
    check_kms_alias,
    check_not_empty,
    check_parameter_path,
    check_pattern,
    check_range,
)
from guardrails.encrypted_topic import EncryptedTopic
from guardrails.guardrail_function import GuardrailFunction
from guardrails.password_vault import PasswordVault

TTL_RANGE_SECONDS = (10, 3600)
PASSWORD_LENGTH_RANGE = (14, 128)
RESET_AFTER_RANGE_HOURS = (1, 168)
SWEEP_INTERVAL_RANGE_MINUTES = (1, 60)

#: Comment the state machine puts on the commands it sends itself, so that the automatic reset
#: does not schedule another reset.
AUTOMATIC_RESET_COMMENT = "SSM Guardrails automatic break-glass reset"

#: Run Command invocation statuses that are not final; every other status ends an invocation.
_NON_TERMINAL_STATUSES = ["Pending", "InProgress", "Delayed", "Cancelling"]

#: State machine paths into the Run Command status event. Its keys have hyphens, and Step Functions
#: requires bracket notation for any name with characters other than letters, digits and ``_``
#: (https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html); inside
#: ``States.Array(...)`` the dotted form was read as ``$.detail.instance`` (issue 16).
_INSTANCE_ID_PATH = "$.detail['instance-id']"
_COMMAND_ID_PATH = "$.detail['command-id']"


class BreakGlass(Construct):
    """Emergency root/Administrator access on demand, with a password readable only for a short time.

    :param operators: roles that may run break-glass and read the password. They get a managed
        policy (``operator_policy``) and are the only principals the key policy lets decrypt.
        At least one.
    :param ttl: how long the password stays in Parameter Store after the command ends.
        10 seconds to 1 hour. Default: 60 seconds.
    :param password_length: default length of generated passwords (operators may choose another
        length from 14 to 128 when they run the document). Default: 24.
    :param parameter_prefix: Parameter Store path of the passwords; each is ``<prefix>/pwd-<id>``.
        Default: ``/BreakGlass``.
    :param reset_after: run the document again this long after a successful break-glass run, so the
        revealed password stops working; ``Duration.seconds(0)`` disables it. 1 to 168 hours.
        Default: 8 hours.
    :param sweep_interval: how often the sweeper deletes expired passwords; this bounds how long a
        password can outlive its TTL if the event path fails. 1 to 60 minutes. Default: 1 minute.
    :param document_name: name of the Command document operators run (a contract: operators type
        it). Default: ``SsmGuardrails-BreakGlass``.
    :param key: bring your own KMS key; its policy is then yours to scope (see README). Default: a
        dedicated key with rotation on, retained on stack deletion.
    :param key_alias: alias of the created key. Default: ``alias/ssm-guardrails/break-glass``.
    :param key_admins: principals that administer (never use) the created key. Default: the
        account root, i.e. IAM policies in this account decide.
    :param audit_topic: SNS topic for audit notifications, clean-up alarms and alerts (a password
        written by another principal, a change to the key). Default: a new topic encrypted with a
        new KMS key. The clean-up function may publish to it (and use its key, for a topic created
        with ``master_key``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        operators: Sequence[iam.IRole],
        ttl: cdk.Duration | None = None,
        password_length: int = 24,
        parameter_prefix: str = "/BreakGlass",
        reset_after: cdk.Duration | None = None,
        sweep_interval: cdk.Duration | None = None,
        document_name: str = "SsmGuardrails-BreakGlass",
        key: kms.IKey | None = None,
        key_alias: str = "alias/ssm-guardrails/break-glass",
        key_admins: Sequence[iam.IPrincipal] | None = None,
        audit_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        ttl = ttl or cdk.Duration.seconds(60)
        reset_after = cdk.Duration.hours(8) if reset_after is None else reset_after
        sweep_interval = sweep_interval or cdk.Duration.minutes(1)
        _validate(
            operators,
            ttl,
            password_length,
            parameter_prefix,
            reset_after,
            sweep_interval,
            document_name,
            key_alias,
        )
        self.ttl = ttl
        self.parameter_prefix = parameter_prefix
        self.document_name = document_name
        stack = cdk.Stack.of(self)
        self.vault = PasswordVault(
            self,
            "Vault",
            parameter_name_pattern=f"{parameter_prefix[1:]}/pwd-*",
            description="SSM Guardrails break-glass passwords",
            key=key,
            key_alias=key_alias,
            key_admins=key_admins,
        )
        self.key = self.vault.key
        self.parameter_arn_pattern = self.vault.parameter_arn_pattern
        self.document = self._create_document(password_length)
        self.document_arn = stack.format_arn(service="ssm", resource="document", resource_name=document_name)
        self.instance_policy = iam.ManagedPolicy(
            self,
            "InstancePolicy",
            description="Lets a managed node store its own break-glass password (write only, no read).",
            statements=self.vault.writer_statements(),
        )
        self.operator_policy = iam.ManagedPolicy(
            self,
            "OperatorPolicy",
            description="Lets a break-glass operator run the document and read the password before it expires.",
            statements=[*self._start_statements(), *self.vault.reader_statements()],
            roles=list(operators),
        )
        for role in operators:
            self.vault.allow_reader(role)

        self.audit_topic = audit_topic or EncryptedTopic(self, "Audit", description="break-glass audit").topic
        self.key_changed_rule = self.vault.notify_key_changes(self.audit_topic)
        self.cleanup_function = self._create_cleanup_function()
        self.state_machine = self._create_state_machine(reset_after)
        self._create_rules(sweep_interval)
        self._create_alarms()
        self._acknowledge_reviewed_wildcards()

    def _acknowledge_reviewed_wildcards(self) -> None:
        """Each wildcard below was reviewed; the reason is what a security reviewer reads."""
        password_names = self.parameter_arn_pattern
        instances, managed_instances = self._node_arns()
        cleanup_policy = self.cleanup_function.role.node.find_child("DefaultPolicy")
        state_machine_policy = self.state_machine.role.node.find_child("DefaultPolicy")
        reviewed = [
            (
                self.instance_policy,
                password_names,
                "Write-only (PutParameter) to break-glass names under the prefix: IAM offers no policy "
                "variable for the caller's instance id in an SSM parameter ARN. No read, no decrypt.",
            ),
            (
                self.operator_policy,
                password_names,
                "Operators read break-glass passwords only (<prefix>/pwd-*), decryptable via SSM only.",
            ),
            (
                self.operator_policy,
                instances,
                "Break-glass must reach any EC2 node of the account; SendCommand is tied to this document.",
            ),
            (
                self.operator_policy,
                managed_instances,
                "Break-glass must reach any hybrid (mi-) node; SendCommand is tied to this document.",
            ),
            (
                self.operator_policy,
                "*",
                "ssm:ListCommands, ListCommandInvocations and GetCommandInvocation have no resource-level "
                "permissions; they show command status, never a password.",
            ),
            (cleanup_policy, password_names, "The clean-up deletes break-glass passwords under the prefix only."),
            (
                cleanup_policy,
                "*",
                "ssm:DescribeParameters has no resource-level permissions; it returns "
                "metadata (name, modification time), never a value.",
            ),
            (
                state_machine_policy,
                instances,
                "The automatic reset re-runs this document on the EC2 node that ran break-glass.",
            ),
            (
                state_machine_policy,
                managed_instances,
                "The automatic reset re-runs this document on the hybrid node that ran break-glass.",
            ),
            (
                state_machine_policy,
                "*",
                "X-Ray, CloudWatch Logs delivery and ssm:ListCommands have no "
                "resource-level permissions (statements generated by CDK for tracing and logging).",
            ),
            (
                state_machine_policy,
                f"{self.cleanup_function.function.function_arn}:*",
                "Generated by CDK: invoke the clean-up function's versions and aliases.",
            ),
        ]
        for policy, resource, reason in reviewed:
            acknowledge_wildcard_resource(policy, resource, reason)
        acknowledge_wildcard_action(
            cleanup_policy,
            "kms:GenerateDataKey*",
            "Granted by topic.grant_publish on the audit topic's own key: SNS needs a data key to accept the alert.",
        )

    # ----------------------------------------------------------------------------- public API

    def attach_to_instance_role(self, role: iam.IRole) -> None:
        """Let the nodes that use ``role`` store their break-glass password (write only)."""
        self.instance_policy.attach_to_role(role)

    def grant_start_break_glass(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` run the break-glass document on any managed node and follow its status."""
        for statement in self._start_statements():
            if grantee.grant_principal.add_to_principal_policy(statement).statement_added:
                acknowledge_grant(
                    grantee,
                    statement,
                    "Break-glass reaches any node but only with this document; command status calls take no ARN.",
                )

    def grant_read_password(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` read and decrypt break-glass passwords (through Parameter Store only).

        The grantee is also added to the key policy of the created key, which admits no one else.
        """
        self.vault.grant_read(grantee)

    # ----------------------------------------------------------------------------- key and document

    def _create_document(self, password_length: int) -> ssm.CfnDocument:
        content = load_document("break_glass")
        content["parameters"]["PasswordLength"]["default"] = str(password_length)
        pin_parameter(content, "ParameterPrefix", self.parameter_prefix)
        pin_parameter(content, "KmsKeyId", self.key.key_arn)
        return ssm.CfnDocument(
            self,
            "Document",
            name=self.document_name,
            document_type="Command",
            document_format="YAML",
            content=content,
            update_method="NewVersion",
        )

    # ----------------------------------------------------------------------------- IAM statements

    def _node_arns(self) -> list[str]:
        stack = cdk.Stack.of(self)
        return [
            stack.format_arn(service="ec2", resource="instance", resource_name="*"),
            stack.format_arn(service="ssm", resource="managed-instance", resource_name="*"),
        ]

    def _start_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                sid="RunBreakGlassDocument",
                actions=["ssm:SendCommand"],
                resources=[self.document_arn, *self._node_arns()],
            ),
            iam.PolicyStatement(
                sid="FollowBreakGlassCommand",
                actions=["ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:GetCommandInvocation"],
                resources=["*"],
            ),
        ]

    # ----------------------------------------------------------------------------- audit and clean-up

    def _create_cleanup_function(self) -> GuardrailFunction:
        cleanup = GuardrailFunction(
            self,
            "Cleanup",
            handler="break_glass_cleanup",
            description="Deletes break-glass passwords older than their TTL",
            environment={
                "PARAMETER_PREFIX": self.parameter_prefix,
                "TTL_SECONDS": str(int(self.ttl.to_seconds())),
                # alerts for passwords written by another principal than their node (deleted at once)
                "TOPIC_ARN": self.audit_topic.topic_arn,
            },
            alarm_topic=self.audit_topic,
            alarm_on_throttles=True,
        )
        # sns:Publish on this topic only; for a topic with its own key, also GenerateDataKey*/Decrypt
        # on that key (SNS encrypts the message with a data key of the topic's key).
        self.audit_topic.grant_publish(cleanup.role)
        cleanup.role.add_to_policy(
            iam.PolicyStatement(
                sid="DeleteBreakGlassPasswords",
                actions=["ssm:DeleteParameter", "ssm:DeleteParameters"],
                resources=[self.parameter_arn_pattern],
            )
        )
        # DescribeParameters has no resource-level permissions; it returns metadata, never values.
        cleanup.role.add_to_policy(
            iam.PolicyStatement(sid="FindBreakGlassPasswords", actions=["ssm:DescribeParameters"], resources=["*"])
        )
        return cleanup

    def _create_state_machine(self, reset_after: cdk.Duration) -> sfn.StateMachine:
        delete_password = tasks.LambdaInvoke(
            self,
            "DeletePasswordAfterTtl",
            lambda_function=self.cleanup_function.function,
            payload=sfn.TaskInput.from_object({"instance_id": sfn.JsonPath.string_at(_INSTANCE_ID_PATH)}),
            result_path="$.cleanup",
            payload_response_only=True,
        )
        delete_password.add_retry(
            errors=["States.ALL"], interval=cdk.Duration.seconds(2), max_attempts=6, backoff_rate=2
        )
        definition = sfn.Wait(self, "WaitForTtl", time=sfn.WaitTime.duration(self.ttl)).next(delete_password)
        if reset_after.to_seconds() > 0:
            definition = definition.next(self._reset_states(reset_after))
        log_group = logs.LogGroup(
            self, "StateMachineLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        state_machine = sfn.StateMachine(
            self,
            "CleanupStateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=self.ttl.plus(reset_after).plus(cdk.Duration.hours(1)),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        return state_machine

    def _reset_states(self, reset_after: cdk.Duration) -> sfn.IChainable:
        """After a successful operator run, wait and run the document again (never after a reset)."""
        look_up_command = tasks.CallAwsService(
            self,
            "LookUpCommand",
            service="ssm",
            action="listCommands",
            parameters={"CommandId": sfn.JsonPath.string_at(_COMMAND_ID_PATH)},
            iam_resources=["*"],
            iam_action="ssm:ListCommands",
            result_selector={"commands": sfn.JsonPath.list_at("$.Commands")},
            result_path="$.command",
        )
        reset = tasks.CallAwsService(
            self,
            "ResetPasswordAgain",
            service="ssm",
            action="sendCommand",
            parameters={
                "DocumentName": self.document_name,
                "InstanceIds": sfn.JsonPath.array(sfn.JsonPath.string_at(_INSTANCE_ID_PATH)),
                "Comment": AUTOMATIC_RESET_COMMENT,
            },
            iam_resources=[self.document_arn, *self._node_arns()],
            iam_action="ssm:SendCommand",
            result_selector={"command_id": sfn.JsonPath.string_at("$.Command.CommandId")},
            result_path="$.reset",
        )
        reset.add_retry(errors=["States.ALL"], interval=cdk.Duration.seconds(30), max_attempts=5, backoff_rate=2)
        was_automatic_reset = sfn.Condition.and_(
            sfn.Condition.is_present("$.command.commands[0].Comment"),
            sfn.Condition.string_equals("$.command.commands[0].Comment", AUTOMATIC_RESET_COMMENT),
        )
        decide = (
            sfn.Choice(self, "ResetNeeded")
            .when(was_automatic_reset, sfn.Succeed(self, "AutomaticResetCleanedUp"))
            .when(
                sfn.Condition.string_equals("$.detail.status", "Success"),
                sfn.Wait(self, "WaitBeforeReset", time=sfn.WaitTime.duration(reset_after)).next(reset),
            )
            .otherwise(sfn.Succeed(self, "NothingToReset"))
        )
        return look_up_command.next(decide)

    def _create_rules(self, sweep_interval: cdk.Duration) -> None:
        detail = events.EventField.from_path
        self.command_finished_rule = events.Rule(
            self,
            "CommandFinishedRule",
            description="A break-glass command ended on a node: schedule the clean-up and notify",
            event_pattern=events.EventPattern(
                source=["aws.ssm"],
                detail_type=["EC2 Command Invocation Status-change Notification"],
                detail={
                    "document-name": [self.document_name],
                    "status": [{"anything-but": _NON_TERMINAL_STATUSES}],
                },
            ),
        )
        self.command_finished_rule.add_target(targets.SfnStateMachine(self.state_machine, retry_attempts=20))
        self.command_finished_rule.add_target(
            targets.SnsTopic(
                self.audit_topic,
                message=events.RuleTargetInput.from_text(
                    f"Break-glass command {detail('$.detail.command-id')} on node {detail('$.detail.instance-id')} "
                    f"ended with status {detail('$.detail.status')}; its password is deleted after "
                    f"{int(self.ttl.to_seconds())} seconds."
                ),
            )
        )
        started_rule = events.Rule(
            self,
            "CommandStartedRule",
            description="Someone started break-glass (CloudTrail SendCommand): notify who and where",
            event_pattern=events.EventPattern(
                source=["aws.ssm"],
                detail_type=["AWS API Call via CloudTrail"],
                detail={
                    "eventSource": ["ssm.amazonaws.com"],
                    "eventName": ["SendCommand"],
                    "requestParameters": {
                        "documentName": [self.document_name, {"suffix": f":document/{self.document_name}"}]
                    },
                },
            ),
        )
        started_rule.add_target(
            targets.SnsTopic(
                self.audit_topic,
                message=events.RuleTargetInput.from_text(
                    f"{detail('$.detail.userIdentity.arn')} started break-glass on "
                    f"{detail('$.detail.requestParameters.instanceIds')} at {detail('$.detail.eventTime')}."
                ),
            )
        )
        sweeper = events.Rule(
            self,
            "SweepRule",
            description="Deletes every break-glass password older than its TTL",
            schedule=events.Schedule.rate(sweep_interval),
        )
        sweeper.add_target(targets.LambdaFunction(self.cleanup_function.function, retry_attempts=2))

    def _create_alarms(self) -> None:
        failed_cleanups = cloudwatch.MathExpression(
            expression="failed + timedOut + aborted",
            using_metrics={
                "failed": self.state_machine.metric_failed(),
                "timedOut": self.state_machine.metric_timed_out(),
                "aborted": self.state_machine.metric_aborted(),
            },
            period=cdk.Duration.minutes(5),
        )
        undelivered_events = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="FailedInvocations",
            dimensions_map={"RuleName": self.command_finished_rule.rule_name},
            statistic="Sum",
            period=cdk.Duration.minutes(5),
        )
        alarms = {
            "CleanupStateMachineFailedAlarm": (failed_cleanups, "A break-glass clean-up execution failed"),
            "CleanupNotStartedAlarm": (undelivered_events, "EventBridge could not start a break-glass clean-up"),
        }
        for alarm_id, (metric, description) in alarms.items():
            alarm = cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.audit_topic))


def _validate(
    operators: Sequence[iam.IRole],
    ttl: cdk.Duration,
    password_length: int,
    parameter_prefix: str,
    reset_after: cdk.Duration,
    sweep_interval: cdk.Duration,
    document_name: str,
    key_alias: str,
) -> None:
    check_not_empty("BreakGlass.operators", operators)
    check_range("BreakGlass.ttl", ttl.to_seconds(), *TTL_RANGE_SECONDS, unit="seconds")
    check_range("BreakGlass.password_length", password_length, *PASSWORD_LENGTH_RANGE, unit="characters")
    check_parameter_path("BreakGlass.parameter_prefix", parameter_prefix)
    if reset_after.to_seconds() != 0:
        check_range(
            "BreakGlass.reset_after",
            reset_after.to_seconds() / 3600,
            *RESET_AFTER_RANGE_HOURS,
            unit="hours (0 disables)",
        )
    check_range(
        "BreakGlass.sweep_interval", sweep_interval.to_seconds() / 60, *SWEEP_INTERVAL_RANGE_MINUTES, unit="minutes"
    )
    check_pattern("BreakGlass.document_name", document_name, DOCUMENT_NAME, "3-128 letters, digits, _ . -")
    if document_name.lower().startswith(("aws", "amazon")):
        raise PropsError("BreakGlass.document_name", document_name, "a name not starting with aws or amazon")
    check_kms_alias("BreakGlass.key_alias", key_alias)
