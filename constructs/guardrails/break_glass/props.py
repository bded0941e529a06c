"""The settings of :class:`guardrails.BreakGlass`, each declared once (type, default, allowed, doc)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from guardrails.break_glass.document import RESET_SUFFIX
from guardrails.shared.settings import Settings, in_range, rule, zero_or_range
from guardrails.shared.validation import (
    DOCUMENT_NAME,
    PropsError,
    check_kms_alias,
    check_parameter_path,
    check_pattern,
)

TTL_RANGE_SECONDS = (10, 3600)
PASSWORD_LENGTH_RANGE = (14, 128)
RESET_AFTER_RANGE_HOURS = (1, 168)
SWEEP_INTERVAL_RANGE_MINUTES = (1, 60)
#: Document names have at most 128 characters, and the reset document's name is ``<name>-AutomaticReset``.
MAX_DOCUMENT_NAME = 128 - len(RESET_SUFFIX)
DOCUMENT_NAME_ALLOWED = (
    f"3-{MAX_DOCUMENT_NAME} letters, digits, _ . - (the reset document adds {RESET_SUFFIX!r}), "
    "not starting with aws or amazon"
)


def check_document_name(setting: str, value: Any) -> None:
    check_pattern(setting, value, DOCUMENT_NAME, DOCUMENT_NAME_ALLOWED)
    if len(value) > MAX_DOCUMENT_NAME or value.lower().startswith(("aws", "amazon")):
        raise PropsError(setting, value, DOCUMENT_NAME_ALLOWED)


class BreakGlassSettings(Settings):
    """How break-glass behaves in every account and Region it is deployed to."""

    construct_name: ClassVar[str] = "BreakGlass"

    password_length: Annotated[int, in_range(*PASSWORD_LENGTH_RANGE, "characters")] = Field(
        24, description="Default length of generated passwords; operators may choose 14-128 per run."
    )
    ttl_seconds: Annotated[int, in_range(*TTL_RANGE_SECONDS, "seconds")] = Field(
        60, description="How long the password stays in Parameter Store after the command ends."
    )
    reset_after_hours: Annotated[int, zero_or_range(*RESET_AFTER_RANGE_HOURS, "hours")] = Field(
        8, description="Run break-glass again this long after a successful run, so the revealed password stops working."
    )
    sweep_interval_minutes: Annotated[int, in_range(*SWEEP_INTERVAL_RANGE_MINUTES, "minutes")] = Field(
        1, description="How often the sweeper deletes expired passwords (bounds a missed event-path clean-up)."
    )
    parameter_prefix: Annotated[
        str, rule(check_parameter_path, "a parameter path such as /BreakGlass, not under /aws or /ssm")
    ] = Field("/BreakGlass", description="Parameter Store path of the passwords: `<prefix>/pwd-<instance-id>`.")
    key_alias: Annotated[str, rule(check_kms_alias, "alias/<name>, not under alias/aws/")] = Field(
        "alias/ssm-guardrails/break-glass", description="Alias of the dedicated KMS key of the passwords."
    )
    document_name: Annotated[str, rule(check_document_name, DOCUMENT_NAME_ALLOWED)] = Field(
        "SsmGuardrails-BreakGlass", description="Name of the Command document operators run (a contract)."
    )
