"""MemberRegionalStack: the regional controls of one member account, for each target Region."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from guardrails import BreakGlass, PasswordRotationWindow
from stacks.config import BreakGlassConfig, ControlsConfig, PasswordRotationConfig


class MemberRegionalStack(cdk.Stack):
    """Break-glass and password rotation: documents, keys, windows. Environment-agnostic: it deploys
    into the account and Region of the credentials that run ``cdk deploy`` and looks nothing up at
    synth. Nothing in it has an account-wide name, so it can land in every Region of an account."""

    def __init__(self, scope: Construct, id: str, *, controls: ControlsConfig, **kwargs: Any) -> None:
        super().__init__(
            scope, id, description="SSM Guardrails: regional privileged-access controls (member account)", **kwargs
        )
        if controls.break_glass.enabled:
            self.break_glass = self._break_glass(controls.break_glass)
        if controls.password_rotation.enabled:
            self.rotation_windows = self._password_rotation(controls.password_rotation)

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

    def _password_rotation(self, settings: PasswordRotationConfig) -> list[PasswordRotationWindow]:
        """One window per configured environment; they share the first window's key, log group and topic."""
        administrators = [self._role("RotationAdministrator", name) for name in settings.administrator_roles]
        instance_roles = [self._role("RotationInstanceRole", name) for name in settings.instance_roles]
        windows: list[PasswordRotationWindow] = []
        for window in settings.windows:
            first = windows[0] if windows else None
            rotation = PasswordRotationWindow(
                self,
                f"PasswordRotation-{window.name}",
                administrators=administrators,
                tag_filters=window.tag_filters,
                schedule=window.schedule,
                schedule_timezone=window.schedule_timezone,
                duration=cdk.Duration.hours(window.duration_hours),
                cutoff=cdk.Duration.hours(window.cutoff_hours),
                owner_information=window.owner_information,
                max_concurrency=window.max_concurrency,
                max_errors=window.max_errors,
                priority=window.priority,
                task_timeout=cdk.Duration.minutes(window.task_timeout_minutes),
                max_password_age=cdk.Duration.days(window.max_password_age_days),
                key=first.key if first else None,
                key_alias=settings.key_alias,
                log_group=first.log_group if first else None,
                alert_topic=first.alert_topic if first else None,
            )
            for role in instance_roles:
                rotation.attach_to_instance_role(role)
            cdk.CfnOutput(
                self,
                f"PasswordRotation{window.name.replace('-', '')}FreshnessReport",
                value=rotation.freshness_function.function.function_name,
                description="Invoke with {} for a freshness report now",
            )
            windows.append(rotation)
        return windows

    def _role(self, purpose: str, name: str) -> iam.IRole:
        return iam.Role.from_role_name(self, f"{purpose}-{name}", name)
