"""Freshness report of rotated Windows Administrator passwords.

Lists every running Windows instance that matches the rotation window's tag filters, compares it
with the modification date of ``<PASSWORD_PATH>/<instance-id>`` in Parameter Store, and publishes
one summary naming every instance whose password is missing or older than ``MAX_AGE_SECONDS``.
Those are the instances the window silently missed: stopped during the window, agent offline,
EC2Rescue failed. Runs on a schedule; invoke it by hand with any JSON object (for example ``{}``)
for an immediate report. It reads metadata only: never a password value.

Environment: TAG_FILTERS (JSON object tag key -> list of values), PASSWORD_PATH,
MAX_AGE_SECONDS, TOPIC_ARN, WINDOW_NAME.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})


@cache
def _client(service: str) -> Any:
    return boto3.client(service, config=RETRIES)


def _now() -> datetime:
    return datetime.now(UTC)


def handler(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise ValueError("expected a JSON object (a scheduled event or {} to run by hand)")
    settings = _settings()
    instances = targeted_running_windows_instances(settings["tag_filters"])
    rotated_at = password_dates(settings["path"])
    cutoff = _now() - timedelta(seconds=settings["max_age"])
    missing = sorted(i for i in instances if i not in rotated_at)
    stale = sorted(i for i in instances if i in rotated_at and rotated_at[i] < cutoff)
    summary = {"window": settings["window"], "checked": len(instances), "missing": missing, "stale": stale}
    LOGGER.info(json.dumps(summary))
    if missing or stale:
        _client("sns").publish(
            TopicArn=settings["topic_arn"],
            Subject=f"Password rotation: {len(missing) + len(stale)} instance(s) not rotated"[:100],
            Message=_message(summary, rotated_at, settings["max_age"]),
        )
    return summary


def _settings() -> dict[str, Any]:
    return {
        "tag_filters": json.loads(os.environ["TAG_FILTERS"]),
        "path": os.environ["PASSWORD_PATH"].rstrip("/"),
        "max_age": int(os.environ["MAX_AGE_SECONDS"]),
        "topic_arn": os.environ["TOPIC_ARN"],
        "window": os.environ.get("WINDOW_NAME", ""),
    }


def targeted_running_windows_instances(tag_filters: dict[str, list[str]]) -> list[str]:
    filters = [{"Name": f"tag:{key}", "Values": values} for key, values in tag_filters.items()]
    filters.append({"Name": "instance-state-name", "Values": ["running"]})
    instance_ids = []
    pages = _client("ec2").get_paginator("describe_instances").paginate(
        Filters=filters, PaginationConfig={"PageSize": 50}
    )
    for page in pages:
        for reservation in page["Reservations"]:
            # Platform is checked here rather than as a filter: EC2Rescue ResetAccess only runs on
            # Windows, and a Linux instance with the same tags is not a missed rotation.
            instance_ids.extend(
                instance["InstanceId"] for instance in reservation["Instances"] if instance.get("Platform") == "windows"
            )
    return instance_ids


def password_dates(path: str) -> dict[str, datetime]:
    """Instance id -> when its password was last written (metadata only, no value)."""
    dates = {}
    pages = (
        _client("ssm")
        .get_paginator("describe_parameters")
        .paginate(ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": [path]}])
    )
    for page in pages:
        for parameter in page["Parameters"]:
            dates[parameter["Name"].rsplit("/", 1)[-1]] = parameter["LastModifiedDate"]
    return dates


def _message(summary: dict[str, Any], rotated_at: dict[str, datetime], max_age: int) -> str:
    lines = [
        f"Maintenance window {summary['window']}: {summary['checked']} running Windows instance(s) targeted.",
        f"Passwords older than {max_age // 86400} day(s) or missing are listed below; those instances were not",
        "rotated (stopped during the window, SSM Agent offline, or EC2Rescue failed).",
        "",
    ]
    lines += [f"MISSING  {instance}" for instance in summary["missing"]]
    lines += [f"STALE    {instance}  last rotated {rotated_at[instance].isoformat()}" for instance in summary["stale"]]
    return "\n".join(lines)
