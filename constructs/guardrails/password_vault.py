"""PasswordVault: a Parameter Store path for passwords and the KMS key that alone protects them."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from guardrails._nag import acknowledge_grant
from guardrails._validation import PropsError, check_parameter_path

KEY_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]


class PasswordVault(Construct):
    """Passwords stored as SecureString parameters under one path, encrypted with a dedicated key.

    The created key's policy has three statements and nothing else:

    * key administrators manage the key but cannot use it;
    * principals of the account may *encrypt* only through Parameter Store and only for
      parameters matching ``parameter_name_pattern`` (their IAM policy must allow it too);
    * *decrypt* is allowed the same way, and only to the principals registered with
      :meth:`allow_reader` (matched on ``aws:PrincipalArn``, so a role that does not exist yet
      does not break the deployment).

    :param parameter_name_pattern: parameter names, without the leading ``/``, e.g.
        ``BreakGlass/pwd-*``.
    :param description: what the passwords are; used for the key's description.
    :param key: bring your own key; its policy is then yours to scope. Default: a new key,
        rotation on, retained on stack deletion.
    :param key_alias: alias of the created key. Ignored with ``key``.
    :param key_admins: administrators of the created key. Default: the account root, so IAM
        policies of the account decide (this also keeps CloudFormation able to update it).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        parameter_name_pattern: str,
        description: str,
        key: kms.IKey | None = None,
        key_alias: str | None = None,
        key_admins: Sequence[iam.IPrincipal] | None = None,
    ) -> None:
        super().__init__(scope, id)
        # The path part of the pattern, the contract defaults included, follows Parameter Store's rules.
        check_parameter_path(f"{id}.parameter_name_pattern", "/" + parameter_name_pattern.rpartition("/")[0])
        stack = cdk.Stack.of(self)
        self.parameter_arn_pattern = stack.format_arn(
            service="ssm", resource="parameter", resource_name=parameter_name_pattern
        )
        self._via_service = f"ssm.{stack.region}.amazonaws.com"
        self._reader_arns: list[str] = []
        self.key = key or self._create_key(description, key_alias, key_admins or [iam.AccountRootPrincipal()])

    def writer_statements(self) -> list[iam.PolicyStatement]:
        """Store a password (write only): no read, no decrypt, no history."""
        return [
            iam.PolicyStatement(actions=["ssm:PutParameter"], resources=[self.parameter_arn_pattern]),
            iam.PolicyStatement(
                actions=["kms:Encrypt"], resources=[self.key.key_arn], conditions=self._through_parameter_store()
            ),
        ]

    def reader_statements(self) -> list[iam.PolicyStatement]:
        """Read and decrypt a password, through Parameter Store only."""
        return [
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.parameter_arn_pattern]),
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": self._via_service}},
            ),
        ]

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """IAM permissions to read and decrypt (through SSM), plus a place in the key policy."""
        for statement in self.reader_statements():
            if grantee.grant_principal.add_to_principal_policy(statement).statement_added:
                acknowledge_grant(grantee, statement, "Read-only grant on this vault's password names, through SSM.")
        self.allow_reader(grantee)

    def allow_reader(self, grantee: iam.IGrantable) -> None:
        """Admit ``grantee`` to the created key's decrypt statement (IAM permissions are separate)."""
        self._reader_arns.append(_principal_arn(grantee))

    def _through_parameter_store(self) -> dict[str, dict[str, object]]:
        return {
            "StringEquals": {"kms:ViaService": self._via_service},
            "ArnLike": {"kms:EncryptionContext:PARAMETER_ARN": self.parameter_arn_pattern},
        }

    def _create_key(self, description: str, alias: str | None, admins: Sequence[iam.IPrincipal]) -> kms.Key:
        through_ssm = self._through_parameter_store()
        readers = cdk.Lazy.list(_GrowingList(self._reader_arns))
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="KeyAdministrationWithoutUse",
                    principals=list(admins),
                    actions=KEY_ADMIN_ACTIONS,
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="EncryptPasswordsThroughParameterStore",
                    principals=[iam.AccountRootPrincipal()],
                    actions=["kms:Encrypt"],
                    resources=["*"],
                    conditions=through_ssm,
                ),
                iam.PolicyStatement(
                    sid="NamedReadersDecryptPasswordsThroughParameterStore",
                    principals=[iam.AccountRootPrincipal()],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={**through_ssm, "ArnLike": {**through_ssm["ArnLike"], "aws:PrincipalArn": readers}},
                ),
            ]
        )
        key = kms.Key(
            self,
            "Key",
            description=f"Encrypts {description} in Parameter Store",
            enable_key_rotation=True,
            policy=policy,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        if alias:
            key.add_alias(alias)
        return key


@jsii.implements(cdk.IStableListProducer)
class _GrowingList:
    """Resolves at synth to a list that grant methods may still extend after construction."""

    def __init__(self, items: list[str]) -> None:
        self._items = items

    def produce(self) -> list[str]:
        return list(self._items)


def _principal_arn(grantee: iam.IGrantable) -> str:
    principal = grantee.grant_principal
    for attribute in ("role_arn", "user_arn", "arn"):
        value = getattr(principal, attribute, None)
        if isinstance(value, str):
            return value
    raise PropsError("reader", principal, "an IAM role, user or ArnPrincipal")
