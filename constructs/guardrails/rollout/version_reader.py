"""CodeVersionReader: the current S3 version id of each published Lambda code object, at deploy time,
pinned only when the object is byte for byte the file synth wrote.

The StackSet templates pin ``Code.S3ObjectVersion`` through parameters
(:mod:`guardrails.rollout.version_pins`); the stack that holds the StackSets fills them in. Its
assets (the templates and their Lambda code) are published before it deploys (``cdk deploy``
and the pipeline's Assets stage publish first), so each object exists. One custom resource
(``Custom::CodeObjectVersion``) per object and Region runs ``lambdas/code_version_reader``: S3
``HeadObject`` with ``ChecksumMode=ENABLED`` in that Region returns the current version's
``VersionId`` and ``ChecksumSHA256`` ("By default, you get the metadata of the most recent
version", https://docs.aws.amazon.com/AmazonS3/latest/userguide/RetMetaOfObjVersion.html;
``HeadObject`` needs ``s3:GetObject``), and the handler fails the deploy unless that checksum is the
SHA-256 of the file synth wrote (:mod:`guardrails.rollout.code_packages`: ``cdk-assets`` uploads with
``ChecksumAlgorithm: SHA256``). Its physical id is ``<bucket>/<key>``: it reads again only when its
properties change (a new key is a new code object), so a later overwrite of a key changes nothing
that is already approved. The asset buckets are versioned from their creation, so every object has
a version id.

One reader per stack (:meth:`CodeVersionReader.of`): one function (a :class:`GuardrailFunction`, its
own role and log group), one provider framework (:func:`scoped_provider`). The role may write its
own log group only and read (``s3:GetObject``) exactly the objects it reads.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from guardrails.rollout.asset_bucket import OrgAssetLocation
from guardrails.rollout.version_pins import region_id
from guardrails.shared.guardrail_function import GuardrailFunction
from guardrails.shared.scoped_provider import scoped_provider

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
        self.handler = GuardrailFunction(
            self,
            "Handler",
            handler="code_version_reader",
            description="Reads the version ids of the SSM Guardrails Lambda code objects after checking their SHA-256",
        )
        self._read = iam.PolicyStatement(actions=["s3:GetObject"], resources=[])
        self.handler.role.add_to_principal_policy(self._read)
        self.provider = scoped_provider(self, "Provider", on_event_handler=self.handler.function)

    def version(self, key: str, region: str, checksum: str) -> str:
        """The version id of ``key`` in the asset bucket of ``region`` (a token); the deploy fails
        unless S3's ``ChecksumSHA256`` of it is ``checksum`` (base64)."""
        if (key, region) not in self._versions:
            bucket = self.location.bucket_name(region)
            self._read.add_resources(f"arn:{cdk.Aws.PARTITION}:s3:::{bucket}/{key}")
            resource = cdk.CustomResource(
                self,
                f"{key[:12]}{region_id(region)}",
                service_token=self.provider.service_token,
                resource_type="Custom::CodeObjectVersion",
                properties={"Bucket": bucket, "Key": key, "Region": region, "ChecksumSHA256": checksum},
            )
            self._versions[key, region] = resource.get_att_string("VersionId")
        return self._versions[key, region]
