"""Script steps of the AllowStartSsmSession runbook (SeparationOfDuties): the session grant.

Inlined at synth into each aws:executeScript step that names one of the handlers below. Only
boto3 and the standard library; SSM runs them with the runbook's AutomationAssumeRole.

* ``grant``: after the approval, checks the execution itself (this runbook, its default version,
  approved by someone who is not the requester as a person, requester one of the operators) and
  puts a short-lived inline policy ``SsmGuardrailsSessionGrant-<execution id>`` on the requesting
  role or user. The policy allows ``ssm:StartSession`` on the one node and the session document,
  and ``kms:GenerateDataKey`` on the session key, only for the requesting session (``aws:userid``)
  and only until the expiry (``aws:CurrentTime``): IAM ends the window even if nothing cleans up.
* ``revoke``: removes this execution's grant policy (the runbook's last step, also on failure).
* ``terminate_sessions``: ends the requesting session's sessions on the node (optional).

``grant_policy`` is the one function that renders the policy; the access tests import it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

GRANT_PREFIX = "SsmGuardrailsSessionGrant-"
#: IAM counts the inline policies of a principal together, without white space: 10,240 characters
#: for a role, 2,048 for a user ("IAM and AWS STS quotas",
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
INLINE_LIMITS = {"role": 10240, "user": 2048}
EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_IDENTITY = re.compile(r"^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(user|role|assumed-role)/(.+)$")
_NODE = re.compile(r"^(i|mi)-[0-9a-f]{8,17}$")


class SelfApprovalError(RuntimeError):
    """An approver is the requester (as a person), or no approval was recorded."""


class ExecutionCheckError(RuntimeError):
    """The execution is not one the grant may serve (other document, old version, not an operator)."""


class GrantTooLargeError(RuntimeError):
    """The grant would not fit in the principal's inline-policy quota."""


@dataclass(frozen=True)
class Identity:
    """An IAM user or a role session, from an ARN such as ``ExecutedBy``."""

    kind: str  # "user" or "role"
    name: str  # user or role name, without path
    session: str  # role session name; the user name for a user
    account: str
    partition: str

    @property
    def person(self) -> str:
        """Who acts: the role session name (trustworthy when the trust policy pins it, see README)."""
        return self.session.lower()


def identity(arn: str) -> Identity | None:
    """The caller an ARN names, or None for anything but an IAM user or an assumed-role session."""
    match = _IDENTITY.match(arn.strip())
    if not match:
        return None
    partition, _, account, kind, rest = match.groups()
    if kind == "assumed-role":
        role, _, session = rest.partition("/")
        return Identity("role", role, session, account, partition) if session else None
    if kind == "user":
        name = rest.split("/")[-1]
        return Identity("user", name, name, account, partition)
    return None  # a role ARN names no person


def _ssm() -> Any:
    return boto3.client("ssm")


def _iam() -> Any:
    return boto3.client("iam")


def _now() -> datetime:
    return datetime.now(UTC)


def grant_policy(
    *,
    userid: str,
    node_id: str,
    account: str,
    regions: list[str],
    expires_at: str,
    partition: str = "aws",
    session_document: str = "SSM-SessionManagerRunShell",
    key_alias: str = "",
) -> dict[str, Any]:
    """The grant: one node and the session document, one caller, one window, the session Regions.

    Resources name every Region (``*``) and ``aws:RequestedRegion`` limits them to ``regions``, so
    the policy stays small whatever the number of Regions.
    """
    if not _NODE.match(node_id):
        raise ValueError(f"not an instance or managed-node id: {node_id!r}")
    only = {
        "StringEquals": {"aws:userid": userid, "aws:RequestedRegion": sorted(regions)},
        "DateLessThan": {"aws:CurrentTime": expires_at},
    }
    node = (
        f"arn:{partition}:ec2:*:{account}:instance/{node_id}"
        if node_id.startswith("i-")
        else f"arn:{partition}:ssm:*:{account}:managed-instance/{node_id}"
    )
    statements = [
        {
            "Sid": "StartSessionOnTheApprovedNode",
            "Effect": "Allow",
            "Action": "ssm:StartSession",
            "Resource": [node, f"arn:{partition}:ssm:*:{account}:document/{session_document}"],
            "Condition": {**only, "BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}},
        }
    ]
    if key_alias:
        statements.append(
            {
                "Sid": "EncryptTheSessionWithTheSessionKey",
                "Effect": "Allow",
                "Action": "kms:GenerateDataKey",
                "Resource": f"arn:{partition}:kms:*:{account}:key/*",
                "Condition": {**only, "ForAnyValue:StringEquals": {"kms:ResourceAliases": key_alias}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


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


# ------------------------------------------------------------------------------ the execution


def _execution(execution_id: str) -> dict[str, Any]:
    return _ssm().get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]


def _decisions(values: list[Any]) -> list[dict[str, Any]]:
    """ApproverDecisions as GetAutomationExecution returns them: JSON strings of one decision or a list."""
    found: list[dict[str, Any]] = []
    for value in values:
        parsed = json.loads(value) if isinstance(value, str) else value
        for decision in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(decision, dict) and decision.get("Approver"):
                found.append(decision)
    return found


def _request(events: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(this execution, the execution that holds the approval: itself, or its Change Manager parent)."""
    execution = _execution(events["ExecutionId"])
    if execution.get("DocumentName", "").split("/")[-1] != events["RunbookName"]:
        raise ExecutionCheckError(f"execution of {execution.get('DocumentName')!r}, not {events['RunbookName']}")
    if not events.get("ChangeTemplateName"):
        return execution, execution
    parent_id = execution.get("ParentAutomationExecutionId")
    if not parent_id:
        raise ExecutionCheckError("not started by a change request: Change Manager holds the approval")
    parent = _execution(parent_id)
    if parent.get("DocumentName", "").split("/")[-1] != events["ChangeTemplateName"]:
        raise ExecutionCheckError(f"parent runs {parent.get('DocumentName')!r}, not {events['ChangeTemplateName']}")
    return execution, parent


def requester(events: dict[str, Any]) -> Identity:
    """Who asked: ``ExecutedBy`` of the approving execution, which must be one of the operators."""
    return _requester_of(_request(events)[1], events)


def _requester_of(approving: dict[str, Any], events: dict[str, Any]) -> Identity:
    found = identity(approving.get("ExecutedBy", ""))
    operators = {
        kind: {n.lower() for n in events.get(f"Operator{kind.capitalize()}s", [])} for kind in ("role", "user")
    }
    if found is None or found.name.lower() not in operators[found.kind]:
        raise ExecutionCheckError(f"{approving.get('ExecutedBy')!r} is not an operator role session or user")
    return found


def check_execution(events: dict[str, Any]) -> Identity:
    """Refuse unless this is the default version of the runbook, approved by other people."""
    execution, approving = _request(events)
    default = _ssm().describe_document(Name=events["RunbookName"])["Document"]["DefaultVersion"]
    if str(execution.get("DocumentVersion")) != str(default):
        raise ExecutionCheckError(f"version {execution.get('DocumentVersion')} is not the default version {default}")
    asker = _requester_of(approving, events)
    step = next((s for s in approving.get("StepExecutions", []) if s["StepName"] == events["ApproveStepName"]), None)
    if step is None:
        raise SelfApprovalError(f"no step {events['ApproveStepName']} in the approving execution")
    decisions = _decisions(step.get("Outputs", {}).get("ApproverDecisions", []))
    approvers = [d["Approver"] for d in decisions if str(d.get("Decision", "")).lower().startswith("approve")]
    if not approvers:
        raise SelfApprovalError("no approval decision recorded: refusing to grant access")
    for approver in approvers:
        who = identity(approver)
        if who is None:
            raise SelfApprovalError(f"approver {approver} names no person (role without session): refusing")
        if who.person == asker.person:
            raise SelfApprovalError(f"{approver} is the same person as the requester {asker.session}")
    return asker


# ------------------------------------------------------------------------------ IAM


def _inline_policies(who: Identity) -> dict[str, dict[str, Any]]:
    iam, noun = _iam(), who.kind.capitalize()
    names: list[str] = []
    for page in iam.get_paginator(f"list_{who.kind}_policies").paginate(**{f"{noun}Name": who.name}):
        names += page["PolicyNames"]
    getter = getattr(iam, f"get_{who.kind}_policy")
    found = {}
    for name in names:
        document = getter(**{f"{noun}Name": who.name, "PolicyName": name})["PolicyDocument"]
        found[name] = json.loads(document) if isinstance(document, str) else document
    return found


def _delete(who: Identity, name: str) -> bool:
    noun = who.kind.capitalize()
    try:
        getattr(_iam(), f"delete_{who.kind}_policy")(**{f"{noun}Name": who.name, "PolicyName": name})
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        return False
    return True


def _userid(who: Identity) -> str:
    """aws:userid: ``<role id>:<session name>`` for a role session, the user id for a user."""
    if who.kind == "role":
        return f"{_iam().get_role(RoleName=who.name)['Role']['RoleId']}:{who.session}"
    return _iam().get_user(UserName=who.name)["User"]["UserId"]


def grant(events: dict[str, Any], context: Any) -> dict[str, Any]:
    minutes = int(events["ValidityMinutes"])
    if not 1 <= minutes <= int(events["MaxValidityMinutes"]):
        raise ValueError(f"ValidityMinutes must be 1-{events['MaxValidityMinutes']}, got {minutes}")
    asker = check_execution(events)
    now = _now().replace(microsecond=0)
    expires_at = (now + timedelta(minutes=minutes)).strftime(EXPIRY_FORMAT)
    policy = grant_policy(
        userid=_userid(asker), node_id=events["InstanceId"], account=asker.account, regions=events["Regions"],
        expires_at=expires_at, partition=asker.partition, session_document=events["SessionDocument"],
        key_alias=events.get("KeyAlias", ""),
    )  # fmt: skip
    name = GRANT_PREFIX + events["ExecutionId"]
    existing = _inline_policies(asker)
    for other, document in list(existing.items()):  # make room: expired grants give nothing
        end = expiry_of(document)
        if other.startswith(GRANT_PREFIX) and other != name and end is not None and end <= now:
            _delete(asker, other)
            existing.pop(other)
    used = sum(policy_size(doc) for other, doc in existing.items() if other != name)
    limit = INLINE_LIMITS[asker.kind]
    if used + policy_size(policy) > limit:
        raise GrantTooLargeError(
            f"IAM {asker.kind} {asker.name} has {used} of {limit} characters of inline policy in use; this grant "
            f"needs {policy_size(policy)} more. Wait for one of its {sum(n.startswith(GRANT_PREFIX) for n in existing)}"
            " running grants to end, then ask again."
        )
    compact = json.dumps(policy, separators=(",", ":"))
    noun = asker.kind.capitalize()
    getattr(_iam(), f"put_{asker.kind}_policy")(
        **{f"{noun}Name": asker.name, "PolicyName": name, "PolicyDocument": compact}
    )
    return {
        "PolicyName": name,
        "Principal": f"{asker.kind}/{asker.name}",
        "Session": asker.session,
        "ExpiresAt": expires_at,
    }


def revoke(events: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        asker = requester(events)
    except ExecutionCheckError as error:  # nothing was granted to a non-operator
        return {"Removed": False, "Reason": str(error)}
    return {"Removed": _delete(asker, GRANT_PREFIX + events["ExecutionId"]), "Principal": f"{asker.kind}/{asker.name}"}


def terminate_sessions(events: dict[str, Any], context: Any) -> dict[str, Any]:
    asker = requester(events)
    ssm = _ssm()
    pages = ssm.get_paginator("describe_sessions").paginate(
        State="Active", Filters=[{"key": "Target", "value": events["InstanceId"]}]
    )
    ended = []
    for page in pages:
        for session in page.get("Sessions", []):
            owner = identity(session.get("Owner", ""))
            if owner and (owner.kind, owner.name.lower(), owner.session) == (
                asker.kind,
                asker.name.lower(),
                asker.session,
            ):
                ended.append(session["SessionId"])
    for session_id in ended:  # after listing: do not change what is being paged through
        ssm.terminate_session(SessionId=session_id)
    return {"Terminated": ended}
