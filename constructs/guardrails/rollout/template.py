"""StackSetTemplate: a member stack's template, re-pointed at the organization asset buckets.

A member stack is an ordinary CDK stack: ``cdk deploy`` puts it into one account, with its Lambda
code in that account's CDK bootstrap bucket. A service-managed StackSet deploys the same template
into many accounts and Regions that are not bootstrapped, so the StackSet version differs in one
respect only: the code comes from the organization asset bucket of the target Region
(:class:`~guardrails.rollout.asset_bucket.OrgAssetBucket`, ``<prefix>-<account>-${AWS::Region}``).

:class:`StackSetTemplate` derives that version from the member stack's synthesized template and
asset manifest, after the member stack's stage is synthesized:

- every ``Fn::Sub`` naming the bootstrap asset bucket names the organization bucket instead (a
  template that still mentions the bootstrap bucket afterwards is refused);
- the ``BootstrapVersion`` parameter and its rule go (target accounts have no CDK bootstrap);
- every function pins ``Code.S3ObjectVersion`` through a parameter per code object and Region
  (:mod:`guardrails.rollout.version_pins`), which the StackSet fills in;
- every function's code is zipped at synth, reproducibly, under its own key ``<hash>.synth.zip``,
  and its SHA-256 is kept (:meth:`StackSetTemplate.checksum`) for the version reader to check
  (:mod:`guardrails.rollout.code_packages`);
- every file asset gets one destination per Region's organization bucket, and the template one
  in the home Region's bucket, where the StackSet reads it (:attr:`StackSetTemplate.template_url`).

The stack that holds the StackSets writes and publishes these files
(:class:`~guardrails.rollout.synthesizer.StackSetAdminSynthesizer`). The member stack is
built once and serves both ways of deploying it, which also keeps synth time flat.

Why not ``cdk-stacksets`` (cdklabs): its StackSet stack copies assets at deploy time with a
``BucketDeployment`` (a Lambda function with the AWS CLI layer, one per Region bucket) in the
StackSet administrator account, which must then be able to write the buckets, and its template
is a second stack built from scratch. Here nothing runs in that account to move files, and the
buckets are written by the CDK publishing role only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import cloud_assembly_schema as cx

from guardrails.rollout.asset_bucket import OrgAssetLocation
from guardrails.rollout.code_packages import published_key, sha256_base64, write_zip
from guardrails.rollout.version_pins import (
    check_distinct_prefixes,
    check_parameter_count,
    parameter_name,
    pin_code_versions,
    predicted_code_keys,
)
from guardrails.shared.validation import PropsError

#: IAM resource types and the property that gives each a custom (account-wide) name.
_NAMED_IAM = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}
_PACKAGING = {"file": cx.FileAssetPackaging.FILE, "zip": cx.FileAssetPackaging.ZIP_DIRECTORY}
_BOOTSTRAP_PARAMETER = "BootstrapVersion"
_BOOTSTRAP_RULE = "CheckBootstrapVersion"


def required_capabilities(template: Mapping[str, Any]) -> list[str]:
    """The capabilities CloudFormation demands for ``template``: none, ``CAPABILITY_IAM``, or
    ``CAPABILITY_NAMED_IAM`` when an IAM resource has a custom name."""
    resources = template.get("Resources", {}).values()
    iam = [r for r in resources if r["Type"].startswith("AWS::IAM::")]
    if any(_NAMED_IAM.get(r["Type"]) in r.get("Properties", {}) for r in iam):
        return ["CAPABILITY_NAMED_IAM"]
    return ["CAPABILITY_IAM"] if iam else []


class StackSetTemplate:
    """The StackSet version of ``stack``.

    :param stack: the member stack. Environment-agnostic (one template serves every account and
        Region), in a :class:`aws_cdk.Stage` other than the app (so that it is synthesized before
        the stacks that deploy it), with the default synthesizer.
    :param location: the organization asset buckets (account, Regions, home Region).
    :param regions: the Regions StackSets deploy this template to (each gets its own version
        parameters). Default: every Region of ``location``.
    """

    def __init__(self, stack: cdk.Stack, location: OrgAssetLocation, regions: Sequence[str] | None = None) -> None:
        where = f"StackSetTemplate of {stack.node.path}"
        if not (cdk.Token.is_unresolved(stack.account) and cdk.Token.is_unresolved(stack.region)):
            raise PropsError(f"{where}: environment", f"{stack.account}/{stack.region}", "none (environment-agnostic)")
        if cdk.App.is_app(cdk.Stage.of(stack)):
            raise PropsError(f"{where}: stage", "the app", "a cdk.Stage inside the app, synthesized first")
        if not isinstance(stack.synthesizer, cdk.DefaultStackSynthesizer):
            raise PropsError(f"{where}: synthesizer", type(stack.synthesizer).__name__, "DefaultStackSynthesizer")
        self.regions = list(regions or location.regions)
        for region in self.regions:
            if region not in location.regions:
                raise PropsError(f"{where}: regions", region, f"one of the asset buckets' {list(location.regions)}")
        self.stack = stack
        self.location = location
        self._code_keys: list[str] | None = None
        self.description = stack.template_options.description
        self._files: dict[str, cx.FileAsset] | None = None
        self._template_url: str | None = None
        self._capabilities: list[str] | None = None
        self._checksums: dict[str, str] = {}

    @property
    def template_url(self) -> str:
        """HTTPS URL of the published template in the home Region's asset bucket (a token)."""
        return cdk.Lazy.uncached_string(_StringAfterWrite(lambda: self._template_url))

    @property
    def capabilities(self) -> list[str]:
        """What the template requires of CloudFormation (a token), read from the derived template."""
        return cdk.Lazy.uncached_list(_ListAfterWrite(lambda: self._capabilities))

    @property
    def code_keys(self) -> list[str]:
        """The object keys of the Lambda code, read from the member stack's constructs (so the
        deploying stack can build its version readers before synthesis; :meth:`write` checks them)."""
        if self._code_keys is None:
            keys = sorted(published_key(key) for key in predicted_code_keys(self.stack))
            where = f"StackSetTemplate of {self.stack.node.path}"
            check_parameter_count(where, 0, keys, self.regions)
            check_distinct_prefixes(where, keys)
            self._code_keys = keys
        return self._code_keys

    def checksum(self, key: str) -> str:
        """The base64 SHA-256 of the file published at code object ``key`` (a token, known once the
        template is written)."""
        return cdk.Lazy.uncached_string(_StringAfterWrite(lambda: self._checksums.get(key)))

    def version_parameters(self) -> list[tuple[str, str, str]]:
        """``(parameter name, object key, Region)`` for every version parameter of the template."""
        return [(parameter_name(key, region), key, region) for region in self.regions for key in self.code_keys]

    def write(self, outdir: str) -> Mapping[str, cx.FileAsset]:
        """Write the StackSet template into ``outdir`` (once) and return the asset manifest entries
        that publish it and its files."""
        if self._files is not None:
            return self._files
        artifact = cdk.Stage.of(self.stack).synth().get_stack_artifact(self.stack.artifact_id)
        member_dir = Path(artifact.assembly.directory)
        manifest = json.loads((member_dir / f"{artifact.id}.assets.json").read_text())
        if manifest.get("dockerImages"):
            raise PropsError(
                f"StackSetTemplate of {self.stack.node.path}", "container image assets", "file assets only (no Docker)"
            )
        bootstrap_bucket = _bootstrap_bucket(manifest, artifact.template_file)
        org_bucket = self.location.bucket_name("${AWS::Region}")
        template = _retarget(artifact.template, bootstrap_bucket, org_bucket)
        _rename_code_keys(template, org_bucket)
        where = f"StackSetTemplate of {self.stack.node.path}"
        pinned = pin_code_versions(template, org_bucket, self.regions, where)
        if pinned != self.code_keys:
            raise PropsError(f"{where}: Lambda code keys", pinned, f"those of its constructs, {self.code_keys}")
        body = json.dumps(template, indent=1, sort_keys=True).encode()
        digest = hashlib.sha256(body).hexdigest()
        file_name = f"{artifact.id}.stackset.template.json"
        (Path(outdir) / file_name).write_bytes(body)

        home = self.location.home_region
        files = {
            digest: self._entry(
                f"{self.stack.node.path} StackSet template", file_name, "file", f"{digest}.json", [home]
            )
        }
        for asset_id, entry in manifest["files"].items():
            if entry["source"]["path"] != artifact.template_file:
                source, packaging = member_dir / entry["source"]["path"], entry["source"]["packaging"]
                key = next(iter(entry["destinations"].values()))["objectKey"]
                if published_key(key) in pinned:  # Lambda code: zipped here, its checksum kept
                    key = published_key(key)
                    source = self._package(source, packaging, Path(outdir) / f"{asset_id}.synth.zip")
                    packaging = "file"
                    self._checksums[key] = sha256_base64(source)
                path = os.path.relpath(source, outdir)
                name = entry.get("displayName", asset_id)
                # its own id: the wave stack may publish the same asset (same hash) to its bootstrap bucket
                files[f"{asset_id}-stackset"] = self._entry(name, path, packaging, key, self.location.regions)
        self._capabilities = required_capabilities(template)
        self._template_url = f"https://{self.location.bucket_name(home)}.s3.{home}.{cdk.Aws.URL_SUFFIX}/{digest}.json"
        self._files = files
        return files

    @staticmethod
    def _package(source: Path, packaging: str, target: Path) -> Path:
        """The file to publish: a directory zipped into ``target``, a file as it is."""
        if packaging == "zip":
            write_zip(source, target)
            return target
        return source

    def _entry(self, name: str, path: str, packaging: str, key: str, regions: Any) -> cx.FileAsset:
        return cx.FileAsset(
            display_name=name,
            source=cx.FileSource(path=path, packaging=_PACKAGING[packaging]),
            destinations={
                region: cx.FileDestination(
                    bucket_name=self.location.bucket_name(region),
                    object_key=key,
                    region=region,
                    assume_role_arn=self.location.publishing_role_arn(region),
                )
                for region in regions
            },
        )


def _rename_code_keys(template: Mapping[str, Any], org_bucket: str) -> None:
    """Point every function that reads its code from the organization bucket at the synth-zipped key."""
    for resource in template.get("Resources", {}).values():
        code = resource.get("Properties", {}).get("Code", {}) if resource["Type"] == "AWS::Lambda::Function" else {}
        if code.get("S3Bucket") == {"Fn::Sub": org_bucket}:
            code["S3Key"] = published_key(code["S3Key"])


def _bootstrap_bucket(manifest: Mapping[str, Any], template_file: str) -> str:
    """The bucket name expression the default synthesizer used (it carries the bootstrap qualifier)."""
    for entry in manifest["files"].values():
        for destination in entry["destinations"].values():
            return destination["bucketName"]
    raise PropsError("StackSetTemplate asset manifest", template_file, "a manifest with at least the template")


def _retarget(template: Mapping[str, Any], bootstrap_bucket: str, org_bucket: str) -> dict[str, Any]:
    """``template`` with its file assets read from the organization buckets and no bootstrap check."""
    derived = json.loads(json.dumps(template).replace(bootstrap_bucket, org_bucket))
    derived.get("Parameters", {}).pop(_BOOTSTRAP_PARAMETER, None)
    derived.get("Rules", {}).pop(_BOOTSTRAP_RULE, None)
    for section in ("Parameters", "Rules"):
        if section in derived and not derived[section]:
            del derived[section]
    left = bootstrap_bucket.split("${", 1)[0]
    if left in json.dumps(derived):
        raise PropsError(
            "StackSetTemplate",
            f"a reference to {left}... outside a Fn::Sub",
            "file assets referenced as the synthesizer does",
        )
    return derived


class _AfterWrite:
    """A value known only once the template is written.

    CDK resolves every token once while it prepares the app (to find cross-stack references),
    before any template exists; the value is absent then and present when the deploying stack's
    template is rendered (its synthesizer writes the StackSet templates first).
    """

    def __init__(self, value: Any) -> None:
        self._value = value

    def produce(self, context: cdk.IResolveContext) -> Any:
        return self._value()


@jsii.implements(cdk.IStringProducer)
class _StringAfterWrite(_AfterWrite):
    pass


@jsii.implements(cdk.IListProducer)
class _ListAfterWrite(_AfterWrite):
    pass
