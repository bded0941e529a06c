"""Prop checks of :class:`guardrails.PasswordRotationWindow`: every bad value fails at synth with one line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from guardrails.shared.principals import Principal
from guardrails.shared.validation import (
    TIMEZONE,
    PropsError,
    check_kms_alias,
    check_not_empty,
    check_pattern,
    check_range,
    check_schedule,
    check_tag_filters,
    check_threshold,
)

DURATION_RANGE_HOURS = (1, 24)
TASK_TIMEOUT_RANGE_SECONDS = (30, 172800)
MAX_PASSWORD_AGE_RANGE_DAYS = (1, 365)
PRIORITY_RANGE = (0, 5)


def validate(
    administrators: Sequence[iam.IRole | Principal],
    tag_filters: Mapping[str, Sequence[str]],
    schedule: str,
    schedule_timezone: str | None,
    duration: cdk.Duration,
    cutoff: cdk.Duration,
    max_concurrency: str,
    max_errors: str,
    priority: int,
    task_timeout: cdk.Duration,
    max_password_age: cdk.Duration,
    key_alias: str,
) -> None:
    name = "PasswordRotationWindow"
    check_not_empty(f"{name}.administrators", administrators)
    check_tag_filters(f"{name}.tag_filters", tag_filters)
    check_schedule(f"{name}.schedule", schedule)
    if schedule_timezone is not None:
        check_pattern(
            f"{name}.schedule_timezone", schedule_timezone, TIMEZONE, "an IANA time zone such as Europe/Paris"
        )
    hours = duration.to_seconds() / 3600
    check_range(f"{name}.duration", hours, *DURATION_RANGE_HOURS, unit="hours")
    if hours != int(hours):
        raise PropsError(f"{name}.duration", hours, "whole hours")
    cutoff_hours = cutoff.to_seconds() / 3600
    check_range(f"{name}.cutoff", cutoff_hours, 0, hours - 1, unit="hours (duration - 1 at most)")
    if cutoff_hours != int(cutoff_hours):
        raise PropsError(f"{name}.cutoff", cutoff_hours, "whole hours")
    check_threshold(f"{name}.max_concurrency", max_concurrency)
    check_threshold(f"{name}.max_errors", max_errors)
    check_range(f"{name}.priority", priority, *PRIORITY_RANGE)
    check_range(f"{name}.task_timeout", task_timeout.to_seconds(), *TASK_TIMEOUT_RANGE_SECONDS, unit="seconds")
    check_range(
        f"{name}.max_password_age", max_password_age.to_seconds() / 86400, *MAX_PASSWORD_AGE_RANGE_DAYS, unit="days"
    )
    check_kms_alias(f"{name}.key_alias", key_alias)
