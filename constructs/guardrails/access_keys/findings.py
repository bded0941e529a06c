"""AccessKeyFindings: the central topic that every member account reports old access keys to."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from guardrails.access_keys.props import AccessKeyFindingsSettings
from guardrails.access_keys.remediation import REMEDIATION_ROLE_NAME
from guardrails.shared.nag import acknowledge
from guardrails.shared.validation import ORGANIZATION_ID, ORGANIZATIONAL_UNIT, check_pattern


class AccessKeyFindings(Construct):
    """Central side of the access-key control: an org-wide, KMS-encrypted SNS topic.

    Only the remediation role of member accounts publishes: a role named
    ``SsmGuardrailsAccessKeyRemediation`` (:data:`REMEDIATION_ROLE_NAME`, ``aws:PrincipalArn``) in
    an account of the organization (``aws:PrincipalOrgID``) under one of the target OUs
    (``aws:PrincipalOrgPaths``), over TLS only, and it may use the topic's key for that through SNS
    only. Other principals of the organization, administrators included, cannot publish findings;
    nobody outside the organization or the target OUs can.

    :param organization_id: the AWS Organizations id, ``o-...``.
    :param organizational_unit_ids: the OUs (``ou-...``, child OUs included) or the root (``r-...``)
        whose accounts run the remediation. Default: none (every account of the organization).
    :param settings: topic name (a contract: member accounts build the topic ARN from it), email
        subscribers (each confirms by email) and an optional encrypted SQS queue with its own dead-letter
        queue (:class:`AccessKeyFindingsSettings`). Default: all defaults.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        organization_id: str,
        organizational_unit_ids: Sequence[str] = (),
        settings: AccessKeyFindingsSettings | None = None,
    ) -> None:
        super().__init__(scope, id)
        check_pattern("AccessKeyFindings.organization_id", organization_id, ORGANIZATION_ID, "o- and 10-32 a-z0-9")
        for unit in organizational_unit_ids:
            check_pattern("AccessKeyFindings.organizational_unit_ids", unit, ORGANIZATIONAL_UNIT, "ou-... or r-...")
        settings = settings or AccessKeyFindingsSettings()
        self.settings = settings
        region = cdk.Stack.of(self).region
        partition = cdk.Stack.of(self).partition
        remediation_role = f"arn:{partition}:iam::*:role/{REMEDIATION_ROLE_NAME}"
        remediation_in_org = {
            "StringEquals": {"aws:PrincipalOrgID": organization_id},
            "ArnLike": {"aws:PrincipalArn": remediation_role},
            **org_paths_condition(organization_id, organizational_unit_ids),
        }
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the organization-wide access-key findings topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RemediationRolesPublishThroughSns",
                principals=[iam.AnyPrincipal()],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={
                    **remediation_in_org,
                    "StringEquals": {
                        "aws:PrincipalOrgID": organization_id,
                        "kms:ViaService": f"sns.{region}.amazonaws.com",
                    },
                },
            )
        )
        self.topic = sns.Topic(self, "Topic", topic_name=settings.topic_name, master_key=self.key, enforce_ssl=True)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyRemediationRolesOfTheOrganizationPublish",
                principals=[iam.AnyPrincipal()],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=remediation_in_org,
            )
        )
        # Same-account principals need no topic policy (their identity policy suffices): the deny
        # keeps administrators of the security account from publishing fake findings as well.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="NobodyElsePublishes",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"ArnNotLike": {"aws:PrincipalArn": remediation_role}},
            )
        )
        if organizational_unit_ids:
            # The same for the OUs: a role of that name created in the security account (outside the
            # target OUs) is refused too. A principal without the key (outside any organization) is
            # refused as well: ForAllValues is true on an absent key.
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="NobodyOutsideTheTargetOusPublishes",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions={
                        "ForAllValues:StringNotLike": org_paths_condition(organization_id, organizational_unit_ids)[
                            "ForAnyValue:StringLike"
                        ]
                    },
                )
            )
        self.topic_arn = self.topic.topic_arn
        for address in settings.email_subscribers:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        self.queue = self._create_queue() if settings.create_queue else None

    def _create_queue(self) -> sqs.Queue:
        dead_letters = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(
            dead_letters,
            "AwsSolutions-SQS3",
            "This is the dead-letter queue of the findings queue; a DLQ of a DLQ would only move the problem.",
        )
        queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=5),
        )
        self.topic.add_subscription(subscriptions.SqsSubscription(queue))
        return queue


def org_paths_condition(organization_id: str, units: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """``aws:PrincipalOrgPaths`` of the principal's account under one of ``units``, child OUs included.

    The key is multivalued, each value ``o-.../r-.../ou-.../`` down to the account's OU, so it takes
    ``ForAnyValue:StringLike`` (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths).
    An OU id is unique in its organization, so ``o-x/*/ou-y/*`` matches it at any depth; the root is
    always right after the organization id. No units: no condition (the organization id decides)."""
    if not units:
        return {}
    paths = [
        f"{organization_id}/{unit}/*" if unit.startswith("r-") else f"{organization_id}/*/{unit}/*" for unit in units
    ]
    return {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": paths}}
