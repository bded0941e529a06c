"""The operator CLI (cli/): every command against moto, or botocore's Stubber where moto lacks the
API (Automation executions and signals, Lambda invoke without Docker, AWS Config compliance, IAM
SimulatePrincipalPolicy); responses are shaped like the AWS API reference's examples.

Secrets: every test that handles a password captures both consoles, the test runner's output and
every log record, and checks the password is in none but the one intended.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_helpers import fail_first
from botocore.stub import Stubber
from moto import mock_aws
from rich.console import Console
from typer.testing import CliRunner

from ssm_guardrails_cli.app import app
from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.sessions import person_of
from ssm_guardrails_cli.settings import SETTINGS_PARAMETER

REGION = "eu-west-1"
RUNBOOK_SCRIPT = Path(__file__).resolve().parents[2] / "lambdas" / "session_grant" / "persons.py"  # the grant function
ACCOUNT = "123456789012"
NODE = "i-0123456789abcdef0"
PASSWORD = "Zq8!w-Example-Secret-7Kp"  # what the fake node stores
#: A fixed instant for responses made up in a test (moto stamps what it stores with the real time)
START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SETTINGS: dict[str, Any] = {
    "version": 1,
    "break_glass": {
        "document": "Renamed-BreakGlass",  # not the default: the CLI must read it
        "parameter_prefix": "/Emergency",
        "ttl_seconds": 60,
        "reset_after_hours": 8,
        "sweep_interval_minutes": 1,
        "key_arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    },
    "password_rotation": {
        "parameter_path": "/EC2Rescue/Passwords",
        "key_arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/2234abcd-12ab-34cd-56ef-1234567890ab",
        "freshness_report_functions": ["SsmGuardrails-MemberRegional-FreshnessReport"],
    },
    "separation_of_duties": {
        "approval_path": "approval_runbook",
        "runbook": "AllowStartSsmSession",
        "runbook_role": "SsmSessionControlChangeMangerRole",
        "grant_step": "GrantSession",
        "home_region": REGION,
        "validity_minutes": 10,
        "approver_roles": ["SessionApprover"],
        "session_document": "SSM-SessionManagerRunShell",
    },
    "access_key_remediation": {
        "config_rule": "access-keys-rotated",
        "max_access_key_age_days": 90,
        "home_region": REGION,
    },
}


class FakeClock:
    """Time that moves only when the CLI sleeps; ``at`` runs a callback once the clock passes a time."""

    def __init__(self) -> None:
        # moto stamps parameters with the real time, so the clock starts there and moves only when the CLI sleeps
        self.start = self.now = datetime.now(UTC)
        self.slept = 0.0
        self.events: list[tuple[datetime, Callable[[], None]]] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += timedelta(seconds=seconds)
        for due, action in list(self.events):
            if self.now >= due:
                self.events.remove((due, action))
                action()

    def at(self, due: datetime, action: Callable[[], None]) -> None:
        self.events.append((due, action))


class FakeClipboard:
    def __init__(self) -> None:
        self.history: list[str] = []

    def copy(self, text: str) -> None:
        self.history.append(text)

    def paste(self) -> str:
        return self.history[-1] if self.history else ""


def runtime(tty: bool = True, clock: FakeClock | None = None) -> Runtime:
    clock = clock or FakeClock()
    return Runtime(
        session=boto3.Session(region_name=REGION),
        console=Console(file=io.StringIO(), width=200),
        error_console=Console(file=io.StringIO(), width=200),
        clock=clock,
        sleep=clock.sleep,
        is_tty=lambda: tty,
        clipboard=FakeClipboard(),
    )


def invoke(rt: Runtime, *args: str) -> tuple[int, str, str]:
    """Run the CLI; return (exit code, everything on stdout, everything on stderr)."""
    result = CliRunner().invoke(app, list(args), obj=rt)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    stdout = rt.console.file.getvalue() + result.stdout
    return result.exit_code, stdout, rt.error_console.file.getvalue() + (result.stderr or "")


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(SETTINGS), Type="String")
        ssm.create_document(
            Name=SETTINGS["break_glass"]["document"],
            DocumentType="Command",
            DocumentFormat="JSON",
            Content=json.dumps(
                {"schemaVersion": "2.2", "description": "fake", "parameters": {"PasswordLength": {"type": "String"}},
                 "mainSteps": [{"action": "aws:runShellScript", "name": "x", "inputs": {"runCommand": ["true"]}}]}
            ),
        )  # fmt: skip
        yield ssm


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def node_writes_password(ssm: Any) -> None:
    """What the document does on the node: store the password (moto runs no script)."""
    name = f"{SETTINGS['break_glass']['parameter_prefix']}/pwd-{NODE}"
    ssm.put_parameter(Name=name, Value=PASSWORD, Type="SecureString", Overwrite=True)


def cleanup_deletes_at(clock: FakeClock, ssm: Any, seconds: int) -> None:
    name = f"{SETTINGS['break_glass']['parameter_prefix']}/pwd-{NODE}"
    clock.at(clock.start + timedelta(seconds=seconds), lambda: ssm.delete_parameter(Name=name))


def assert_password_only_in(where: str, outputs: dict[str, str], logs: pytest.LogCaptureFixture) -> None:
    assert all(PASSWORD not in record.getMessage() for record in logs.records), "a log record holds the password"
    for name, text in outputs.items():
        assert (PASSWORD in text) == (name == where), f"password {'missing from' if name == where else 'in'} {name}"


# ------------------------------------------------------------------------------------ break-glass


def test_break_glass_reveals_on_the_terminal_counts_down_and_confirms_the_deletion(aws: Any, all_logs: Any) -> None:
    clock = FakeClock()
    rt = runtime(clock=clock)
    node_writes_password(aws)
    cleanup_deletes_at(clock, aws, 60)
    code, stdout, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42 root login broken")
    assert code == Exit.OK, stderr
    assert_password_only_in("stdout", {"stdout": stdout, "stderr": stderr}, all_logs)
    assert "/Emergency/pwd-i-0123456789abcdef0 deleted." in stdout
    reset = clock.start + timedelta(hours=8)  # from when the password was revealed
    assert f"resets the password again automatically at {reset:%Y-%m-%d %H:%M} UTC" in stdout
    # the renamed document, the reason as the comment
    (command,) = aws.list_commands()["Commands"]
    assert (command["DocumentName"], command["Comment"]) == ("Renamed-BreakGlass", "INC-42 root login broken")
    assert 59 <= clock.slept <= 70  # counted down to the TTL, never slept for real


def test_break_glass_refuses_a_pipe_and_runs_nothing(aws: Any, all_logs: Any) -> None:
    node_writes_password(aws)
    code, stdout, stderr = invoke(runtime(tty=False), "break-glass", NODE, "--reason", "INC-42")
    assert code == Exit.REFUSED
    assert "stdout is not a terminal" in stderr
    assert aws.list_commands()["Commands"] == []
    assert_password_only_in("nowhere", {"stdout": stdout, "stderr": stderr}, all_logs)


def test_break_glass_json_only_when_asked(aws: Any, all_logs: Any) -> None:
    node_writes_password(aws)
    code, stdout, stderr = invoke(runtime(tty=False), "--output", "json", "break-glass", NODE, "--reason", "INC-42")
    assert code == Exit.OK, stderr
    data = json.loads(stdout)
    assert data["password"] == PASSWORD and data["node"] == NODE
    written = aws.get_parameter(Name=data["parameter"])["Parameter"]["LastModifiedDate"]
    assert datetime.fromisoformat(data["deleted_at"]) - written == timedelta(seconds=60)
    assert_password_only_in("stdout", {"stdout": stdout, "stderr": stderr}, all_logs)


def test_break_glass_copy_puts_it_on_the_clipboard_and_clears_it(aws: Any, all_logs: Any) -> None:
    clock = FakeClock()
    rt = runtime(tty=False, clock=clock)
    node_writes_password(aws)
    cleanup_deletes_at(clock, aws, 60)
    code, stdout, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42", "--copy")
    assert code == Exit.OK, stderr
    assert rt.clipboard.history == [PASSWORD, ""]
    assert "Clipboard cleared." in stdout
    assert_password_only_in(
        "clipboard", {"stdout": stdout, "stderr": stderr, "clipboard": rt.clipboard.history[0]}, all_logs
    )


def test_break_glass_reports_a_password_that_outlives_the_sweep(aws: Any) -> None:
    node_writes_password(aws)  # and no clean-up ever deletes it
    code, stdout, _ = invoke(runtime(), "break-glass", NODE, "--reason", "INC-42")
    assert code == Exit.FAILED
    assert "still exists" in stdout


def test_break_glass_reason_is_required_and_bounded(aws: Any) -> None:
    code, _, stderr = invoke(runtime(), "break-glass", NODE, "--reason", "x" * 101)
    assert code == Exit.USAGE
    assert "--reason: 1-100 characters" in stderr


def test_a_missing_control_is_one_line_and_exit_3(aws: Any) -> None:
    aws.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps({"version": 1}), Type="String", Overwrite=True)
    code, _, stderr = invoke(runtime(), "break-glass", NODE, "--reason", "INC-42")
    assert code == Exit.MISSING
    assert stderr.strip() == "error: break_glass is not deployed in this account and Region"


def test_no_stack_at_all_is_exit_3(aws: Any) -> None:
    aws.delete_parameter(Name=SETTINGS_PARAMETER)
    code, _, stderr = invoke(runtime(), "password", NODE)
    assert code == Exit.MISSING
    assert "no /guardrails/operator-settings parameter" in stderr


def test_throttled_calls_are_retried(aws: Any) -> None:
    """Standard retry mode retries throttling:
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html"""
    rt = runtime()
    aws.put_parameter(Name=f"/EC2Rescue/Passwords/{NODE}", Value=PASSWORD, Type="SecureString")
    attempts = fail_first(rt.client("ssm"), "GetParameter", "ThrottlingException", times=2)
    code, stdout, stderr = invoke(rt, "password", NODE)
    assert code == Exit.OK, stderr
    assert len(attempts) >= 3 and PASSWORD in stdout


# --------------------------------------------------------------------------------------- password


def test_password_shows_age_and_writer(aws: Any, all_logs: Any) -> None:
    aws.put_parameter(Name=f"/EC2Rescue/Passwords/{NODE}", Value=PASSWORD, Type="SecureString")
    clock = FakeClock()
    clock.now += timedelta(days=3, minutes=1)
    code, stdout, stderr = invoke(runtime(clock=clock), "password", NODE)
    assert code == Exit.OK, stderr
    assert "written 3 days ago by N/A" in stdout  # moto records no writer (it answers "N/A")
    assert_password_only_in("stdout", {"stdout": stdout, "stderr": stderr}, all_logs)


def test_password_refuses_a_pipe(aws: Any) -> None:
    aws.put_parameter(Name=f"/EC2Rescue/Passwords/{NODE}", Value=PASSWORD, Type="SecureString")
    code, stdout, stderr = invoke(runtime(tty=False), "password", NODE)
    assert code == Exit.REFUSED and PASSWORD not in stdout + stderr


def test_access_denied_is_exit_6(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    stub.add_response("get_parameter", {"Parameter": {"Name": SETTINGS_PARAMETER, "Value": json.dumps(SETTINGS)}})
    stub.add_client_error("get_parameter", "AccessDeniedException", "not authorized to perform: ssm:GetParameter")
    with stub:
        code, _, stderr = invoke(rt, "password", NODE)
    assert code == Exit.DENIED
    assert "AccessDeniedException: not authorized to perform: ssm:GetParameter" in stderr


# ----------------------------------------------------------------------- request-session / approve


def _execution(status: str, steps: dict[str, str], executed_by: str = "") -> dict[str, Any]:
    """GetAutomationExecution, shaped like the API reference's AutomationExecution."""
    return {
        "AutomationExecution": {
            "AutomationExecutionId": "4f9b0c1e-1111-2222-3333-444455556666",
            "DocumentName": "AllowStartSsmSession",
            "AutomationExecutionStatus": status,
            "ExecutionStartTime": START - timedelta(minutes=7),
            "ExecutedBy": executed_by or f"arn:aws:sts::{ACCOUNT}:assumed-role/SessionRequester/alice",
            "Parameters": {"InstanceId": [NODE], "ValidityMinutes": ["10"]},
            "StepExecutions": [{"StepName": name, "StepStatus": state} for name, state in steps.items()],
        }
    }


def _stub_settings(stub: Stubber) -> None:
    stub.add_response("get_parameter", {"Parameter": {"Name": SETTINGS_PARAMETER, "Value": json.dumps(SETTINGS)}})


def test_request_session_waits_for_approval(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    _stub_settings(stub)
    stub.add_response(
        "start_automation_execution",
        {"AutomationExecutionId": "4f9b0c1e-1111-2222-3333-444455556666"},
        {
            "DocumentName": "AllowStartSsmSession",
            "Parameters": {"InstanceId": [NODE], "ValidityMinutes": ["15"]},
            "Tags": [{"Key": "SsmGuardrailsRequest", "Value": "AllowStartSsmSession"}],
        },
    )
    stub.add_response("get_automation_execution", _execution("Waiting", {"Approve": "Waiting"}), None)
    stub.add_response(
        "get_automation_execution", _execution("InProgress", {"Approve": "Success", "GrantSession": "Success"}), None
    )
    with stub:
        code, stdout, stderr = invoke(rt, "request-session", NODE, "--minutes", "15")
    assert code == Exit.OK, stderr
    assert "one of SessionApprover to approve" in stdout and "Approved." in stdout
    assert f"aws ssm start-session --target {NODE} --document-name SSM-SessionManagerRunShell" in stdout
    stub.assert_no_pending_responses()


def test_connect_opens_the_session_with_the_credentials_that_asked(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The grant is for the requesting role session only (aws:userid), so the child `aws` process
    gets this session's credentials, never a profile that would assume the role anew."""
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    frozen = rt.session.get_credentials().get_frozen_credentials()  # resolved once per session
    monkeypatch.setenv("AWS_PROFILE", "ops")  # a profile in the operator's shell must not be used
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr("ssm_guardrails_cli.sessions.shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr("ssm_guardrails_cli.sessions.subprocess.call", lambda argv, env: calls.append((argv, env)) or 0)
    _stub_settings(stub)
    stub.add_response(
        "start_automation_execution", {"AutomationExecutionId": "4f9b0c1e-1111-2222-3333-444455556666"}, None
    )
    stub.add_response(
        "get_automation_execution", _execution("InProgress", {"Approve": "Success", "GrantSession": "Success"}), None
    )
    with stub:
        code, _, stderr = invoke(rt, "request-session", NODE, "--connect")
    assert code == Exit.OK, stderr
    ((argv, env),) = calls
    assert argv == ["aws", "ssm", "start-session", "--target", NODE, "--document-name", "SSM-SessionManagerRunShell",
                    "--region", REGION]  # fmt: skip
    assert env["AWS_ACCESS_KEY_ID"] == frozen.access_key and "AWS_PROFILE" not in env


def test_request_session_rejected_is_exit_5(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    _stub_settings(stub)
    stub.add_response(
        "start_automation_execution", {"AutomationExecutionId": "4f9b0c1e-1111-2222-3333-444455556666"}, None
    )
    stub.add_response("get_automation_execution", _execution("Failed", {"Approve": "Failed"}), None)
    with stub:
        code, stdout, _ = invoke(rt, "request-session", NODE)
    assert code == Exit.NOT_APPROVED
    assert "Not approved: failed" in stdout


def test_pending_lists_requester_node_minutes_and_age(aws: Any) -> None:
    clock = FakeClock()
    clock.now = START  # the made-up execution started at START - 7 min
    rt = runtime(clock=clock)
    stub = Stubber(rt.client("ssm"))
    _stub_settings(stub)
    stub.add_response(
        "describe_automation_executions",
        {"AutomationExecutionMetadataList": [
            {"AutomationExecutionId": "4f9b0c1e-1111-2222-3333-444455556666", "DocumentName": "AllowStartSsmSession"},
            {"AutomationExecutionId": "5f9b0c1e-1111-2222-3333-444455556666", "DocumentName": "AllowStartSsmSessionOld"},
        ]},
        None,
    )  # fmt: skip
    stub.add_response("get_automation_execution", _execution("Waiting", {"Approve": "Waiting"}), None)
    with stub:
        code, stdout, stderr = invoke(rt, "--output", "json", "pending")
    assert code == Exit.OK, stderr
    (row,) = json.loads(stdout)["pending"]
    assert row == {
        "execution_id": "4f9b0c1e-1111-2222-3333-444455556666",
        "requester": f"arn:aws:sts::{ACCOUNT}:assumed-role/SessionRequester/alice",
        "node": NODE,
        "minutes": "10",
        "age_minutes": 7,
    }


@pytest.mark.parametrize(
    ("me", "refused"),
    [
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/SessionApprover/Alice", True),  # alice's second role
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/SessionApprover/bob", False),
    ],
)
def test_approving_your_own_request_is_refused_locally(aws: Any, me: str, refused: bool) -> None:
    rt = runtime()
    ssm, sts = Stubber(rt.client("ssm")), Stubber(rt.client("sts"))
    _stub_settings(ssm)
    ssm.add_response("get_automation_execution", _execution("Waiting", {"Approve": "Waiting"}), None)
    sts.add_response("get_caller_identity", {"Arn": me, "Account": ACCOUNT, "UserId": "AROAEXAMPLE:x"})
    if not refused:
        ssm.add_response(
            "send_automation_signal",
            {},
            {"AutomationExecutionId": "4f9b0c1e-1111-2222-3333-444455556666", "SignalType": "Approve",
             "Payload": {"Comment": ["looked at the ticket"]}},
        )  # fmt: skip
    with ssm, sts:
        code, _stdout, stderr = invoke(
            rt, "approve", "4f9b0c1e-1111-2222-3333-444455556666", "--reason", "looked at the ticket"
        )
    assert code == (Exit.REFUSED if refused else Exit.OK)
    assert ("someone else must approve it" in stderr) is refused
    ssm.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("arn", "person"),
    [
        ("arn:aws:sts::111122223333:assumed-role/A/Alice@example.com", "alice@example.com"),
        ("arn:aws:sts::111122223333:assumed-role/SessionApprover/alice", "alice"),
        ("arn:aws:iam::111122223333:user/ops/bob", "bob"),
        ("arn:aws-us-gov:iam::111122223333:user/Carol", "carol"),
    ],
)
def test_person_is_the_session_name_or_user_name_as_the_runbook_compares_it(arn: str, person: str) -> None:
    """The CLI refuses self-approval before the runbook does: both must name the same person.
    (The CLI is installed without the runbook's script, so each has its own few lines.)"""
    spec = importlib.util.spec_from_file_location("session_window_for_cli", RUNBOOK_SCRIPT)
    assert spec and spec.loader
    runbook = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = runbook  # its dataclasses look their module up
    spec.loader.exec_module(runbook)
    assert person_of(arn) == person == runbook.identity(arn).person


# ---------------------------------------------------------------------------------------- reports


def test_report_rotation_runs_each_windows_report(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("lambda"))
    summary = {"window": "production", "checked": 3, "missing": ["i-0aaaaaaaaaaaaaaaa"], "stale": [NODE],
               "reasons": {NODE: "last written by arn:aws:sts::1:assumed-role/R/i-0bbb, not by " + NODE}}  # fmt: skip
    stub.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(summary).encode())},
        {"FunctionName": "SsmGuardrails-MemberRegional-FreshnessReport", "Payload": b"{}"},
    )
    with stub:
        code, stdout, _ = invoke(rt, "report", "rotation")
    assert code == Exit.OK
    assert "MISSING" in stdout and "STALE" in stdout and "not by i-0123456789abcdef0" in stdout


def test_report_access_keys_names_the_users(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("config"))
    result = {
        "EvaluationResultIdentifier": {
            "EvaluationResultQualifier": {"ConfigRuleName": "access-keys-rotated", "ResourceType": "AWS::IAM::User",
                                          "ResourceId": "AIDAEXAMPLEUSER00001"}},
        "ComplianceType": "NON_COMPLIANT",
        "ResultRecordedTime": START,
        "ConfigRuleInvokedTime": START,
    }  # fmt: skip
    stub.add_response(
        "get_compliance_details_by_config_rule",
        {"EvaluationResults": [result]},
        {"ConfigRuleName": "access-keys-rotated", "ComplianceTypes": ["NON_COMPLIANT"]},
    )
    stub.add_response(
        "list_discovered_resources",
        {
            "resourceIdentifiers": [
                {"resourceType": "AWS::IAM::User", "resourceId": "AIDAEXAMPLEUSER00001", "resourceName": "carol"}
            ]
        },
        {"resourceType": "AWS::IAM::User", "resourceIds": ["AIDAEXAMPLEUSER00001"]},
    )
    with stub:
        code, stdout, _ = invoke(rt, "--output", "json", "report", "access-keys")
    assert code == Exit.OK
    assert json.loads(stdout)["findings"][0]["user"] == "carol"


# ----------------------------------------------------------------------------------------- doctor


def test_doctor_lists_controls_and_what_the_caller_may_run(aws: Any) -> None:
    rt = runtime()
    iam = Stubber(rt.client("iam"))
    sts = Stubber(rt.client("sts"))
    sts.add_response("get_caller_identity", {"Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/BreakGlassOperator/alice",
                                             "Account": ACCOUNT, "UserId": "AROAEXAMPLE:alice"})  # fmt: skip

    def decision(action: str, verdict: str) -> dict[str, Any]:
        return {"EvaluationResults": [{"EvalActionName": action, "EvalDecision": verdict}]}

    for action in ("ssm:GetParameter", "ssm:SendCommand", "ssm:SendCommand", "ssm:GetCommandInvocation",
                   "ssm:GetParameter", "kms:Decrypt"):  # fmt: skip
        iam.add_response("simulate_principal_policy", decision(action, "allowed"), None)
    iam.add_response("simulate_principal_policy", decision("ssm:GetParameter", "allowed"), None)
    iam.add_response("simulate_principal_policy", decision("ssm:GetParameter", "implicitDeny"), None)
    iam.add_client_error("simulate_principal_policy", "AccessDenied", "no")
    for action in ("ssm:GetParameter", "ssm:StartAutomationExecution", "iam:PassRole", "ssm:GetAutomationExecution",
                   "ssm:GetParameter", "ssm:DescribeAutomationExecutions", "ssm:GetAutomationExecution",
                   "ssm:GetParameter", "ssm:GetAutomationExecution"):  # fmt: skip
        iam.add_response("simulate_principal_policy", decision(action, "allowed"), None)
    iam.add_response("simulate_principal_policy", decision("ssm:SendAutomationSignal", "implicitDeny"), None)
    with iam, sts:
        code, stdout, stderr = invoke(rt, "--output", "json", "doctor")
    assert code == Exit.OK, stderr
    report = json.loads(stdout)
    assert report["controls"]["session_prefs"] is False and report["controls"]["break_glass"] is True
    assert report["commands"] == {
        "break-glass": "allowed",
        "password": "denied: ssm:GetParameter",
        "report rotation": "unknown (iam:SimulatePrincipalPolicy is not allowed)",
        "request-session": "allowed",
        "pending": "allowed",
        "approve": "denied: ssm:SendAutomationSignal",
    }
    iam.assert_no_pending_responses()


def test_request_session_on_the_change_manager_path_prints_its_steps_with_the_request_tag(aws: Any) -> None:
    other = {
        **SETTINGS,
        "separation_of_duties": {**SETTINGS["separation_of_duties"], "approval_path": "change_manager"},
    }
    aws.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(other), Type="String", Overwrite=True)
    code, stdout, _ = invoke(runtime(), "--output", "json", "request-session", NODE)
    assert code == Exit.OK
    steps = json.loads(stdout)["steps"]
    assert (
        "AllowSsmSessionStartTemplate with InstanceId=i-0123456789abcdef0 and the tag SsmGuardrailsRequest=AllowStartSsmSession"
        in steps[0]
    )
