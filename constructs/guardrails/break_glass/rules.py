"""When break-glass clean-up runs and who hears of it: EventBridge rules and the clean-up alarms.

A command that ends starts the clean-up state machine; a schedule runs the sweep; the audit topic
hears of every start and end, and of every clean-up that failed or could not start. Everything is
created directly in the :class:`guardrails.BreakGlass` scope, so the logical ids stay those of
deployed stacks.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from guardrails.shared.guardrail_function import GuardrailFunction, watch_missed_runs

#: Run Command invocation statuses that are not final; every other status ends an invocation.
_NON_TERMINAL_STATUSES = ["Pending", "InProgress", "Delayed", "Cancelling"]


def create_rules(
    scope: Construct,
    *,
    document_names: list[str],
    ttl: cdk.Duration,
    sweep_interval: cdk.Duration,
    state_machine: sfn.StateMachine,
    cleanup_function: GuardrailFunction,
    audit_topic: sns.ITopic,
) -> tuple[events.Rule, events.Rule, events.Rule]:
    """The command-finished, command-started and sweep rules, for the operators' and the reset document."""
    detail = events.EventField.from_path
    command_finished_rule = events.Rule(
        scope,
        "CommandFinishedRule",
        description="A break-glass command ended on a node: schedule the clean-up and notify",
        event_pattern=events.EventPattern(
            source=["aws.ssm"],
            detail_type=["EC2 Command Invocation Status-change Notification"],
            detail={
                "document-name": list(document_names),
                "status": [{"anything-but": _NON_TERMINAL_STATUSES}],
            },
        ),
    )
    command_finished_rule.add_target(targets.SfnStateMachine(state_machine, retry_attempts=20))
    command_finished_rule.add_target(
        targets.SnsTopic(
            audit_topic,
            message=events.RuleTargetInput.from_text(
                f"Break-glass command {detail('$.detail.command-id')} on node {detail('$.detail.instance-id')} "
                f"ended with status {detail('$.detail.status')}; its password is deleted after "
                f"{int(ttl.to_seconds())} seconds."
            ),
        )
    )
    started_rule = events.Rule(
        scope,
        "CommandStartedRule",
        description="Someone started break-glass (CloudTrail SendCommand): notify who and where",
        event_pattern=events.EventPattern(
            source=["aws.ssm"],
            detail_type=["AWS API Call via CloudTrail"],
            detail={
                "eventSource": ["ssm.amazonaws.com"],
                "eventName": ["SendCommand"],
                "requestParameters": {
                    "documentName": [
                        *document_names,
                        *({"suffix": f":document/{name}"} for name in document_names),
                    ]
                },
            },
        ),
    )
    started_rule.add_target(
        targets.SnsTopic(
            audit_topic,
            message=events.RuleTargetInput.from_text(
                f"{detail('$.detail.userIdentity.arn')} started "
                f"{detail('$.detail.requestParameters.documentName')} on "
                f"{detail('$.detail.requestParameters.instanceIds')} at {detail('$.detail.eventTime')} "
                f"with the reason: {detail('$.detail.requestParameters.comment')}"
            ),
        )
    )
    sweeper = events.Rule(
        scope,
        "SweepRule",
        description="Deletes every break-glass password older than its TTL",
        schedule=events.Schedule.rate(sweep_interval),
    )
    sweeper.add_target(targets.LambdaFunction(cleanup_function.function, retry_attempts=2))
    return command_finished_rule, started_rule, sweeper


def create_alarms(
    scope: Construct,
    *,
    state_machine: sfn.StateMachine,
    command_finished_rule: events.Rule,
    sweep_rule: events.Rule,
    sweep_interval: cdk.Duration,
    audit_topic: sns.ITopic,
) -> None:
    """Alarm to the audit topic when a clean-up execution fails, EventBridge cannot start one, or the
    sweep stopped running (a disabled or deleted rule, for example).

    The sweep is watched on its rule's own ``Invocations`` (AWS/Events, dimension RuleName: "the
    number of times a target is invoked by a rule in response to an event":
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html), not on the clean-up
    function's, which the state machine also invokes.
    """
    watch_missed_runs(
        scope,
        "SweepNotRunAlarm",
        lambda **options: cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="Invocations",
            dimensions_map={"RuleName": sweep_rule.rule_name},
            **options,
        ),
        audit_topic,
        "the break-glass sweep (expired passwords are deleted only by the per-command clean-up meanwhile)",
        sweep_interval,
    )
    failed_cleanups = cloudwatch.MathExpression(
        expression="failed + timedOut + aborted",
        using_metrics={
            "failed": state_machine.metric_failed(),
            "timedOut": state_machine.metric_timed_out(),
            "aborted": state_machine.metric_aborted(),
        },
        period=cdk.Duration.minutes(5),
    )
    undelivered_events = cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name="FailedInvocations",
        dimensions_map={"RuleName": command_finished_rule.rule_name},
        statistic="Sum",
        period=cdk.Duration.minutes(5),
    )
    alarms = {
        "CleanupStateMachineFailedAlarm": (failed_cleanups, "A break-glass clean-up execution failed"),
        "CleanupNotStartedAlarm": (undelivered_events, "EventBridge could not start a break-glass clean-up"),
    }
    for alarm_id, (metric, description) in alarms.items():
        alarm = cloudwatch.Alarm(
            scope,
            alarm_id,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(audit_topic))
