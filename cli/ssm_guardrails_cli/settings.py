"""What the deployed stacks publish about themselves: one SSM parameter per account and Region.

The member regional stack writes ``/guardrails/operator-settings`` (a JSON String parameter) with
the names the commands need (documents, parameter paths, TTLs, runbook, Config rule). Reading it
instead of assuming defaults is what keeps the CLI right when a config renames something.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ssm_guardrails_cli.errors import CliError
from ssm_guardrails_cli.runtime import Exit, Runtime

#: The contract with stacks/operator_settings.py (the stack writes it, the CLI reads it).
SETTINGS_PARAMETER = "/guardrails/operator-settings"
SUPPORTED_VERSION = 1
CONTROLS = ("break_glass", "password_rotation", "session_prefs", "separation_of_duties", "access_key_remediation")


class ControlMissing(CliError):
    """A command needs a control that is not deployed in this account and Region."""

    def __init__(self, control: str, where: str, detail: str = "") -> None:
        super().__init__(Exit.MISSING, f"{control} is not deployed in {where}{detail}")
        self.control = control


@dataclass(frozen=True)
class Settings:
    raw: dict[str, Any]
    rt: Runtime | None = None  # for the account and Region in error messages

    def control(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        if not value:
            where = self.rt.where() if self.rt else "this account and Region"
            raise ControlMissing(name, where, ": pass --region (or --profile) of an account where it is")
        return value

    def deployed(self) -> dict[str, bool]:
        return {name: bool(self.raw.get(name)) for name in CONTROLS}


def load_settings(rt: Runtime) -> Settings:
    """The settings of the account and Region of the caller; ControlMissing when no stack wrote them."""
    from botocore.exceptions import ClientError

    try:
        value = rt.client("ssm").get_parameter(Name=SETTINGS_PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            raise ControlMissing("SSM Guardrails", rt.where(), f" (no {SETTINGS_PARAMETER} parameter)") from None
        raise
    raw = json.loads(value)
    version = raw.get("version")
    if isinstance(version, int) and version > SUPPORTED_VERSION:
        raise CliError(
            Exit.MISSING,
            f"the stacks in {rt.where()} publish settings version {version}; this CLI reads version "
            f"{SUPPORTED_VERSION}: upgrade the CLI (README, Operator CLI: Upgrade)",
        )
    if version != SUPPORTED_VERSION:
        raise ControlMissing("SSM Guardrails", rt.where(), f" in a version this CLI reads (got {version!r}): "
                                                           "update the stacks")  # fmt: skip
    return Settings(raw, rt)
