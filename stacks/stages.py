"""Stages: the member stacks (deployed by hand or, as StackSet templates, by the rollout), and the
two the pipeline deploys: the central stack, then the organization rollout."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from guardrails import StackSetTemplate
from stacks.asset_bucket_stack import asset_location
from stacks.central_stack import CentralStack
from stacks.config import GuardrailsConfig
from stacks.member_global_stack import MemberGlobalStack
from stacks.member_regional_stack import MemberRegionalStack
from stacks.org_rollout_stack import MemberTemplate, OrgRolloutStack, rollout_waves
from stacks.organization_guard_stack import GUARD_POLICY_NAME, OrganizationGuardStack

CENTRAL_STACK_NAME = "SsmGuardrails-Central"
ROLLOUT_STACK_NAME = "SsmGuardrails-Rollout"
GUARD_STACK_NAME = GUARD_POLICY_NAME
MEMBER_GLOBAL_STACK_NAME = "SsmGuardrails-MemberGlobal"
MEMBER_REGIONAL_STACK_NAME = "SsmGuardrails-MemberRegional"


class CentralStage(cdk.Stage):
    """The security account: organization-wide topics (deployed first: members publish to them)."""

    def __init__(self, scope: Construct, id: str, *, config: GuardrailsConfig) -> None:
        super().__init__(scope, id)
        self.central = CentralStack(self, CENTRAL_STACK_NAME, stack_name=CENTRAL_STACK_NAME, config=config)


class MemberStage(cdk.Stage):
    """The member stacks, for ``cdk deploy`` into one account and as the source of the StackSet
    templates. Not deployed by the pipeline (StackSets deploy them)."""

    def __init__(self, scope: Construct, id: str, *, config: GuardrailsConfig) -> None:
        super().__init__(scope, id)
        self.member_global = None
        if config.controls.has_global_controls:
            self.member_global = MemberGlobalStack(
                self, MEMBER_GLOBAL_STACK_NAME, stack_name=MEMBER_GLOBAL_STACK_NAME, config=config
            )
        self.member_regional = MemberRegionalStack(
            self,
            MEMBER_REGIONAL_STACK_NAME,
            stack_name=MEMBER_REGIONAL_STACK_NAME,
            controls=config.controls,
            home_region=config.organization.home_region,
        )


class RolloutStage(cdk.Stage):
    """The StackSet account: one stack of StackSets per wave, canary first."""

    def __init__(self, scope: Construct, id: str, *, config: GuardrailsConfig, members: MemberStage) -> None:
        super().__init__(scope, id)
        org = config.organization
        location = asset_location(config, self)
        templates = []
        if members.member_global is not None:
            templates.append(
                MemberTemplate(
                    "MemberGlobal",
                    StackSetTemplate(members.member_global, location, [org.home_region]),
                    [org.home_region],
                )
            )
        regional = home_region_first(org.regions, org.home_region)
        templates.append(
            MemberTemplate("MemberRegional", StackSetTemplate(members.member_regional, location, regional), regional)
        )
        self.guard = None
        sod = members.member_global and getattr(members.member_global, "separation_of_duties", None)
        if org.guard_policy and sod is not None:  # the SCP first: it guards what the waves deploy
            self.guard = OrganizationGuardStack(self, GUARD_STACK_NAME, stack_name=GUARD_STACK_NAME, config=config,
                                                control=sod)  # fmt: skip
        self.waves: list[OrgRolloutStack] = []
        for wave in rollout_waves(org, config.rollout.auto_deployment):
            name = f"{ROLLOUT_STACK_NAME}{wave.suffix}"
            stack = OrgRolloutStack(self, name, stack_name=name, config=config, wave=wave, templates=templates)
            if self.waves:
                stack.add_stack_dependency(self.waves[-1], "the previous wave must succeed first")
            elif self.guard is not None:
                stack.add_stack_dependency(self.guard, "the organization guard applies before the rollout")
            self.waves.append(stack)


def home_region_first(regions: list[str], home_region: str) -> list[str]:
    return [home_region, *(region for region in regions if region != home_region)]
