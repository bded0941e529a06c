"""request-session, pending, approve: separation of duties from the terminal."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from typing import Any

from rich.markup import escape
from rich.table import Table

from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.settings import load_settings

#: Automation execution statuses:
#: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AutomationExecution.html
ENDED = {"Success", "TimedOut", "Cancelled", "Failed", "CompletedWithSuccess", "CompletedWithFailure", "Rejected"}
POLL_SECONDS = 5


def person_of(arn: str) -> str:
    """Who a caller is, as the runbook compares requesters and approvers: the role session name of
    an assumed role (IAM Identity Center and a trust policy that pins sts:RoleSessionName make it
    the person), or the user name of an IAM user."""
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        return rest.split("/", 1)[1].lower()
    return rest.rsplit("/", 1)[-1].lower()


def request_tag(settings: dict[str, Any]) -> dict[str, str]:
    """The tag every session request carries (runbook execution or change request)."""
    return {"Key": "SsmGuardrailsRequest", "Value": settings["runbook"]}


def run_request(rt: Runtime, node: str, minutes: int | None, connect: bool) -> Exit:
    settings = load_settings(rt.client("ssm")).control("separation_of_duties")
    if settings["approval_path"] != "approval_runbook":
        return _explain_other_path(rt, settings, node)
    ssm = rt.client("ssm", region=settings["home_region"])
    parameters = {"InstanceId": [node], "ValidityMinutes": [str(minutes or settings["validity_minutes"])]}
    # The request tag is required by the operator policy and is what lets approvers signal it (issue 12).
    tags = [request_tag(settings)]
    execution_id = ssm.start_automation_execution(DocumentName=settings["runbook"], Parameters=parameters, Tags=tags)[
        "AutomationExecutionId"
    ]
    approvers = ", ".join(settings.get("approver_roles", [])) or "the configured approvers"
    if not rt.json:
        rt.console.print(f"Request {execution_id} sent: waiting for one of {escape(approvers)} to approve.")
    outcome = _wait_for_decision(rt, ssm, execution_id, settings["grant_step"])
    approved = outcome == "approved"
    rt.emit(
        {
            "execution_id": execution_id,
            "node": node,
            "outcome": outcome,
            "session_document": settings["session_document"],
        },
        lambda: rt.console.print("Approved." if approved else f"[red]Not approved[/red]: {escape(outcome)}."),
    )
    if not approved:
        return Exit.NOT_APPROVED
    if connect:
        return _connect(rt, node, settings["session_document"])
    if not rt.json:
        rt.console.print(
            f"Start it with: {_start_session_command(rt, node, settings['session_document'])}", highlight=False
        )
    return Exit.OK


def _wait_for_decision(rt: Runtime, ssm: Any, execution_id: str, grant_step: str) -> str:
    """'approved' once the grant step succeeded; otherwise why the execution ended without it."""
    with rt.console.status("Waiting for approval...") as status:
        while True:
            execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
            steps = {s["StepName"]: s for s in execution.get("StepExecutions", [])}
            if steps.get(grant_step, {}).get("StepStatus") == "Success":
                return "approved"
            state = execution["AutomationExecutionStatus"]
            if state in ENDED:
                return f"{state.lower()} {execution.get('FailureMessage', '')}".strip()
            status.update(f"Waiting for approval... ({state})")
            rt.sleep(POLL_SECONDS)


def _connect(rt: Runtime, node: str, document: str) -> Exit:
    """Open the session with the very credentials that asked for it: the grant is for that role
    session only (aws:userid), and a profile that assumes a role would otherwise start a new
    session under another generated name."""
    if shutil.which("aws") is None:
        return rt.fail(Exit.FAILED, "the AWS CLI (with the Session Manager plugin) is needed to connect")
    argv = _start_session_argv(rt, node, document)
    returncode = subprocess.call(argv, env=session_environment(rt))  # noqa: S603 (fixed argv, no shell)
    return Exit.OK if returncode == 0 else Exit.FAILED


def session_environment(rt: Runtime) -> dict[str, str]:
    """The environment of the child `aws` process: this process's own, with this session's frozen
    credentials instead of any profile."""
    credentials = rt.session.get_credentials().get_frozen_credentials()
    environment = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
    environment |= {"AWS_ACCESS_KEY_ID": credentials.access_key, "AWS_SECRET_ACCESS_KEY": credentials.secret_key}
    if credentials.token:
        environment["AWS_SESSION_TOKEN"] = credentials.token
    return environment


def _start_session_argv(rt: Runtime, node: str, document: str) -> list[str]:
    return ["aws", "ssm", "start-session", "--target", node, "--document-name", document, "--region", rt.region]


def _start_session_command(rt: Runtime, node: str, document: str) -> str:
    return " ".join(_start_session_argv(rt, node, document))


def _explain_other_path(rt: Runtime, settings: dict[str, Any], node: str) -> Exit:
    template = settings.get("change_template", "AllowSsmSessionStartTemplate")
    tag = request_tag(settings)
    steps = {
        "change_manager": [
            f"Create a change request from the template {template} with InstanceId={node} and the tag "
            f"{tag['Key']}={tag['Value']} (Systems Manager > Change Manager > Create request).",
            "An approver approves it under Change Manager > Requests; Change Manager then runs the runbook.",
            f"Then: {_start_session_command(rt, node, settings['session_document'])}",
        ],
        "just_in_time": [
            f"Systems Manager > Explore nodes > {node} > Connect, then submit an access request with a reason.",
            "An approver approves it under Manage node access > Access requests.",
            "Connect from the console once it is approved.",
        ],
    }[settings["approval_path"]]
    rt.emit({"approval_path": settings["approval_path"], "steps": steps}, lambda: [rt.console.print(s) for s in steps])
    return Exit.OK


def run_pending(rt: Runtime) -> Exit:
    settings = load_settings(rt.client("ssm")).control("separation_of_duties")
    ssm = rt.client("ssm", region=settings["home_region"])
    filters = [
        {"Key": "DocumentNamePrefix", "Values": [settings["runbook"]]},
        {"Key": "ExecutionStatus", "Values": ["Waiting"]},
    ]
    waiting = [
        e
        for page in ssm.get_paginator("describe_automation_executions").paginate(Filters=filters)
        for e in page["AutomationExecutionMetadataList"]
        if e["DocumentName"] == settings["runbook"]
    ]
    rows = [_pending_row(rt, ssm, e["AutomationExecutionId"]) for e in waiting]
    rt.emit({"pending": rows}, lambda: _pending_table(rt, rows))
    return Exit.OK


def _pending_row(rt: Runtime, ssm: Any, execution_id: str) -> dict[str, Any]:
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    started: datetime = execution["ExecutionStartTime"]
    parameters = execution.get("Parameters", {})
    return {
        "execution_id": execution_id,
        "requester": execution.get("ExecutedBy", ""),
        "node": (parameters.get("InstanceId") or [""])[0],
        "minutes": (parameters.get("ValidityMinutes") or [""])[0],
        "age_minutes": int((rt.clock() - started).total_seconds() // 60),
    }


def _pending_table(rt: Runtime, rows: list[dict[str, Any]]) -> None:
    if not rows:
        rt.console.print("No session request is waiting.")
        return
    table = Table("execution", "requester", "node", "minutes", "waiting", title="Session requests waiting")
    for row in rows:
        table.add_row(row["execution_id"], row["requester"], row["node"], row["minutes"], f"{row['age_minutes']} min")
    rt.console.print(table)


def run_approve(rt: Runtime, execution_id: str, deny: bool, reason: str) -> Exit:
    settings = load_settings(rt.client("ssm")).control("separation_of_duties")
    ssm = rt.client("ssm", region=settings["home_region"])
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    if execution["DocumentName"] != settings["runbook"]:
        return rt.fail(
            Exit.REFUSED, f"{escape(execution_id)} is not a session request ({escape(execution['DocumentName'])})"
        )
    me = rt.client("sts").get_caller_identity()["Arn"]
    if not deny and person_of(me) == person_of(execution.get("ExecutedBy", "")):
        return rt.fail(Exit.REFUSED, "you asked for this session: someone else must approve it")
    payload = {"Comment": [reason]} if reason else {}
    ssm.send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Reject" if deny else "Approve", Payload=payload
    )
    decision = "rejected" if deny else "approved"
    rt.emit({"execution_id": execution_id, "decision": decision}, lambda: rt.console.print(f"Request {decision}."))
    return Exit.OK
