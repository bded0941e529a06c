"""Grant policies on a principal: names, expiry, and the inline-policy quota they share."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

GRANT_PREFIX = "SsmGuardrailsSessionGrant-"
EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: IAM counts the inline policies of a principal together, without white space: 10,240 characters
#: for a role, 2,048 for a user ("IAM and AWS STS quotas",
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
INLINE_LIMITS = {"role": 10240, "user": 2048}


class GrantTooLargeError(RuntimeError):
    """The grant would not fit in the principal's inline-policy quota."""


def policy_size(document: dict[str, Any] | str) -> int:
    """Characters IAM counts against the quota: the JSON without white space."""
    text = document if isinstance(document, str) else json.dumps(document)
    return len(re.sub(r"\s", "", text))


def expiry_of(document: dict[str, Any]) -> datetime | None:
    """The ``aws:CurrentTime`` bound of a grant policy, or None when it has none or it is unreadable."""
    ends = set()
    for statement in document.get("Statement", []):
        value = statement.get("Condition", {}).get("DateLessThan", {}).get("aws:CurrentTime")
        if not isinstance(value, str):
            return None
        ends.add(value)
    try:
        return datetime.strptime(ends.pop(), EXPIRY_FORMAT).replace(tzinfo=UTC) if len(ends) == 1 else None
    except ValueError:
        return None


def _inline_policies(iam: Any, who: Any) -> dict[str, dict[str, Any]]:
    noun = who.kind.capitalize()
    names: list[str] = []
    for page in iam.get_paginator(f"list_{who.kind}_policies").paginate(**{f"{noun}Name": who.name}):
        names += page["PolicyNames"]
    getter = getattr(iam, f"get_{who.kind}_policy")
    found = {}
    for name in names:
        document = getter(**{f"{noun}Name": who.name, "PolicyName": name})["PolicyDocument"]
        found[name] = json.loads(document) if isinstance(document, str) else document
    return found


def make_room(
    iam: Any, who: Any, name: str, now: datetime, adding: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The principal's inline policies after deleting its expired grants (they give nothing);
    with ``adding``, refuse when that policy would not fit next to the others."""
    existing = _inline_policies(iam, who)
    noun = who.kind.capitalize()
    for other, document in list(existing.items()):
        end = expiry_of(document)
        if other.startswith(GRANT_PREFIX) and other != name and end is not None and end <= now:
            try:
                getattr(iam, f"delete_{who.kind}_policy")(**{f"{noun}Name": who.name, "PolicyName": other})
            except ClientError as error:
                if error.response["Error"]["Code"] != "NoSuchEntity":
                    raise
            existing.pop(other)
    if adding is not None:
        used = sum(policy_size(doc) for other, doc in existing.items() if other != name)
        limit = INLINE_LIMITS[who.kind]
        if used + policy_size(adding) > limit:
            running = sum(n.startswith(GRANT_PREFIX) for n in existing)
            raise GrantTooLargeError(
                f"IAM {who.kind} {who.name} has {used} of {limit} characters of inline policy in use; this grant "
                f"needs {policy_size(adding)} more. Wait for one of its {running} running grants to end, "
                "then ask again."
            )
    return existing
