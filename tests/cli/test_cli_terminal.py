"""The CLI in a real pseudo-terminal (pexpect), against one moto server for the whole module,
started as `make demo-break-glass` starts it; scripts/cli_on_moto.py plays the node, the clean-up
and the Automation answers moto lacks. The screen text is asserted, Ctrl-C is a real SIGINT.

A password is random per test; the leak test runs under the locked Typer and under the lowest one
cli/pyproject.toml allows (installed by `make bootstrap` into .venv/typer-lowest from
cli/typer-lowest.lock)."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI_ON_MOTO = ROOT / "scripts" / "cli_on_moto.py"
TYPER_LOWEST = ROOT / ".venv" / "typer-lowest"
REGION = "eu-west-1"
EXECUTION = "4f9b0c1e-1111-2222-3333-444455556666"
TTL = 2
LOWEST_TYPER = "0.23.0"  # cli/pyproject.toml: typer>=0.23 (0.15-0.22 show locals in tracebacks by default)

_spec = importlib.util.spec_from_file_location("demo_break_glass", ROOT / "scripts" / "demo_break_glass.py")
assert _spec and _spec.loader
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[dict[str, str]]:
    settings = json.loads(json.dumps(demo.SETTINGS))
    settings["break_glass"]["ttl_seconds"] = TTL
    settings["separation_of_duties"] = {
        "approval_path": "approval_runbook", "runbook": "AllowStartSsmSession", "grant_step": "GrantSession",
        "runbook_role": "SsmSessionControlChangeMangerRole", "home_region": REGION, "validity_minutes": 10,
        "approver_roles": ["SessionApprover"], "session_document": "SSM-SessionManagerRunShell",
    }  # fmt: skip
    server, env = demo.start_moto(settings, demo.DOCUMENT)
    yield env
    server.stop()


def node() -> str:
    """A node id of its own per test: the server is shared."""
    return "i-" + secrets.token_hex(8) + "0"


def terminal(env: dict[str, str], scenario: dict[str, Any], *args: str, python_path: str = "") -> pexpect.spawn:
    """The CLI in an 80x24 pseudo-terminal; no clipboard (no display), no profile."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "AWS_PROFILE")}
    environment |= env | {"CLI_ON_MOTO": json.dumps(scenario), "TERM": "xterm", "COLUMNS": "80", "LINES": "24"}
    if python_path:
        environment["PYTHONPATH"] = python_path
    return pexpect.spawn(sys.executable, [str(CLI_ON_MOTO), *args], env=environment, dimensions=(24, 80),
                         encoding="utf-8", timeout=30)  # fmt: skip


def finish(child: pexpect.spawn) -> tuple[str, int]:
    child.expect(pexpect.EOF)
    child.close()
    return child.before, child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus


def test_break_glass_reveals_verbatim_counts_down_and_confirms(moto_server: dict[str, str]) -> None:
    target = node()
    # emoji codes, markup and more than 80 columns: shown as stored, on one line
    password = ":cat::ok:[b]x[/b]" + secrets.token_urlsafe(72)
    scenario = {"node_password": password, "ttl": TTL, "parameter_prefix": "/BreakGlass", "poll_seconds": 0.2}
    child = terminal(moto_server, scenario, "break-glass", target, "--reason", "INC-42 root login broken")
    child.expect(f"Sent break-glass command ([0-9a-f-]{{36}}) to {target}")
    child.expect_exact(f"Password (/BreakGlass/pwd-{target}):\r\n{password}\r\nLogin: root on {target}\r\n")
    child.expect_exact("Password deleted in 1 s")
    child.expect_exact(f"Password parameter /BreakGlass/pwd-{target} deleted.")
    child.expect_exact("The node resets the password again automatically at")
    _, code = finish(child)
    assert code == 0


def test_copy_without_a_clipboard_refuses_before_the_node_changes_anything(moto_server: dict[str, str]) -> None:
    target = node()
    child = terminal(moto_server, {}, "break-glass", target, "--reason", "INC-42", "--copy")
    screen, code = finish(child)
    assert code == 4
    assert "error: --copy: this machine has no clipboard" in screen and "nothing was sent" in screen


def test_ctrl_c_while_the_node_is_silent_prints_the_command_and_how_to_resume_or_cancel(
    moto_server: dict[str, str],
) -> None:
    target = node()
    child = terminal(moto_server, {"command_status": "InProgress", "poll_seconds": 0.2}, "break-glass", target,
                     "--reason", "INC-42")  # fmt: skip
    child.expect(f"Sent break-glass command ([0-9a-f-]{{36}}) to {target}")
    command_id = child.match.group(1)
    child.expect_exact(f"Waiting for {target}: InProgress, 0:0")  # the state and the elapsed time
    child.sendintr()
    child.expect_exact(f"stopped waiting (Ctrl-C): break-glass command {command_id} on {target} goes on")
    child.expect_exact(f"resume: ssm-guardrails break-glass {target} --reason INC-42 --resume {command_id}")
    child.expect_exact(f"cancel: ssm-guardrails cancel {command_id}")
    _, code = finish(child)
    assert code == 130


def _execution(status: str, approved: bool, target: str) -> dict[str, Any]:
    steps = [{"StepName": "Approve", "StepStatus": "Waiting"}]
    if approved:
        steps = [
            {"StepName": "Approve", "StepStatus": "Success", "Outputs": {"ApproverDecisions": [json.dumps(
                [{"Approver": "arn:aws:sts::123456789012:assumed-role/SessionApprover/bob"}])]}},
            {"StepName": "GrantSession", "StepStatus": "Success", "Outputs": {"ExpiresAt": ["2026-12-04T12:17:00Z"]}},
        ]  # fmt: skip
    return {"AutomationExecutionId": EXECUTION, "DocumentName": "AllowStartSsmSession",
            "AutomationExecutionStatus": status, "ExecutionStartTime": "2026-12-04T12:00:00+00:00",
            "Parameters": {"InstanceId": [target]}, "StepExecutions": steps}  # fmt: skip


def test_the_request_flow_shows_the_wait_the_approver_and_the_window(moto_server: dict[str, str]) -> None:
    target = node()
    scenario = {"execution_id": EXECUTION, "poll_seconds": 0.3, "automation": [
        _execution("Waiting", False, target), _execution("Waiting", False, target),
        _execution("InProgress", True, target)]}  # fmt: skip
    child = terminal(moto_server, scenario, "request-session", target, "--reason", "INC-42 disk full", "--no-connect")
    child.expect_exact(f"Request {EXECUTION} sent: one of SessionApprover must approve it.")
    child.expect_exact("Waiting for approval: Waiting, 0:0")
    child.expect_exact("Approved by bob (arn:aws:sts::123456789012:assumed-role/SessionApprover/bob). "
                       "Start the session before 2026-12-04T12:17:00Z.")  # fmt: skip
    child.expect_exact(f"Start it with: aws ssm start-session --target {target} --document-name "
                       f"SSM-SessionManagerRunShell --region {REGION}\r\n")  # fmt: skip
    _, code = finish(child)
    assert code == 0


def test_ctrl_c_during_the_approval_wait_prints_the_request_and_how_to_resume_or_cancel(
    moto_server: dict[str, str],
) -> None:
    target = node()
    scenario = {"execution_id": EXECUTION, "poll_seconds": 0.2, "automation": [_execution("Waiting", False, target)]}
    child = terminal(moto_server, scenario, "request-session", target, "--no-connect")
    child.expect_exact("Waiting for approval: Waiting, 0:0")
    child.sendintr()
    child.expect_exact(f"stopped waiting (Ctrl-C): session request {EXECUTION} goes on (last seen: Waiting).")
    child.expect_exact(f"resume: ssm-guardrails request-session {target} --resume {EXECUTION}")
    child.expect_exact(f"cancel: ssm-guardrails cancel {EXECUTION}")
    _, code = finish(child)
    assert code == 130


def test_on_a_terminal_without_the_plugin_request_session_refuses_before_sending(moto_server: dict[str, str]) -> None:
    """--connect is the default on a terminal, so the plugin is checked before an approval is wasted."""
    scenario = {"execution_id": EXECUTION, "automation": [_execution("Waiting", False, "i-0")]}
    env = moto_server | {"PATH": "/nonexistent"}  # no aws, no plugin (python is started by its full path)
    screen, code = finish(terminal(env, scenario, "request-session", node()))
    assert code == 4
    assert "error: aws and session-manager-plugin not found on PATH" in screen and "nothing was sent" in screen


@pytest.mark.parametrize("typer_version", ["locked", "lowest allowed"])
def test_a_crash_after_the_password_is_known_never_shows_it(moto_server: dict[str, str], typer_version: str) -> None:
    """Typer < 0.23 shows tracebacks with local variables by default; the CLI turns that off and
    catches every exception itself, under any Typer it allows."""
    python_path = ""
    if typer_version == "lowest allowed":
        assert (TYPER_LOWEST / "typer").is_dir(), "run `make bootstrap`: it installs .venv/typer-lowest"
        python_path = str(TYPER_LOWEST)
    target = node()
    password = secrets.token_urlsafe(18)
    scenario = {"node_password": password, "ttl": 30, "parameter_prefix": "/BreakGlass", "poll_seconds": 0.2,
                "fail_after_password": True}  # fmt: skip
    child = terminal(moto_server, scenario, "break-glass", target, "--reason", "INC-42", python_path=python_path)
    screen, code = finish(child)
    assert code == 1
    assert "error: unexpected RuntimeError at cli_on_moto.py:" in screen
    assert password not in screen
    versions = subprocess.run(
        [sys.executable, "-c", "import typer; print(typer.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": python_path},
    ).stdout.strip()
    assert (versions == LOWEST_TYPER) == (typer_version == "lowest allowed")
