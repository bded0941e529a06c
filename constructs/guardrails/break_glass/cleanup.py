"""How a break-glass password is deleted after its TTL: clean-up function, state machine, rules, alarms.

Two independent paths delete the parameter (see :mod:`guardrails.break_glass.construct`): the Run Command
status event starts a state machine that waits the TTL, and a scheduled sweep deletes whatever
is older than the TTL. Both run the same clean-up function (``lambdas/break_glass_cleanup``).
Everything is created directly in the :class:`guardrails.BreakGlass` scope, so the logical ids
stay those of deployed stacks.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from guardrails.break_glass.document import node_arns
from guardrails.shared.guardrail_function import GuardrailFunction

#: State machine paths into the Run Command status event. Its keys have hyphens, and Step Functions
#: requires bracket notation for any name with characters other than letters, digits and ``_``
#: (https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html); inside
#: ``States.Array(...)`` the dotted form was read as ``$.detail.instance`` (issue 16).
_INSTANCE_ID_PATH = "$.detail['instance-id']"
_DOCUMENT_NAME_PATH = "$.detail['document-name']"


def create_cleanup_function(
    scope: Construct, *, parameter_prefix: str, parameter_arn_pattern: str, ttl: cdk.Duration, audit_topic: sns.ITopic
) -> GuardrailFunction:
    """The function both paths run: it deletes break-glass passwords older than the TTL."""
    cleanup = GuardrailFunction(
        scope,
        "Cleanup",
        handler="break_glass_cleanup",
        description="Deletes break-glass passwords older than their TTL",
        environment={
            "PARAMETER_PREFIX": parameter_prefix,
            "TTL_SECONDS": str(int(ttl.to_seconds())),
            # alerts for passwords written by another principal than their node (deleted at once)
            "TOPIC_ARN": audit_topic.topic_arn,
        },
        alarm_topic=audit_topic,
        alarm_on_throttles=True,
    )
    # sns:Publish on this topic only; for a topic with its own key, also GenerateDataKey*/Decrypt
    # on that key (SNS encrypts the message with a data key of the topic's key).
    audit_topic.grant_publish(cleanup.role)
    cleanup.role.add_to_policy(
        iam.PolicyStatement(
            sid="DeleteBreakGlassPasswords",
            actions=["ssm:DeleteParameter", "ssm:DeleteParameters"],
            resources=[parameter_arn_pattern],
        )
    )
    # DescribeParameters has no resource-level permissions; it returns metadata, never values.
    cleanup.role.add_to_policy(
        iam.PolicyStatement(sid="FindBreakGlassPasswords", actions=["ssm:DescribeParameters"], resources=["*"])
    )
    return cleanup


def create_state_machine(
    scope: Construct,
    *,
    cleanup_function: GuardrailFunction,
    ttl: cdk.Duration,
    reset_after: cdk.Duration,
    reset_document_name: str,
    reset_document_arn: str,
) -> sfn.StateMachine:
    """Wait the TTL, delete the password, then (unless disabled) reset it after ``reset_after``."""
    delete_password = tasks.LambdaInvoke(
        scope,
        "DeletePasswordAfterTtl",
        lambda_function=cleanup_function.function,
        payload=sfn.TaskInput.from_object({"instance_id": sfn.JsonPath.string_at(_INSTANCE_ID_PATH)}),
        result_path="$.cleanup",
        payload_response_only=True,
    )
    delete_password.add_retry(errors=["States.ALL"], interval=cdk.Duration.seconds(2), max_attempts=6, backoff_rate=2)
    definition = sfn.Wait(scope, "WaitForTtl", time=sfn.WaitTime.duration(ttl)).next(delete_password)
    if reset_after.to_seconds() > 0:
        definition = definition.next(_reset_states(scope, reset_after, reset_document_name, reset_document_arn))
    log_group = logs.LogGroup(
        scope, "StateMachineLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=cdk.RemovalPolicy.RETAIN
    )
    return sfn.StateMachine(
        scope,
        "CleanupStateMachine",
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        timeout=ttl.plus(reset_after).plus(cdk.Duration.hours(1)),
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
    )


def _reset_states(
    scope: Construct, reset_after: cdk.Duration, reset_document_name: str, reset_document_arn: str
) -> sfn.IChainable:
    """After a successful operator run, wait and run the reset document (never after a reset).

    A run of the reset document is recognised by its document name in the event: only this state
    machine's role may run that document (operators are denied it), so nobody can make an operator
    run look like a reset, whatever comment they type.
    """
    reset = tasks.CallAwsService(
        scope,
        "ResetPasswordAgain",
        service="ssm",
        action="sendCommand",
        parameters={
            "DocumentName": reset_document_name,
            "InstanceIds": sfn.JsonPath.array(sfn.JsonPath.string_at(_INSTANCE_ID_PATH)),
            "Comment": "SSM Guardrails automatic break-glass reset",
        },
        iam_resources=[reset_document_arn, *node_arns(scope)],
        iam_action="ssm:SendCommand",
        result_selector={"command_id": sfn.JsonPath.string_at("$.Command.CommandId")},
        result_path="$.reset",
    )
    reset.add_retry(errors=["States.ALL"], interval=cdk.Duration.seconds(30), max_attempts=5, backoff_rate=2)
    return (
        sfn.Choice(scope, "ResetNeeded")
        .when(
            sfn.Condition.string_equals(_DOCUMENT_NAME_PATH, reset_document_name),
            sfn.Succeed(scope, "AutomaticResetCleanedUp"),
        )
        .when(
            sfn.Condition.string_equals("$.detail.status", "Success"),
            sfn.Wait(scope, "WaitBeforeReset", time=sfn.WaitTime.duration(reset_after)).next(reset),
        )
        .otherwise(sfn.Succeed(scope, "NothingToReset"))
    )
