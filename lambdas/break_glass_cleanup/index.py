"""Deletes break-glass passwords once their TTL has passed. Two callers, one rule.

A break-glass run stores the node's emergency password as the SecureString
``<PARAMETER_PREFIX>/pwd-<instance-id>``. Two paths remove it:

* Expire: Step Functions waits ``TTL_SECONDS`` after the command ended on a node, then sends
  ``{"instance_id": "i-..."}``. This function deletes that node's parameter.
* Sweep: an EventBridge schedule sends a "Scheduled Event". This function deletes every
  ``<PARAMETER_PREFIX>/pwd-*`` parameter, in case an expire call never came (the state machine
  failed, or the command never reported back).

The modification-time rule: either way, a parameter is deleted only if it was last written at
least ``TTL_SECONDS`` ago. A second break-glass run on the same node inside the TTL rewrites the
parameter, so the first run's expire call finds it too young and keeps it ("kept"). The second
run's own expire call, or the sweeper, removes it when its TTL has passed.

A parameter that is already gone counts as success ("absent"). Only metadata is read
(DescribeParameters): this function never sees a password and needs no kms:Decrypt.

Any other event raises ``UnsupportedEvent`` before an AWS call is made. AWS errors other than
"not found" propagate, so Step Functions retries and the Lambda error alarm fires.

Result: ``{"action": "expire" | "sweep", "deleted": [...], "kept": [...], "absent": [...]}``
(parameter names). Environment: ``PARAMETER_PREFIX`` (e.g. ``/BreakGlass``) and ``TTL_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

LOGGER = logging.getLogger("break_glass_cleanup")
LOGGER.setLevel(logging.INFO)

# Used with fullmatch: "$" in re.match would also accept a trailing newline.
INSTANCE_ID = re.compile(r"(i|mi)-[0-9a-f]{8,17}")
# Standard mode retries throttling and transient errors with exponential backoff and jitter.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
DELETE_BATCH = 10  # the most names one DeleteParameters call accepts
DESCRIBE_PAGE = 50  # the most results one DescribeParameters call returns: fewer calls, less throttling


class UnsupportedEvent(ValueError):
    """Neither ``{"instance_id": "i-..."}`` nor an EventBridge Scheduled Event."""


@cache
def _ssm() -> Any:
    # Created on first use (not at import) so tests and cold starts without a call stay offline.
    return boto3.client("ssm", config=RETRIES)


def _now() -> datetime:
    """The current time, timezone-aware UTC. A function so tests can move the clock."""
    return datetime.now(UTC)


def handler(event: Any, context: Any) -> dict[str, Any]:
    action = _action_for(event)  # raises before anything else happens
    prefix, ttl = _config()
    result = expire(_parameter_name(prefix, event["instance_id"]), ttl) if action == "expire" else sweep(prefix, ttl)
    LOGGER.info(json.dumps(result))
    return result


def _action_for(event: Any) -> str:
    if _is_expire_request(event):
        return "expire"
    if _is_scheduled_event(event):
        return "sweep"
    raise UnsupportedEvent("expected {'instance_id': 'i-...'} or an EventBridge Scheduled Event")


def _is_expire_request(event: Any) -> bool:
    # Exactly one key and a strict id: the id becomes part of a parameter name we delete.
    return (
        isinstance(event, dict)
        and set(event) == {"instance_id"}
        and isinstance(event["instance_id"], str)
        and INSTANCE_ID.fullmatch(event["instance_id"]) is not None
    )


def _is_scheduled_event(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    )


def _config() -> tuple[str, int]:
    return os.environ["PARAMETER_PREFIX"].rstrip("/"), int(os.environ["TTL_SECONDS"])


def _parameter_name(prefix: str, instance_id: str) -> str:
    return f"{prefix}/pwd-{instance_id}"


def expire(name: str, ttl: int) -> dict[str, Any]:
    """Delete ``name`` if it was last written at least ``ttl`` seconds ago."""
    result: dict[str, Any] = {"action": "expire", "deleted": [], "kept": [], "absent": []}
    found = _ssm().describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])
    if not found["Parameters"]:
        result["absent"].append(name)
    elif not _is_expired(found["Parameters"][0], ttl, _now()):
        result["kept"].append(name)  # rewritten by a newer run; its own clean-up removes it
    elif _delete_one(name):
        result["deleted"].append(name)
    else:
        result["absent"].append(name)  # deleted by someone else since we looked
    return result


def sweep(prefix: str, ttl: int) -> dict[str, Any]:
    """Delete every break-glass parameter under ``prefix`` last written at least ``ttl`` seconds ago."""
    now = _now()  # one moment for every decision of this sweep
    expired: list[str] = []
    kept: list[str] = []
    for parameter in _break_glass_parameters(prefix):
        (expired if _is_expired(parameter, ttl, now) else kept).append(parameter["Name"])
    absent: set[str] = set()
    for start in range(0, len(expired), DELETE_BATCH):
        absent.update(_delete_batch(expired[start : start + DELETE_BATCH]))
    deleted = [name for name in expired if name not in absent]
    return {"action": "sweep", "deleted": deleted, "kept": kept, "absent": sorted(absent)}


def _break_glass_parameters(prefix: str) -> Iterator[dict[str, Any]]:
    # The Path filter keeps the search to one level under the prefix (not "/BreakGlassy", not
    # deeper folders); the name check then leaves anything that is not a password alone.
    pages = (
        _ssm()
        .get_paginator("describe_parameters")
        .paginate(
            ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": [prefix]}],
            PaginationConfig={"PageSize": DESCRIBE_PAGE},
        )
    )
    for page in pages:
        for parameter in page["Parameters"]:
            if parameter["Name"].startswith(f"{prefix}/pwd-"):
                yield parameter


def _is_expired(parameter: dict[str, Any], ttl: int, now: datetime) -> bool:
    return now - parameter["LastModifiedDate"] >= timedelta(seconds=ttl)


def _delete_one(name: str) -> bool:
    """Delete ``name``; False if it was already gone (which is success too)."""
    try:
        _ssm().delete_parameter(Name=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return False
    return True


def _delete_batch(names: list[str]) -> list[str]:
    """Delete up to ten names; return those that were already gone (reported as invalid)."""
    return _ssm().delete_parameters(Names=names).get("InvalidParameters", [])
