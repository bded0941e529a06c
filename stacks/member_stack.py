"""MemberStack: every enabled control for one account and Region (the `cdk deploy` quick start)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from guardrails import BreakGlass

from constructs import Construct
from stacks.config import BreakGlassConfig, ControlsConfig


class MemberStack(cdk.Stack):
    """The controls a member account runs. Environment-agnostic: it deploys into the account and
    Region of the credentials that run ``cdk deploy`` and never looks anything up at synth."""

    def __init__(self, scope: Construct, id: str, *, controls: ControlsConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, description="SSM Guardrails: privileged-access controls (member account)", **kwargs)
        if controls.break_glass.enabled:
            self.break_glass = self._break_glass(controls.break_glass)

    def _break_glass(self, settings: BreakGlassConfig) -> BreakGlass:
        break_glass = BreakGlass(
            self,
            "BreakGlass",
            operators=[self._role("BreakGlassOperator", name) for name in settings.operator_roles],
            ttl=cdk.Duration.seconds(settings.ttl_seconds),
            password_length=settings.password_length,
            parameter_prefix=settings.parameter_prefix,
            reset_after=cdk.Duration.hours(settings.reset_after_hours),
            sweep_interval=cdk.Duration.minutes(settings.sweep_interval_minutes),
            document_name=settings.document_name,
            key_alias=settings.key_alias,
        )
        for name in settings.instance_roles:
            break_glass.attach_to_instance_role(self._role("BreakGlassInstanceRole", name))
        cdk.CfnOutput(self, "BreakGlassDocumentName", value=settings.document_name)
        return break_glass

    def _role(self, purpose: str, name: str) -> iam.IRole:
        return iam.Role.from_role_name(self, f"{purpose}-{name}", name)
