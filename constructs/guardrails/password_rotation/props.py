"""The settings of :class:`guardrails.PasswordRotationWindow`, each declared once (type, default, allowed, doc)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from pydantic import Field

from guardrails.shared.settings import Settings, in_range, matching, rule
from guardrails.shared.validation import TIMEZONE, check_kms_alias, check_schedule, check_tag_filters, check_threshold

DURATION_RANGE_HOURS = (1, 24)
TASK_TIMEOUT_RANGE_MINUTES = (1, 2880)
MAX_PASSWORD_AGE_RANGE_DAYS = (1, 365)
PRIORITY_RANGE = (0, 5)
THRESHOLD = "a positive whole number or a percentage from 1% to 100%"


class RotationWindowSettings(Settings):
    """One maintenance window: which instances, when, and how many at once."""

    construct_name: ClassVar[str] = "PasswordRotationWindow"

    tag_filters: Annotated[
        dict[str, list[str]], rule(check_tag_filters, "tag key -> one or more values (every key must match)")
    ] = Field(description="Instances whose tags match every key (with any of its values) are rotated.")
    schedule: Annotated[str, rule(check_schedule, "cron(6 fields) or rate(N unit)")] = Field(
        "cron(0 5 ? * SUN *)", description="When the window opens."
    )
    schedule_timezone: Annotated[str, matching(TIMEZONE, "an IANA time zone such as Europe/Paris")] | None = Field(
        None, description="IANA time zone of the schedule (none: UTC)."
    )
    duration_hours: Annotated[int, in_range(*DURATION_RANGE_HOURS, "hours")] = Field(
        2, description="How long the window stays open."
    )
    cutoff_hours: Annotated[int, in_range(0, 23, "hours")] = Field(
        1, description="Stop starting new tasks this long before the window ends (less than duration_hours)."
    )
    owner_information: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        None, description="Text attached to the target and its events."
    )
    max_concurrency: Annotated[str, rule(check_threshold, THRESHOLD)] = Field(
        "10%", description="Instances rotated at once (a percentage takes the same rounds at any fleet size)."
    )
    max_errors: Annotated[str, rule(check_threshold, THRESHOLD)] = Field(
        "1", description="Failures after which the task stops."
    )
    priority: Annotated[int, in_range(*PRIORITY_RANGE)] = Field(1, description="Task priority in the window (0 first).")
    task_timeout_minutes: Annotated[int, in_range(*TASK_TIMEOUT_RANGE_MINUTES, "minutes")] = Field(
        10, description="How long a command may wait to start on an instance."
    )
    max_password_age_days: Annotated[int, in_range(*MAX_PASSWORD_AGE_RANGE_DAYS, "days")] = Field(
        8, description="The freshness report names instances whose password is older (interval + grace)."
    )

    def problems(self) -> Iterator[tuple[str, Any, str]]:
        if self.cutoff_hours >= self.duration_hours:
            yield "cutoff_hours", self.cutoff_hours, f"0 to duration_hours - 1 ({self.duration_hours - 1})"


class PasswordRotationSettings(Settings):
    """What every window of an account and Region shares."""

    construct_name: ClassVar[str] = "PasswordRotationWindow"

    key_alias: Annotated[str, rule(check_kms_alias, "alias/<name>, not under alias/aws/")] = Field(
        "alias/WindowsPasswordRotation-EncryptionKey", description="Alias of the dedicated key of the passwords."
    )
