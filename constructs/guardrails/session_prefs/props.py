"""Prop checks of :class:`guardrails.SessionPrefs`: every bad value fails at synth with one line."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from aws_cdk import aws_logs as logs

from guardrails.shared.validation import PropsError, check_parameter_path, check_pattern, check_range, check_tag_filters

IDLE_TIMEOUT_RANGE_MINUTES = (1, 60)
MAX_SESSION_RANGE_MINUTES = (1, 1440)
BUCKET_NAME = re.compile(r"(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
LOG_GROUP_NAME = re.compile(r"[\w/.#-]{1,512}")
LINUX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
#: The handler reads the preferences from its environment, and "the total size of the set [of
#: environment variables] can be no more than 4 KB": https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
#: The other keys, names and ids take well under 1.5 KB, so the two shell profiles share the rest.
MAX_SHELL_PROFILES_CHARS = 2048
RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def validate(
    instance_tag: Mapping[str, list[str]],
    idle: int,
    max_duration: int | None,
    log_group_name: str | None,
    retention_days: int,
    s3_logging: bool,
    bucket: str | None,
    run_as_enabled: bool,
    run_as_user: str | None,
    password_reset: bool,
    session_encryption: bool,
    key_id_parameter_name: str,
    shell_profile_linux: str,
    shell_profile_windows: str,
) -> None:
    name = "SessionPrefs"
    profiles = len(json.dumps(shell_profile_linux)) + len(json.dumps(shell_profile_windows)) - 4
    if profiles > MAX_SHELL_PROFILES_CHARS:
        raise PropsError(
            f"{name}.shell_profile_linux/shell_profile_windows", f"{profiles} characters together (JSON-escaped)",
            f"at most {MAX_SHELL_PROFILES_CHARS} (the handler reads them from its 4 KB Lambda environment)",
        )  # fmt: skip
    check_parameter_path(f"{name}.key_id_parameter_name", key_id_parameter_name)
    check_tag_filters(f"{name}.operator_instance_tag", instance_tag)
    check_range(f"{name}.idle_session_timeout_minutes", idle, *IDLE_TIMEOUT_RANGE_MINUTES, unit="minutes")
    if max_duration is not None:
        check_range(f"{name}.max_session_duration_minutes", max_duration, *MAX_SESSION_RANGE_MINUTES, unit="minutes")
        if idle > max_duration:
            raise PropsError(
                f"{name}.idle_session_timeout_minutes", idle, f"at most max_session_duration_minutes ({max_duration})"
            )
    if log_group_name is not None:
        check_pattern(f"{name}.log_group_name", log_group_name, LOG_GROUP_NAME, "1-512 of letters, digits, _ - / . #")
    if retention_days not in RETENTION_DAYS:
        raise PropsError(f"{name}.log_retention_days", retention_days, f"one of {sorted(RETENTION_DAYS)}")
    if s3_logging and not bucket:
        raise PropsError(f"{name}.s3_bucket_name", bucket, "an existing bucket name when s3_logging is on")
    if bucket is not None:
        check_pattern(f"{name}.s3_bucket_name", bucket, BUCKET_NAME, "an S3 bucket name: 3-63 of a-z 0-9 . -")
    if run_as_enabled and not run_as_user:
        raise PropsError(f"{name}.run_as_default_user", run_as_user, "an OS user name when run_as_enabled is on")
    if run_as_user is not None:
        check_pattern(f"{name}.run_as_default_user", run_as_user, LINUX_USER, "a Linux user name such as ssm-operator")
    if password_reset and not session_encryption:
        raise PropsError(
            f"{name}.allow_password_reset", True, "only with session_encryption (AWS-PasswordReset needs it)"
        )
