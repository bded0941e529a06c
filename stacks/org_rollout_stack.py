"""OrgRolloutStack: one wave of the organization rollout (canary or the rest), as StackSets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from guardrails import (
    AccountFilter,
    OrganizationStackSet,
    RegionConcurrency,
    StackSetAdminSynthesizer,
    StackSetTemplate,
)
from stacks.config import GuardrailsConfig, OrganizationConfig


@dataclass(frozen=True)
class RolloutWave:
    """Which accounts of the target OUs one wave reaches.

    The waves never overlap: an account with both a canary and an organization stack instance
    would create the member global stack's named IAM resources twice.
    """

    name: str
    accounts: tuple[str, ...]
    account_filter: AccountFilter
    auto_deployment: bool
    #: appended to the wave's stack and StackSet names ("" for the organization wave)
    suffix: str


def rollout_waves(org: OrganizationConfig, auto_deployment: bool = True) -> list[RolloutWave]:
    """Canary accounts first (when configured), then every other target account.

    Only the organization wave deploys automatically to accounts that join a target OU later
    (``auto_deployment``, ``rollout.auto_deployment``); the canary wave is a fixed list of accounts.
    """
    canary = tuple(org.canary_accounts)
    waves = []
    if canary:
        waves.append(RolloutWave("Canary", canary, AccountFilter.ONLY, False, "Canary"))
    if org.only_accounts:
        rest = tuple(a for a in org.only_accounts if a not in canary)
        waves.append(RolloutWave("Organization", rest, AccountFilter.ONLY, auto_deployment, ""))
    else:
        excluded = (*org.exclude_accounts, *canary)
        waves.append(
            RolloutWave(
                "Organization",
                excluded,
                AccountFilter.EXCEPT if excluded else AccountFilter.NONE,
                auto_deployment,
                "",
            )
        )
    return waves


@dataclass(frozen=True)
class MemberTemplate:
    """A member stack kind as a StackSet template, and the Regions it deploys to."""

    name: str
    template: StackSetTemplate
    regions: Sequence[str]


class OrgRolloutStack(cdk.Stack):
    """A service-managed StackSet per member template, for the accounts of one wave. Lives in the
    StackSet account (management account or delegated administrator), home Region."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: GuardrailsConfig,
        wave: RolloutWave,
        templates: Sequence[MemberTemplate],
        **kwargs: Any,
    ) -> None:
        org = config.organization
        super().__init__(
            scope,
            id,
            env=cdk.Environment(account=org.stack_set_account, region=org.home_region),
            synthesizer=StackSetAdminSynthesizer(),
            description=f"SSM Guardrails: StackSets of the {wave.name.lower()} wave (StackSet account)",
            **kwargs,
        )
        rollout = config.rollout
        self.stack_sets = [
            OrganizationStackSet(
                self,
                member.name,
                template=member.template,
                stack_set_name="-".join(filter(None, ["SsmGuardrails", member.name, wave.suffix])),
                organizational_unit_ids=org.target_ous,
                regions=member.regions,
                call_as=org.call_as,
                accounts=wave.accounts,
                account_filter=wave.account_filter,
                auto_deployment=wave.auto_deployment,
                retain_stacks_on_account_removal=rollout.retain_stacks_on_account_removal,
                max_concurrent_percentage=rollout.max_concurrent_percentage,
                failure_tolerance_percentage=rollout.failure_tolerance_percentage,
                region_concurrency=RegionConcurrency(rollout.region_concurrency.upper()),
            )
            for member in templates
        ]
