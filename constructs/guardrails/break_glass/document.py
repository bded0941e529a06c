"""The break-glass Command document, and what running it takes (the operators' start statements).

The document is created directly in the :class:`guardrails.BreakGlass` scope, so its logical id
stays that of deployed stacks.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.shared.documents import load_document, pin_parameter

#: The automatic reset runs its own copy of the document, named ``<document_name><RESET_SUFFIX>``. Only
#: the state machine's role is granted it and operators are denied it, so "this command was the
#: automatic reset" is a fact of the command's document, which nobody who can start break-glass
#: can choose (a comment could be typed by anyone; issue 23).
RESET_SUFFIX = "-AutomaticReset"


def reset_document_name(document_name: str) -> str:
    return f"{document_name}{RESET_SUFFIX}"


def create_document(
    scope: Construct, *, document_name: str, password_length: int, parameter_prefix: str, key_arn: str
) -> ssm.CfnDocument:
    """The operators' document, with the prefix and key pinned so that nobody can redirect the password."""
    return _document(scope, "Document", document_name, password_length, parameter_prefix, key_arn)


def create_reset_document(
    scope: Construct, *, document_name: str, password_length: int, parameter_prefix: str, key_arn: str
) -> ssm.CfnDocument:
    """The same document under the reset name: what the state machine runs ``reset_after`` later."""
    return _document(
        scope, "ResetDocument", reset_document_name(document_name), password_length, parameter_prefix, key_arn
    )


def _document(
    scope: Construct, id: str, name: str, password_length: int, parameter_prefix: str, key_arn: str
) -> ssm.CfnDocument:
    content = load_document("break_glass")
    content["parameters"]["PasswordLength"]["default"] = str(password_length)
    pin_parameter(content, "ParameterPrefix", parameter_prefix)
    pin_parameter(content, "KmsKeyId", key_arn)
    return ssm.CfnDocument(
        scope,
        id,
        name=name,
        document_type="Command",
        document_format="YAML",
        content=content,
        update_method="NewVersion",
    )


def node_arns(scope: Construct) -> list[str]:
    """Every EC2 instance and every hybrid (``mi-``) node of the account and Region."""
    stack = cdk.Stack.of(scope)
    return [
        stack.format_arn(service="ec2", resource="instance", resource_name="*"),
        stack.format_arn(service="ssm", resource="managed-instance", resource_name="*"),
    ]


def start_statements(scope: Construct, document_arn: str, reset_document_arn: str) -> list[iam.PolicyStatement]:
    """Run the document on any managed node, and follow the command's status; never the reset document."""
    return [
        iam.PolicyStatement(
            sid="NeverRunTheAutomaticResetDocument",
            effect=iam.Effect.DENY,
            actions=["ssm:SendCommand"],
            resources=[reset_document_arn],
        ),
        iam.PolicyStatement(
            sid="RunBreakGlassDocument",
            actions=["ssm:SendCommand"],
            resources=[document_arn, *node_arns(scope)],
        ),
        iam.PolicyStatement(
            sid="FollowBreakGlassCommand",
            # DescribeInstanceInformation: the CLI checks the node is online before sending
            actions=[
                "ssm:ListCommands",
                "ssm:ListCommandInvocations",
                "ssm:GetCommandInvocation",
                "ssm:DescribeInstanceInformation",
            ],
            resources=["*"],
        ),
    ]
