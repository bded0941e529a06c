"""Script steps of the AllowStartSsmSession runbook (SeparationOfDuties).

Inlined at synth into each aws:executeScript step that names one of the handlers below. Only
boto3 and the standard library; SSM runs them with the runbook's AutomationAssumeRole.

* ``check_not_self_approved``: after the aws:approve step, fail unless every approver is someone
  other than the requester (who started the execution) and other than the principal that gets
  the session permission.
* ``expiry``: the end of the window, written as a tag so that the sweeper can remove stale tags.
* ``terminate_sessions``: end the principal's sessions on the instance when the window closes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

_IAM_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role)/(.+)$")


class SelfApprovalError(RuntimeError):
    """An approver is the requester or the principal that would get the session permission."""


def _ssm() -> Any:
    return boto3.client("ssm")


def _now() -> datetime:
    return datetime.now(UTC)


def principal(identity: str) -> tuple[str, str]:
    """(kind, lower-case name) of an IAM user, role or assumed-role ARN, or ("", name) of a bare name.

    ``assumed-role/Name/session`` is the role ``Name``: two sessions of one role are one principal.
    """
    match = _IAM_ARN.match(identity.strip())
    if not match:
        return "", identity.strip().lower()
    kind, rest = match.group(2), match.group(3)
    if kind == "assumed-role":
        return "role", rest.split("/")[0].lower()
    return kind, rest.split("/")[-1].lower()  # IAM paths are not part of the name


def same_principal(first: str, second: str) -> bool:
    (kind_a, name_a), (kind_b, name_b) = principal(first), principal(second)
    return name_a == name_b and (kind_a == kind_b or "" in (kind_a, kind_b))


def _decisions(values: list[Any]) -> list[dict[str, Any]]:
    """ApproverDecisions as GetAutomationExecution returns them: JSON strings of one decision or a list."""
    found: list[dict[str, Any]] = []
    for value in values:
        parsed = json.loads(value) if isinstance(value, str) else value
        for decision in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(decision, dict) and decision.get("Approver"):
                found.append(decision)
    return found


def check_not_self_approved(events: dict[str, Any], context: Any) -> dict[str, Any]:
    execution = _ssm().get_automation_execution(AutomationExecutionId=events["ExecutionId"])["AutomationExecution"]
    requester = execution["ExecutedBy"]
    step = next((s for s in execution.get("StepExecutions", []) if s["StepName"] == events["ApproveStepName"]), None)
    if step is None:
        raise SelfApprovalError(f"no step {events['ApproveStepName']} in this execution")
    decisions = _decisions(step.get("Outputs", {}).get("ApproverDecisions", []))
    approvers = [d["Approver"] for d in decisions if str(d.get("Decision", "")).lower().startswith("approve")]
    if not approvers:
        raise SelfApprovalError("no approval decision recorded: refusing to grant access")
    target = f"{events['PrincipalType']}/{events['PrincipalName']}"
    for approver in approvers:
        if same_principal(approver, requester):
            raise SelfApprovalError(f"{approver} approved its own request ({requester} started it)")
        if same_principal(approver, f"arn:aws:iam::000000000000:{target}"):
            raise SelfApprovalError(f"{approver} approved session access for itself")
    return {"Requester": requester, "Approvers": approvers}


def expiry(events: dict[str, Any], context: Any) -> dict[str, Any]:
    minutes = int(events["ValidityMinutes"])
    if not 1 <= minutes <= 60:
        raise ValueError(f"ValidityMinutes must be 1-60, got {minutes}")
    end = _now().replace(microsecond=0) + timedelta(minutes=minutes)
    return {"ExpiresAt": end.strftime("%Y-%m-%dT%H:%M:%SZ")}


def terminate_sessions(events: dict[str, Any], context: Any) -> dict[str, Any]:
    ssm = _ssm()
    target = f"{events['PrincipalType']}/{events['PrincipalName']}"
    paginator = ssm.get_paginator("describe_sessions")
    pages = paginator.paginate(State="Active", Filters=[{"key": "Target", "value": events["InstanceId"]}])
    ended = [
        session["SessionId"]
        for page in pages
        for session in page.get("Sessions", [])
        if same_principal(session.get("Owner", ""), f"arn:aws:iam::000000000000:{target}")
    ]
    for session_id in ended:  # after listing: do not change what is being paged through
        ssm.terminate_session(SessionId=session_id)
    return {"Terminated": ended}
