"""PipelineStack: the CDK pipeline that tests, then delivers every change to the organization."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from guardrails.rollout.synthesizer import bootstrap_qualifier
from guardrails.shared.nag import acknowledge, acknowledge_reviewed_wildcards, acknowledge_wildcard_resource
from stacks.config import GuardrailsConfig, PipelineSourceConfig
from stacks.stages import CentralStage, RolloutStage

PIPELINE_STACK_NAME = "SsmGuardrails-Pipeline"

# Wildcards in the policies CDK Pipelines generates, each reviewed once. A wildcard that is not
# listed here (a new CDK version, a new step) stays a cdk-nag finding and fails the synth.
_REVIEWED_ACTIONS = {
    "s3:GetObject*": "Read of the pipeline's own artifact bucket only (the statement's resources).",
    "s3:GetBucket*": "Read of the pipeline's own artifact bucket only (the statement's resources).",
    "s3:List*": "Listing of the pipeline's own artifact bucket only (the statement's resources).",
    "s3:DeleteObject*": "Write of the pipeline's own artifact bucket objects only (the statement's resources).",
    "s3:Abort*": "Multipart uploads into the pipeline's own artifact bucket only (the statement's resources).",
    "kms:GenerateDataKey*": "Only on the pipeline's artifact key (the statement's resource).",
    "kms:ReEncrypt*": "Only on the pipeline's artifact key (the statement's resource).",
}
_REVIEWED_RESOURCES = [
    (
        re.compile(r"arn:(<AWS::Partition>|aws[a-z-]*):cloudtrail:\*:\d{12}:trail/\*"),
        "Read-only status and event selectors of the management account's trails (the organization trail's "
        "name is not in the config).",
    ),
    (re.compile(r"<PipelineArtifactsBucket\w+\.Arn>/\*"), "Objects of the pipeline's own artifact bucket."),
    (
        re.compile(r"arn:(<AWS::Partition>|aws[a-z-]*):logs:[a-z0-9-]+:\d{12}:log-group:/aws/codebuild/.*"),
        "CodeBuild log groups (/aws/codebuild/...) of this account and Region, for the pipeline's build logs.",
    ),
    (
        re.compile(r"arn:(<AWS::Partition>|aws[a-z-]*):codebuild:[a-z0-9-]+:\d{12}:report-group/.*"),
        "CodeBuild test report groups of this account and Region, named after the pipeline's projects.",
    ),
    (
        re.compile(
            r"arn:(<AWS::Partition>|aws[a-z-]*):cloudformation:[a-z0-9-]+:\d{12}:stackset/SsmGuardrails-[A-Za-z-]+:\*"
        ),
        "One wave StackSet by name (pre-flight); the trailing * is the StackSet id every StackSet ARN ends with.",
    ),
    (
        re.compile(r"arn:\*:iam::\d{12}:role/\*"),
        "Self-mutation assumes only roles tagged aws-cdk:bootstrap-role (the CDK bootstrap roles) of this account.",
    ),
]
_REVIEWED_UNSCOPED_ACTIONS = {
    "cloudformation:DescribeStacks": "the CDK CLI reads stack state before it assumes the bootstrap deploy role",
    "s3:ListBucket": "the CDK CLI locates the bootstrap bucket before it assumes the bootstrap roles",
    "cloudtrail:DescribeTrails": "the pre-flight lists the trails that apply in a Region (no resource type exists)",
}
_OWN_BUILD_ACTIONS = {"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"}


class PipelineStack(cdk.Stack):
    """Source -> Build (``make test``, ``make synth``, ``make lint-templates``: tests, cdk-nag and
    cfn-lint of the deployed config's templates gate every rollout) -> UpdatePipeline
    (self-mutation) -> Assets -> Central -> Rollout (canary wave, optional manual approval,
    organization wave).

    Deploy it once by hand; afterwards every push (or new S3 object) updates the pipeline itself
    and rolls the change out. Cross-account deployments use the roles of ``cdk bootstrap --trust``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: GuardrailsConfig,
        config_name: str,
        central: CentralStage,
        rollout: RolloutStage,
        **kwargs: Any,
    ) -> None:
        settings = config.pipeline
        if settings is None:
            raise ValueError("PipelineStack needs a pipeline section in the config")
        org = config.organization
        super().__init__(
            scope,
            id,
            env=cdk.Environment(account=settings.account or org.stack_set_account, region=org.home_region),
            description="SSM Guardrails: delivery pipeline (tests, central stack, canary, organization)",
            **kwargs,
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=pipelines.ShellStep(
                "Synth",
                input=self._source(settings.source),
                commands=["make test", f"make synth CONFIG={config_name}", "make lint-templates"],
                primary_output_directory="cdk.out",
            ),
            self_mutation=True,
            cross_account_keys=True,
            enable_key_rotation=True,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                    compute_type=codebuild.ComputeType.SMALL,
                )
            ),
        )
        self.pipeline.add_stage(central)
        approval = pipelines.ManualApprovalStep(
            "ApproveOrganization",
            comment="The canary accounts run the new version. Check them, then approve the rollout "
            "to every other account of the target OUs.",
        )
        steps = [pipelines.StackSteps(stack=rollout.waves[-1], pre=[approval])]
        self.pipeline.add_stage(
            rollout,
            pre=[
                self._preflight(
                    config, config_name, [s.stack_set_name for wave in rollout.waves for s in wave.stack_sets]
                )
            ],
            stack_steps=steps if settings.approve_before_organization else None,
        )
        self.pipeline.build_pipeline()
        self._narrow_asset_role()
        self._acknowledge_generated_findings()

    def _preflight(
        self, config: GuardrailsConfig, config_name: str, stack_set_names: list[str]
    ) -> pipelines.CodeBuildStep:
        """scripts/preflight.py before the waves: no account in both waves, every asset bucket owned
        by the StackSet account, an organization trail. Its role may list the waves' stack instances
        and the buckets, and read the organization's trails, only."""
        org = config.organization
        # a StackSet ARN ends with ":<StackSet id>"; the names are the waves' own StackSets
        stack_sets = [
            f"arn:{self.partition}:cloudformation:{org.home_region}:{org.stack_set_account}:stackset/{name}:*"
            for name in stack_set_names
        ]
        buckets = [
            f"arn:{self.partition}:s3:::{config.rollout.asset_bucket_prefix}-{org.stack_set_account}-{region}"
            for region in org.regions
        ]
        if config.pipeline.account in (None, org.stack_set_account):
            return pipelines.CodeBuildStep(
                "Preflight",
                commands=[f"make preflight CONFIG={config_name}"],
                role_policy_statements=[
                    iam.PolicyStatement(actions=["cloudformation:ListStackInstances"], resources=stack_sets),
                    iam.PolicyStatement(actions=["s3:ListBucket"], resources=buckets),
                    *_trail_reads(self.partition, org.management_account),
                ],
            )
        # A separate pipeline account reads the StackSet account through that account's CDK lookup
        # role: `cdk bootstrap --trust <pipeline account>` lets the pipeline account assume it, and
        # it is read-only (ReadOnlyAccess), which covers ListStackInstances, HeadBucket and the
        # CloudTrail reads.
        lookup_role = (
            f"arn:{self.partition}:iam::{org.stack_set_account}:role/"
            f"cdk-{bootstrap_qualifier(self)}-lookup-role-{org.stack_set_account}-{org.home_region}"
        )
        return pipelines.CodeBuildStep(
            "Preflight",
            commands=[f"make preflight CONFIG={config_name} ROLE_ARN={lookup_role}"],
            role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[lookup_role])],
        )

    def _narrow_asset_role(self) -> None:
        """CDK Pipelines lets its asset-publishing role start, stop and follow builds of every
        project (``Resource: *``) and write every report group of the account. Narrow both to the
        asset projects this pipeline generated (the role runs those projects and nothing else)."""
        projects = [
            construct
            for construct in self.pipeline.node.find_all()
            if isinstance(construct, codebuild.CfnProject) and "/Assets/" in construct.node.path
        ]
        if not projects:
            return
        report_group_wildcard = self.format_arn(service="codebuild", resource="report-group", resource_name="*")
        for construct in self.pipeline.node.find_all():
            if not isinstance(construct, iam.CfnPolicy):
                continue
            document = self.resolve(construct.policy_document)
            changed = False
            for statement in document["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if statement["Resource"] == "*" and set(actions) <= _OWN_BUILD_ACTIONS:
                    statement["Resource"] = [self.resolve(project.attr_arn) for project in projects]
                elif statement["Resource"] == self.resolve(report_group_wildcard):
                    statement["Resource"] = [
                        self.resolve(
                            self.format_arn(
                                service="codebuild", resource="report-group", resource_name=f"{project.ref}-*"
                            )
                        )
                        for project in projects
                    ]
                    for resource in statement["Resource"]:
                        acknowledge_wildcard_resource(
                            construct, resource, "Test report groups of the pipeline's own asset projects only."
                        )
                else:
                    continue
                changed = True
            if changed:
                # the policy is complete (build_pipeline() ran); cdk-nag reads this property
                construct.policy_document = document

    def _acknowledge_generated_findings(self) -> None:
        for construct in self.pipeline.node.find_all():
            if isinstance(construct, iam.CfnPolicy):
                acknowledge_reviewed_wildcards(
                    construct,
                    actions=_REVIEWED_ACTIONS,
                    resources=_REVIEWED_RESOURCES,
                    unscoped_actions=_REVIEWED_UNSCOPED_ACTIONS,
                )
        acknowledge(
            self.pipeline.pipeline.artifact_bucket,
            "AwsSolutions-S1",
            "Pipeline artifacts (source zips, cloud assemblies) are encrypted with the pipeline's rotating "
            "KMS key and read only by the pipeline's roles; their API use is in CloudTrail.",
        )

    def _source(self, source: PipelineSourceConfig) -> pipelines.CodePipelineSource:
        if source.connection is not None:
            return pipelines.CodePipelineSource.connection(
                source.connection.repository, source.connection.branch, connection_arn=source.connection.connection_arn
            )
        assert source.s3 is not None  # the config allows exactly one
        bucket = s3.Bucket.from_bucket_name(self, "SourceBucket", source.s3.bucket)
        return pipelines.CodePipelineSource.s3(bucket, source.s3.object_key, trigger=actions.S3Trigger.EVENTS)


def _trail_reads(partition: str, management_account: str) -> list[iam.PolicyStatement]:
    """The pre-flight's CloudTrail reads (organization.cloudtrail). DescribeTrails has no resource
    type (Service Authorization Reference, AWS CloudTrail); an organization trail belongs to the
    management account, also when a delegated administrator created it
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-delegated-administrator.html)."""
    trails = f"arn:{partition}:cloudtrail:*:{management_account}:trail/*"
    return [
        iam.PolicyStatement(actions=["cloudtrail:DescribeTrails"], resources=["*"]),
        iam.PolicyStatement(actions=["cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"], resources=[trails]),
    ]
