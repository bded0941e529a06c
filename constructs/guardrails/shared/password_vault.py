"""PasswordVault: a Parameter Store path for passwords and the KMS key that alone protects them."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.shared.nag import acknowledge_grant
from guardrails.shared.validation import PropsError, check_parameter_path

#: Key administration, action by action. Not kms:CreateGrant (a grant is a use permission that the
#: key policy's reader condition never sees: https://docs.aws.amazon.com/kms/latest/developerguide/grants.html),
#: and nothing that encrypts or decrypts. kms:PutKeyPolicy stays: CloudFormation must be able to
#: update the policy, and the KMS lockout safety check refuses a policy that takes it away from the
#: principal that sets it (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
#: Every PutKeyPolicy, CreateGrant and ScheduleKeyDeletion call is notified (``notify_key_changes``).
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

#: Key-policy calls that could open the passwords to someone else, or destroy them: each one reaches
#: the audit topic through its CloudTrail management event.
WATCHED_KEY_CALLS = ["PutKeyPolicy", "CreateGrant", "ScheduleKeyDeletion"]


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
        self._description = description
        self._created_key = key is None
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

    def allow_reader_patterns(self, patterns: Sequence[str]) -> None:
        """Admit every principal whose ``aws:PrincipalArn`` matches one of ``patterns`` (ArnLike), for
        roles that are never named: an IAM Identity Center permission set's role (see
        :class:`guardrails.shared.Principal`). Their IAM permissions come from the permission set."""
        self._reader_arns.extend(p for p in patterns if p not in self._reader_arns)

    def _through_parameter_store(self) -> dict[str, dict[str, object]]:
        return {
            "StringEquals": {"kms:ViaService": self._via_service},
            "ArnLike": {"kms:EncryptionContext:PARAMETER_ARN": self.parameter_arn_pattern},
        }

    def notify_key_changes(self, topic: sns.ITopic) -> events.Rule | None:
        """Send every PutKeyPolicy, CreateGrant and ScheduleKeyDeletion call on the created key to
        ``topic`` (denied attempts included), from its CloudTrail management event.

        Only for a key this vault created (a key passed in is watched where it was created, so a key
        shared by several vaults is reported once). Needs a CloudTrail trail that records management
        events in the Region ("To record events with a detail-type value of AWS API Call via
        CloudTrail, a CloudTrail trail with logging enabled is required":
        https://docs.aws.amazon.com/eventbridge/latest/userguide/event-types.html).
        """
        if not self._created_key:
            return None
        detail = events.EventField.from_path
        key = self.key
        rule = events.Rule(
            self,
            "KeyChangedRule",
            description="Someone changed the policy of, granted on, or scheduled the deletion of a password key",
            event_pattern=events.EventPattern(
                # KMS calls reach EventBridge as source aws.kms through CloudTrail; requestParameters.keyId
                # is the key id or key ARN exactly as the caller passed it (these calls take no alias):
                # https://docs.aws.amazon.com/kms/latest/developerguide/ct-put-key-policy.html
                source=["aws.kms"],
                detail_type=["AWS API Call via CloudTrail"],
                detail={
                    "eventSource": ["kms.amazonaws.com"],
                    "eventName": WATCHED_KEY_CALLS,
                    "requestParameters": {"keyId": [key.key_id, key.key_arn]},
                },
            ),
        )
        rule.add_target(
            targets.SnsTopic(
                topic,
                message=events.RuleTargetInput.from_text(
                    f"{detail('$.detail.userIdentity.arn')} called {detail('$.detail.eventName')} on the "
                    f"{self._description} key {detail('$.detail.requestParameters.keyId')} at "
                    f"{detail('$.detail.eventTime')} (a denied attempt is reported too: see errorCode in "
                    "CloudTrail). Check the key policy now."
                ),
            )
        )
        return rule

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
