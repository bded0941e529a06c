"""pending and approve: the approver's side of separation of duties."""

from __future__ import annotations

from typing import Any

from ssm_guardrails_cli.errors import CliError, check_id
from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.sessions import minutes_since, person_of
from ssm_guardrails_cli.settings import load_settings


def run_pending(rt: Runtime) -> Exit:
    settings = load_settings(rt).control("separation_of_duties")
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
    rt.emit({"pending": rows}, lambda: _print_pending(rt, rows))
    return Exit.OK


def _pending_row(rt: Runtime, ssm: Any, execution_id: str) -> dict[str, Any]:
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    parameters = execution.get("Parameters", {})
    requester = execution.get("ExecutedBy", "")
    return {
        "execution_id": execution_id,
        "person": person_of(requester) if requester else "",
        "requester": requester,
        "node": (parameters.get("InstanceId") or [""])[0],
        "minutes": (parameters.get("ValidityMinutes") or [""])[0],
        "reason": (parameters.get("Reason") or [""])[0],
        "age_minutes": minutes_since(rt, execution["ExecutionStartTime"]),
    }


def _print_pending(rt: Runtime, rows: list[dict[str, Any]]) -> None:
    """One block per request, ids in full (a table cuts them at 80 columns)."""
    if not rows:
        rt.say("No session request is waiting.")
        return
    for row in rows:
        rt.say(f"{row['execution_id']}  {row['person']} asks for {row['minutes']} min on {row['node']}, "
               f"waiting {row['age_minutes']} min")  # fmt: skip
        rt.say(f"    reason: {row['reason'] or '(none given)'}")
        rt.say(f"    as: {row['requester']}")
    rt.say("Approve with: ssm-guardrails approve ID --reason TEXT   (or --deny)")


def run_approve(rt: Runtime, execution_id: str, deny: bool, reason: str) -> Exit:
    check_id(execution_id, "EXECUTION")
    settings = load_settings(rt).control("separation_of_duties")
    ssm = rt.client("ssm", region=settings["home_region"])
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    if execution["DocumentName"].split("/")[-1] != settings["runbook"]:
        raise CliError(Exit.REFUSED, f"{execution_id} is not a session request ({execution['DocumentName']})")
    me = rt.client("sts").get_caller_identity()["Arn"]
    if not deny and person_of(me) == person_of(execution.get("ExecutedBy", "")):
        raise CliError(Exit.REFUSED, "you asked for this session: someone else must approve it")
    payload = {"Comment": [reason]} if reason else {}
    ssm.send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Reject" if deny else "Approve", Payload=payload
    )
    decision = "rejected" if deny else "approved"
    rt.emit({"execution_id": execution_id, "decision": decision}, lambda: rt.say(f"Request {decision}."))
    return Exit.OK
