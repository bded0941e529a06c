"""AssetBucketStack: the organization asset bucket of one Region, in the StackSet account."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from guardrails import OrgAssetBucket, OrgAssetLocation
from guardrails.rollout.synthesizer import bootstrap_qualifier
from stacks.config import GuardrailsConfig


def asset_location(config: GuardrailsConfig, scope: Construct) -> OrgAssetLocation:
    """Where the StackSet templates and their Lambda code are published (the publishing roles
    carry the app's bootstrap qualifier)."""
    org = config.organization
    return OrgAssetLocation(
        account=org.stack_set_account,
        regions=org.regions,
        home_region=org.home_region,
        prefix=config.rollout.asset_bucket_prefix,
        qualifier=bootstrap_qualifier(scope),
    )


class AssetBucketStack(cdk.Stack):
    """One per Region of ``organization.regions``. Deployed once by hand, like ``cdk bootstrap``:
    the pipeline publishes assets before it deploys anything, so the buckets must exist first."""

    def __init__(self, scope: Construct, id: str, *, config: GuardrailsConfig, region: str, **kwargs: Any) -> None:
        location = asset_location(config, scope)
        super().__init__(
            scope,
            id,
            env=cdk.Environment(account=location.account, region=region),
            description=f"SSM Guardrails: organization-readable StackSet assets of {region} (StackSet account)",
            **kwargs,
        )
        self.bucket = OrgAssetBucket(
            self,
            "AssetBucket",
            location=location,
            organization_id=config.organization.id,
            access_logs=config.rollout.asset_bucket_audit == "access_logs",
        ).bucket
