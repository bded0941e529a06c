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


def create_document(
    scope: Construct, *, document_name: str, password_length: int, parameter_prefix: str, key_arn: str
) -> ssm.CfnDocument:
    """The document, with the prefix and key pinned so that operators cannot redirect the password."""
    content = load_document("break_glass")
    content["parameters"]["PasswordLength"]["default"] = str(password_length)
    pin_parameter(content, "ParameterPrefix", parameter_prefix)
    pin_parameter(content, "KmsKeyId", key_arn)
    return ssm.CfnDocument(
        scope,
        "Document",
        name=document_name,
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


def start_statements(scope: Construct, document_arn: str) -> list[iam.PolicyStatement]:
    """Run the document on any managed node, and follow the command's status."""
    return [
        iam.PolicyStatement(
            sid="RunBreakGlassDocument",
            actions=["ssm:SendCommand"],
            resources=[document_arn, *node_arns(scope)],
        ),
        iam.PolicyStatement(
            sid="FollowBreakGlassCommand",
            actions=["ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:GetCommandInvocation"],
            resources=["*"],
        ),
    ]
