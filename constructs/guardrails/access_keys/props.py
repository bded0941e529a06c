"""The settings of :class:`guardrails.AccessKeyRemediation` (member accounts) and
:class:`guardrails.AccessKeyFindings` (the central topic), each declared once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from guardrails.shared.settings import Settings, in_range, matching, zero_or_range

MAX_AGE_RANGE_DAYS = (1, 365)
RETRY_ATTEMPTS_RANGE = (1, 25)
RETRY_INTERVAL_RANGE_SECONDS = (1, 2678000)
DEACTIVATE_AFTER_RANGE_DAYS = (1, 3650)
#: Config's own spelling of the rule frequencies (what users see in the console and the API).
Frequency = Literal["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"]
TAG_KEY = re.compile(r"[\w.:/=+@ -]{1,128}")
TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AccessKeyRemediationSettings(Settings):
    """What counts as an old key in a member account, and what happens to it."""

    construct_name: ClassVar[str] = "AccessKeyRemediation"

    max_access_key_age_days: Annotated[int, in_range(*MAX_AGE_RANGE_DAYS, "days")] = Field(
        90, description="Keys older than this are reported (`maxAccessKeyAge` of `access-keys-rotated`)."
    )
    maximum_execution_frequency: Frequency = Field(
        "TwentyFour_Hours", description="How often AWS Config evaluates the rule."
    )
    retry_attempts: Annotated[int, in_range(*RETRY_ATTEMPTS_RANGE)] = Field(
        5, description="Automatic remediation attempts per user."
    )
    retry_interval_seconds: Annotated[int, in_range(*RETRY_INTERVAL_RANGE_SECONDS, "seconds")] = Field(
        60, description="Time window for those attempts."
    )
    deactivate_after_days: Annotated[int, zero_or_range(*DEACTIVATE_AFTER_RANGE_DAYS, "days")] = Field(
        0, description="Deactivate (never delete) keys older than this; more than max_access_key_age_days."
    )
    exemption_tag_key: Annotated[str, matching(TAG_KEY, "a tag key of 1-128 characters")] = Field(
        "AccessKeyRotationExempt", description="Users with this tag key and value are never deactivated."
    )
    exemption_tag_value: Annotated[str, Field(min_length=1, max_length=256)] = Field(
        "true", description="The value of that tag."
    )
    include_email_tag: bool = Field(True, description="Name the user's `email` tag in the finding.")
    create_config_recorder: bool = Field(
        False, description="Create an AWS Config recorder of IAM users, for accounts that have none."
    )

    def problems(self) -> Iterator[tuple[str, Any, str]]:
        days, age = self.deactivate_after_days, self.max_access_key_age_days
        if days and days <= age:
            yield "deactivate_after_days", days, f"0 (off) or more than max_access_key_age_days ({age})"


class AccessKeyFindingsSettings(Settings):
    """The central topic every member account reports to."""

    construct_name: ClassVar[str] = "AccessKeyFindings"

    topic_name: Annotated[str, matching(TOPIC_NAME, "1-256 letters, digits, _ -")] = Field(
        "ssm-guardrails-access-key-findings", description="Name of the central findings topic (a contract)."
    )
    email_subscribers: list[Annotated[str, matching(EMAIL, "an email address")]] = Field(
        default_factory=list, description="Email addresses subscribed to the findings topic."
    )
    create_queue: bool = Field(False, description="Also subscribe an encrypted SQS queue (for a ticketing system).")
