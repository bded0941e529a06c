"""break-glass and password: get a password onto the operator's terminal, and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from rich.markup import escape

from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.settings import load_settings

#: Run Command statuses after which nothing changes any more:
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
FINAL_STATUSES = {"Success", "Failed", "Cancelled", "TimedOut", "Undeliverable", "Terminated", "DeliveryTimedOut"}
POLL_SECONDS = 2
MAX_COMMENT = 100  # SendCommand Comment: at most 100 characters


@dataclass(frozen=True)
class Secret:
    """A password with what the operator needs to know about it. ``repr`` never shows the value."""

    value: str
    parameter: str
    written: datetime
    writer: str

    def __repr__(self) -> str:
        return f"Secret(parameter={self.parameter!r}, written={self.written!r})"


def run_break_glass(rt: Runtime, node: str, reason: str, length: int | None, copy: bool) -> Exit:
    if not reason.strip() or len(reason) > MAX_COMMENT:
        return rt.fail(Exit.USAGE, f"--reason: 1-{MAX_COMMENT} characters (it becomes the command's comment)")
    if refusal := _refuse_secret_output(rt, copy):
        return refusal
    settings = load_settings(rt.client("ssm")).control("break_glass")
    ssm = rt.client("ssm")
    parameters = {"PasswordLength": [str(length)]} if length else {}
    command = ssm.send_command(
        DocumentName=settings["document"], InstanceIds=[node], Parameters=parameters, Comment=reason
    )["Command"]
    status = _wait_for_command(rt, ssm, command["CommandId"], node)
    if status["Status"] != "Success":
        return rt.fail(
            Exit.FAILED,
            f"break-glass on {escape(node)} ended {status['Status']}: {escape(status.get('StatusDetails', ''))}",
        )
    secret = read_secret(ssm, f"{settings['parameter_prefix']}/pwd-{node}", with_writer=False)
    deleted_at = secret.written + timedelta(seconds=settings["ttl_seconds"])
    reset_at = rt.clock() + timedelta(hours=settings["reset_after_hours"]) if settings["reset_after_hours"] else None
    if rt.json:
        rt.emit(
            {"node": node, "command_id": command["CommandId"], "parameter": secret.parameter, "password": secret.value,
             "deleted_at": deleted_at.isoformat(), "reset_at": reset_at and reset_at.isoformat()},
            lambda: None,
        )  # fmt: skip
        return Exit.OK
    _reveal(rt, secret, copy)
    _count_down(rt, deleted_at, "password deleted in")
    if copy and rt.clipboard.paste() == secret.value:
        rt.clipboard.copy("")
        rt.console.print("Clipboard cleared.")
    gone = _wait_until_deleted(rt, ssm, secret.parameter, deleted_at, settings.get("sweep_interval_minutes", 1))
    rt.console.print(
        f"Password parameter {escape(secret.parameter)} " + ("deleted." if gone else "[red]still exists[/red].")
    )
    if reset_at:
        rt.console.print(f"The node resets the password again automatically at {reset_at:%Y-%m-%d %H:%M} UTC.")
    return Exit.OK if gone else Exit.FAILED


def run_password(rt: Runtime, node: str) -> Exit:
    if refusal := _refuse_secret_output(rt, copy=False):
        return refusal
    settings = load_settings(rt.client("ssm")).control("password_rotation")
    secret = read_secret(rt.client("ssm"), f"{settings['parameter_path']}/{node}")
    age = rt.clock() - secret.written
    data = {
        "node": node,
        "parameter": secret.parameter,
        "password": secret.value,
        "written": secret.written.isoformat(),
        "age_days": round(age.total_seconds() / 86400, 2),
        "writer": secret.writer,
    }
    rt.emit(data, lambda: _reveal(rt, secret, copy=False, detail=f"written {age.days} days ago by {secret.writer}"))
    return Exit.OK


def read_secret(ssm: Any, name: str, with_writer: bool = True) -> Secret:
    """The decrypted value and its date (GetParameter) and, when asked, its last writer: the
    newest version's LastModifiedUser in GetParameterHistory, which is scoped to the parameter's
    ARN like GetParameter (DescribeParameters would need "*") and, without decryption, returns
    older values encrypted:
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameterHistory.html"""
    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    writer = "not read"
    if with_writer:
        versions = [
            v for page in ssm.get_paginator("get_parameter_history").paginate(Name=name) for v in page["Parameters"]
        ]
        writer = max(versions, key=lambda v: v["Version"]).get("LastModifiedUser", "unknown") if versions else "unknown"
    return Secret(parameter["Value"], name, parameter["LastModifiedDate"], writer)


def _refuse_secret_output(rt: Runtime, copy: bool) -> Exit | None:
    """A password goes to a terminal, the clipboard, or JSON the operator asked for: never to a pipe
    or a file by accident (shell history, CI logs, screen recorders of a redirected stream)."""
    if rt.json or copy or rt.is_tty():
        return None
    return rt.fail(Exit.REFUSED, "stdout is not a terminal: the password is shown only on a terminal "
                                 "(use --copy, or --output json to ask for it in JSON explicitly)")  # fmt: skip


def _wait_for_command(rt: Runtime, ssm: Any, command_id: str, node: str) -> dict[str, Any]:
    with rt.console.status(f"Waiting for the break-glass command on {escape(node)}..."):
        while True:
            try:
                invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=node)
            except ClientError as error:
                if error.response["Error"]["Code"] != "InvocationDoesNotExist":
                    raise
                invocation = {"Status": "Pending"}
            if invocation["Status"] in FINAL_STATUSES:
                return invocation
            rt.sleep(POLL_SECONDS)


def _reveal(rt: Runtime, secret: Secret, copy: bool, detail: str = "") -> None:
    if copy:
        rt.clipboard.copy(secret.value)
        rt.console.print(f"Password of {escape(secret.parameter)} copied to the clipboard. {detail}")
        return
    rt.console.print(f"Password ({escape(secret.parameter)}): ", end="", highlight=False)
    rt.console.print(secret.value, markup=False, highlight=False)
    if detail:
        rt.console.print(escape(detail), highlight=False)


def _count_down(rt: Runtime, until: datetime, label: str) -> None:
    remaining = (until - rt.clock()).total_seconds()
    with rt.console.status("") as status:
        while remaining > 0:
            status.update(f"{label} {int(remaining)} s")
            rt.sleep(min(1.0, remaining))
            remaining = (until - rt.clock()).total_seconds()


def _wait_until_deleted(rt: Runtime, ssm: Any, name: str, due: datetime, sweep_minutes: int) -> bool:
    """The clean-up deletes on the TTL event, or at the next sweep: wait at most one sweep more."""
    give_up = due + timedelta(minutes=sweep_minutes, seconds=30)
    with rt.console.status("Confirming the deletion..."):
        while True:
            try:
                ssm.get_parameter(Name=name)
            except ClientError as error:
                if error.response["Error"]["Code"] == "ParameterNotFound":
                    return True
                raise
            if rt.clock() >= give_up:
                return False
            rt.sleep(5)
