"""GuardrailFunction: the one way this project ships a Lambda handler."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.shared.validation import PropsError

LAMBDAS_DIR = Path(__file__).resolve().parents[3] / "lambdas"
#: A scheduled job is late when it has not started for its interval plus a margin (a daily job: 26
#: hours; a job every few minutes: its interval plus 15 minutes), so a run delayed by retries or a
#: schedule drifting by minutes raises nothing. Jobs scheduled hourly or less often are counted per
#: hour, more frequent ones per 5 minutes. PutMetricAlarm: "Period multiplied by EvaluationPeriods
#: can't be more than 604,800 seconds. For alarms with a period of less than one hour (3,600
#: seconds), the total evaluation period can't be longer than one day":
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
MISSED_RUN_MARGIN = cdk.Duration.hours(2)
MISSED_RUN_PERIOD = cdk.Duration.hours(1)
FREQUENT_MISSED_RUN_MARGIN = cdk.Duration.minutes(15)
FREQUENT_MISSED_RUN_PERIOD = cdk.Duration.minutes(5)
MAX_EVALUATION_RANGE = cdk.Duration.days(7)
#: Errors and throttles are counted per 5 minutes; one is enough to alarm.
FAILURE_PERIOD = cdk.Duration.minutes(5)


class GuardrailFunction(Construct):
    """A Python Lambda function from ``lambdas/<handler>/index.py`` with its own role and log group.

    The role starts empty (no ``AWSLambdaBasicExecutionRole`` managed policy): it may write only
    to the function's own log group, and callers grant the rest. Handlers import boto3 and the
    standard library only, so the asset is the folder as it is (no bundling, no Docker).

    :param handler: folder name under ``lambdas/``.
    :param description: shown in the Lambda console.
    :param environment: environment variables. Default: none.
    :param timeout: Default: 1 minute.
    :param log_retention: retention of the function's log group. Default: one year. The log
        group is retained when the stack is deleted (it is audit evidence).
    :param alarm_topic: where the function's alarms notify: an ``Errors`` alarm (one failed
        invocation in 5 minutes) always, and the two below when asked for. Default: no alarms.
    :param alarm_on_throttles: also alarm on one ``Throttles`` in 5 minutes (a throttled
        invocation is not counted in ``Errors``). Default: false.
    :param runs_every: the function is started on this schedule: notify when it has not been
        invoked for this interval plus a margin, once it has run at least once (see
        ``watch_missed_runs``). At most 7 days minus the margin. Default: no such alarm.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        description: str,
        environment: Mapping[str, str] | None = None,
        timeout: cdk.Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        alarm_topic: sns.ITopic | None = None,
        alarm_on_throttles: bool = False,
        runs_every: cdk.Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {handler} handler of SSM Guardrails",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR / handler), exclude=["__pycache__", "*.pyc"]),
            description=description,
            environment=dict(environment or {}),
            timeout=timeout or cdk.Duration.minutes(1),
            memory_size=256,
            role=self.role,
            log_group=self.log_group,
        )
        self.log_group.grant_write(self.role)
        self.alarms: list[cloudwatch.Alarm] = []
        if alarm_topic is not None:
            self.alarms.append(watch_errors(self, "ErrorsAlarm", self.function, alarm_topic, description))
            if alarm_on_throttles:
                self.alarms.append(watch_throttles(self, "ThrottlesAlarm", self.function, alarm_topic, description))
            if runs_every is not None:
                self.alarms.append(
                    watch_missed_runs(
                        self, "NotRunAlarm", self.function.metric_invocations, alarm_topic, description, runs_every
                    )
                )
        elif alarm_on_throttles or runs_every is not None:
            raise PropsError(
                f"GuardrailFunction {id}.alarm_topic", None, "a topic when alarm_on_throttles or runs_every is set"
            )


def watch_errors(
    scope: Construct, id: str, function: lambda_.IFunction, topic: sns.ITopic, description: str
) -> cloudwatch.Alarm:
    """Alarm on one failed invocation in 5 minutes (``AWS/Lambda`` ``Errors``, sum)."""
    return _watch_sum(scope, id, function.metric_errors, topic, f"Failed: {description}")


def watch_throttles(
    scope: Construct, id: str, function: lambda_.IFunction, topic: sns.ITopic, description: str
) -> cloudwatch.Alarm:
    """Alarm on one throttled invocation in 5 minutes (``AWS/Lambda`` ``Throttles``, sum)."""
    return _watch_sum(scope, id, function.metric_throttles, topic, f"Throttled (did not run): {description}")


def _watch_sum(
    scope: Construct, id: str, metric: Callable[..., cloudwatch.Metric], topic: sns.ITopic, description: str
) -> cloudwatch.Alarm:
    """Alarm when the 5-minute sum of ``metric`` is at least one; no data means nothing happened."""
    return _alarm(
        scope, id, metric(period=FAILURE_PERIOD, statistic="Sum"), topic,
        description=description,
        comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing=cloudwatch.TreatMissingData.NOT_BREACHING,
    )  # fmt: skip


def watch_missed_runs(
    scope: Construct,
    id: str,
    invocations: Callable[..., cloudwatch.Metric],
    topic: sns.ITopic,
    description: str,
    runs_every: cdk.Duration,
) -> cloudwatch.Alarm:
    """Notify when ``invocations`` (a count published only when something ran, such as Lambda
    ``Invocations`` or EventBridge rule ``Invocations``) had no data point for ``runs_every`` plus a margin.

    Missing data is treated as *missing*: "If all data points in the alarm evaluation range are
    missing, the alarm transitions to INSUFFICIENT_DATA"
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data),
    and that transition notifies ``topic``. A new alarm starts in INSUFFICIENT_DATA ("The alarm has
    just started") and actions run only on a change of state, so a fresh deploy raises nothing before
    the first scheduled run (issue 23 item 15); the first run moves the alarm to OK, and a job that
    stops afterwards moves it back to INSUFFICIENT_DATA, which notifies. The price: a job that never
    runs at all after its first deploy is not reported (the README says to check the first run).
    """
    frequent = runs_every.to_seconds() < MISSED_RUN_PERIOD.to_seconds()
    period = FREQUENT_MISSED_RUN_PERIOD if frequent else MISSED_RUN_PERIOD
    margin = FREQUENT_MISSED_RUN_MARGIN if frequent else MISSED_RUN_MARGIN
    periods = math.ceil(runs_every.plus(margin).to_seconds() / period.to_seconds())
    if periods * period.to_seconds() > MAX_EVALUATION_RANGE.to_seconds():
        limit = int(MAX_EVALUATION_RANGE.minus(MISSED_RUN_MARGIN).to_hours())
        raise PropsError(
            f"{id}.runs_every",
            runs_every.to_human_string(),
            f"at most {limit} hours (CloudWatch "
            "evaluates an alarm over 7 days at most, and 2 hours are added as a margin)",
        )
    window = cdk.Duration.seconds(periods * period.to_seconds()).to_human_string()
    alarm = _alarm(
        scope, id, invocations(period=period, statistic="Sum"), topic,
        description=f"Did not run for {window}: {description}",
        comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        missing=cloudwatch.TreatMissingData.MISSING,
        evaluation_periods=periods,
    )  # fmt: skip
    alarm.add_insufficient_data_action(cloudwatch_actions.SnsAction(topic))
    return alarm


def _alarm(
    scope: Construct,
    id: str,
    metric: cloudwatch.IMetric,
    topic: sns.ITopic,
    *,
    description: str,
    comparison: cloudwatch.ComparisonOperator,
    missing: cloudwatch.TreatMissingData,
    evaluation_periods: int = 1,
) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(
        scope,
        id,
        metric=metric,
        threshold=1,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=evaluation_periods,
        comparison_operator=comparison,
        treat_missing_data=missing,
        alarm_description=description[:1024],
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    return alarm
