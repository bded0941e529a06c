"""EncryptedLogGroup: a CloudWatch Logs group encrypted with its own customer-managed key."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


class EncryptedLogGroup(Construct):
    """A log group whose key only CloudWatch Logs of this Region may use, and only for this group.

    :param description: what the group holds; used for the key's description.
    :param retention: Default: one year.
    :param key_alias: optional alias of the key. Default: none.

    Both the group and the key are retained when the stack is deleted (they are evidence).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        description: str,
        retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        key_alias: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the CloudWatch Logs group for {description}",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            alias=key_alias,
        )
        # The group's name is not known before deployment, so the encryption context is matched
        # on every group of this account and Region; the key is used by no other service.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisRegion",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        self.log_group = logs.LogGroup(
            self, "LogGroup", encryption_key=self.key, retention=retention, removal_policy=cdk.RemovalPolicy.RETAIN
        )
