"""Every background job is watched (issue 13 item 7): an Errors alarm on every Lambda function of
the member templates, a Throttles alarm on the break-glass clean-up, alarms on the clean-up state
machine, and a "did not run" alarm on every job started once a day; every alarm notifies a topic.

CloudWatch facts relied on:
- A period of one hour or more may be evaluated over at most 7 days ("Period multiplied by
  EvaluationPeriods can't be more than 604,800 seconds"):
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
- An hour in which a function was not invoked has no Invocations data point. With TreatMissingData
  "missing", "if all data points in the alarm evaluation range are missing, the alarm transitions to
  INSUFFICIENT_DATA"; a new alarm starts in INSUFFICIENT_DATA, and actions run on state changes only.
  So the did-not-run alarms notify on INSUFFICIENT_DATA: silent on a fresh deploy before the first
  scheduled run (issue 23 item 15), notified once a job that ran stops for 26 hours:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data
- Throttled invocations are counted in Throttles, not in Errors:
  https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_helpers import SynthesizedApp, new_app, resources_of

from guardrails import GuardrailFunction, PropsError
from stacks.build import MEMBER_REGIONAL_STACK_NAME

DAILY = re.compile(r"rate\((\d+) days?\)")


def _member_templates(example_app: SynthesizedApp) -> dict[str, dict[str, Any]]:
    return {
        name: example_app.template_json(name)
        for name in example_app.stack_names
        if "Member" in name and resources_of(example_app.template_json(name), "AWS::Lambda::Function")
    }


def _alarms_on(template: dict[str, Any], dimension: str, logical_id: str) -> dict[str, dict[str, Any]]:
    """Alarms by metric name, for the resource ``logical_id`` (dimension FunctionName, StateMachineArn...)."""
    found = {}
    for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        for d in properties.get("Dimensions", []):
            if d["Name"] == dimension and d["Value"] == {"Ref": logical_id}:
                found[properties["MetricName"]] = properties
        for metric in properties.get("Metrics", []):
            stat = metric.get("MetricStat", {}).get("Metric", {})
            if {"Name": dimension, "Value": {"Ref": logical_id}} in stat.get("Dimensions", []):
                found[stat["MetricName"]] = properties
    return found


def _notifies_a_topic(template: dict[str, Any], alarm: dict[str, Any]) -> bool:
    topics = set(resources_of(template, "AWS::SNS::Topic"))
    actions = alarm.get("AlarmActions", [])
    return bool(actions) and all(a.get("Ref") in topics for a in actions)


def test_every_lambda_function_of_every_member_template_has_an_errors_alarm(example_app: SynthesizedApp) -> None:
    templates = _member_templates(example_app)
    assert MEMBER_REGIONAL_STACK_NAME in templates
    for name, template in templates.items():
        for logical_id in resources_of(template, "AWS::Lambda::Function"):
            errors = _alarms_on(template, "FunctionName", logical_id).get("Errors")
            assert errors is not None, f"{name}: {logical_id} has no Errors alarm"
            assert errors["Namespace"] == "AWS/Lambda"
            assert (errors["ComparisonOperator"], errors["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
            assert _notifies_a_topic(template, errors), f"{name}: the Errors alarm of {logical_id} notifies no topic"


def test_break_glass_cleanup_alarms_on_throttles_and_failed_executions(example_app: SynthesizedApp) -> None:
    template = example_app.template_json(MEMBER_REGIONAL_STACK_NAME)
    [cleanup] = [
        i for i in resources_of(template, "AWS::Lambda::Function") if i.startswith("BreakGlassCleanupFunction")
    ]
    throttles = _alarms_on(template, "FunctionName", cleanup)["Throttles"]
    assert (throttles["ComparisonOperator"], throttles["Threshold"], throttles["Period"]) == (
        "GreaterThanOrEqualToThreshold", 1, 300,
    )  # fmt: skip
    assert _notifies_a_topic(template, throttles)
    [machine] = resources_of(template, "AWS::StepFunctions::StateMachine")
    watched = _alarms_on(template, "StateMachineArn", machine)
    assert {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} <= set(watched)
    assert all(_notifies_a_topic(template, alarm) for alarm in watched.values())


def test_every_daily_job_has_a_did_not_run_alarm(example_app: SynthesizedApp) -> None:
    daily_jobs = 0
    for name, template in _member_templates(example_app).items():
        for rule in resources_of(template, "AWS::Events::Rule").values():
            days = DAILY.fullmatch(rule["Properties"].get("ScheduleExpression", ""))
            if not days:
                continue
            for target in rule["Properties"]["Targets"]:
                function = target["Arn"]["Fn::GetAtt"][0]
                missed = _alarms_on(template, "FunctionName", function).get("Invocations")
                assert missed is not None, f"{name}: daily job {function} has no did-not-run alarm"
                hours = int(days[1]) * 24 + 2
                assert (missed["Period"], missed["EvaluationPeriods"], missed["DatapointsToAlarm"]) == (
                    3600,
                    hours,
                    hours,
                )
                assert (missed["Statistic"], missed["ComparisonOperator"], missed["Threshold"]) == (
                    "Sum", "LessThanThreshold", 1,
                )  # fmt: skip
                # No ALARM on a fresh deploy (no data yet); INSUFFICIENT_DATA after a job stops notifies.
                assert missed["TreatMissingData"] == "missing"
                assert missed["InsufficientDataActions"] == missed["AlarmActions"]
                assert missed["Period"] * missed["EvaluationPeriods"] <= 604_800
                assert _notifies_a_topic(template, missed)
                daily_jobs += 1
    assert daily_jobs >= 2  # the freshness report and the preferences reconcile


def test_throttle_and_missed_run_alarms_need_a_topic(tmp_path: Path) -> None:
    stack = cdk.Stack(new_app(tmp_path), "Alarms")
    with pytest.raises(PropsError, match=r"Job\.alarm_topic: got None; allowed: a topic when"):
        GuardrailFunction(stack, "Job", handler="session_prefs", description="d", runs_every=cdk.Duration.days(1))


def test_a_missed_run_window_longer_than_cloudwatch_evaluates_fails_at_synth(tmp_path: Path) -> None:
    stack = cdk.Stack(new_app(tmp_path), "Alarms")
    topic = cdk.aws_sns.Topic(stack, "Topic")
    GuardrailFunction(
        stack, "Weekly", handler="session_prefs", description="d", alarm_topic=topic, runs_every=cdk.Duration.hours(166)
    )
    with pytest.raises(PropsError, match=r"runs_every: got '7 days'; allowed: at most 166 hours") as caught:
        GuardrailFunction(
            stack, "Job", handler="session_prefs", description="d", alarm_topic=topic, runs_every=cdk.Duration.days(7)
        )
    assert "\n" not in str(caught.value)


def test_a_healthy_fresh_deploy_raises_no_alarm(example_app: SynthesizedApp) -> None:
    """Issue 23 item 15: before any data exists, an alarm treating missing data as breaching goes to
    ALARM at once (and notifies); none may. Errors-like alarms treat it as not breaching, did-not-run
    alarms as missing (a new alarm starts in INSUFFICIENT_DATA, and actions run on state changes only:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html)."""
    checked = 0
    for name in example_app.stack_names:
        for logical_id, alarm in resources_of(example_app.template_json(name), "AWS::CloudWatch::Alarm").items():
            properties = alarm["Properties"]
            assert properties.get("TreatMissingData", "missing") != "breaching", f"{name}: {logical_id}"
            if properties["ComparisonOperator"] == "LessThanThreshold":  # a did-not-run alarm
                assert properties["TreatMissingData"] == "missing", f"{name}: {logical_id}"
                assert properties["InsufficientDataActions"], f"{name}: {logical_id} would never notify"
            checked += 1
    assert checked >= 10
