"""Removes session-access tags whose window has ended (SeparationOfDuties back-stop).

IAM tags cannot expire. The AllowStartSsmSession runbook tags the operator's principal with
``<TAG_KEY>=<instance-id>`` and ``<EXPIRY_TAG_KEY>=<UTC end of window>`` and removes both when
the window ends; if that removal never runs (execution stopped, step throttled, runbook edited),
this function, run on a schedule, removes them:

* every IAM user and role is listed (paginated) and its tags read (paginated);
* a principal with ``TAG_KEY`` is untagged when its expiry is in the past, missing, unreadable,
  or further away than ``MAX_VALIDITY_MINUTES`` (nobody can be granted more than that);
* a lone expiry tag (no ``TAG_KEY``) is removed too.

Only the two keys are ever removed. A principal deleted while being processed is skipped. Any
other event than an EventBridge Scheduled Event is rejected before an AWS call is made. Only
boto3 and the standard library.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class UnsupportedEvent(ValueError):
    """Not an EventBridge Scheduled Event."""


@cache
def _iam() -> Any:
    return boto3.client("iam", config=RETRIES)


def _now() -> datetime:
    return datetime.now(UTC)


def handler(event: Any, context: Any) -> dict[str, Any]:
    if not (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    ):
        raise UnsupportedEvent("expected an EventBridge Scheduled Event")
    result = sweep(os.environ["TAG_KEY"], os.environ["EXPIRY_TAG_KEY"], int(os.environ["MAX_VALIDITY_MINUTES"]))
    LOGGER.info(json.dumps(result))
    return result


def expired(expiry: str | None, now: datetime, max_validity: timedelta) -> bool:
    """True unless ``expiry`` is a well-formed UTC time in the future and within ``max_validity``."""
    if not expiry:
        return True
    try:
        end = datetime.strptime(expiry, EXPIRY_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return True
    return not now < end <= now + max_validity


def _principals() -> Iterator[tuple[str, str, str]]:
    iam = _iam()
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            yield "user", user["UserName"], user["Arn"]
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            yield "role", role["RoleName"], role["Arn"]


def _tags(kind: str, name: str) -> dict[str, str]:
    iam = _iam()
    operation, argument = ("list_user_tags", "UserName") if kind == "user" else ("list_role_tags", "RoleName")
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {argument: name}
    while True:
        page = getattr(iam, operation)(**kwargs)
        tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
        if not page.get("IsTruncated"):
            return tags
        kwargs["Marker"] = page["Marker"]


def _untag(kind: str, name: str, keys: list[str]) -> None:
    if kind == "user":
        _iam().untag_user(UserName=name, TagKeys=keys)
    else:
        _iam().untag_role(RoleName=name, TagKeys=keys)


def sweep(tag_key: str, expiry_tag_key: str, max_validity_minutes: int) -> dict[str, Any]:
    now, max_validity = _now(), timedelta(minutes=max_validity_minutes)
    # IAM tag keys are case-insensitive: match them that way.
    wanted = {tag_key.lower(), expiry_tag_key.lower()}
    checked, untagged = 0, []
    for kind, name, arn in _principals():
        checked += 1
        try:
            tags = {key.lower(): (key, value) for key, value in _tags(kind, name).items() if key.lower() in wanted}
            if not tags:
                continue
            grant = tags.get(tag_key.lower())
            expiry = tags.get(expiry_tag_key.lower())
            if grant is None or expired(expiry and expiry[1], now, max_validity):
                _untag(kind, name, [key for key, _ in tags.values()])
                untagged.append({"arn": arn, "instance": grant and grant[1], "expires": expiry and expiry[1]})
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchEntity":
                raise
    return {"checked": checked, "untagged": untagged}
