"""OrganizationGuardStack: the SeparationOfDuties organization guard, an SCP on the target OUs.

Deployed (``organization.guard_policy: true``) by the pipeline's rollout stage into the StackSet
account, home Region: the management account, or a delegated administrator that the management
account also allowed to manage SCPs with a resource-based delegation policy
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_delegate_policies.html).
``AWS::Organizations::Policy`` creates the policy and attaches it to ``TargetIds``:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-organizations-policy.html
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_organizations as organizations
from constructs import Construct

from guardrails import SeparationOfDuties
from guardrails.separation_of_duties.organization_guard import split_for_organizations
from stacks.config import GuardrailsConfig

GUARD_POLICY_NAME = "SsmGuardrails-OrganizationGuard"


class OrganizationGuardStack(cdk.Stack):
    """The guard's service control policy, attached to every target OU: one, or two when it does not fit
    5,120 characters (``SsmGuardrails-OrganizationGuard-2``)."""

    def __init__(
        self, scope: Construct, id: str, *, config: GuardrailsConfig, control: SeparationOfDuties, **kwargs: Any
    ) -> None:
        org = config.organization
        super().__init__(
            scope, id, env=cdk.Environment(account=org.stack_set_account, region=org.home_region),
            description="SSM Guardrails: the SeparationOfDuties organization guard (SCP on the target OUs)", **kwargs,
        )  # fmt: skip
        self.document = control.scp_document
        self.policies = [
            organizations.CfnPolicy(
                self, "GuardPolicy" if index == 0 else f"GuardPolicy{index + 1}",
                name=GUARD_POLICY_NAME if index == 0 else f"{GUARD_POLICY_NAME}-{index + 1}",
                type="SERVICE_CONTROL_POLICY", target_ids=list(org.target_ous),
                description="SSM Guardrails: what the separation-of-duties control needs beyond account policies",
                content=json.loads(json.dumps(document)),
            )
            for index, document in enumerate(split_for_organizations(self.document))
        ]  # fmt: skip
        self.policy = self.policies[0]
