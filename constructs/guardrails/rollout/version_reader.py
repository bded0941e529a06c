"""CodeVersionReader: the current S3 version id of each published Lambda code object, at deploy time.

The StackSet templates pin ``Code.S3ObjectVersion`` through parameters
(:mod:`guardrails.rollout.version_pins`); the stack that holds the StackSets fills them in. Its
assets (the templates and their Lambda code) are published before it deploys (``cdk deploy``
and the pipeline's Assets stage publish first), so each object exists; one ``AwsCustomResource``
per object and Region calls S3 ``HeadObject`` in that Region and returns ``VersionId`` (the
current version: "By default, you get the metadata of the most recent version",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/RetMetaOfObjVersion.html; ``HeadObject``
needs ``s3:GetObject``). Its physical id is ``<bucket>/<key>``: it reads again only when the key
changes (a new key is a new resource), so a later overwrite of a key changes nothing that is
already approved. The asset buckets are versioned from their creation, so every object has a
version id.

One reader per stack (:meth:`CodeVersionReader.of`): one role, one log group, one function. The
role is ours, not the ``AwsSolutions``-flagged ``AWSLambdaBasicExecutionRole`` default: it may write
its own log group only and read (``s3:GetObject``) exactly the objects it reads. cdk-nag has no
finding on it (the function's runtime is the latest Node.js), so nothing is acknowledged.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from guardrails.rollout.asset_bucket import OrgAssetLocation
from guardrails.rollout.version_pins import region_id

_ID = "CodeVersionReader"


class CodeVersionReader(Construct):
    """Reads object versions of the organization asset buckets (see the module docstring)."""

    @classmethod
    def of(cls, scope: Construct, location: OrgAssetLocation) -> CodeVersionReader:
        stack = cdk.Stack.of(scope)
        found = stack.node.try_find_child(_ID)
        return found if isinstance(found, CodeVersionReader) else cls(stack, _ID, location=location)

    def __init__(self, scope: Construct, id: str, *, location: OrgAssetLocation) -> None:
        super().__init__(scope, id)
        self.location = location
        self._versions: dict[tuple[str, str], str] = {}
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=logs.RetentionDays.ONE_YEAR, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Reads the version ids of the SSM Guardrails Lambda code objects; writes only its own logs",
        )
        self.log_group.grant_write(self.role)
        self._read = iam.PolicyStatement(actions=["s3:GetObject"], resources=[])
        self.role.add_to_principal_policy(self._read)

    def version(self, key: str, region: str) -> str:
        """The version id of ``key`` in the asset bucket of ``region`` (a token)."""
        if (key, region) not in self._versions:
            bucket = self.location.bucket_name(region)
            call = cr.AwsSdkCall(
                service="S3",
                action="headObject",
                parameters={"Bucket": bucket, "Key": key},
                region=region,
                physical_resource_id=cr.PhysicalResourceId.of(f"{bucket}/{key}"),
                output_paths=["VersionId"],
            )
            self._read.add_resources(f"arn:{cdk.Aws.PARTITION}:s3:::{bucket}/{key}")
            resource = cr.AwsCustomResource(
                self,
                f"{key[:12]}{region_id(region)}",
                resource_type="Custom::CodeObjectVersion",
                on_create=call,
                on_update=call,
                role=self.role,
                log_group=self.log_group,
                install_latest_aws_sdk=False,
            )
            self._versions[key, region] = resource.get_response_field("VersionId")
        return self._versions[key, region]
