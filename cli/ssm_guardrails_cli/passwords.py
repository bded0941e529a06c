"""break-glass and password: get a password onto the operator's terminal (or clipboard), and nowhere else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ssm_guardrails_cli.errors import CliError, check_id, check_node
from ssm_guardrails_cli.nodes import Node, managed_node
from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.secret_text import Secret, read_secret, read_secret_after, reveal
from ssm_guardrails_cli.settings import load_settings
from ssm_guardrails_cli.waits import Ongoing, wait_for

#: Run Command statuses after which nothing changes any more:
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
FINAL_STATUSES = {"Success", "Failed", "Cancelled", "TimedOut", "Undeliverable", "Terminated", "DeliveryTimedOut"}
POLL_SECONDS = 2
MAX_COMMENT = 100  # SendCommand Comment: at most 100 characters


def run_break_glass(
    rt: Runtime, node: str, reason: str, length: int | None, copy: bool, timeout: int, resume: str | None
) -> Exit:
    check_node(node)
    if resume:
        check_id(resume, "--resume")
    if not reason.strip() or len(reason) > MAX_COMMENT:
        return rt.fail(Exit.USAGE, f"--reason: 1-{MAX_COMMENT} characters (it becomes the command's comment)")
    refuse_secret_output(rt, copy)
    settings = load_settings(rt).control("break_glass")
    ssm = rt.client("ssm")
    target = managed_node(rt, ssm, node)
    command_id = resume or _send(rt, ssm, settings, node, reason, length)
    ongoing = Ongoing(
        f"break-glass command {command_id} on {node}",
        f"ssm-guardrails break-glass {node} --reason {_quoted(reason)} --resume {command_id}"
        + (" --copy" if copy else ""),
        f"ssm-guardrails cancel {command_id}",
    )
    invocation = wait_for(
        rt, f"Waiting for {node}:", lambda: _invocation(ssm, command_id, node), ongoing,
        timeout, POLL_SECONDS,
    )  # fmt: skip
    if invocation["DocumentName"] != settings["document"]:
        raise CliError(Exit.REFUSED, f"{command_id} runs {invocation['DocumentName']}, not break-glass")
    if invocation["Status"] != "Success":
        detail = invocation.get("StatusDetails") or invocation["Status"]
        return rt.fail(Exit.FAILED, f"break-glass on {node} ended {invocation['Status']} ({detail}) in {rt.where()}; "
                                    f"its output: aws ssm get-command-invocation --command-id {command_id} "
                                    f"--instance-id {node} --region {rt.region}")  # fmt: skip
    requested = ssm.list_commands(CommandId=command_id)["Commands"][0]["RequestedDateTime"]
    secret = read_secret_after(rt, ssm, f"{settings['parameter_prefix']}/pwd-{node}", requested)
    return _hand_over(rt, ssm, settings, secret, target, command_id, copy)


def _send(rt: Runtime, ssm: Any, settings: dict[str, Any], node: str, reason: str, length: int | None) -> str:
    parameters = {"PasswordLength": [str(length)]} if length else {}
    command = ssm.send_command(
        DocumentName=settings["document"], InstanceIds=[node], Parameters=parameters, Comment=reason
    )["Command"]
    if not rt.json:
        rt.say(f"Sent break-glass command {command['CommandId']} to {node}.")
    return command["CommandId"]


def _invocation(ssm: Any, command_id: str, node: str) -> tuple[dict[str, Any] | None, str]:
    from botocore.exceptions import ClientError

    try:
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=node)
    except ClientError as error:
        if error.response["Error"]["Code"] != "InvocationDoesNotExist":
            raise
        return None, "Pending"
    return (invocation if invocation["Status"] in FINAL_STATUSES else None), invocation["Status"]


def _hand_over(
    rt: Runtime, ssm: Any, settings: dict[str, Any], secret: Secret, node: Node, command_id: str, copy: bool
) -> Exit:
    deleted_at = secret.written + timedelta(seconds=settings["ttl_seconds"])
    reset_at = rt.clock() + timedelta(hours=settings["reset_after_hours"]) if settings["reset_after_hours"] else None
    if rt.json:
        data = {"node": node.node_id, "login": node.login, "command_id": command_id, "parameter": secret.parameter,
                "password": secret.value, "deleted_at": deleted_at.isoformat()}  # fmt: skip
        rt.emit(data | {"reset_at": reset_at and reset_at.isoformat()}, lambda: None)
        return Exit.OK
    try:
        reveal(rt, secret, copy, f"Login: {node.login} on {node.node_id}")
        _count_down(rt, secret, deleted_at, command_id)
    finally:
        if copy:
            rt.clipboard.copy("")
            rt.say("Clipboard cleared.")
    gone = _wait_until_deleted(rt, ssm, secret.parameter, deleted_at, settings.get("sweep_interval_minutes", 1))
    rt.say(f"Password parameter {secret.parameter} " + ("deleted." if gone else "still exists."))
    if reset_at:
        rt.say(f"The node resets the password again automatically at {reset_at:%Y-%m-%d %H:%M} UTC.")
    return Exit.OK if gone else Exit.FAILED


def _count_down(rt: Runtime, secret: Secret, until: Any, command_id: str) -> None:
    ongoing = Ongoing(
        f"the password of command {command_id}",
        "nothing to resume: the password is shown once",
        f"nothing to cancel: the clean-up deletes {secret.parameter} at {until:%H:%M:%S} UTC",
    )

    def poll() -> tuple[bool | None, str]:
        remaining = (until - rt.clock()).total_seconds()
        return (True if remaining <= 0 else None), f"deleted in {int(remaining)} s"

    wait_for(rt, "Password", poll, ongoing, timeout=float("inf"), interval=1.0, show_elapsed=False)


def _wait_until_deleted(rt: Runtime, ssm: Any, name: str, due: Any, sweep_minutes: int) -> bool:
    """The clean-up deletes on the TTL event, or at the next sweep: wait at most one sweep more."""
    from botocore.exceptions import ClientError

    give_up = due + timedelta(minutes=sweep_minutes, seconds=30)
    ongoing = Ongoing(f"the deletion of {name}", "nothing to resume", "nothing to cancel: the clean-up deletes it")

    def poll() -> tuple[bool | None, str]:
        try:
            ssm.get_parameter(Name=name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ParameterNotFound":
                return True, "deleted"
            raise
        return (False if rt.clock() >= give_up else None), "still there"

    return wait_for(rt, "Confirming the deletion:", poll, ongoing, timeout=float("inf"), interval=5)


def run_password(rt: Runtime, node: str) -> Exit:
    check_node(node)
    refuse_secret_output(rt, copy=False)
    settings = load_settings(rt).control("password_rotation")
    name = f"{settings['parameter_path']}/{node}"
    secret = read_secret(rt, rt.client("ssm"), name, missing_hint="the rotation has not stored one yet: "
                         "check `ssm-guardrails report rotation` and the node's window")  # fmt: skip
    age = rt.clock() - secret.written
    max_age_days = settings.get("max_age_days")
    expires = secret.written + timedelta(days=max_age_days) if max_age_days else None
    data = {
        "node": node,
        "login": "Administrator",
        "parameter": secret.parameter,
        "password": secret.value,
        "written": secret.written.isoformat(),
        "age_days": round(age.total_seconds() / 86400, 2),
        "expires": expires and expires.isoformat(),
        "writer": secret.writer,
    }
    expiry = f"rotates by {expires:%Y-%m-%d %H:%M} UTC" if expires else "rotates on its window's schedule"
    detail = (f"Login: Administrator on {node}. Written {age.days} days ago ({secret.written:%Y-%m-%d %H:%M} UTC) "
              f"by {secret.writer}; {expiry}.")  # fmt: skip
    rt.emit(data, lambda: reveal(rt, secret, copy=False, detail=detail))
    return Exit.OK


def refuse_secret_output(rt: Runtime, copy: bool) -> None:
    """A password goes to a terminal, the clipboard, or JSON the operator asked for: never to a pipe
    or a file by accident (shell history, CI logs, screen recorders of a redirected stream). The
    clipboard is tried before anything runs: a node must never change its password for nobody."""
    if copy:
        try:
            rt.clipboard.check()
        except Exception as error:
            raise CliError(Exit.REFUSED, f"--copy: this machine has no clipboard ({type(error).__name__}); "
                                         "nothing was sent: run without --copy on a terminal") from None  # fmt: skip
        return
    if rt.json or rt.is_tty():
        return
    raise CliError(Exit.REFUSED, "stdout is not a terminal: the password is shown only on a terminal "
                                 "(use --copy, or --output json to ask for it in JSON explicitly)")  # fmt: skip


def _quoted(text: str) -> str:
    import shlex

    return shlex.quote(text)
