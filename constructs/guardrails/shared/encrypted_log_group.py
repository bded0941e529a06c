"""EncryptedLogGroup: a CloudWatch Logs group encrypted with its own customer-managed key."""

from __future__ import annotations

from collections.abc import Sequence

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
    :param readers: principal ARNs (patterns allowed, matched on ``aws:PrincipalArn``) that may
        decrypt the group's data; every other principal is denied ``kms:Decrypt`` and
        ``kms:ReEncrypt*`` on the key, whatever IAM allows it (an explicit deny in the key policy
        wins: https://docs.aws.amazon.com/kms/latest/developerguide/control-access.html). AWS
        services acting as themselves (CloudWatch Logs with its service principal, on the encryption
        context of this account's groups) are not denied. CloudWatch Logs also calls KMS on the
        reader's behalf ("kms:ViaService which allows logs to make AWS KMS calls on your behalf":
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html); readers
        are allowed that, through CloudWatch Logs of this Region only. Default: no reader list (the
        key policy lets IAM decide, as CDK's default key policy does).

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
        readers: Sequence[str] | None = None,
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
        if readers is not None:
            self._admit_only(readers)
        self.log_group = logs.LogGroup(
            self, "LogGroup", encryption_key=self.key, retention=retention, removal_policy=cdk.RemovalPolicy.RETAIN
        )

    def _admit_only(self, readers: Sequence[str]) -> None:
        """Readers decrypt through CloudWatch Logs of this Region; nobody else decrypts at all."""
        stack = cdk.Stack.of(self)
        via_logs = {"StringEquals": {"kms:ViaService": f"logs.{stack.region}.amazonaws.com"}}
        if readers:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="NamedReadersDecryptThroughCloudWatchLogs",
                    principals=[iam.AnyPrincipal()],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {**via_logs["StringEquals"], "aws:PrincipalAccount": stack.account},
                        "ArnLike": {"aws:PrincipalArn": list(readers)},
                    },
                )
            )
        not_a_reader: dict[str, object] = {"Bool": {"aws:PrincipalIsAWSService": "false"}}
        if readers:
            not_a_reader["ArnNotLike"] = {"aws:PrincipalArn": list(readers)}
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="NoDecryptForAnyoneButNamedReaders",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Decrypt", "kms:ReEncrypt*"],
                resources=["*"],
                conditions=not_a_reader,
            )
        )
