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
from stacks.config import GuardrailsConfig

GUARD_POLICY_NAME = "SsmGuardrails-OrganizationGuard"


class OrganizationGuardStack(cdk.Stack):
    """One service control policy, attached to every target OU."""

    def __init__(
        self, scope: Construct, id: str, *, config: GuardrailsConfig, control: SeparationOfDuties, **kwargs: Any
    ) -> None:
        org = config.organization
        super().__init__(
            scope, id, env=cdk.Environment(account=org.stack_set_account, region=org.home_region),
            description="SSM Guardrails: the SeparationOfDuties organization guard (SCP on the target OUs)", **kwargs,
        )  # fmt: skip
        self.document = control.scp_document
        self.policy = organizations.CfnPolicy(
            self, "GuardPolicy", name=GUARD_POLICY_NAME, type="SERVICE_CONTROL_POLICY",
            description="SSM Guardrails: what the separation-of-duties control needs beyond account policies",
            content=json.loads(json.dumps(self.document)), target_ids=list(org.target_ous),
        )  # fmt: skip
