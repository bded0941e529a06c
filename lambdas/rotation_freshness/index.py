"""Freshness report of rotated Windows Administrator passwords.

Lists every running Windows instance that matches the rotation window's tag filters, compares it
with the modification date of ``<PASSWORD_PATH>/<instance-id>`` in Parameter Store, and publishes
one summary naming every instance whose password is missing or older than ``MAX_AGE_SECONDS``.
Those are the instances the window silently missed: stopped during the window, agent offline,
EC2Rescue failed.

A password is fresh only if the instance itself wrote it: its ``LastModifiedUser`` must be a session
of the instance's own instance-profile credentials, whose role session name is the instance id (see
``written_by_node``). The instance policy lets every instance write every ``<PASSWORD_PATH>/*``
(IAM has no instance-id variable for parameter ARNs), so without this check one instance could
refresh another's date and hide a missed rotation. A password last written by anyone else is
reported STALE with the writer, whatever its date. Runs on a schedule; invoke it by hand with any
JSON object (for example ``{}``) for an immediate report. It reads metadata only: never a password value.

Instances the window never reached are named apart (SKIPPED), with the setting to raise: in the
window's last execution, their EC2Rescue invocation was cancelled at the cutoff or timed out before
delivery ("Delivery Timed Out": the command did not start on the node within its timeout), which is
what a fleet too large for the window's concurrency looks like (README "Rotation at fleet scale").

Environment: TAG_FILTERS (JSON object tag key -> list of values), PASSWORD_PATH,
MAX_AGE_SECONDS, TOPIC_ARN, WINDOW_NAME, optional WINDOW_ID and MAX_CONCURRENCY.
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
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})

# ParameterMetadata.LastModifiedUser is the "ARN of the AWS user who last changed the parameter"
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterMetadata.html
# Instance-profile credentials are temporary credentials of the instance's role, for a role session
# named after the instance id, so a write made by the instance (EC2Rescue included: Run Command runs
# it on the instance with those credentials) is recorded as
# arn:<partition>:sts::<account>:assumed-role/<instance role>/<instance-id>.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html
# Role names and session names never contain "/" (IAM pattern [\w+=,.@-]).
ASSUMED_ROLE_SESSION = re.compile(
    r"arn:aws[a-z-]*:sts::\d{12}:assumed-role/[\w+=,.@-]{1,64}/(?P<session>[\w+=,.@-]{2,64})"
)


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
    passwords = password_metadata(settings["path"])
    cutoff = _now() - timedelta(seconds=settings["max_age"])
    missing = sorted(i for i in instances if i not in passwords)
    reasons = {i: reason for i in instances if i in passwords and (reason := stale_reason(i, passwords[i], cutoff))}
    not_rotated = set(missing) | set(reasons)
    summary = {
        "window": settings["window"],
        "checked": len(instances),
        "missing": missing,
        "stale": sorted(reasons),
        "reasons": dict(sorted(reasons.items())),
        "skipped": sorted(not_rotated & skipped_instances(settings["window_id"])) if not_rotated else [],
        "max_concurrency": settings["max_concurrency"],
    }
    LOGGER.info(json.dumps(summary))
    # {"notify": false}: `ssm-guardrails report rotation --no-notify` asks without alerting
    if (missing or reasons) and event.get("notify", True) is not False:
        _client("sns").publish(
            TopicArn=settings["topic_arn"],
            Subject=f"Password rotation: {len(missing) + len(reasons)} instance(s) not rotated"[:100],
            Message=_message(summary, settings["max_age"]),
        )
    return summary


def _settings() -> dict[str, Any]:
    return {
        "tag_filters": json.loads(os.environ["TAG_FILTERS"]),
        "path": os.environ["PASSWORD_PATH"].rstrip("/"),
        "max_age": int(os.environ["MAX_AGE_SECONDS"]),
        "topic_arn": os.environ["TOPIC_ARN"],
        "window": os.environ.get("WINDOW_NAME", ""),
        "window_id": os.environ.get("WINDOW_ID", ""),
        "max_concurrency": os.environ.get("MAX_CONCURRENCY", ""),
    }


def targeted_running_windows_instances(tag_filters: dict[str, list[str]]) -> list[str]:
    filters = [{"Name": f"tag:{key}", "Values": values} for key, values in tag_filters.items()]
    filters.append({"Name": "instance-state-name", "Values": ["running"]})
    instance_ids = []
    pages = (
        _client("ec2").get_paginator("describe_instances").paginate(Filters=filters, PaginationConfig={"PageSize": 50})
    )
    for page in pages:
        for reservation in page["Reservations"]:
            # Platform is checked here rather than as a filter: EC2Rescue ResetAccess only runs on
            # Windows, and a Linux instance with the same tags is not a missed rotation.
            instance_ids.extend(
                instance["InstanceId"] for instance in reservation["Instances"] if instance.get("Platform") == "windows"
            )
    return instance_ids


def written_by_node(last_modified_user: str, instance_id: str) -> bool:
    """Whether ``last_modified_user`` is a role session of ``instance_id``'s own credentials."""
    match = ASSUMED_ROLE_SESSION.fullmatch(last_modified_user or "")
    return match is not None and match["session"] == instance_id


def stale_reason(instance_id: str, parameter: dict[str, Any], cutoff: datetime) -> str | None:
    """Why ``instance_id``'s password (a DescribeParameters entry) is stale, or None if it is fresh.

    The writer is checked first: a password another principal wrote is stale whatever its date.
    """
    writer = parameter.get("LastModifiedUser") or ""
    if not written_by_node(writer, instance_id):
        return f"last written by {writer or 'an unrecorded principal'}, not by {instance_id}"
    if parameter["LastModifiedDate"] < cutoff:
        return f"last rotated {parameter['LastModifiedDate'].isoformat()}"
    return None


def password_metadata(path: str) -> dict[str, dict[str, Any]]:
    """Instance id -> its password's DescribeParameters entry (metadata only, no value)."""
    found = {}
    pages = (
        _client("ssm")
        .get_paginator("describe_parameters")
        .paginate(ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": [path]}])
    )
    for page in pages:
        for parameter in page["Parameters"]:
            found[parameter["Name"].rsplit("/", 1)[-1]] = parameter
    return found


#: Run Command results of an instance the window never got to: cancelled at the cutoff, or not
#: delivered within the command's timeout while it waited for its turn. StatusDetails values:
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
NOT_REACHED = {"Cancelled", "Delivery Timed Out"}


def skipped_instances(window_id: str) -> set[str]:
    """Instances whose EC2Rescue run the window's last execution cancelled or never delivered.

    Best effort: the report matters more than this detail, so an error reading the window's history
    is logged and the instances are reported as missing or stale only."""
    if not window_id:
        return set()
    ssm = _client("ssm")
    try:
        executions = ssm.describe_maintenance_window_executions(WindowId=window_id, MaxResults=10)
        latest = max(executions["WindowExecutions"], key=lambda e: e.get("StartTime", ""), default=None)
        if latest is None:
            return set()
        run = latest["WindowExecutionId"]
        skipped: set[str] = set()
        for task in ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=run)[
            "WindowExecutionTaskIdentities"
        ]:
            invocations = ssm.describe_maintenance_window_execution_task_invocations(
                WindowExecutionId=run, TaskId=task["TaskExecutionId"]
            )["WindowExecutionTaskInvocationIdentities"]
            # For a RUN_COMMAND task, ExecutionId "is the command ID":
            # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_MaintenanceWindowExecutionTaskInvocationIdentity.html
            for invocation in invocations:
                skipped |= _not_reached(invocation.get("ExecutionId", ""))
        return skipped
    except ClientError as error:
        LOGGER.warning(json.dumps({"window_history": window_id, "error": error.response["Error"]["Code"]}))
        return set()


def _not_reached(command_id: str) -> set[str]:
    """The instances of Run Command ``command_id`` that were cancelled or never delivered."""
    if not command_id:
        return set()
    found = set()
    for page in _client("ssm").get_paginator("list_command_invocations").paginate(CommandId=command_id):
        for invocation in page["CommandInvocations"]:
            if {invocation.get("Status"), invocation.get("StatusDetails")} & NOT_REACHED:
                found.add(invocation["InstanceId"])
    return found


def _message(summary: dict[str, Any], max_age: int) -> str:
    lines = [
        f"Maintenance window {summary['window']}: {summary['checked']} running Windows instance(s) targeted.",
        f"Passwords older than {max_age // 86400} day(s), missing, or last written by another principal than",
        "the instance itself are listed below; those instances were not rotated (stopped during the window,",
        "SSM Agent offline, or EC2Rescue failed), or another principal overwrote the password.",
        "",
    ]
    lines += [f"MISSING  {instance}" for instance in summary["missing"]]
    lines += [f"STALE    {instance}  {summary['reasons'][instance]}" for instance in summary["stale"]]
    if summary["skipped"]:
        lines += [
            "",
            f"The window ran out before it reached {len(summary['skipped'])} of them (cancelled at the cutoff or not",
            "delivered in time). Raise controls.password_rotation.windows[].max_concurrency (now "
            f"{summary['max_concurrency'] or 'unknown'}), duration_hours or task_timeout_minutes (README table).",
            *(f"SKIPPED  {instance}" for instance in summary["skipped"]),
        ]
    return "\n".join(lines)
