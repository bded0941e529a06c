"""The custom resource that owns the Session Manager preferences document, and its daily reconcile.

CloudFormation cannot own ``SSM-SessionManagerRunShell`` (the console creates it on first save),
so a CDK Provider framework custom resource with a boto3-only handler creates or adopts it, and a
daily rule puts the settings back when someone changes them by hand. Everything is created
directly in the :class:`guardrails.SessionPrefs` scope, so the logical ids stay those of deployed
stacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.shared.guardrail_function import GuardrailFunction, watch_errors
from guardrails.shared.scoped_provider import scoped_provider

#: The handler's own state: the preferences version to restore on stack deletion, written once at
#: Create (never taken from an event, which whoever may invoke the function chooses; issue 23 item 7).
RESTORE_PARAMETER = "/guardrails/session-manager/preferences-restore-version"


def inputs_json(scope: Construct, inputs: Mapping[str, Any]) -> str:
    """The preferences as JSON: CloudFormation turns every property into a string; JSON keeps booleans booleans."""
    return cdk.Stack.of(scope).to_json_string(inputs)


def create_handler(
    scope: Construct, topic: sns.ITopic, document_name: str, inputs: Mapping[str, Any]
) -> GuardrailFunction:
    """The function that creates, updates, reconciles and releases the preferences document."""
    handler = GuardrailFunction(
        scope,
        "Handler",
        handler="session_prefs",
        description="Creates, updates, reconciles and releases the Session Manager preferences document",
        # The desired preferences: only the stack can change a function's environment.
        environment={
            "TOPIC_ARN": topic.topic_arn,
            "DOCUMENT_NAME": document_name,
            "INPUTS_JSON": inputs_json(scope, inputs),
            "STACK_ID": cdk.Aws.STACK_ID,
            "RESTORE_PARAMETER": RESTORE_PARAMETER,
        },
        timeout=cdk.Duration.minutes(2),
        alarm_topic=topic,
        runs_every=cdk.Duration.days(1),
    )
    document_arn = cdk.Stack.of(scope).format_arn(service="ssm", resource="document", resource_name=document_name)
    handler.role.add_to_policy(
        iam.PolicyStatement(
            sid="ManageThePreferencesDocumentOnly",
            actions=[
                "ssm:CreateDocument",
                "ssm:GetDocument",
                "ssm:DescribeDocument",
                "ssm:UpdateDocument",
                "ssm:UpdateDocumentDefaultVersion",
            ],
            resources=[document_arn],
        )
    )
    handler.role.add_to_policy(
        iam.PolicyStatement(
            sid="KeepWhatToRestoreOnDelete",
            actions=["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter"],
            resources=[
                cdk.Stack.of(scope).format_arn(
                    service="ssm", resource="parameter", resource_name=RESTORE_PARAMETER.lstrip("/")
                )
            ],
        )
    )
    topic.grant_publish(handler.role)
    return handler


def create_preferences(
    scope: Construct,
    handler: GuardrailFunction,
    topic: sns.ITopic,
    document_name: str,
    inputs: Mapping[str, Any],
) -> tuple[cdk.CustomResource, cloudwatch.Alarm]:
    """The ``Preferences`` custom resource, and the alarm on its provider framework's errors."""
    provider = scoped_provider(scope, "Provider", on_event_handler=handler.function)
    framework = provider.node.find_child("framework-onEvent")
    # The framework function answers CloudFormation; when it fails, the deploy fails too, but a
    # failed delete or a StackSet instance would otherwise go unnoticed.
    provider_errors_alarm = watch_errors(
        scope, "ProviderErrorsAlarm", framework, topic, "CDK Provider framework of the Session Manager preferences"
    )
    # The properties only make CloudFormation send an Update when the preferences change: the
    # handler reads them from its environment, never from the event.
    resource = cdk.CustomResource(
        scope,
        "Preferences",
        service_token=provider.service_token,
        resource_type="Custom::SessionManagerPreferences",
        properties={"DocumentName": document_name, "InputsJson": inputs_json(scope, inputs)},
        service_timeout=cdk.Duration.minutes(5),
    )
    # Events are accepted for this stack (AWS::StackId) and this resource only. Not the
    # ServiceToken: it is the framework function's ARN, and that function already references
    # the handler (a cycle).
    handler.function.add_environment(
        "RESOURCE_LOGICAL_ID", cdk.Stack.of(scope).get_logical_id(resource.node.default_child)
    )
    return resource, provider_errors_alarm


def schedule_reconcile(scope: Construct, handler: GuardrailFunction) -> None:
    """Run the handler daily to put back settings changed by hand."""
    rule = events.Rule(
        scope,
        "ReconcileRule",
        description="Puts the Session Manager preferences back if they were changed by hand",
        schedule=events.Schedule.rate(cdk.Duration.days(1)),
    )
    rule.add_target(
        targets.LambdaFunction(
            handler.function,
            # Only the action: the handler ignores anything else an event carries.
            event=events.RuleTargetInput.from_object({"action": "reconcile"}),
            retry_attempts=2,
        )
    )
