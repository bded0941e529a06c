"""Deletes break-glass passwords once their TTL has passed. Two callers, one rule.

* Step Functions, ``TTL_SECONDS`` after a break-glass command ended on a node, sends
  ``{"instance_id": "i-..."}``: delete ``<PARAMETER_PREFIX>/pwd-<instance-id>``.
* An EventBridge schedule sends a "Scheduled Event": delete every ``<PARAMETER_PREFIX>/pwd-*``.

Either way a parameter is deleted only when it was last written at least ``TTL_SECONDS`` ago. A
second break-glass run on the same node inside the TTL rewrites the parameter, so the first
run's clean-up leaves the new password alone; the second run's clean-up (or the sweeper) removes
it when its own TTL has passed. Deleting a parameter that is already gone is success. Only
metadata is read (DescribeParameters): this function can never see a password.

Any other event is rejected before an AWS call is made. AWS errors other than "not found"
propagate, so Step Functions retries and the alarms fire. Only boto3 and the standard library.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
INSTANCE_ID = re.compile(r"^(i|mi)-[0-9a-f]{8,17}$")
# Throttling and transient errors are retried with exponential backoff and jitter.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
DELETE_BATCH = 10  # the DeleteParameters limit


class UnsupportedEvent(ValueError):
    """Neither ``{"instance_id": ...}`` nor an EventBridge Scheduled Event."""


@cache
def _ssm() -> Any:
    return boto3.client("ssm", config=RETRIES)


def _now() -> datetime:
    return datetime.now(UTC)


def handler(event: Any, context: Any) -> dict[str, Any]:
    prefix, ttl = os.environ["PARAMETER_PREFIX"].rstrip("/"), int(os.environ["TTL_SECONDS"])
    if _is_expire_request(event):
        result = expire(f"{prefix}/pwd-{event['instance_id']}", ttl)
    elif _is_scheduled_event(event):
        result = sweep(prefix, ttl)
    else:
        raise UnsupportedEvent("expected {'instance_id': 'i-...'} or an EventBridge Scheduled Event")
    LOGGER.info(json.dumps(result))
    return result


def _is_expire_request(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and set(event) == {"instance_id"}
        and isinstance(event["instance_id"], str)
        and bool(INSTANCE_ID.match(event["instance_id"]))
    )


def _is_scheduled_event(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    )


def expire(name: str, ttl: int) -> dict[str, Any]:
    """Delete ``name`` if it is at least ``ttl`` seconds old."""
    found = _ssm().describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])
    result: dict[str, Any] = {"action": "expire", "deleted": [], "kept": [], "absent": []}
    if not found["Parameters"]:
        result["absent"].append(name)
    elif _is_expired(found["Parameters"][0], ttl):
        _delete([name])
        result["deleted"].append(name)
    else:
        result["kept"].append(name)  # rewritten by a newer run; its own clean-up removes it
    return result


def sweep(prefix: str, ttl: int) -> dict[str, Any]:
    """Delete every break-glass parameter under ``prefix`` that is at least ``ttl`` seconds old."""
    expired, kept = [], []
    pages = (
        _ssm()
        .get_paginator("describe_parameters")
        .paginate(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [f"{prefix}/pwd-"]}])
    )
    for page in pages:
        for parameter in page["Parameters"]:
            (expired if _is_expired(parameter, ttl) else kept).append(parameter["Name"])
    for start in range(0, len(expired), DELETE_BATCH):
        _delete(expired[start : start + DELETE_BATCH])
    return {"action": "sweep", "deleted": expired, "kept": kept, "absent": []}


def _is_expired(parameter: dict[str, Any], ttl: int) -> bool:
    return _now() - parameter["LastModifiedDate"] >= timedelta(seconds=ttl)


def _delete(names: list[str]) -> None:
    if len(names) == 1:
        try:
            _ssm().delete_parameter(Name=names[0])
        except ClientError as error:
            if error.response["Error"]["Code"] != "ParameterNotFound":
                raise
        return
    # Names DeleteParameters reports as invalid are already gone: that is success too.
    _ssm().delete_parameters(Names=names)
