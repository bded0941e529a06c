"""GuardrailFunction: the one way this project ships a Lambda handler."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"


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
