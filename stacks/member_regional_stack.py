"""MemberRegionalStack: the regional controls of one member account, for each target Region."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from guardrails import BreakGlass, EncryptedTopic, PasswordRotationWindow, SessionPrefs
from guardrails.shared.nag import acknowledge_grant
from stacks.config import BreakGlassConfig, ControlsConfig, PasswordRotationConfig, SessionPrefsConfig
from stacks.operator_settings import OperatorSettings


class MemberRegionalStack(cdk.Stack):
    """Break-glass and password rotation: documents, keys, windows. Environment-agnostic: it deploys
    into the account and Region of the credentials that run ``cdk deploy`` and looks nothing up at
    synth. Nothing in it has an account-wide name, so it can land in every Region of an account."""

    def __init__(self, scope: Construct, id: str, *, controls: ControlsConfig, home_region: str, **kwargs: Any) -> None:
        super().__init__(
            scope, id, description="SSM Guardrails: regional privileged-access controls (member account)", **kwargs
        )
        # One topic per account and Region for every control's audit, alerts and reports, so
        # there is one thing to subscribe to (and one KMS key to pay for).
        self.notifications = EncryptedTopic(
            self, "Notifications", description="SSM Guardrails notifications", only_granted_publishers=True
        ).topic
        if controls.break_glass.enabled:
            self.break_glass = self._break_glass(controls.break_glass)
        if controls.password_rotation.enabled:
            self.rotation_windows = self._password_rotation(controls.password_rotation)
        if controls.session_prefs.enabled:
            self.session_prefs = self._session_prefs(controls.session_prefs)
        self._operator_settings(controls, home_region)
        self._output_topic()

    def _break_glass(self, settings: BreakGlassConfig) -> BreakGlass:
        break_glass = BreakGlass(
            self,
            "BreakGlass",
            operators=[self._role("BreakGlassOperator", name) for name in settings.operator_roles],
            settings=settings,
            audit_topic=self.notifications,
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
                window=window,
                settings=settings,
                key=first.key if first else None,
                log_group=first.log_group if first else None,
                alert_topic=self.notifications,
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

    def _session_prefs(self, settings: SessionPrefsConfig) -> SessionPrefs:
        vpc = None
        if settings.vpc is not None:
            vpc = ec2.Vpc.from_vpc_attributes(
                self,
                "SessionManagerVpc",
                vpc_id=settings.vpc.id,
                vpc_cidr_block=settings.vpc.cidr,
                availability_zones=settings.vpc.availability_zones,
                private_subnet_ids=settings.vpc.private_subnet_ids,
                private_subnet_route_table_ids=settings.vpc.private_subnet_route_table_ids or None,
            )
        prefs = SessionPrefs(
            self,
            "SessionPrefs",
            settings=settings,
            log_readers=[self._role("SessionLogReader", name) for name in settings.log_reader_roles],
            vpc=vpc,
            notification_topic=self.notifications,
        )
        for name in settings.operator_roles:
            prefs.attach_to_operator_role(self._role("SessionOperator", name))
        for name in settings.instance_roles:
            prefs.attach_to_instance_role(self._role("SessionInstanceRole", name))
        return prefs

    def _operator_settings(self, controls: ControlsConfig, home_region: str) -> None:
        """The settings parameter the operator CLI reads, readable by every operator role of the config;
        password administrators may also run the freshness report now (`ssm-guardrails report rotation`)."""
        windows = getattr(self, "rotation_windows", [])
        self.operator_settings = OperatorSettings(
            self,
            "OperatorSettings",
            controls=controls,
            home_region=home_region,
            break_glass=getattr(self, "break_glass", None),
            rotation_windows=windows,
            session_prefs=getattr(self, "session_prefs", None),
        )
        operators = [
            ("break_glass", "operator_roles"),
            ("session_prefs", "operator_roles"),
            ("separation_of_duties", "operator_roles"),
            ("separation_of_duties", "approver_roles"),
        ]
        readers = {name for control, key in operators for name in controls.roles(control, key)}
        administrators = set(controls.roles("password_rotation", "administrator_roles")) if windows else set()
        for name in sorted(readers | administrators):
            role = self._role("SettingsReader", name)
            self.operator_settings.grant_read(role)
            if name in administrators:
                role.add_to_principal_policy(
                    iam.PolicyStatement(
                        sid="RunTheFreshnessReportNow",
                        actions=["lambda:InvokeFunction"],
                        resources=[window.freshness_function.function.function_arn for window in windows],
                    )
                )
                # `ssm-guardrails password` shows who last wrote a password: LastModifiedUser is in
                # GetParameterHistory, scoped like GetParameter (DescribeParameters would need "*")
                history = iam.PolicyStatement(
                    sid="ReadWhoWroteRotatedPasswords",
                    actions=["ssm:GetParameterHistory"],
                    resources=[windows[0].vault.parameter_arn_pattern],
                )
                role.add_to_principal_policy(history)
                acknowledge_grant(
                    role,
                    history,
                    "The rotated-password path of this account and Region: administrators read it already.",
                )

    def _output_topic(self) -> None:
        cdk.CfnOutput(self, "NotificationsTopicArn", value=self.notifications.topic_arn)

    def _role(self, purpose: str, name: str) -> iam.IRole:
        return iam.Role.from_role_name(self, f"{purpose}-{name}", name)
