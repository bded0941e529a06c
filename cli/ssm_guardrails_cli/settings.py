"""What the deployed stacks publish about themselves: one SSM parameter per account and Region.

The member regional stack writes ``/guardrails/operator-settings`` (a JSON String parameter) with
the names the commands need (documents, parameter paths, TTLs, runbook, Config rule). Reading it
instead of assuming defaults is what keeps the CLI right when a config renames something.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

#: The contract with stacks/operator_settings.py (the stack writes it, the CLI reads it).
SETTINGS_PARAMETER = "/guardrails/operator-settings"
SUPPORTED_VERSION = 1
CONTROLS = ("break_glass", "password_rotation", "session_prefs", "separation_of_duties", "access_key_remediation")


class ControlMissing(Exception):
    """A command needs a control that is not deployed in this account and Region."""

    def __init__(self, control: str, detail: str = "") -> None:
        super().__init__(f"{control} is not deployed in this account and Region{detail}")
        self.control = control


@dataclass(frozen=True)
class Settings:
    raw: dict[str, Any]

    def control(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        if not value:
            raise ControlMissing(name)
        return value

    def deployed(self) -> dict[str, bool]:
        return {name: bool(self.raw.get(name)) for name in CONTROLS}


def load_settings(ssm: Any) -> Settings:
    """The settings of the account and Region of ``ssm``; ControlMissing when no stack wrote them."""
    try:
        value = ssm.get_parameter(Name=SETTINGS_PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            raise ControlMissing("SSM Guardrails", f" (no {SETTINGS_PARAMETER} parameter)") from None
        raise
    raw = json.loads(value)
    if raw.get("version") != SUPPORTED_VERSION:
        raise ControlMissing("SSM Guardrails", f" in a version this CLI reads (got {raw.get('version')!r})")
    return Settings(raw)
