"""Organization rollout: service-managed StackSets, the StackSet templates derived from member stacks, the
organization asset buckets, and the pinned code versions that accounts joining later receive.

Modules: ``stack_set``, ``template``, ``synthesizer``, ``asset_bucket``, ``version_pins``, ``version_reader``.
"""

from guardrails.rollout.asset_bucket import OrgAssetBucket, OrgAssetLocation
from guardrails.rollout.stack_set import AccountFilter, CallAs, OrganizationStackSet, RegionConcurrency
from guardrails.rollout.synthesizer import StackSetAdminSynthesizer
from guardrails.rollout.template import StackSetTemplate

__all__ = [
    "AccountFilter",
    "CallAs",
    "OrgAssetBucket",
    "OrgAssetLocation",
    "OrganizationStackSet",
    "RegionConcurrency",
    "StackSetAdminSynthesizer",
    "StackSetTemplate",
]
