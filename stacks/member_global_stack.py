"""MemberGlobalStack: what exists once per member account, deployed in the home Region only."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from guardrails import AccessKeyRemediation, SeparationOfDuties
from guardrails.separation_of_duties.organization_guard import GUARD_TAG_KEY, GUARD_TAGGED_TYPES
from guardrails.shared import Principal
from guardrails.shared.sessions import SESSION_DATA_KEY_ALIAS
from stacks.config import GuardrailsConfig, SeparationOfDutiesConfig
from stacks.operator_settings import SESSION_DOCUMENT


class MemberGlobalStack(cdk.Stack):
    """Account-wide controls, environment-agnostic like the regional stack; deploy it in the home
    Region only. The ``access-keys-rotated`` rule evaluates global IAM users (one Region, or each
    user is reported once per Region); separation of duties creates IAM policies and roles with
    contract names and tags IAM principals, which are global too."""

    def __init__(self, scope: Construct, id: str, *, config: GuardrailsConfig, **kwargs: Any) -> None:
        super().__init__(
            scope, id, description="SSM Guardrails: account-wide controls (member account, home Region)", **kwargs
        )
        # the organization guard knows this stack's keys and state machines by this tag
        cdk.Tags.of(self).add(GUARD_TAG_KEY, "SsmGuardrails-MemberGlobal", include_resource_types=GUARD_TAGGED_TYPES)
        settings = config.controls.access_key_remediation
        if settings.enabled:
            org = config.organization
            topic_arn = f"arn:{cdk.Aws.PARTITION}:sns:{org.home_region}:{org.security_account}:{settings.topic_name}"
            self.access_key_remediation = AccessKeyRemediation(
                self,
                "AccessKeyRemediation",
                topic_arn=topic_arn,
                settings=settings,
            )
        if config.controls.separation_of_duties.enabled:
            self.separation_of_duties = self._separation_of_duties(config)

    def _separation_of_duties(self, config: GuardrailsConfig) -> SeparationOfDuties:
        settings: SeparationOfDutiesConfig = config.controls.separation_of_duties
        operators = settings.operator_roles  # SeparationOfDuties imports the roles it attaches to
        # aws:approve and change templates name approvers by ARN; permission sets are resolved per account
        approvers = [p.arn_patterns(self)[0] if p.attachable else p for p in settings.approver_roles]
        # Sessions are encrypted with the SessionPrefs data key of each Region (regional stack):
        # operators need kms:GenerateDataKey on it, found by its alias.
        prefs = config.controls.session_prefs
        data_key_alias = SESSION_DATA_KEY_ALIAS if prefs.enabled and prefs.session_encryption else None
        # Node tag keys that scope other controls: operators may not set them (issue 12).
        rotation = config.controls.password_rotation
        protected = sorted(
            {*(prefs.operator_instance_tag if prefs.enabled else {})}
            | {key for window in (rotation.windows if rotation.enabled else []) for key in window.tag_filters}
        )
        readers = [
            *(prefs.operator_roles if prefs.enabled else []),
            *(rotation.administrator_roles if rotation.enabled else []),
        ]
        control = SeparationOfDuties(
            self,
            "SeparationOfDuties",
            operators=operators,
            approvers=approvers,
            settings=settings,
            session_regions=config.organization.regions,
            session_data_key_alias=data_key_alias,
            protected_tag_keys=protected,
            scp_principals=readers,
            # the preferences document SessionPrefs' function keeps (the regional stacks create it)
            guard_kept_documents=[SESSION_DOCUMENT] if prefs.enabled else [],
        )
        if control.approver_policy is not None:
            for principal in settings.approver_roles:
                if principal.attachable:
                    control.approver_policy.attach_to_role(self._role("SessionApprover", principal))
        return control

    def _role(self, purpose: str, principal: Principal) -> iam.IRole:
        path = principal.path.strip("/").replace("/", "-")
        return principal.role(self, f"{purpose}-{path}-{principal.name}" if path else f"{purpose}-{principal.name}")

    def _principal(self, purpose: str, principal: Principal) -> iam.IRole | Principal:
        """The imported role of a name or ARN; a permission set as it is (it references the policy)."""
        return self._role(purpose, principal) if principal.attachable else principal
