"""Builds the app from a validated configuration; shared by app.py and the tests."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.asset_bucket_stack import AssetBucketStack
from stacks.config import GuardrailsConfig
from stacks.pipeline_stack import PIPELINE_STACK_NAME, PipelineStack
from stacks.stages import (
    CENTRAL_STACK_NAME,
    MEMBER_GLOBAL_STACK_NAME,
    MEMBER_REGIONAL_STACK_NAME,
    ROLLOUT_STACK_NAME,
    CentralStage,
    MemberStage,
    RolloutStage,
)

__all__ = [
    "CENTRAL_STACK_NAME",
    "MEMBER_GLOBAL_STACK_NAME",
    "MEMBER_REGIONAL_STACK_NAME",
    "PIPELINE_STACK_NAME",
    "ROLLOUT_STACK_NAME",
    "asset_bucket_stack_name",
    "build_app",
    "register_nag",
]


def asset_bucket_stack_name(region: str) -> str:
    return f"SsmGuardrails-Assets-{region}"


def build_app(app: cdk.App, config: GuardrailsConfig, config_name: str = "example") -> None:
    """Add every stack of ``config`` to ``app``.

    ``config_name`` is what the pipeline passes to ``make synth CONFIG=...``.
    """
    org = config.organization
    # Member first: CDK synthesizes stages in the order they were added, and the rollout stage
    # derives its StackSet templates from the synthesized member stacks.
    member = MemberStage(app, "Member", config=config)
    central = CentralStage(app, "Central", config=config)
    rollout = RolloutStage(app, "Rollout", config=config, members=member)
    for region in org.regions:
        AssetBucketStack(app, asset_bucket_stack_name(region), config=config, region=region)
    if config.pipeline is not None:
        PipelineStack(
            app, PIPELINE_STACK_NAME, config=config, config_name=config_name, central=central, rollout=rollout
        )


def register_nag(app: cdk.App) -> None:
    """Run cdk-nag's AwsSolutions pack at synth: any unacknowledged finding fails the synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
