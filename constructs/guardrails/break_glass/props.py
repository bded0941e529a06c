"""Prop checks of :class:`guardrails.BreakGlass`: every bad value fails at synth with one line."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from guardrails.shared.principals import Principal
from guardrails.shared.validation import (
    DOCUMENT_NAME,
    PropsError,
    check_kms_alias,
    check_not_empty,
    check_parameter_path,
    check_pattern,
    check_range,
)

TTL_RANGE_SECONDS = (10, 3600)
PASSWORD_LENGTH_RANGE = (14, 128)
RESET_AFTER_RANGE_HOURS = (1, 168)
SWEEP_INTERVAL_RANGE_MINUTES = (1, 60)


def validate(
    operators: Sequence[iam.IRole | Principal],
    ttl: cdk.Duration,
    password_length: int,
    parameter_prefix: str,
    reset_after: cdk.Duration,
    sweep_interval: cdk.Duration,
    document_name: str,
    key_alias: str,
) -> None:
    check_not_empty("BreakGlass.operators", operators)
    check_range("BreakGlass.ttl", ttl.to_seconds(), *TTL_RANGE_SECONDS, unit="seconds")
    check_range("BreakGlass.password_length", password_length, *PASSWORD_LENGTH_RANGE, unit="characters")
    check_parameter_path("BreakGlass.parameter_prefix", parameter_prefix)
    if reset_after.to_seconds() != 0:
        check_range(
            "BreakGlass.reset_after",
            reset_after.to_seconds() / 3600,
            *RESET_AFTER_RANGE_HOURS,
            unit="hours (0 disables)",
        )
    check_range(
        "BreakGlass.sweep_interval", sweep_interval.to_seconds() / 60, *SWEEP_INTERVAL_RANGE_MINUTES, unit="minutes"
    )
    check_pattern("BreakGlass.document_name", document_name, DOCUMENT_NAME, "3-128 letters, digits, _ . -")
    if document_name.lower().startswith(("aws", "amazon")):
        raise PropsError("BreakGlass.document_name", document_name, "a name not starting with aws or amazon")
    check_kms_alias("BreakGlass.key_alias", key_alias)
