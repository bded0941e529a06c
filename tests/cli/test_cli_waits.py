"""No wait is a dead end: each shows its state and elapsed time, ends at --timeout or Ctrl-C with the
id and the commands that resume or cancel it; status, cancel and --resume pick it up again. The
request flow shows who approved and when the window ends, and connects through IAM's delay."""

from __future__ import annotations

import io
import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from cli_helpers import (
    ACCOUNT,
    BREAK_GLASS_PARAMETER,
    EXECUTION,
    NODE,
    PASSWORD,
    REGION,
    SETTINGS,
    START,
    FakeClipboard,
    FakeClock,
    answer,
    cleanup_deletes_at,
    invoke,
    node_online,
    node_stores_password_on_send,
    runtime,
)

from ssm_guardrails_cli.runtime import Exit
from ssm_guardrails_cli.settings import SETTINGS_PARAMETER

APPROVER = f"arn:aws:sts::{ACCOUNT}:assumed-role/SessionApprover/bob"
WINDOW_ENDS = "2026-11-29T12:17:00Z"


def interrupt_after(clock: FakeClock, seconds: float) -> None:
    def ctrl_c() -> None:
        raise KeyboardInterrupt

    clock.at(clock.start + timedelta(seconds=seconds), ctrl_c)


def command_in_progress(rt: Any) -> None:
    answer(rt.client("ssm"), "GetCommandInvocation", lambda p: {"CommandId": p["CommandId"], "InstanceId": NODE,
           "DocumentName": "Renamed-BreakGlass", "Status": "InProgress", "StatusDetails": "InProgress"})  # fmt: skip


def sent_command_id(aws: Any) -> str:
    (command,) = aws.list_commands()["Commands"]
    return command["CommandId"]


@pytest.mark.parametrize(("stop", "code", "why"), [("timeout", Exit.TIMED_OUT, "stopped waiting after 0:30 (--timeout)"),
                                                   ("ctrl-c", Exit.INTERRUPTED, "stopped waiting (Ctrl-C)")])  # fmt: skip
def test_a_break_glass_wait_ends_with_the_id_and_how_to_resume_or_cancel(
    aws: Any, stop: str, code: Exit, why: str
) -> None:
    clock = FakeClock()
    rt = runtime(clock=clock)
    node_online(rt, ping="Online")
    command_in_progress(rt)
    if stop == "ctrl-c":
        interrupt_after(clock, 6)
    exit_code, _, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42 disk", "--timeout", "30")
    command_id = sent_command_id(aws)
    assert exit_code == code
    assert stderr.splitlines() == [
        f"{why}: break-glass command {command_id} on {NODE} goes on (last seen: InProgress).",
        f"  resume: ssm-guardrails break-glass {NODE} --reason 'INC-42 disk' --resume {command_id}",
        f"  cancel: ssm-guardrails cancel {command_id}",
    ]


def test_resume_waits_for_the_command_already_sent_and_reveals(aws: Any) -> None:
    clock = FakeClock()
    rt = runtime(clock=clock)
    node_online(rt)
    command_id = aws.send_command(DocumentName="Renamed-BreakGlass", InstanceIds=[NODE])["Command"]["CommandId"]
    aws.put_parameter(Name=BREAK_GLASS_PARAMETER, Value=PASSWORD, Type="SecureString")  # the node stored it
    cleanup_deletes_at(clock, aws, 60)
    code, stdout, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42", "--resume", command_id)
    assert code == Exit.OK, stderr
    assert PASSWORD in stdout and "Sent break-glass command" not in stdout
    assert len(aws.list_commands()["Commands"]) == 1  # nothing sent again


def test_ctrl_c_during_the_countdown_clears_the_clipboard(aws: Any) -> None:
    clock = FakeClock()
    clipboard = FakeClipboard()
    rt = runtime(tty=False, clock=clock, clipboard=clipboard)
    node_online(rt)
    node_stores_password_on_send(rt)
    interrupt_after(clock, 20)
    code, stdout, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42", "--copy")
    assert code == Exit.INTERRUPTED
    assert clipboard.history == [PASSWORD, ""] and "Clipboard cleared." in stdout
    assert f"cancel: nothing to cancel: the clean-up deletes {BREAK_GLASS_PARAMETER} at" in stderr
    assert PASSWORD not in stdout + stderr


def test_copy_without_a_clipboard_refuses_before_anything_is_sent(aws: Any) -> None:
    rt = runtime(tty=False, clipboard=FakeClipboard(works=False))
    node_online(rt)
    code, _, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42", "--copy")
    assert code == Exit.REFUSED
    assert "--copy: this machine has no clipboard (RuntimeError); nothing was sent" in stderr
    assert aws.list_commands()["Commands"] == []


def test_status_of_a_command(aws: Any) -> None:
    command_id = aws.send_command(DocumentName="Renamed-BreakGlass", InstanceIds=[NODE], Comment="INC-42")["Command"][
        "CommandId"
    ]
    code, stdout, stderr = invoke(runtime(), "--output", "json", "status", command_id)
    assert code == Exit.OK, stderr
    status = json.loads(stdout)
    assert (status["kind"], status["document"], status["targets"], status["comment"]) == (
        "command", "Renamed-BreakGlass", [NODE], "INC-42")  # fmt: skip


def _execution(status: str, steps: dict[str, str], **extra: Any) -> dict[str, Any]:
    outputs = {
        "Approve": {
            "ApproverDecisions": [
                json.dumps([{"Approver": APPROVER, "Decision": "Approve", "Comment": "ticket checked"}])
            ]
        },
        "GrantSession": {"ExpiresAt": [WINDOW_ENDS]},
    }
    return {"AutomationExecution": {
        "AutomationExecutionId": EXECUTION, "DocumentName": "AllowStartSsmSession", "AutomationExecutionStatus": status,
        "ExecutionStartTime": START, "ExecutedBy": f"arn:aws:sts::{ACCOUNT}:assumed-role/SessionRequester/alice",
        "Parameters": {"InstanceId": [NODE], "ValidityMinutes": ["10"], "Reason": ["INC-42 disk full"]},
        "StepExecutions": [{"StepName": n, "StepStatus": s, **({"Outputs": outputs[n]} if s == "Success" else {})}
                           for n, s in steps.items()],
        **extra}}  # fmt: skip


def _settings_response() -> dict[str, Any]:
    return {"Parameter": {"Name": SETTINGS_PARAMETER, "Value": json.dumps(SETTINGS)}}


def test_status_and_cancel_of_a_session_request(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    for _ in range(2):  # status, then cancel
        stub.add_client_error("list_commands", "InvalidCommandId", "")
        stub.add_response("get_parameter", _settings_response())
        stub.add_response("get_automation_execution", _execution("Waiting", {"Approve": "Waiting"}))
    stub.add_response("stop_automation_execution", {}, {"AutomationExecutionId": EXECUTION, "Type": "Cancel"})
    with stub:
        code, stdout, stderr = invoke(rt, "status", EXECUTION)
        assert code == Exit.OK, stderr
        assert (
            f"Session request {EXECUTION} on {NODE} by arn:aws:sts::{ACCOUNT}:assumed-role/SessionRequester/alice: Waiting"
            in stdout
        )
        code, stdout, stderr = invoke(rt, "cancel", EXECUTION)
    assert code == Exit.OK, stderr
    assert f"Session request {EXECUTION} cancelled." in stdout
    stub.assert_no_pending_responses()


def test_cancel_of_a_running_command(aws: Any) -> None:
    rt = runtime()
    cancelled: list[dict[str, Any]] = []
    answer(rt.client("ssm"), "ListCommands", {"Commands": [{"CommandId": EXECUTION, "Status": "InProgress"}]})
    answer(rt.client("ssm"), "CancelCommand", lambda p: cancelled.append(p) or {})
    code, stdout, stderr = invoke(rt, "cancel", EXECUTION)
    assert code == Exit.OK, stderr
    assert cancelled == [{"CommandId": EXECUTION}]
    assert f"Cancel requested for command {EXECUTION}." in stdout


def _request_stub(rt: Any, *answers: dict[str, Any], reason: str = "INC-42 disk full") -> Stubber:
    stub = Stubber(rt.client("ssm"))
    stub.add_response("get_parameter", _settings_response())
    parameters = {"InstanceId": [NODE], "ValidityMinutes": ["10"]} | ({"Reason": [reason]} if reason else {})
    stub.add_response("start_automation_execution", {"AutomationExecutionId": EXECUTION},
                      {"DocumentName": "AllowStartSsmSession", "Parameters": parameters, "Tags": ANY})  # fmt: skip
    for response in answers:
        stub.add_response("get_automation_execution", response, {"AutomationExecutionId": EXECUTION})
    return stub


def test_request_shows_the_approver_and_window_end_and_a_one_line_command_with_the_profile(aws: Any) -> None:
    rt = runtime(tty=False)
    stub = _request_stub(rt, _execution("Waiting", {"Approve": "Waiting"}),
                         _execution("InProgress", {"Approve": "Success", "GrantSession": "Success"}))  # fmt: skip
    with stub:
        code, stdout, stderr = invoke(rt, "request-session", NODE, "--reason", "INC-42 disk full", "--profile", "ops")
    assert code == Exit.OK, stderr
    assert f'Approved by bob ({APPROVER}): "ticket checked". Start the session before {WINDOW_ENDS}.' in stdout
    start = f"aws ssm start-session --target {NODE} --document-name SSM-SessionManagerRunShell --region {REGION} --profile ops"
    assert f"Start it with: {start}\n" in stdout  # one line, also at 80 columns


def test_ctrl_c_during_the_approval_wait_prints_the_request_id(aws: Any) -> None:
    clock = FakeClock()
    rt = runtime(tty=False, clock=clock)
    interrupt_after(clock, 12)
    stub = _request_stub(rt, *[_execution("Waiting", {"Approve": "Waiting"})] * 3, reason="")
    with stub:
        code, _, stderr = invoke(rt, "request-session", NODE)
    assert code == Exit.INTERRUPTED
    assert stderr.splitlines() == [
        f"stopped waiting (Ctrl-C): session request {EXECUTION} goes on (last seen: Waiting).",
        f"  resume: ssm-guardrails request-session {NODE} --resume {EXECUTION}",
        f"  cancel: ssm-guardrails cancel {EXECUTION}",
    ]


def test_connect_checks_the_aws_cli_and_plugin_before_sending(aws: Any) -> None:
    rt = runtime(which=lambda name: None if name == "session-manager-plugin" else f"/usr/bin/{name}")
    stub = Stubber(rt.client("ssm"))
    stub.add_response("get_parameter", _settings_response())
    with stub:  # no StartAutomationExecution expected: the stub would fail on it
        code, _, stderr = invoke(rt, "request-session", NODE, "--connect")
    assert code == Exit.REFUSED
    assert "session-manager-plugin not found on PATH" in stderr and "nothing was sent" in stderr


def fake_aws_cli(tmp_path: Path, denials: int) -> Path:
    """An `aws` that answers StartSession as AWS does while IAM has not applied the grant yet."""
    script = tmp_path / "aws"
    script.write_text(f"""#!/bin/sh
n=$(cat {tmp_path}/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > {tmp_path}/count
if [ $n -le {denials} ]; then
  echo "An error occurred (AccessDeniedException) when calling the StartSession operation: not authorized" >&2
  exit 254
fi
echo "$@" > {tmp_path}/argv; echo "$AWS_ACCESS_KEY_ID ${{AWS_PROFILE:-no-profile}}" > {tmp_path}/env
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "session-manager-plugin").write_text("#!/bin/sh\n")
    (tmp_path / "session-manager-plugin").chmod(0o755)
    return tmp_path


def test_connect_succeeds_after_two_access_denied_answers(
    aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IAM is eventually consistent (the grant may not apply at once):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency"""
    bin_dir = fake_aws_cli(tmp_path, denials=2)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    config = tmp_path / "config"
    config.write_text("[profile ops]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "ops")  # a profile in the operator's shell must not be used by the child
    monkeypatch.setattr("sys.stderr", io.TextIOWrapper(io.BytesIO()))
    rt = runtime(tty=True)
    stub = _request_stub(rt, _execution("InProgress", {"Approve": "Success", "GrantSession": "Success"}), reason="")
    with stub:
        code, stdout, stderr = invoke(rt, "request-session", NODE)  # a terminal: --connect by default
    assert code == Exit.OK, stderr
    assert (tmp_path / "count").read_text().strip() == "3"
    assert stdout.count("Waiting for IAM to apply the grant") == 2
    assert (tmp_path / "argv").read_text().split() == ["ssm", "start-session", "--target", NODE, "--document-name",
                                                        "SSM-SessionManagerRunShell", "--region", REGION]  # fmt: skip
    frozen = rt.boto_session().get_credentials().get_frozen_credentials()
    assert (tmp_path / "env").read_text().split() == [frozen.access_key, "no-profile"]  # this session's, no profile


def test_pending_shows_full_ids_person_and_reason_at_80_columns(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    stub.add_response("get_parameter", _settings_response())
    stub.add_response("describe_automation_executions", {"AutomationExecutionMetadataList": [
        {"AutomationExecutionId": EXECUTION, "DocumentName": "AllowStartSsmSession"}]})  # fmt: skip
    stub.add_response("get_automation_execution", _execution("Waiting", {"Approve": "Waiting"}))
    with stub:
        code, stdout, stderr = invoke(rt, "pending")
    assert code == Exit.OK, stderr
    assert f"{EXECUTION}  alice asks for 10 min on {NODE}, waiting" in stdout
    assert "    reason: INC-42 disk full\n" in stdout


@pytest.mark.parametrize("notify", [True, False])
def test_report_rotation_no_notify_asks_the_report_not_to_alert(aws: Any, notify: bool) -> None:
    rt = runtime()
    stub = Stubber(rt.client("lambda"))
    summary = {"window": "production", "checked": 1, "missing": [NODE], "stale": [], "reasons": {}}
    payload = b"{}" if notify else b'{"notify": false}'
    stub.add_response("invoke", {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(summary).encode())},
                      {"FunctionName": "SsmGuardrails-MemberRegional-FreshnessReport", "Payload": payload})  # fmt: skip
    with stub:
        code, stdout, _ = invoke(rt, "report", "rotation", *([] if notify else ["--no-notify"]))
    assert code == Exit.OK
    assert ("An alert went to the notification topic" in stdout) is notify


@pytest.mark.parametrize("stored", [":cat: and :ok: [bold]x[/bold]", "Aa1!" * 40])
def test_passwords_are_printed_verbatim_on_one_line(aws: Any, stored: str) -> None:
    """No emoji codes, no markup, and no line break in a long password at 80 columns."""
    aws.put_parameter(Name=f"/EC2Rescue/Passwords/{NODE}", Value=stored, Type="SecureString")
    code, stdout, stderr = invoke(runtime(), "password", NODE)
    assert code == Exit.OK, stderr
    assert f"\n{stored}\n" in stdout


def test_ctrl_c_inside_the_session_leaves_the_cli_waiting_for_it(aws: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A Ctrl-C typed in the session reaches the whole foreground process group: the CLI must not die
    of it and leave the session behind."""
    script = tmp_path / "aws"
    script.write_text(f"#!/bin/sh\nkill -INT $PPID\nsleep 0.3\necho done > {tmp_path}/ended\n")
    script.chmod(0o755)
    (tmp_path / "session-manager-plugin").write_text("#!/bin/sh\n")
    (tmp_path / "session-manager-plugin").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")
    monkeypatch.setattr("sys.stderr", io.TextIOWrapper(io.BytesIO()))
    rt = runtime(tty=True)
    stub = _request_stub(rt, _execution("InProgress", {"Approve": "Success", "GrantSession": "Success"}), reason="")
    with stub:
        code, _, stderr = invoke(rt, "request-session", NODE)
    assert code == Exit.OK, stderr
    assert (tmp_path / "ended").read_text() == "done\n"  # the session ran to its end
