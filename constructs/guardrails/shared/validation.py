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
ACCOUNT_ID = re.compile(r"\d{12}")
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
ORGANIZATIONAL_UNIT = re.compile(r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32}")


class PropsError(ValueError):
    """A construct prop has a value that cannot work. The message is one line."""

    def __init__(self, setting: str, value: Any, allowed: str) -> None:
        super().__init__(f"{setting}: got {value!r}; allowed: {allowed}")
        self.setting = setting
        self.value = value
        self.allowed = allowed


def _is_token(value: Any) -> bool:
    """Whether ``value`` is resolved only at deploy time.

    Asked of every checked value, so it stays in Python where it can: a string token always
    carries CDK's ``${Token[`` marker, and a number token is an encoded float (whole numbers from
    the config never are). Only floats need the jsii round trip.
    """
    if isinstance(value, str):
        return "${Token[" in value
    return isinstance(value, float) and cdk.Token.is_unresolved(value)


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


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((.*)\)")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?,/#L-]+")
_THRESHOLD = re.compile(r"[1-9][0-9]*|([1-9][0-9]?|100)%")
TIMEZONE = re.compile(r"[A-Za-z_]+(/[A-Za-z0-9_+-]+)*")


def check_schedule(setting: str, value: str) -> None:
    """A maintenance window schedule: ``cron(min hour day-of-month month day-of-week year)`` or
    ``rate(N unit)``."""
    if _is_token(value):
        return
    shape = "cron(minutes hours day-of-month month day-of-week year) or rate(N minutes|hours|days)"
    if not isinstance(value, str):
        raise PropsError(setting, value, shape)
    if rate := _RATE.fullmatch(value):
        count, unit = int(rate[1]), rate[2]
        if count == 0 or (count == 1) == unit.endswith("s"):
            raise PropsError(setting, value, "rate(1 hour|day|minute) or rate(N hours|days|minutes) with N > 1")
        return
    cron = _CRON.fullmatch(value)
    if not cron:
        raise PropsError(setting, value, shape)
    fields = cron[1].split()
    if len(fields) != 6:
        raise PropsError(setting, value, f"6 cron fields, got {len(fields)}: {shape}")
    if not all(_CRON_FIELD.fullmatch(field) for field in fields):
        raise PropsError(setting, value, "cron fields of digits, letters and * ? , / - # L")
    if (fields[2] == "?") == (fields[4] == "?"):
        raise PropsError(setting, value, "'?' in exactly one of day-of-month and day-of-week")


def check_threshold(setting: str, value: str) -> None:
    """Max concurrency or max errors of a Run Command task."""
    check_pattern(setting, value, _THRESHOLD, "a positive whole number or a percentage from 1% to 100%")


def check_tag_filters(setting: str, value: Any) -> None:
    """Tag key -> one or more values, as a maintenance window target takes them."""
    if not value:
        raise PropsError(setting, value, "at least one tag key with at least one value")
    for key, values in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise PropsError(f"{setting} key", key, "1-128 characters, not starting with aws:")
        if isinstance(values, str) or not values:
            raise PropsError(f"{setting}[{key}]", values, "a list of one or more values")
        for tag_value in values:
            if not isinstance(tag_value, str) or not 1 <= len(tag_value) <= 256:
                raise PropsError(f"{setting}[{key}]", tag_value, "a value of 1-256 characters")
