"""The settings of :class:`guardrails.SessionPrefs`, each declared once (type, default, allowed, doc)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from aws_cdk import aws_logs as logs
from pydantic import Field

from guardrails.shared.settings import Settings, in_range, matching, rule
from guardrails.shared.validation import PropsError, check_tag_filters

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


def check_shell_profiles(linux: str, windows: str) -> Iterator[tuple[str, Any, str]]:
    profiles = len(json.dumps(linux)) + len(json.dumps(windows)) - 4
    if profiles > MAX_SHELL_PROFILES_CHARS:
        yield (
            "shell_profile_linux/shell_profile_windows", f"{profiles} characters together (JSON-escaped)",
            f"at most {MAX_SHELL_PROFILES_CHARS} (the handler reads them from its 4 KB Lambda environment)",
        )  # fmt: skip


def _retention(setting: str, value: int) -> None:
    if value not in RETENTION_DAYS:
        raise PropsError(setting, value, f"one of {sorted(RETENTION_DAYS)}")


class SessionPrefsSettings(Settings):
    """The Session Manager preferences of every account and Region, and what operators may do."""

    construct_name: ClassVar[str] = "SessionPrefs"

    operator_instance_tag: Annotated[dict[str, list[str]], rule(check_tag_filters, "tag key -> one or more values")] = (
        Field(
            default_factory=dict, description="Operators may start sessions only on instances with this tag (required)."
        )
    )
    idle_session_timeout_minutes: Annotated[int, in_range(*IDLE_TIMEOUT_RANGE_MINUTES, "minutes")] = Field(
        20, description="Sessions end after this long without input (at most max_session_duration_minutes)."
    )
    max_session_duration_minutes: Annotated[int, in_range(*MAX_SESSION_RANGE_MINUTES, "minutes")] | None = Field(
        None, description="Sessions end after this long (none: no limit)."
    )
    cloudwatch_logging: bool = Field(True, description="Send session logs to CloudWatch Logs.")
    log_group_name: Annotated[str, matching(LOG_GROUP_NAME, "1-512 of letters, digits, _ - / . #")] | None = Field(
        None, description="Use this existing log group (none: create one encrypted with the logs key)."
    )
    log_retention_days: Annotated[int, rule(_retention, f"one of {sorted(RETENTION_DAYS)}")] = Field(
        90, description="Retention of the created log group."
    )
    cloudwatch_encryption_required: bool = Field(True, description="Only send logs to an encrypted log group.")
    cloudwatch_streaming: bool = Field(True, description="Stream session data (rather than upload it at the end).")
    s3_logging: bool = Field(False, description="Also write session logs to an existing S3 bucket.")
    s3_bucket_name: Annotated[str, matching(BUCKET_NAME, "an S3 bucket name: 3-63 of a-z 0-9 . -")] | None = Field(
        None, description="That bucket (required with s3_logging)."
    )
    s3_key_prefix: Annotated[str, matching(r"[\w./-]{0,200}", "letters, digits, _ . / -")] = Field(
        "session-logs", description="Prefix in the bucket; `<account>/<region>/` is appended."
    )
    s3_encryption_required: bool = Field(True, description="Only write to the bucket if it is encrypted.")
    session_encryption: bool = Field(
        True, description="Encrypt session data with the data key (`alias/session-manager/data`)."
    )
    run_as_enabled: bool = Field(False, description="Linux sessions run as run_as_default_user instead of ssm-user.")
    run_as_default_user: Annotated[str, matching(LINUX_USER, "a Linux user name such as ssm-operator")] | None = Field(
        None, description="That OS user (required with run_as_enabled)."
    )
    shell_profile_linux: str = Field(
        "", description="Commands run at the start of each Linux session (both profiles: 2048 characters at most)."
    )
    shell_profile_windows: str = Field(
        "", description="Commands run at the start of each Windows session (both profiles: 2048 characters at most)."
    )
    allow_port_forwarding: bool = Field(
        False,
        description="Operators may forward ports and use SSH sessions; Session Manager does not log their content "
        "([AWS](https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-logging.html)).",
    )
    allow_remote_host_port_forwarding: bool = Field(
        False, description="... and forward to remote hosts through the node (not logged either)."
    )
    allow_password_reset: bool = Field(
        False, description="Operators may reset local passwords with AWS-PasswordReset (needs session_encryption)."
    )

    def problems(self) -> Iterator[tuple[str, Any, str]]:
        if not self.operator_instance_tag:
            yield "operator_instance_tag", {}, "a tag key with one or more values"
        maximum = self.max_session_duration_minutes
        if maximum is not None and self.idle_session_timeout_minutes > maximum:
            idle = self.idle_session_timeout_minutes
            yield "idle_session_timeout_minutes", idle, f"at most max_session_duration_minutes ({maximum})"
        if self.run_as_enabled and not self.run_as_default_user:
            yield "run_as_default_user", None, "an OS user name when run_as_enabled is true"
        if self.s3_logging and not self.s3_bucket_name:
            yield "s3_bucket_name", None, "an existing bucket name when s3_logging is true"
        if self.allow_password_reset and not self.session_encryption:
            yield "allow_password_reset", True, "true only with session_encryption: true (AWS-PasswordReset needs it)"
        yield from check_shell_profiles(self.shell_profile_linux, self.shell_profile_windows)
