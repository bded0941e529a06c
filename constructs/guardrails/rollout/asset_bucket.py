"""OrgAssetBucket: where StackSet member templates find their Lambda code, in one Region.

Service-managed StackSets deploy one template into many accounts and Regions, so the template
cannot use the CDK bootstrap bucket of each target account (those accounts are not bootstrapped
and their buckets never receive the assets). Instead, the StackSet administrator account keeps
one bucket per Region, ``<prefix>-<account>-<region>``: every account of the organization may
read from it, and only the CDK file-publishing role of that account and Region (the role that
``cdk deploy`` and CDK Pipelines publish assets with) may write to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from guardrails.shared.nag import acknowledge
from guardrails.shared.private_bucket import private_bucket
from guardrails.shared.validation import ACCOUNT_ID, ORGANIZATION_ID, PropsError, check_pattern

BUCKET_PREFIX = re.compile(r"[a-z0-9][a-z0-9-]{1,33}")
QUALIFIER = re.compile(r"[a-z0-9]{1,10}")

#: What cdk-assets calls on a destination bucket before and while it uploads a file
#: (ownership check, "already published?" listing, encryption lookup, upload).
PUBLISHER_BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket", "s3:GetEncryptionConfiguration"]
PUBLISHER_OBJECT_ACTIONS = ["s3:PutObject"]
#: Every way to change or remove an object; denied to everyone but the publisher.
OBJECT_WRITE_ACTIONS = ["s3:PutObject*", "s3:DeleteObject*", "s3:ReplicateObject", "s3:RestoreObject"]
#: The bucket settings that keep its content and its audit trail (policy, versioning, noncurrent
#: version expiry, access logs, ownership, public access, encryption, object lock, replication);
#: denied to everyone but the CloudFormation execution role that deploys the bucket stack.
BUCKET_CONFIGURATION_ACTIONS = [
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketLogging",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutReplicationConfiguration",
]


@dataclass(frozen=True)
class OrgAssetLocation:
    """Names shared by the asset buckets and the StackSet templates that read from them.

    :param account: the account that owns the buckets: the StackSet administrator (management
        account or CloudFormation delegated administrator).
    :param regions: every Region that has a bucket (the Regions the StackSets deploy to).
    :param home_region: the Region of the StackSets; templates are published to its bucket.
    :param prefix: first part of every bucket name. Default: ``ssm-guardrails-assets``.
    :param qualifier: the CDK bootstrap qualifier of ``account``; it names the file-publishing
        role. Default: ``hnb659fds`` (the CDK default).
    """

    account: str
    regions: Sequence[str]
    home_region: str
    prefix: str = "ssm-guardrails-assets"
    qualifier: str = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER

    def __post_init__(self) -> None:
        check_pattern("OrgAssetLocation.account", self.account, ACCOUNT_ID, "a 12-digit account id")
        check_pattern("OrgAssetLocation.prefix", self.prefix, BUCKET_PREFIX, "2-34 of a-z 0-9 -, not starting with -")
        check_pattern("OrgAssetLocation.qualifier", self.qualifier, QUALIFIER, "1-10 of a-z 0-9 (cdk bootstrap)")
        if not self.regions:
            raise PropsError("OrgAssetLocation.regions", list(self.regions), "at least one Region")
        if self.home_region not in self.regions:
            raise PropsError("OrgAssetLocation.home_region", self.home_region, f"one of regions {list(self.regions)}")

    def bucket_name(self, region: str) -> str:
        """The bucket of ``region``; pass ``${AWS::Region}`` for a name that a template resolves."""
        return f"{self.prefix}-{self.account}-{region}"

    def execution_role_arn(self, region: str) -> str:
        """The CDK bootstrap CloudFormation execution role of ``region``: it deploys the bucket stack."""
        return (
            f"arn:${{AWS::Partition}}:iam::{self.account}:role/"
            f"cdk-{self.qualifier}-cfn-exec-role-{self.account}-{region}"
        )

    def publishing_role_arn(self, region: str) -> str:
        """The CDK bootstrap file-publishing role of ``region`` (``${AWS::Partition}`` left for cdk-assets)."""
        return (
            f"arn:${{AWS::Partition}}:iam::{self.account}:role/"
            f"cdk-{self.qualifier}-file-publishing-role-{self.account}-{region}"
        )


class OrgAssetBucket(Construct):
    """The asset bucket of one Region, in the StackSet administrator account.

    - read (``s3:GetObject``, ``s3:GetObjectVersion``) by any principal of the organization
      (``aws:PrincipalOrgID``): the CloudFormation roles of member accounts fetch Lambda code from
      here, at the version the StackSet pins;
    - written only by the CDK file-publishing role of this account and Region: an explicit deny
      stops every other principal (administrators included) from changing or deleting objects;
    - TLS only, all public access blocked, versioned, S3-managed encryption (a KMS key would
      have to admit every account of the organization to decrypt), retained on stack deletion.

    :param location: the shared names; the stack's Region must be one of ``location.regions``.
    :param organization_id: the AWS Organizations id (``o-...``) whose accounts may read.
    :param noncurrent_version_expiration: how long an overwritten object version is kept.
        Object keys are content hashes, so current versions are never replaced by other content.
        Default: 90 days.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        location: OrgAssetLocation,
        organization_id: str,
        noncurrent_version_expiration: cdk.Duration | None = None,
        access_logs: bool = True,
    ) -> None:
        super().__init__(scope, id)
        check_pattern("OrgAssetBucket.organization_id", organization_id, ORGANIZATION_ID, "o- and 10-32 a-z0-9")
        stack = cdk.Stack.of(self)
        if not cdk.Token.is_unresolved(stack.region) and stack.region not in location.regions:
            raise PropsError("OrgAssetBucket Region", stack.region, f"one of {list(location.regions)}")
        if not cdk.Token.is_unresolved(stack.account) and stack.account != location.account:
            raise PropsError("OrgAssetBucket account", stack.account, f"the asset account {location.account}")
        # Server access logs record every object write with its requester (who published what);
        # the log bucket gets the logging service's bucket policy from CDK (aws:SourceAccount and
        # aws:SourceArn of the asset bucket).
        self.access_log_bucket = self._access_log_bucket() if access_logs else None
        self.bucket = private_bucket(
            self,
            "Bucket",
            bucket_name=location.bucket_name(stack.region),
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="asset-bucket/" if access_logs else None,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=noncurrent_version_expiration or cdk.Duration.days(90),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        publisher = cdk.Fn.sub(location.publishing_role_arn(stack.region))
        self._add_policy(organization_id, publisher)
        # Only the stack changes the bucket's policy and settings (suspending versioning or expiring
        # versions would undo the pinned code versions; switching logging off, the audit trail). The
        # account's root user can still delete a policy that denies everyone
        # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketPolicy.html).
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyCloudFormationChangesTheBucket",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=BUCKET_CONFIGURATION_ACTIONS,
                resources=[self.bucket.bucket_arn],
                conditions={
                    "ArnNotEquals": {"aws:PrincipalArn": cdk.Fn.sub(location.execution_role_arn(stack.region))}
                },
            )
        )
        if not access_logs:
            acknowledge(
                self.bucket,
                "AwsSolutions-S1",
                "Access logs turned off in the configuration (rollout.asset_bucket_audit: none); writes are "
                "limited to the CDK file-publishing role by an explicit deny.",
            )

    def _access_log_bucket(self) -> s3.Bucket:
        bucket = private_bucket(self, "AccessLogs", object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED)
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket of the asset bucket; logging it to itself or to a third bucket "
            "would only move the problem.",
        )
        return bucket

    def _add_policy(self, organization_id: str, publisher: str) -> None:
        objects = self.bucket.arn_for_objects("*")
        is_publisher = {"ArnEquals": {"aws:PrincipalArn": publisher}}
        for statement in [
            iam.PolicyStatement(
                sid="OrganizationReadsAssets",
                principals=[iam.AnyPrincipal()],
                # GetObjectVersion: the StackSet templates pin Code.S3ObjectVersion, and a GET with a
                # versionId needs it ("If you include a versionId in your request header, you must
                # have the s3:GetObjectVersion permission", S3 API reference, GetObject).
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[objects],
                conditions={"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            ),
            iam.PolicyStatement(
                sid="PublisherChecksBucket",
                principals=[iam.AnyPrincipal()],
                actions=PUBLISHER_BUCKET_ACTIONS,
                resources=[self.bucket.bucket_arn],
                conditions=is_publisher,
            ),
            iam.PolicyStatement(
                sid="PublisherUploadsAssets",
                principals=[iam.AnyPrincipal()],
                actions=PUBLISHER_OBJECT_ACTIONS,
                resources=[objects],
                conditions=is_publisher,
            ),
            iam.PolicyStatement(
                sid="OnlyThePublisherWrites",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=OBJECT_WRITE_ACTIONS,
                resources=[objects],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": publisher}},
            ),
        ]:
            self.bucket.add_to_resource_policy(statement)
