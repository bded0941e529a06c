"""status and cancel: what a break-glass command or a session request is doing, and stopping it.

Both kinds of id are UUIDs, so the id is looked up as a Run Command command first (ListCommands),
then as an Automation execution in the session control's home Region."""

from __future__ import annotations

from typing import Any

from ssm_guardrails_cli.errors import DENIED, CliError, check_id
from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.sessions import ENDED, outcome_of
from ssm_guardrails_cli.settings import load_settings


def _find(rt: Runtime, item_id: str) -> tuple[str, dict[str, Any], Any]:
    """('command' | 'execution', what AWS says, the client that found it)."""
    from botocore.exceptions import ClientError

    check_id(item_id)
    ssm = rt.client("ssm")
    try:
        commands = ssm.list_commands(CommandId=item_id)["Commands"]
    except ClientError as error:
        # a session requester may not list commands: then the id can only be a request
        if error.response["Error"]["Code"] not in ("InvalidCommandId", *DENIED):
            raise
        commands = []
    if commands:
        return "command", commands[0], ssm
    settings = load_settings(rt).raw.get("separation_of_duties") or {}
    home = rt.client("ssm", region=settings.get("home_region") or rt.region)
    try:
        execution = home.get_automation_execution(AutomationExecutionId=item_id)["AutomationExecution"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "AutomationExecutionNotFoundException":
            raise
        raise CliError(Exit.FAILED, f"no command or session request {item_id} in {rt.where()}: "
                                    "check the id, --region and --profile") from None  # fmt: skip
    execution["_grant_step"] = settings.get("grant_step", "GrantSession")
    return "execution", execution, home


def run_status(rt: Runtime, item_id: str) -> Exit:
    kind, found, _ = _find(rt, item_id)
    if kind == "command":
        data = {
            "id": item_id,
            "kind": "command",
            "document": found["DocumentName"],
            "status": found["Status"],
            "targets": found.get("InstanceIds", []),
            "requested": found["RequestedDateTime"].isoformat(),
            "comment": found.get("Comment", ""),
        }
        text = (f"Command {item_id} ({data['document']}) on {', '.join(data['targets'])}: {data['status']}, "
                f"sent {found['RequestedDateTime']:%Y-%m-%d %H:%M} UTC, reason: {data['comment'] or '-'}")  # fmt: skip
    else:
        outcome = outcome_of(found, found["_grant_step"])
        node = (found.get("Parameters", {}).get("InstanceId") or [""])[0]
        data = {"id": item_id, "kind": "session request", "status": found["AutomationExecutionStatus"],
                "node": node, "requester": found.get("ExecutedBy", ""), **outcome}  # fmt: skip
        ends = f", window ends {outcome['window_ends']}" if outcome["window_ends"] else ""
        text = f"Session request {item_id} on {node} by {data['requester']}: {data['status']}{ends}"
    rt.emit(data, lambda: rt.say(text))
    return Exit.OK


def run_cancel(rt: Runtime, item_id: str) -> Exit:
    """CancelCommand for a command; StopAutomationExecution (Cancel) for a session request, whose
    runbook then removes any grant (its steps go to Revoke on cancel)."""
    kind, found, ssm = _find(rt, item_id)
    if kind == "command":
        if found["Status"] not in ("Pending", "InProgress", "Delayed"):
            raise CliError(Exit.FAILED, f"command {item_id} has already ended: {found['Status']}")
        ssm.cancel_command(CommandId=item_id)
        rt.emit({"id": item_id, "cancelled": True}, lambda: rt.say(f"Cancel requested for command {item_id}."))
        return Exit.OK
    if found["AutomationExecutionStatus"] in ENDED:
        raise CliError(
            Exit.FAILED, f"session request {item_id} has already ended: {found['AutomationExecutionStatus']}"
        )
    ssm.stop_automation_execution(AutomationExecutionId=item_id, Type="Cancel")
    rt.emit({"id": item_id, "cancelled": True}, lambda: rt.say(f"Session request {item_id} cancelled."))
    return Exit.OK
