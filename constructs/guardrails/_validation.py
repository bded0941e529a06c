"""Synth-time checks for construct props.

Every check raises :class:`PropsError` with one line that names the setting, the value it got
and what is allowed. Values that are still CDK tokens (resolved only at deploy time) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sized
from typing import Any

import aws_cdk as cdk

PARAMETER_PATH = re.compile(r"^(/[a-zA-Z0-9_.-]+)+$")
KMS_ALIAS = re.compile(r"^alias/[a-zA-Z0-9/_-]{1,250}$")
DOCUMENT_NAME = re.compile(r"^[a-zA-Z0-9_.-]{3,128}$")


class PropsError(ValueError):
    """A construct prop has a value that cannot work. The message is one line."""

    def __init__(self, setting: str, value: Any, allowed: str) -> None:
        super().__init__(f"{setting}: got {value!r}; allowed: {allowed}")
        self.setting = setting
        self.value = value
        self.allowed = allowed


def _is_token(value: Any) -> bool:
    return isinstance(value, str | int | float) and cdk.Token.is_unresolved(value)


def check_range(setting: str, value: int | float, low: int | float, high: int | float, unit: str = "") -> None:
    if _is_token(value):
        return
    suffix = f" {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PropsError(setting, value, f"a number from {low} to {high}{suffix}")


def check_pattern(setting: str, value: str, pattern: re.Pattern[str], allowed: str) -> None:
    if _is_token(value):
        return
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise PropsError(setting, value, allowed)


def check_parameter_path(setting: str, value: str) -> None:
    check_pattern(
        setting,
        value,
        PARAMETER_PATH,
        "a parameter path such as /BreakGlass (leading '/', no trailing '/', letters, digits, _ . -)",
    )
    if not _is_token(value) and value.lower().startswith(("/aws", "/ssm")):
        raise PropsError(setting, value, "a path that does not start with /aws or /ssm (reserved by AWS)")


def check_kms_alias(setting: str, value: str) -> None:
    check_pattern(setting, value, KMS_ALIAS, "alias/<name> with letters, digits, / _ -")
    if not _is_token(value) and value.startswith("alias/aws/"):
        raise PropsError(setting, value, "an alias outside alias/aws/ (reserved for AWS managed keys)")


def check_not_empty(setting: str, value: Sized) -> None:
    if len(value) == 0:
        raise PropsError(setting, [], "at least one entry")
