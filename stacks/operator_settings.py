"""OperatorSettings: what the operator CLI reads about the deployed controls, in one SSM parameter.

The CLI (``cli/``) must use the names the stacks really deployed (a config may rename a document,
a parameter path or a TTL), never its own defaults. The member regional stack writes them, per
account and Region, to ``/guardrails/operator-settings``: a JSON String parameter that every
operator role configured for a control may read (and nothing more), through the customer managed
policy ``SsmGuardrails-OperatorCli-<region>`` (path ``/ssm-guardrails/``: attached to roles, referenced
by IAM Identity Center permission sets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails import BreakGlass, PasswordRotationWindow, SessionPrefs
from guardrails.shared.nag import acknowledge_wildcard_resource
from guardrails.shared.principals import contract_policy
from stacks.config import ControlsConfig

#: The contract with cli/ssm_guardrails_cli/settings.py.
PARAMETER_NAME = "/guardrails/operator-settings"
VERSION = 1
SESSION_DOCUMENT = "SSM-SessionManagerRunShell"


class OperatorSettings(Construct):
    """Publishes the settings of the controls of this stack; grants their operators read access."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        controls: ControlsConfig,
        home_region: str,
        break_glass: BreakGlass | None,
        rotation_windows: Sequence[PasswordRotationWindow],
        session_prefs: SessionPrefs | None,
    ) -> None:
        super().__init__(scope, id)
        settings: dict[str, Any] = {"version": VERSION}
        if break_glass is not None:
            settings["break_glass"] = _break_glass(controls, break_glass)
        if rotation_windows:
            settings["password_rotation"] = _password_rotation(rotation_windows)
        if session_prefs is not None:
            settings["session_prefs"] = {"document": session_prefs.document_name}
        if controls.separation_of_duties.enabled:
            settings["separation_of_duties"] = _separation_of_duties(controls, home_region, session_prefs)
        # Who each job is, as the config writes it (names, ARNs, {permission_set: ...}): `doctor` says
        # which one the caller matched (cli/ssm_guardrails_cli/principals.py).
        settings["principals"] = {
            f"{control}.{key}": [principal.config_form() for principal in controls.roles(control, key)]
            for control, key in controls.ROLE_LISTS
            if key != "instance_roles" and controls.roles(control, key)
        }
        if controls.access_key_remediation.enabled:
            access_keys = controls.access_key_remediation
            settings["access_key_remediation"] = {
                "config_rule": "access-keys-rotated",
                "max_access_key_age_days": access_keys.max_access_key_age_days,
                "home_region": home_region,
            }
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=PARAMETER_NAME,
            string_value=cdk.Stack.of(self).to_json_string(settings),
            description="SSM Guardrails: names and settings of the deployed controls, for the operator CLI",
        )
        self.reader_policy: iam.ManagedPolicy | None = None
        self.rotation_policy: iam.ManagedPolicy | None = None

    def add_reader_policy(self) -> iam.ManagedPolicy:
        """``SsmGuardrails-OperatorCli-<region>``: read the settings (only where a control names people)."""
        self.reader_policy = contract_policy(
            self, "ReaderPolicy", "OperatorCli", regional=True,
            description="Lets an operator's CLI read the names and settings of the deployed controls",
            statements=[
                iam.PolicyStatement(
                    sid="ReadTheOperatorSettings",
                    # what StringParameter.grant_read grants
                    actions=["ssm:DescribeParameters", "ssm:GetParameters", "ssm:GetParameter",
                             "ssm:GetParameterHistory"],
                    resources=[self.parameter.parameter_arn],
                )
            ],
        )  # fmt: skip
        return self.reader_policy

    def add_rotation_policy(self, windows: Sequence[PasswordRotationWindow]) -> iam.ManagedPolicy:
        """What password administrators' CLI needs besides the settings: run the freshness report now
        (`ssm-guardrails report rotation`) and see who last wrote a password; fixed name
        ``SsmGuardrails-PasswordAdministratorCli-<region>``."""
        # `ssm-guardrails password` shows who last wrote a password: LastModifiedUser is in
        # GetParameterHistory, scoped like GetParameter (DescribeParameters would need "*")
        history = iam.PolicyStatement(
            sid="ReadWhoWroteRotatedPasswords",
            actions=["ssm:GetParameterHistory"],
            resources=[windows[0].vault.parameter_arn_pattern],
        )
        self.rotation_policy = contract_policy(
            self,
            "RotationPolicy",
            "PasswordAdministratorCli",
            regional=True,
            description="Lets a password administrator's CLI run the freshness report and see who wrote a password",
            statements=[
                iam.PolicyStatement(
                    sid="RunTheFreshnessReportNow",
                    actions=["lambda:InvokeFunction"],
                    resources=[window.freshness_function.function.function_arn for window in windows],
                ),
                history,
            ],
        )
        acknowledge_wildcard_resource(
            self.rotation_policy,
            windows[0].vault.parameter_arn_pattern,
            "The rotated-password path of this account and Region: administrators read it already.",
        )
        return self.rotation_policy


def _break_glass(controls: ControlsConfig, break_glass: BreakGlass) -> dict[str, Any]:
    config = controls.break_glass
    return {
        "document": break_glass.document_name,
        "parameter_prefix": break_glass.parameter_prefix,
        "ttl_seconds": config.ttl_seconds,
        "reset_after_hours": config.reset_after_hours,
        "sweep_interval_minutes": config.sweep_interval_minutes,
        "key_arn": break_glass.key.key_arn,
    }


def _password_rotation(windows: Sequence[PasswordRotationWindow]) -> dict[str, Any]:
    return {
        "parameter_path": "/EC2Rescue/Passwords",
        "key_arn": windows[0].key.key_arn,
        "freshness_report_functions": [w.freshness_function.function.function_name for w in windows],
        # `ssm-guardrails password` shows when a rotated password is due: the longest age any window
        # allows (the CLI cannot tell which window an instance is in)
        "max_age_days": max(w.window_settings.max_password_age_days for w in windows),
    }


def _separation_of_duties(controls: ControlsConfig, home_region: str, prefs: SessionPrefs | None) -> dict[str, Any]:
    config = controls.separation_of_duties
    return {
        "approval_path": config.approval_path,
        "runbook": "AllowStartSsmSession",
        "runbook_role": "SsmSessionControlChangeMangerRole",
        "grant_step": "GrantSession",
        "home_region": home_region,
        "validity_minutes": config.validity_minutes,
        "approver_roles": [str(principal) for principal in config.approver_roles],
        "session_document": prefs.document_name if prefs else SESSION_DOCUMENT,
    }
