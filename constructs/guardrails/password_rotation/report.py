"""What tells the password administrators that a rotation did not happen: failure alerts, freshness report.

The rules alert on every failed window task and every failed EC2Rescue run; the daily freshness
report also names the targeted instances that the window missed (stopped, agent offline).
Everything is created directly in the :class:`guardrails.PasswordRotationWindow` scope, so the
logical ids stay those of deployed stacks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.password_rotation.task import EC2RESCUE_DOCUMENT, PASSWORD_PATH
from guardrails.shared.guardrail_function import GuardrailFunction

_NON_FAILED_COMMAND_STATUSES = ["Success", "Pending", "InProgress", "Delayed", "Cancelling"]


def create_failure_alerts(scope: Construct, window: ssm.CfnMaintenanceWindow, alert_topic: sns.ITopic) -> None:
    """Alert when the window's task fails or times out, and when EC2Rescue fails on an instance."""
    detail = events.EventField.from_path
    events.Rule(
        scope,
        "WindowFailedRule",
        description="The password rotation task failed or timed out",
        event_pattern=events.EventPattern(
            source=["aws.ssm"],
            detail_type=[
                "Maintenance Window Task Execution State-change Notification",
                "Maintenance Window Task Target Invocation State-change Notification",
            ],
            detail={"window-id": [window.ref], "status": ["FAILED", "TIMED_OUT", "CANCELLED"]},
        ),
        targets=[
            targets.SnsTopic(
                alert_topic,
                message=events.RuleTargetInput.from_text(
                    f"Password rotation window {window.name} ({detail('$.detail.window-id')}): "
                    f"{detail('$.detail-type')} {detail('$.detail.status')} "
                    f"(window execution {detail('$.detail.window-execution-id')})."
                ),
            )
        ],
    )
    events.Rule(
        scope,
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
                alert_topic,
                message=events.RuleTargetInput.from_text(
                    f"{EC2RESCUE_DOCUMENT} ended with status {detail('$.detail.status')} on instance "
                    f"{detail('$.detail.instance-id')} (command {detail('$.detail.command-id')}); its "
                    f"Administrator password was not rotated. Window: {window.name}."
                ),
            )
        ],
    )


def create_freshness_report(
    scope: Construct,
    *,
    tag_filters: Mapping[str, Sequence[str]],
    max_password_age: cdk.Duration,
    window: ssm.CfnMaintenanceWindow,
    max_concurrency: str,
    alert_topic: sns.ITopic,
) -> GuardrailFunction:
    """A daily function that names targeted instances whose rotated password is missing or too old."""
    report = GuardrailFunction(
        scope,
        "FreshnessReport",
        handler="rotation_freshness",
        description="Reports targeted Windows instances whose rotated password is missing or too old",
        environment={
            "TAG_FILTERS": json.dumps(tag_filters, sort_keys=True),
            "PASSWORD_PATH": PASSWORD_PATH,
            "MAX_AGE_SECONDS": str(int(max_password_age.to_seconds())),
            "TOPIC_ARN": alert_topic.topic_arn,
            "WINDOW_NAME": window.name,
            # the window's last run names the instances it never reached (issue 23 item 16)
            "WINDOW_ID": window.ref,
            "MAX_CONCURRENCY": max_concurrency,
        },
        timeout=cdk.Duration.minutes(5),
        alarm_topic=alert_topic,
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
    stack = cdk.Stack.of(scope)
    report.role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadTheWindowsLastRun",
            actions=["ssm:DescribeMaintenanceWindowExecutions"],
            resources=[stack.format_arn(service="ssm", resource="maintenancewindow", resource_name=window.ref)],
        )
    )
    # The run's tasks and invocations, and the commands' statuses: these actions have no resource types
    # in the Service Authorization Reference (a window ARN would never match); they return statuses only.
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
    report.role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadTheRunsStatuses",
            actions=[
                "ssm:DescribeMaintenanceWindowExecutionTasks",
                "ssm:DescribeMaintenanceWindowExecutionTaskInvocations",
                "ssm:ListCommandInvocations",
            ],
            resources=["*"],
        )
    )
    alert_topic.grant_publish(report.role)
    events.Rule(
        scope,
        "FreshnessReportRule",
        description="Daily report of Windows instances whose password was not rotated in time",
        schedule=events.Schedule.rate(cdk.Duration.days(1)),
        targets=[targets.LambdaFunction(report.function, retry_attempts=2)],
    )
    return report
