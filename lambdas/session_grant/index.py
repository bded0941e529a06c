"""The SeparationOfDuties grant function: the only code that writes or removes session grants.

The AllowStartSsmSession runbook invokes it with nothing but its execution id. Everything else is
re-derived from Systems Manager and IAM, so a forged id, a changed or older runbook, a lent role or a
borrowed session name grants nothing:

* the execution runs the runbook ``RUNBOOK_NAME`` at its default version, and the default version's
  content has the fingerprint computed at synth (``RUNBOOK_SHA256``, :func:`persons.content_sha256`);
  on the Change Manager path its parent is a change request of ``CHANGE_TEMPLATE_NAME`` at that
  template's default version with fingerprint ``TEMPLATE_SHA256``;
* what to do follows from the runbook step in progress: ``GrantSession`` grants, ``Revoke`` removes
  this execution's grant, ``TerminateSessions`` ends the requester's sessions on the node (these two
  only take access away, so they skip the document checks: a runbook updated during a window
  still ends it);
* the requester (``ExecutedBy``) is an operator and a person, every approver of the approval step is a
  person and not the requester (:func:`persons.person_of` reads each role's trust policy);
* node and validity come from the execution's parameters; the window is at most ``MAX_VALIDITY_MINUTES``.

Requesters and approvers may be IAM Identity Center permission sets (:mod:`identity_center`): their
grants go to the customer managed policy the permission set references, and the ResolveApprovers step
gets the approvers' role ARNs in this account.

Any refusal is published to ``ALERT_TOPIC_ARN`` and fails the invocation. Only boto3 and the standard library.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError
from identity_center import (
    Busy,
    TooFewApprovers,
    configured_sets,
    existing_expiry,
    permission_set_of,
    put_grant,
    remove_grant,
    resolve_approvers,
)
from persons import (
    IDENTITY_CENTER_PATH,
    Identity,
    UntrustedSessionName,
    content_sha256,
    grant_policy,
    identity,
    person_of,
)
from quota import EXPIRY_FORMAT, GRANT_PREFIX, GrantTooLargeError, expiry_of, make_room

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
STEPS = ("ResolveApprovers", "GrantSession", "Revoke", "TerminateSessions")


class Refused(RuntimeError):
    """The execution is not one the function may serve; nothing was written."""


def _ssm() -> Any:
    return boto3.client("ssm")


def _iam() -> Any:
    return boto3.client("iam")


def _sns() -> Any:
    return boto3.client("sns")


def _lock_ssm() -> Any:
    """Parameter Store, for the grants policy's lock (:mod:`identity_center`)."""
    return boto3.client("ssm")


def _now() -> datetime:
    return datetime.now(UTC)


def _names(variable: str) -> set[str]:
    return {name.lower() for name in os.environ.get(variable, "").split(",") if name}


def handler(event: Any, context: Any) -> dict[str, Any]:
    execution_id = event.get("ExecutionId") if isinstance(event, dict) else None
    try:
        if not isinstance(execution_id, str) or set(event) != {"ExecutionId"}:
            raise Refused("the payload must be exactly {'ExecutionId': <automation execution id>}")
        return serve(execution_id, _deployment(context))
    except (Refused, UntrustedSessionName, GrantTooLargeError, Busy, TooFewApprovers) as error:
        _alert(execution_id, str(error))
        raise


def _deployment(context: Any) -> tuple[str, str, str]:
    """(partition, Region, account) of this function, from its own ARN."""
    _, partition, _, region, account, *_ = context.invoked_function_arn.split(":")
    return partition, region, account


def _alert(execution_id: Any, reason: str) -> None:
    LOGGER.error(json.dumps({"refused": reason, "execution": execution_id}))
    _sns().publish(
        TopicArn=os.environ["ALERT_TOPIC_ARN"],
        Subject="SSM Guardrails: session grant refused",
        Message=f"The session grant function refused execution {execution_id!r}: {reason}",
    )


# ------------------------------------------------------------------------------ the execution


def _execution(execution_id: str) -> dict[str, Any]:
    try:
        return _ssm().get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    except ClientError as error:
        raise Refused(f"no automation execution {execution_id!r} ({error.response['Error']['Code']})") from None


def _check_document(execution: dict[str, Any], name: str, expected: str, where: tuple[str, str, str]) -> None:
    """The execution runs ``name`` at its default version, whose content has fingerprint ``expected``."""
    running = execution.get("DocumentName", "").split("/")[-1]
    if running != name:
        raise Refused(f"execution of {running!r}, not {name}")
    ssm = _ssm()
    default = ssm.describe_document(Name=name)["Document"]["DefaultVersion"]
    if str(execution.get("DocumentVersion")) != str(default):
        raise Refused(f"{name} version {execution.get('DocumentVersion')} is not the default version {default}")
    # GetDocument returns the content converted to the format asked for:
    # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetDocument.html
    stored = ssm.get_document(Name=name, DocumentVersion=str(default), DocumentFormat="JSON")["Content"]
    partition, region, account = where
    if content_sha256(json.loads(stored), partition=partition, region=region, account=account) != expected:
        raise Refused(f"the content of {name} version {default} is not the content this stack deployed")


def _step_in_progress(execution: dict[str, Any]) -> str:
    running = [s["StepName"] for s in execution.get("StepExecutions", []) if s.get("StepStatus") == "InProgress"]
    if execution.get("AutomationExecutionStatus") != "InProgress" or len(running) != 1 or running[0] not in STEPS:
        raise Refused(f"the execution is not at one of the steps {', '.join(STEPS)} (running: {running})")
    return running[0]


def _approving(execution: dict[str, Any]) -> dict[str, Any]:
    """The execution that holds the approval: itself, or (Change Manager) its parent change request."""
    template = os.environ.get("CHANGE_TEMPLATE_NAME", "")
    if not template:
        return execution
    parent_id = execution.get("ParentAutomationExecutionId")
    if not parent_id:
        raise Refused("not started by a change request: Change Manager holds the approval")
    return _execution(parent_id)


def _requester(approving: dict[str, Any]) -> Identity:
    found = identity(approving.get("ExecutedBy", ""))
    if found is None or not (
        found.name.lower() in _names(f"OPERATOR_{found.kind.upper()}S")
        or (found.kind == "role" and permission_set_of(found.name, configured_sets("OPERATOR_PERMISSION_SETS")))
    ):
        raise Refused(f"{approving.get('ExecutedBy')!r} is not an operator role session or user")
    return found


def _in_identity_center(role: dict[str, Any] | None) -> bool:
    return role is not None and str(role.get("Path", "")).startswith(IDENTITY_CENTER_PATH)


def _role(who: Identity) -> dict[str, Any] | None:
    if who.kind != "role":
        return None
    try:
        return _iam().get_role(RoleName=who.name)["Role"]
    except ClientError as error:  # not an operator or approver role: the function may not read it
        raise Refused(f"cannot read the trust policy of role {who.name} ({error.response['Error']['Code']})") from None


def _approvers(approving: dict[str, Any]) -> list[Identity]:
    step_name = os.environ["APPROVE_STEP"]
    step = next((s for s in approving.get("StepExecutions", []) if s["StepName"] == step_name), None)
    if step is None:
        raise Refused(f"no step {step_name} in the approving execution")
    found = []
    for value in step.get("Outputs", {}).get("ApproverDecisions", []):
        parsed = json.loads(value) if isinstance(value, str) else value
        for decision in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(decision, dict) and str(decision.get("Decision", "")).lower().startswith("approve"):
                who = identity(str(decision.get("Approver", "")))
                if who is None:
                    raise Refused(f"approver {decision.get('Approver')} names no person (role without session)")
                found.append(who)
    if not found:
        raise Refused("no approval decision recorded")
    return found


# ------------------------------------------------------------------------------ actions


def serve(execution_id: str, where: tuple[str, str, str]) -> dict[str, Any]:
    execution = _execution(execution_id)
    step = _step_in_progress(execution)
    if execution.get("DocumentName", "").split("/")[-1] != os.environ["RUNBOOK_NAME"]:
        raise Refused(f"execution of {execution.get('DocumentName')!r}, not {os.environ['RUNBOOK_NAME']}")
    if step == "ResolveApprovers":
        _check_document(execution, os.environ["RUNBOOK_NAME"], os.environ["RUNBOOK_SHA256"], where)
        return resolve_approvers(_iam())
    approving = _approving(execution)
    asker = _requester(approving)
    # Ending a window only takes access away: it works even if the runbook changed meanwhile.
    if step == "Revoke":
        return revoke(asker, execution_id)
    if step == "TerminateSessions":
        return terminate_sessions(asker, _parameter(execution, "InstanceId"))
    _check_document(execution, os.environ["RUNBOOK_NAME"], os.environ["RUNBOOK_SHA256"], where)
    if approving is not execution:
        _check_document(approving, os.environ["CHANGE_TEMPLATE_NAME"], os.environ["TEMPLATE_SHA256"], where)
    return grant(execution, asker, _approvers(approving))


def _parameter(execution: dict[str, Any], name: str) -> str:
    values = execution.get("Parameters", {}).get(name) or [""]
    return str(values[0])


def grant(execution: dict[str, Any], asker: Identity, approvers: list[Identity]) -> dict[str, Any]:
    role = _role(asker)
    requester = person_of(asker, role)
    for approver in approvers:
        if person_of(approver, _role(approver), approver=True).name == requester.name:
            raise Refused(f"{approver.kind} {approver.name}/{approver.session} is the same person as the requester")
    minutes = int(_parameter(execution, "ValidityMinutes") or 0)
    maximum = int(os.environ["MAX_VALIDITY_MINUTES"])
    if not 1 <= minutes <= maximum:
        raise Refused(f"ValidityMinutes must be 1-{maximum}, got {minutes}")
    execution_id = execution["AutomationExecutionId"]
    name, now = GRANT_PREFIX + execution_id, _now().replace(microsecond=0)
    shared = _in_identity_center(role)
    if shared and not permission_set_of(asker.name, configured_sets("OPERATOR_PERMISSION_SETS")):
        raise Refused(f"role {asker.name} is an IAM Identity Center role: name its permission set in operator_roles")
    if shared:  # the permission set's grants policy: Identity Center's role is protected
        earlier = existing_expiry(_iam(), os.environ["GRANTS_POLICY_ARN"], execution_id)
    else:
        existing = make_room(_iam(), asker, name, now)
        earlier = expiry_of(existing[name]) if name in existing else None  # a retried step keeps its window
    expires_at = (earlier or now + timedelta(minutes=minutes)).strftime(EXPIRY_FORMAT)
    policy = grant_policy(
        userid=_userid(asker), node_id=_parameter(execution, "InstanceId"), account=asker.account,
        regions=os.environ["REGIONS"].split(","), expires_at=expires_at, partition=asker.partition,
        session_document=os.environ["SESSION_DOCUMENT"], key_alias=os.environ.get("KEY_ALIAS", ""),
        source_identity=asker.session if requester.by_source_identity else "",
    )  # fmt: skip
    if shared:
        put_grant(_iam(), _lock_ssm(), os.environ["GRANTS_POLICY_ARN"], execution_id, policy, now)
        return {"PolicyName": os.environ["GRANTS_POLICY_ARN"], "Principal": f"role/{asker.name}",
                "Session": asker.session, "ExpiresAt": expires_at}  # fmt: skip
    make_room(_iam(), asker, name, now, adding=policy)
    noun = asker.kind.capitalize()
    getattr(_iam(), f"put_{asker.kind}_policy")(
        **{f"{noun}Name": asker.name, "PolicyName": name, "PolicyDocument": json.dumps(policy, separators=(",", ":"))}
    )
    return {"PolicyName": name, "Principal": f"{asker.kind}/{asker.name}", "Session": asker.session,
            "ExpiresAt": expires_at}  # fmt: skip


def _userid(who: Identity) -> str:
    """aws:userid: ``<role id>:<session name>`` for a role session, the user id for a user."""
    if who.kind == "role":
        return f"{_iam().get_role(RoleName=who.name)['Role']['RoleId']}:{who.session}"
    return _iam().get_user(UserName=who.name)["User"]["UserId"]


def revoke(asker: Identity, execution_id: str) -> dict[str, Any]:
    if asker.kind == "role" and permission_set_of(asker.name, configured_sets("OPERATOR_PERMISSION_SETS")):
        arn = os.environ["GRANTS_POLICY_ARN"]
        removed = remove_grant(_iam(), _lock_ssm(), arn, execution_id, _now())
        return {"Removed": removed, "Principal": f"role/{asker.name}"}
    noun = asker.kind.capitalize()
    try:
        getattr(_iam(), f"delete_{asker.kind}_policy")(
            **{f"{noun}Name": asker.name, "PolicyName": GRANT_PREFIX + execution_id}
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        return {"Removed": False, "Principal": f"{asker.kind}/{asker.name}"}
    return {"Removed": True, "Principal": f"{asker.kind}/{asker.name}"}


def terminate_sessions(asker: Identity, node_id: str) -> dict[str, Any]:
    ssm = _ssm()
    pages = ssm.get_paginator("describe_sessions").paginate(
        State="Active", Filters=[{"key": "Target", "value": node_id}]
    )
    mine = (asker.kind, asker.name.lower(), asker.session)
    ended = []
    for page in pages:
        for session in page.get("Sessions", []):
            owner = identity(session.get("Owner", ""))
            if owner and (owner.kind, owner.name.lower(), owner.session) == mine:
                ended.append(session["SessionId"])
    for session_id in ended:  # after listing: do not change what is being paged through
        ssm.terminate_session(SessionId=session_id)
    return {"Terminated": ended}
