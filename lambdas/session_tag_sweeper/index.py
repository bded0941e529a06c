"""Removes expired session grants (SeparationOfDuties back-stop).

The AllowStartSsmSession runbook puts an inline policy ``<GRANT_PREFIX><execution id>`` on the
requesting operator role or user and removes it when the window ends. IAM already refuses the
grant after its expiry (``DateLessThan aws:CurrentTime``), so a leftover policy grants nothing;
this function, run on a schedule, removes leftovers (execution stopped, step throttled) so that
they do not use up the principal's inline-policy quota:

* only the operator roles and users named in ``OPERATOR_ROLES`` / ``OPERATOR_USERS`` are read;
* only inline policies whose name starts with ``GRANT_PREFIX`` are considered;
* one is deleted when its expiry is in the past, missing, unreadable, or further away than
  ``MAX_VALIDITY_MINUTES`` (nobody can be granted more than that); a running grant stays.

It also deletes every version of the runbook ``RUNBOOK_NAME`` older than the default one, so that
only the current runbook can run: an earlier version (other approvers, another ``min_approvals``,
the Change Manager path without an approval step) stays runnable with ``--document-version`` until
it is deleted, and the grant function refuses it meanwhile. A version newer than the default is
never deleted: CloudFormation can end a ``NewVersion`` update without promoting the new version, and
deleting it would keep the old runbook in force. The run logs ``runbook_latest_is_default: false``
then, which raises the sweeper's latest-not-default alarm.

A principal deleted while being processed is skipped. Any other event than an EventBridge
Scheduled Event is rejected before an AWS call is made. Only boto3 and the standard library.
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


@cache
def _ssm() -> Any:
    return boto3.client("ssm", config=RETRIES)


def _now() -> datetime:
    return datetime.now(UTC)


def handler(event: Any, context: Any) -> dict[str, Any]:
    if not (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    ):
        raise UnsupportedEvent("expected an EventBridge Scheduled Event")
    result = sweep(
        prefix=os.environ["GRANT_PREFIX"],
        roles=_names("OPERATOR_ROLES"),
        users=_names("OPERATOR_USERS"),
        max_validity_minutes=int(os.environ["MAX_VALIDITY_MINUTES"]),
    )
    if runbook := os.environ.get("RUNBOOK_NAME"):
        result.update(prune_superseded_versions(runbook))
    LOGGER.info(json.dumps(result))
    return result


def prune_superseded_versions(name: str) -> dict[str, Any]:
    """Delete every version of document ``name`` older than its default version, and report whether
    the latest version is the default. DeleteDocument with DocumentVersion deletes that version only:
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DeleteDocument.html"""
    ssm = _ssm()
    versions = [
        v for page in ssm.get_paginator("list_document_versions").paginate(Name=name) for v in page["DocumentVersions"]
    ]
    default = max((int(v["DocumentVersion"]) for v in versions if v["IsDefaultVersion"]), default=0)
    latest = max((int(v["DocumentVersion"]) for v in versions), default=0)
    deleted = []
    for version in versions:
        if int(version["DocumentVersion"]) < default:
            ssm.delete_document(Name=name, DocumentVersion=version["DocumentVersion"])
            deleted.append(version["DocumentVersion"])
    if latest != default:
        LOGGER.warning("%s: latest version %s is not the default version %s; kept", name, latest, default)
    return {"deleted_runbook_versions": deleted, "runbook_latest_is_default": latest == default}


def _names(variable: str) -> list[str]:
    return [name for name in os.environ.get(variable, "").split(",") if name]


def expired(document: Any, now: datetime, max_validity: timedelta) -> bool:
    """True unless every statement ends at the same well-formed UTC time, in the future and within
    ``max_validity``."""
    try:
        parsed = json.loads(document) if isinstance(document, str) else document
        ends = {s["Condition"]["DateLessThan"]["aws:CurrentTime"] for s in parsed["Statement"]}
        if len(ends) != 1:
            return True
        end = datetime.strptime(ends.pop(), EXPIRY_FORMAT).replace(tzinfo=UTC)
    except (KeyError, TypeError, ValueError):
        return True
    return not now < end <= now + max_validity


def _policies(kind: str, name: str) -> list[str]:
    noun = kind.capitalize()
    names: list[str] = []
    for page in _iam().get_paginator(f"list_{kind}_policies").paginate(**{f"{noun}Name": name}):
        names += page["PolicyNames"]
    return names


def sweep(*, prefix: str, roles: list[str], users: list[str], max_validity_minutes: int) -> dict[str, Any]:
    now, max_validity = _now(), timedelta(minutes=max_validity_minutes)
    iam, checked, removed = _iam(), 0, []
    for kind, names in (("role", roles), ("user", users)):
        noun = kind.capitalize()
        for name in names:
            try:
                for policy in _policies(kind, name):
                    if not policy.startswith(prefix):
                        continue
                    checked += 1
                    arguments = {f"{noun}Name": name, "PolicyName": policy}
                    document = getattr(iam, f"get_{kind}_policy")(**arguments)["PolicyDocument"]
                    if expired(document, now, max_validity):
                        getattr(iam, f"delete_{kind}_policy")(**arguments)
                        removed.append({"principal": f"{kind}/{name}", "policy": policy})
            except ClientError as error:
                if error.response["Error"]["Code"] != "NoSuchEntity":
                    raise
    return {"checked": checked, "removed": removed}
