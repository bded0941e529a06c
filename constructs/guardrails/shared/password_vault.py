"""PasswordVault: a Parameter Store path for passwords and the KMS key that alone protects them."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.shared.nag import acknowledge_grant
from guardrails.shared.validation import PropsError, check_parameter_path
from guardrails.shared.vault_alerts import alias_changed_rule, key_changed_rule, readers_changed_rule

#: Key administration, action by action. Not kms:CreateGrant (a grant is a use permission that the
#: key policy's reader condition never sees: https://docs.aws.amazon.com/kms/latest/developerguide/grants.html),
#: and nothing that encrypts or decrypts. kms:PutKeyPolicy stays: CloudFormation must be able to
#: update the policy, and the KMS lockout safety check refuses a policy that takes it away from the
#: principal that sets it (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
#: Every PutKeyPolicy, CreateGrant, ScheduleKeyDeletion, DisableKey and alias change is notified
#: (``notify_key_changes``).
KEY_ADMIN_ACTIONS = [
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:UpdateKeyDescription",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:RotateKeyOnDemand",
    "kms:RevokeGrant",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]

#: What a writer asks of the key: kms:Encrypt for a Standard-tier SecureString, kms:GenerateDataKey for
#: an Advanced one (see ``PasswordVault.writer_statements``).
WRITER_KEY_ACTIONS = ["kms:Encrypt", "kms:GenerateDataKey"]


class PasswordVault(Construct):
    """Passwords stored as SecureString parameters under one path, encrypted with a dedicated key.

    The created key's policy has five statements and nothing else:

    * key administrators manage the key but cannot use it, and cannot create grants;
    * principals of the account may *encrypt* only through Parameter Store and only for
      parameters matching ``parameter_name_pattern`` (their IAM policy must allow it too);
    * *decrypt* is allowed the same way, and only to the principals registered with
      :meth:`allow_reader` (matched on ``aws:PrincipalArn``, so a role that does not exist yet
      does not break the deployment);
    * an explicit deny of ``kms:Decrypt`` and ``kms:ReEncrypt*`` to every principal that is not a
      registered reader, whatever IAM policy or grant it holds (Parameter Store decrypts with the
      caller's own identity, so a reader reading through it is still that reader);
    * an explicit deny of ``kms:CreateGrant`` to everyone: Parameter Store never uses grants
      (https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html), and a
      grant would hand decrypt to a principal the reader condition never sees.

    An explicit deny wins over every allow, grants included ("No AWS principal has any permissions
    to a KMS key unless that permission is provided explicitly and never denied":
    https://docs.aws.amazon.com/kms/latest/developerguide/control-access.html).

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
        self._reader_names: list[str] = []
        self._alias = key_alias if key is None else None
        self._description = description
        self._created_key = key is None
        self.key = key or self._create_key(description, key_alias, key_admins or [iam.AccountRootPrincipal()])

    def writer_statements(self, name_patterns: Sequence[str] | None = None) -> list[iam.PolicyStatement]:
        """Store a password (write only): no read, no decrypt, no history.

        ``name_patterns`` (without the leading ``/``) narrows the writable names below the vault's
        pattern; each admits one level only (a ``*`` in an IAM ARN also matches ``/``, so deeper
        names are denied). Default: the vault's pattern.

        Both tiers are covered: "Standard parameters ... are encrypted and decrypted directly under
        the KMS key" (kms:Encrypt), while "to encrypt and decrypt advanced SecureString parameters,
        Parameter Store uses envelope encryption" (kms:GenerateDataKey), in both cases with the
        PARAMETER_ARN encryption context:
        https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html. Writers
        that cannot choose the tier (EC2Rescue uses the account's default tier) need both.
        """
        stack = cdk.Stack.of(self)
        arns = [
            stack.format_arn(service="ssm", resource="parameter", resource_name=pattern)
            for pattern in name_patterns or []
        ] or [self.parameter_arn_pattern]
        found = [iam.PolicyStatement(actions=["ssm:PutParameter"], resources=arns)]
        if name_patterns:
            found.append(
                iam.PolicyStatement(
                    effect=iam.Effect.DENY, actions=["ssm:PutParameter"], resources=[f"{arn}/*" for arn in arns]
                )
            )
        found.append(
            iam.PolicyStatement(
                actions=WRITER_KEY_ACTIONS,
                resources=[self.key.key_arn],
                conditions=self._through_parameter_store(arns),
            )
        )
        return found

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
        role_name = getattr(grantee.grant_principal, "role_name", None)
        if isinstance(role_name, str):
            self._reader_names.append(role_name)

    def allow_reader_patterns(self, patterns: Sequence[str]) -> None:
        """Admit every principal whose ``aws:PrincipalArn`` matches one of ``patterns`` (ArnLike), for
        roles that are never named: an IAM Identity Center permission set's role (see
        :class:`guardrails.shared.Principal`). Their IAM permissions come from the permission set."""
        self._reader_arns.extend(p for p in patterns if p not in self._reader_arns)

    def _through_parameter_store(self, arns: Sequence[str] | None = None) -> dict[str, dict[str, object]]:
        names: object = list(arns) if arns and len(arns) > 1 else (arns or [self.parameter_arn_pattern])[0]
        return {
            "StringEquals": {"kms:ViaService": self._via_service},
            "ArnLike": {"kms:EncryptionContext:PARAMETER_ARN": names},
        }

    def notify_key_changes(self, topic: sns.ITopic) -> events.Rule | None:
        """Tell ``topic`` of every call that could open the passwords to someone else or lock them away:
        key policy, grants, deletion, disabling, the alias, and IAM changes to the reader roles.

        Only for a key this vault created (a key passed in is watched where it was created). Returns
        the key rule; the alias and reader-role rules are ``alias_changed_rule`` and
        ``readers_changed_rule``. See :mod:`guardrails.shared.vault_alerts`.
        """
        if not self._created_key:
            return None
        self.alias_changed_rule = (
            alias_changed_rule(self, "KeyAliasChangedRule", self._alias, self._description, topic)
            if self._alias
            else None
        )
        self.readers_changed_rule = readers_changed_rule(
            self, "ReaderRolesChangedRule", cdk.Lazy.list(_GrowingList(self._reader_names)), self._description, topic
        )
        return key_changed_rule(self, "KeyChangedRule", self.key, self._description, topic)

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
                    actions=WRITER_KEY_ACTIONS,
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
                iam.PolicyStatement(
                    sid="NoDecryptForAnyoneButNamedReaders",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["kms:Decrypt", "kms:ReEncrypt*"],
                    resources=["*"],
                    conditions={"ArnNotLike": {"aws:PrincipalArn": readers}},
                ),
                iam.PolicyStatement(
                    sid="NoGrantsForAnyone",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["kms:CreateGrant"],
                    resources=["*"],
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
