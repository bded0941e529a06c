"""Deletes break-glass passwords once their TTL has passed. Two callers, one rule.

A break-glass run stores the node's emergency password as the SecureString
``<PARAMETER_PREFIX>/pwd-<instance-id>``. Two paths remove it:

* Expire: Step Functions waits ``TTL_SECONDS`` after the command ended on a node, then sends
  ``{"instance_id": "i-..."}``. This function deletes that node's parameter.
* Sweep: an EventBridge schedule sends a "Scheduled Event". This function deletes every
  ``<PARAMETER_PREFIX>/pwd-i-*`` and ``pwd-mi-*`` parameter (what nodes may write), in case an
  expire call never came (the state machine failed, or the command never reported back).

The modification-time rule: either way, a parameter is deleted only if it was last written at
least ``TTL_SECONDS`` ago. A second break-glass run on the same node inside the TTL rewrites the
parameter, so the first run's expire call finds it too young and keeps it ("kept"). The second
run's own expire call, or the sweeper, removes it when its TTL has passed.

The writer rule comes first: a parameter whose ``LastModifiedUser`` is not a session of its own
node (instance-profile credentials, role session name == the instance id in ``pwd-<instance-id>``;
see ``written_by_node``) is deleted at once, whatever its age, and raises an alert. The instance
policy lets every node write every ``pwd-i-*``/``pwd-mi-*`` (IAM has no instance-id variable for parameter ARNs),
so without this rule one node could keep rewriting another's parameter and keep it, with the real
password as an older version, alive for ever. Deleting the parameter deletes every version.
Alerts are logged at ERROR level as ``{"alert": ...}`` JSON, listed in the result, and published
to ``TOPIC_ARN`` when that variable is set; they are raised after the deletions, so a failing
publish never keeps a password alive (the error propagates, and the log line stays).

A parameter that is already gone counts as success ("absent"). Only metadata is read
(DescribeParameters): this function never sees a password and needs no kms:Decrypt.

Any other event raises ``UnsupportedEvent`` before an AWS call is made. AWS errors other than
"not found" propagate, so Step Functions retries and the Lambda error alarm fires.

Result: ``{"action": "expire" | "sweep", "deleted": [...], "kept": [...], "absent": [...],
"alerts": [{"parameter", "last_modified_user", "reason"}, ...]}`` (parameter names).
Environment: ``PARAMETER_PREFIX`` (e.g. ``/BreakGlass``), ``TTL_SECONDS``, optional ``TOPIC_ARN``.
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

# ParameterMetadata.LastModifiedUser is the "ARN of the AWS user who last changed the parameter"
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterMetadata.html
# Instance-profile credentials are temporary credentials of the instance's role, for a role session
# named after the instance id, so a write made by the node is recorded as
# arn:<partition>:sts::<account>:assumed-role/<instance role>/<instance-id>.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html
# Role names and session names never contain "/" (IAM pattern [\w+=,.@-]).
ASSUMED_ROLE_SESSION = re.compile(
    r"arn:aws[a-z-]*:sts::\d{12}:assumed-role/[\w+=,.@-]{1,64}/(?P<session>[\w+=,.@-]{2,64})"
)


class UnsupportedEvent(ValueError):
    """Neither ``{"instance_id": "i-..."}`` nor an EventBridge Scheduled Event."""


@cache
def _ssm() -> Any:
    # Created on first use (not at import) so tests and cold starts without a call stay offline.
    return boto3.client("ssm", config=RETRIES)


@cache
def _sns() -> Any:
    return boto3.client("sns", config=RETRIES)


def _now() -> datetime:
    """The current time, timezone-aware UTC. A function so tests can move the clock."""
    return datetime.now(UTC)


def handler(event: Any, context: Any) -> dict[str, Any]:
    action = _action_for(event)  # raises before anything else happens
    prefix, ttl = _config()
    result = expire(_parameter_name(prefix, event["instance_id"]), ttl) if action == "expire" else sweep(prefix, ttl)
    LOGGER.info(json.dumps(result))
    _raise_alerts(result["alerts"])
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
    result: dict[str, Any] = {"action": "expire", "deleted": [], "kept": [], "absent": [], "alerts": []}
    found = _ssm().describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])
    alert = foreign_write_alert(found["Parameters"][0]) if found["Parameters"] else None
    if alert:
        result["alerts"].append(alert)
    if not found["Parameters"]:
        result["absent"].append(name)
    elif not alert and not _is_expired(found["Parameters"][0], ttl, _now()):
        result["kept"].append(name)  # rewritten by a newer run; its own clean-up removes it
    elif _delete_one(name):
        result["deleted"].append(name)
    else:
        result["absent"].append(name)  # deleted by someone else since we looked
    return result


def sweep(prefix: str, ttl: int) -> dict[str, Any]:
    """Delete every break-glass parameter under ``prefix`` last written at least ``ttl`` seconds ago,
    or last written by another principal than its own node."""
    now = _now()  # one moment for every decision of this sweep
    expired: list[str] = []
    kept: list[str] = []
    alerts: list[dict[str, str]] = []
    for parameter in _break_glass_parameters(prefix):
        alert = foreign_write_alert(parameter)
        if alert:
            alerts.append(alert)
        (expired if alert or _is_expired(parameter, ttl, now) else kept).append(parameter["Name"])
    absent: set[str] = set()
    for start in range(0, len(expired), DELETE_BATCH):
        absent.update(_delete_batch(expired[start : start + DELETE_BATCH]))
    deleted = [name for name in expired if name not in absent]
    return {"action": "sweep", "deleted": deleted, "kept": kept, "absent": sorted(absent), "alerts": alerts}


def _break_glass_parameters(prefix: str) -> Iterator[dict[str, Any]]:
    # The Path filter keeps the search to one level under the prefix (not "/BreakGlassy", not
    # deeper folders); the name check keeps exactly what the instance policy lets nodes write
    # (pwd-i-*, pwd-mi-*, one level) and leaves anything else alone.
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
            if parameter["Name"].startswith((f"{prefix}/pwd-i-", f"{prefix}/pwd-mi-")):
                yield parameter


def written_by_node(last_modified_user: str, instance_id: str) -> bool:
    """Whether ``last_modified_user`` is a role session of ``instance_id``'s own credentials."""
    match = ASSUMED_ROLE_SESSION.fullmatch(last_modified_user or "")
    return match is not None and match["session"] == instance_id


def foreign_write_alert(parameter: dict[str, Any]) -> dict[str, str] | None:
    """An alert if ``parameter`` (a DescribeParameters entry for ``.../pwd-<id>``) was last written
    by anyone but node ``<id>``; None for the node's own write."""
    instance_id = parameter["Name"].rsplit("/pwd-", 1)[-1]
    writer = parameter.get("LastModifiedUser") or ""
    if written_by_node(writer, instance_id):
        return None
    return {
        "parameter": parameter["Name"],
        "last_modified_user": writer,
        "reason": f"last written by {writer or 'an unrecorded principal'}, not by {instance_id}: deleted at once",
    }


def _raise_alerts(alerts: list[dict[str, str]]) -> None:
    for alert in alerts:
        LOGGER.error(json.dumps({"alert": alert}))
    topic_arn = os.environ.get("TOPIC_ARN")
    if alerts and topic_arn:
        _sns().publish(
            TopicArn=topic_arn,
            Subject=f"Break-glass: {len(alerts)} password(s) written by another principal, deleted"[:100],
            Message="\n".join(f"{alert['parameter']}  {alert['reason']}" for alert in alerts),
        )


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
