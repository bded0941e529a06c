"""StackSetAdminSynthesizer: a deployable stack that also publishes the StackSet templates it uses.

A stack of :class:`~guardrails.rollout.stack_set.OrganizationStackSet` resources deploys
like any CDK stack (bootstrap deploy and CloudFormation execution roles, template uploaded to
the bootstrap bucket). In addition, it writes the :class:`~guardrails.rollout.template.StackSetTemplate`
of each member stack its StackSets deploy, and its asset manifest lists those templates and
their Lambda code (one destination per Region), so ``cdk deploy`` and CDK Pipelines publish them
before they deploy the stack: an ordinary CDK asset dependency.

It writes what ``DefaultStackSynthesizer`` writes for an environment-specific stack, the stack's
own file assets included (in the bootstrap bucket, e.g. the function that
reads the code versions); it exists because that synthesizer offers no way to add destinations
outside its bootstrap bucket.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import cloud_assembly_schema as cx
from constructs import IConstruct

from guardrails.rollout.template import StackSetTemplate
from guardrails.shared.validation import PropsError

QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"


def bootstrap_qualifier(scope: IConstruct) -> str:
    """The CDK bootstrap qualifier the app's default synthesizer uses."""
    return scope.node.try_get_context(QUALIFIER_CONTEXT) or cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER


#: The bootstrap stack version that has the roles and SSM parameter used below (as the CDK's own
#: DefaultStackSynthesizer requires).
MIN_BOOTSTRAP_VERSION = 6


class StackSetAdminSynthesizer(cdk.StackSynthesizer):
    """Synthesizer for stacks whose StackSets deploy member stacks (as :class:`StackSetTemplate`).

    The stack must have a concrete account and Region (the StackSet administrator account and
    home Region). :class:`~guardrails.rollout.stack_set.OrganizationStackSet` registers its
    template with :meth:`publish`.

    :param qualifier: the CDK bootstrap qualifier of the account. Default: the context value
        ``@aws-cdk/core:bootstrapQualifier``, else ``hnb659fds`` (as the default synthesizer).
    """

    def __init__(self, *, qualifier: str | None = None) -> None:
        super().__init__()
        self._qualifier = qualifier or ""
        self._templates: list[StackSetTemplate] = []
        self._own_files: dict[str, cx.FileAsset] = {}

    def publish(self, template: StackSetTemplate) -> None:
        """Publish ``template`` and its assets before this stack deploys."""
        if all(template is not known for known in self._templates):
            self._templates.append(template)

    def bind(self, stack: cdk.Stack) -> None:
        super().bind(stack)
        self._qualifier = self._qualifier or bootstrap_qualifier(stack)
        if cdk.Token.is_unresolved(stack.account) or cdk.Token.is_unresolved(stack.region):
            raise PropsError(
                f"StackSetAdminSynthesizer of {stack.node.path}",
                "an environment-agnostic stack",
                "a stack with an account and a Region (the StackSet administrator account, home Region)",
            )
        self._add_bootstrap_version_rule(MIN_BOOTSTRAP_VERSION, self._version_parameter)

    def add_file_asset(self, asset: cdk.FileAssetSource) -> cdk.FileAssetLocation:
        """Publish a file asset of this stack to its bootstrap bucket (as the default synthesizer)."""
        stack = self._bound_stack
        if asset.executable or not asset.file_name or asset.packaging is None:
            raise PropsError(f"{stack.node.path} file asset", asset.display_name, "a file or directory (no command)")
        zipped = asset.packaging == cdk.FileAssetPackaging.ZIP_DIRECTORY
        object_key = asset.source_hash + (".zip" if zipped else Path(asset.file_name).suffix)
        self._own_files[asset.source_hash] = cx.FileAsset(
            display_name=asset.display_name,
            source=cx.FileSource(
                path=asset.file_name,
                packaging=cx.FileAssetPackaging.ZIP_DIRECTORY if zipped else cx.FileAssetPackaging.FILE,
            ),
            destinations={
                f"{stack.account}-{stack.region}": cx.FileDestination(
                    bucket_name=self._bucket,
                    object_key=object_key,
                    region=stack.region,
                    assume_role_arn=self._role("file-publishing-role"),
                )
            },
        )
        return cdk.FileAssetLocation(
            bucket_name=self._bucket,
            object_key=object_key,
            http_url=f"https://s3.{stack.region}.{stack.url_suffix}/{self._bucket}/{object_key}",
            s3_object_url=f"s3://{self._bucket}/{object_key}",
        )

    def add_docker_image_asset(self, asset: cdk.DockerImageAssetSource) -> cdk.DockerImageAssetLocation:
        raise PropsError(f"{self._bound_stack.node.path} container image asset", asset.display_name, "none")

    def synthesize(self, session: cdk.ISynthesisSession) -> None:
        stack = self._bound_stack
        # The StackSet templates first: this stack's template needs their URLs and capabilities.
        stack_set_files: dict[str, cx.FileAsset] = {}
        for stack_set_template in self._templates:
            stack_set_files.update(stack_set_template.write(session.outdir))
        template = self._synthesize_template(session)
        bucket = self._bucket
        object_key = f"{template.source_hash}.json"
        files = {
            template.source_hash: cx.FileAsset(
                display_name=f"{stack.node.path} Template",
                source=cx.FileSource(path=template.file_name, packaging=cx.FileAssetPackaging.FILE),
                destinations={
                    f"{stack.account}-{stack.region}": cx.FileDestination(
                        bucket_name=bucket,
                        object_key=object_key,
                        region=stack.region,
                        assume_role_arn=self._role("file-publishing-role"),
                    )
                },
            )
        }
        files.update(self._own_files)
        files.update(stack_set_files)
        manifest_id = f"{stack.artifact_id}.assets"
        manifest_file = f"{manifest_id}.json"
        cx.Manifest.save_asset_manifest(
            cx.AssetManifest(version=cx.Manifest.version(), files=files), str(Path(session.outdir) / manifest_file)
        )
        session.assembly.add_artifact(
            manifest_id,
            type=cx.ArtifactType.ASSET_MANIFEST,
            properties=cx.AssetManifestProperties(
                file=manifest_file,
                requires_bootstrap_stack_version=MIN_BOOTSTRAP_VERSION,
                bootstrap_stack_version_ssm_parameter=self._version_parameter,
            ),
        )
        self._emit_artifact(
            session,
            assume_role_arn=self._role("deploy-role"),
            cloud_formation_execution_role_arn=self._role("cfn-exec-role"),
            stack_template_asset_object_url=f"s3://{bucket}/{object_key}",
            requires_bootstrap_stack_version=MIN_BOOTSTRAP_VERSION,
            bootstrap_stack_version_ssm_parameter=self._version_parameter,
            additional_dependencies=[manifest_id],
        )

    @property
    def _bucket(self) -> str:
        stack = self._bound_stack
        return f"cdk-{self._qualifier}-assets-{stack.account}-{stack.region}"

    @property
    def _version_parameter(self) -> str:
        return f"/cdk-bootstrap/{self._qualifier}/version"

    def _role(self, kind: str) -> str:
        account, region = self._bound_stack.account, self._bound_stack.region
        return f"arn:${{AWS::Partition}}:iam::{account}:role/cdk-{self._qualifier}-{kind}-{account}-{region}"
