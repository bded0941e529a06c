"""The session grant of SeparationOfDuties, and the sweeper that removes it.

On approval the grant function (:mod:`.grant_function`, invoked by the runbook's GrantSession step)
puts an inline policy ``SsmGuardrailsSessionGrant-<execution id>`` on the requesting operator role or user. It
allows ``ssm:StartSession`` on one node and the session document, only for the requesting
session (``aws:userid``) and only until the expiry (``DateLessThan aws:CurrentTime``), so IAM
itself ends the window. The runbook deletes it at the end; :class:`GrantSweeper` deletes the
expired ones the runbook never reached.

IAM has no condition key for the name of an inline policy (``iam:PutRolePolicy`` supports
``iam:PermissionsBoundary`` only), so "grant policies only" cannot be an IAM condition: the role
ARN scoping (the operators, nothing else) is the IAM boundary, and the prefix is the functions' own
rule (the grant function writes, the sweeper deletes, only names with the prefix).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.shared.guardrail_function import GuardrailFunction

GRANT_PREFIX = "SsmGuardrailsSessionGrant-"


def operator_arns(operators: Sequence[iam.IRole], users: Sequence[iam.IUser]) -> dict[str, list[str]]:
    return {"role": [role.role_arn for role in operators], "user": [user.user_arn for user in users]}


class GrantSweeper(Construct):
    """Deletes expired grant policies of the operators, every ``interval``.

    :param operators: operator roles (their names are read at run time from the environment).
    :param operator_users: operator users.
    :param max_validity_minutes: a grant that ends further away than this is deleted as implausible.
    :param role_name: the sweeper role's fixed name (contract: the SCP and the operator deny name it).
    :param runbook_name: the request runbook: every version older than its default is deleted on each
        run, so only the current runbook can run; a newer one is kept and alarmed. Default: none.
    :param alarm_topic: where the function's Errors, did-not-run and latest-not-default alarms
        notify. Default: no alarm.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        operators: Sequence[iam.IRole],
        operator_users: Sequence[iam.IUser],
        max_validity_minutes: int,
        interval: cdk.Duration,
        role_name: str,
        runbook_name: str | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.sweeper = GuardrailFunction(
            self,
            "Function",
            handler="session_tag_sweeper",
            description="Removes expired SeparationOfDuties session grants (inline policies) of the operators",
            environment={
                "GRANT_PREFIX": GRANT_PREFIX,
                "OPERATOR_ROLES": ",".join(role.role_name for role in operators),
                "OPERATOR_USERS": ",".join(user.user_name for user in operator_users),
                "MAX_VALIDITY_MINUTES": str(max_validity_minutes),
                **({"RUNBOOK_NAME": runbook_name} if runbook_name else {}),
            },
            timeout=cdk.Duration.minutes(5),
            alarm_topic=alarm_topic,  # an Errors alarm: leftover grants would fill the inline-policy quota
            runs_every=interval if alarm_topic is not None else None,  # and a did-not-run alarm
        )
        self.function = self.sweeper.function
        self.role = self.sweeper.role
        self.alarms = list(self.sweeper.alarms)
        self.role.node.default_child.role_name = role_name
        for kind, arns in operator_arns(operators, operator_users).items():
            if arns:
                noun = kind.capitalize()
                self.role.add_to_policy(
                    iam.PolicyStatement(
                        sid=f"DeleteExpiredGrantsOf{noun}Operators",
                        actions=[f"iam:List{noun}Policies", f"iam:Get{noun}Policy", f"iam:Delete{noun}Policy"],
                        resources=arns,
                    )
                )
        if runbook_name:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="DeleteSupersededRunbookVersions",
                    actions=["ssm:ListDocumentVersions", "ssm:DeleteDocument"],
                    resources=[
                        cdk.Stack.of(self).format_arn(service="ssm", resource="document", resource_name=runbook_name)
                    ],
                )
            )
        if runbook_name and alarm_topic is not None:
            self.alarms.append(self._watch_latest_version(alarm_topic, runbook_name))
        self.rule = events.Rule(
            self,
            "Schedule",
            description="Removes expired session grants",
            schedule=events.Schedule.rate(interval),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )

    def _watch_latest_version(self, topic: sns.ITopic, runbook_name: str) -> cloudwatch.Alarm:
        """Alarm when a sweep logs that the runbook's latest version is not its default one (an update
        that never became the default, or a version someone else added): the sweeper keeps it."""
        metric = logs.MetricFilter(
            self, "LatestNotDefault", log_group=self.sweeper.log_group, metric_namespace="SsmGuardrails",
            metric_name="RunbookLatestVersionNotDefault", metric_value="1",
            filter_pattern=logs.FilterPattern.boolean_value("$.runbook_latest_is_default", False),
        ).metric(period=cdk.Duration.minutes(5), statistic="Sum")  # fmt: skip
        alarm = cloudwatch.Alarm(
            self, "LatestNotDefaultAlarm", metric=metric, threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"The latest version of {runbook_name} is not its default version: check who "
            "created it; the grant function refuses it and the sweeper keeps it.",
        )  # fmt: skip
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        return alarm

    def protected_arns(self) -> list[str]:
        """What operators may not touch: the function, its role and its schedule rule."""
        return [self.function.function_arn, self.role.role_arn, self.rule.rule_arn]
