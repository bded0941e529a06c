"""Automation script step of the access-key remediation (aws:executeScript, python3.11).

AWS Config found an IAM user with an access key older than ``MaxAccessKeyAge`` days. This step
lists the user's active keys, deactivates the ones older than ``DeactivateAfter`` days when that
escalation is on (never for a user tagged with the exemption tag, never deleting a key), and
publishes one message to the central topic naming the account, the user, every old key, its age
and what was done. A user deleted since the evaluation is reported as such, without a message.

Only boto3 and the standard library: it runs inside Systems Manager Automation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3


def _now() -> datetime:
    return datetime.now(UTC)


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    user = events["UserName"]
    max_age = int(events["MaxAccessKeyAge"])
    deactivate_after = int(events.get("DeactivateAfter") or 0)
    iam = boto3.client("iam")
    try:
        keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        tags = {tag["Key"]: tag["Value"] for tag in iam.list_user_tags(UserName=user)["Tags"]}
    except iam.exceptions.NoSuchEntityException:
        return {
            "Status": "UserDeleted",
            "Message": f"User {user} no longer exists; nothing to report.",
            "Deactivated": [],
        }
    now = _now()
    old_keys = [
        (key["AccessKeyId"], (now - key["CreateDate"]).days)
        for key in keys
        if key["Status"] == "Active" and (now - key["CreateDate"]).days > max_age
    ]
    if not old_keys:
        return {
            "Status": "NothingOld",
            "Message": f"User {user} has no active key older than {max_age} days.",
            "Deactivated": [],
        }
    exempt = tags.get(events["ExemptionTagKey"], "").lower() == events["ExemptionTagValue"].lower()
    lines, deactivated = [], []
    for key_id, age in old_keys:
        if deactivate_after and age > deactivate_after and not exempt:
            iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
            deactivated.append(key_id)
            action = f"deactivated (older than {deactivate_after} days; not deleted)"
        elif deactivate_after and age > deactivate_after:
            action = f"left active: user carries {events['ExemptionTagKey']}={events['ExemptionTagValue']}"
        else:
            action = "reported; rotate it"
        lines.append(f"- access key {key_id} is {age} days old (limit {max_age}): {action}")
    message = "\n".join(
        [f"Account {events['AccountId']}: IAM user {user} has {len(old_keys)} access key(s) older than {max_age} days."]
        + lines
        + (
            [f"Owner (email tag): {tags['email']}"]
            if events.get("IncludeEmailTag") == "true" and "email" in tags
            else []
        )
    )
    topic_arn = events["TopicArn"]
    boto3.client("sns", region_name=topic_arn.split(":")[3]).publish(
        TopicArn=topic_arn, Subject=f"Old IAM access key in account {events['AccountId']}"[:100], Message=message
    )
    return {"Status": "Published", "Message": message, "Deactivated": deactivated}
