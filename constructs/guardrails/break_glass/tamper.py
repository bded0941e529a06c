"""What keeps operators from switching off the clean-up, and who hears when anyone tries (issue 23 item 2).

An operator who could disable ``SweepRule`` and ``CommandFinishedRule``, stop an execution, or change
the clean-up function would keep a revealed password alive. The operator policy denies those calls
on the control's own rules, state machine and function, whatever else the operator is allowed; and
every such call (by anyone, denied or not) reaches the audit topic from CloudTrail. The sweep's
did-not-run alarm (``rules.create_alarms``) catches what CloudTrail would miss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from guardrails.shared.change_alerts import alert_on_calls

#: Calls that switch a rule off or change what it does (EventBridge API).
RULE_CALLS = ["DisableRule", "DeleteRule", "PutRule"]
TARGET_CALLS = ["PutTargets", "RemoveTargets"]
#: Calls that stop or change the clean-up state machine (Step Functions API).
STATE_MACHINE_CALLS = ["UpdateStateMachine", "DeleteStateMachine"]
#: Calls that change or starve the clean-up function (Lambda API).
FUNCTION_CALLS = [
    "UpdateFunctionConfiguration",
    "UpdateFunctionCode",
    "DeleteFunction",
    "PutFunctionConcurrency",
    "DeleteFunctionConcurrency",
    "RemovePermission",
]


def protect_cleanup(glass: Any) -> list[events.Rule]:
    """Deny ``glass``'s operators every change to its clean-up, and alert on changes by anyone.

    ``glass`` is the :class:`guardrails.BreakGlass` being built (its rules, state machine, function,
    operator policy and audit topic exist already)."""
    # Not the reader-role rule: it exists in us-east-1 only, and nothing may refer to it.
    vault_rules = (glass.key_changed_rule, getattr(glass.vault, "alias_changed_rule", None))
    rules = [rule for rule in (*glass.cleanup_rules, *vault_rules) if rule is not None]
    function = glass.cleanup_function.function
    glass.cleanup_denies = deny_statements(glass, rules, glass.state_machine, function)
    glass.operator_policy.add_statements(*glass.cleanup_denies)
    return create_change_alerts(
        glass, rules=rules, state_machine=glass.state_machine, function=function, topic=glass.audit_topic
    )


def deny_statements(
    scope: Construct, rules: Sequence[events.IRule], state_machine: sfn.IStateMachine, function: lambda_.IFunction
) -> list[iam.PolicyStatement]:
    """Operators may not touch the clean-up (an explicit deny wins over any allow they hold)."""
    stack = cdk.Stack.of(scope)
    executions = stack.format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine.state_machine_name}:*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    return [
        iam.PolicyStatement(
            sid="NeverSwitchOffTheBreakGlassCleanupRules",
            effect=iam.Effect.DENY,
            actions=[f"events:{call}" for call in RULE_CALLS + TARGET_CALLS],
            resources=[rule.rule_arn for rule in rules],
        ),
        iam.PolicyStatement(
            sid="NeverStopOrChangeTheBreakGlassCleanup",
            effect=iam.Effect.DENY,
            actions=[*(f"states:{call}" for call in STATE_MACHINE_CALLS), "states:StopExecution"],
            resources=[state_machine.state_machine_arn, executions],
        ),
        iam.PolicyStatement(
            sid="NeverChangeTheBreakGlassCleanupFunction",
            effect=iam.Effect.DENY,
            actions=[f"lambda:{call}" for call in FUNCTION_CALLS],
            resources=[function.function_arn],
        ),
    ]


def create_change_alerts(
    scope: Construct,
    *,
    rules: Sequence[events.IRule],
    state_machine: sfn.IStateMachine,
    function: lambda_.IFunction,
    topic: sns.ITopic,
) -> list[events.Rule]:
    """Tell ``topic`` of every change to the clean-up's rules, state machine or function.

    Request fields: DisableRule, DeleteRule and PutRule name the rule in ``name``, PutTargets and
    RemoveTargets in ``rule`` (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DisableRule.html,
    API_PutTargets.html); Step Functions calls name ``stateMachineArn``
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_UpdateStateMachine.html);
    Lambda calls name ``functionName``, and their CloudTrail event names carry the API version, such as
    ``UpdateFunctionConfiguration20150331v2``, hence prefixes
    (https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html).
    """
    names = [rule.rule_name for rule in rules]
    what = "the break-glass clean-up"
    return [
        alert_on_calls(
            scope, "CleanupRulesChangedRule", service="events", event_names=RULE_CALLS, field="name",
            values=names, what=f"a rule of {what}", topic=topic,
        ),
        alert_on_calls(
            scope, "CleanupTargetsChangedRule", service="events", event_names=TARGET_CALLS, field="rule",
            values=names, what=f"the targets of a rule of {what}", topic=topic,
        ),
        alert_on_calls(
            scope, "CleanupStateMachineChangedRule", service="states", event_names=STATE_MACHINE_CALLS,
            field="stateMachineArn", values=[state_machine.state_machine_arn], what=f"the state machine of {what}",
            topic=topic,
        ),
        alert_on_calls(
            scope, "CleanupFunctionChangedRule", service="lambda",
            event_names=[{"prefix": call} for call in FUNCTION_CALLS], field="functionName",
            values=[function.function_name, function.function_arn], what=f"the function of {what}", topic=topic,
        ),
    ]  # fmt: skip
