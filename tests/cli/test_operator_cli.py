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
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from aws_helpers import fail_first
from botocore.stub import Stubber
from cli_helpers import (
    ACCOUNT,
    NODE,
    PASSWORD,
    REGION,
    SETTINGS,
    START,
    FakeClock,
    assert_password_only_in,
    cleanup_deletes_at,
    invoke,
    node_online,
    node_stores_password_on_send,
    runtime,
)

from ssm_guardrails_cli import doctor
from ssm_guardrails_cli.runtime import Exit
from ssm_guardrails_cli.sessions import person_of
from ssm_guardrails_cli.settings import SETTINGS_PARAMETER

RUNBOOK_SCRIPT = Path(__file__).resolve().parents[2] / "lambdas" / "session_grant" / "persons.py"  # the grant function


def break_glass_runtime(tty: bool = True, clock: FakeClock | None = None, **kwargs: Any) -> Any:
    """A Runtime whose node is online and stores its password when the command arrives."""
    rt = runtime(tty=tty, clock=clock, **kwargs)
    node_online(rt)
    node_stores_password_on_send(rt)
    return rt


# ------------------------------------------------------------------------------------ break-glass


def test_break_glass_reveals_on_the_terminal_counts_down_and_confirms_the_deletion(aws: Any, all_logs: Any) -> None:
    clock = FakeClock()
    rt = break_glass_runtime(clock=clock)
    cleanup_deletes_at(clock, aws, 60)
    code, stdout, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42 root login broken")
    assert code == Exit.OK, stderr
    assert_password_only_in("stdout", {"stdout": stdout, "stderr": stderr}, all_logs)
    assert f"Password (/Emergency/pwd-{NODE}):\n{PASSWORD}\nLogin: root on {NODE}\n" in stdout
    assert "/Emergency/pwd-i-0123456789abcdef0 deleted." in stdout
    reset = clock.start + timedelta(hours=8)  # from when the password was revealed
    assert f"resets the password again automatically at {reset:%Y-%m-%d %H:%M} UTC" in stdout
    # the renamed document, the reason as the comment
    (command,) = aws.list_commands()["Commands"]
    assert (command["DocumentName"], command["Comment"]) == ("Renamed-BreakGlass", "INC-42 root login broken")
    assert 59 <= clock.slept <= 70  # counted down to the TTL, never slept for real


def test_break_glass_refuses_a_pipe_and_runs_nothing(aws: Any, all_logs: Any) -> None:
    code, stdout, stderr = invoke(break_glass_runtime(tty=False), "break-glass", NODE, "--reason", "INC-42")
    assert code == Exit.REFUSED
    assert "stdout is not a terminal" in stderr
    assert aws.list_commands()["Commands"] == []
    assert_password_only_in("nowhere", {"stdout": stdout, "stderr": stderr}, all_logs)


def test_break_glass_json_only_when_asked(aws: Any, all_logs: Any) -> None:
    code, stdout, stderr = invoke(
        break_glass_runtime(tty=False), "--output", "json", "break-glass", NODE, "--reason", "INC-42"
    )
    assert code == Exit.OK, stderr
    data = json.loads(stdout)
    assert data["password"] == PASSWORD and data["node"] == NODE
    written = aws.get_parameter(Name=data["parameter"])["Parameter"]["LastModifiedDate"]
    assert datetime.fromisoformat(data["deleted_at"]) - written == timedelta(seconds=60)
    assert_password_only_in("stdout", {"stdout": stdout, "stderr": stderr}, all_logs)


def test_break_glass_copy_puts_it_on_the_clipboard_and_clears_it(aws: Any, all_logs: Any) -> None:
    clock = FakeClock()
    rt = break_glass_runtime(tty=False, clock=clock)
    cleanup_deletes_at(clock, aws, 60)
    code, stdout, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42", "--copy")
    assert code == Exit.OK, stderr
    assert rt.clipboard.history == [PASSWORD, ""]
    assert "Clipboard cleared." in stdout
    assert_password_only_in(
        "clipboard", {"stdout": stdout, "stderr": stderr, "clipboard": rt.clipboard.history[0]}, all_logs
    )


def test_break_glass_reports_a_password_that_outlives_the_sweep(aws: Any) -> None:
    code, stdout, _ = invoke(break_glass_runtime(), "break-glass", NODE, "--reason", "INC-42")  # no clean-up
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
    assert stderr.strip() == (
        f"error: break_glass is not deployed in account {ACCOUNT}, Region {REGION}: "
        "pass --region (or --profile) of an account where it is"
    )


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
    # moto records no writer (it answers "N/A"); the settings publish no maximum age here
    assert f"Login: Administrator on {NODE}. Written 3 days ago (" in stdout
    assert "by N/A; rotates on its window's schedule." in stdout
    assert_password_only_in("stdout", {"stdout": stdout, "stderr": stderr}, all_logs)


def test_password_shows_its_expiry_when_the_stack_publishes_the_maximum_age(aws: Any) -> None:
    settings = {**SETTINGS, "password_rotation": {**SETTINGS["password_rotation"], "max_age_days": 30}}
    aws.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(settings), Type="String", Overwrite=True)
    aws.put_parameter(Name=f"/EC2Rescue/Passwords/{NODE}", Value=PASSWORD, Type="SecureString")
    written = aws.get_parameter(Name=f"/EC2Rescue/Passwords/{NODE}")["Parameter"]["LastModifiedDate"]
    code, stdout, stderr = invoke(runtime(tty=False), "--output", "json", "password", NODE)
    assert code == Exit.OK, stderr
    shown = json.loads(stdout)
    assert shown["login"] == "Administrator"
    assert datetime.fromisoformat(shown["expires"]) == written + timedelta(days=30)


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
    assert stderr == (
        f"error: GetParameter denied in account {ACCOUNT}, Region {REGION}: not authorized to perform: "
        "ssm:GetParameter; run `ssm-guardrails doctor` to see what your role may run\n"
    )


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
        code, stdout, stderr = invoke(rt, "request-session", NODE, "--minutes", "15", "--no-connect")
    assert code == Exit.OK, stderr
    assert "one of SessionApprover must approve it" in stdout and "Approved by an approver." in stdout
    assert f"aws ssm start-session --target {NODE} --document-name SSM-SessionManagerRunShell" in stdout
    stub.assert_no_pending_responses()


def test_request_session_rejected_is_exit_5(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    _stub_settings(stub)
    stub.add_response(
        "start_automation_execution", {"AutomationExecutionId": "4f9b0c1e-1111-2222-3333-444455556666"}, None
    )
    stub.add_response("get_automation_execution", _execution("Failed", {"Approve": "Failed"}), None)
    with stub:
        code, stdout, _ = invoke(rt, "request-session", NODE, "--no-connect")
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
        "person": "alice",
        "requester": f"arn:aws:sts::{ACCOUNT}:assumed-role/SessionRequester/alice",
        "node": NODE,
        "minutes": "10",
        "reason": "",
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

    iam.add_response("simulate_principal_policy", decision("ssm:GetParameter", "allowed"), None)
    # optional: break-glass works without it and skips its online check
    iam.add_response("simulate_principal_policy", decision("ssm:DescribeInstanceInformation", "implicitDeny"), None)
    for action in ("ssm:SendCommand", "ssm:SendCommand", "ssm:GetCommandInvocation", "ssm:ListCommands",
                   "ssm:GetParameter", "kms:Decrypt"):  # fmt: skip
        iam.add_response("simulate_principal_policy", decision(action, "allowed"), None)
    iam.add_response("simulate_principal_policy", decision("ssm:GetParameter", "allowed"), None)
    iam.add_response("simulate_principal_policy", decision("ssm:GetParameter", "implicitDeny"), None)
    iam.add_client_error("simulate_principal_policy", "AccessDenied", "no")
    for action in ("ssm:GetParameter", *["ssm:StartAutomationExecution"] * 3, "ssm:AddTagsToResource", "iam:PassRole",
                   "ssm:GetAutomationExecution",
                   "ssm:GetParameter", "ssm:DescribeAutomationExecutions", "ssm:GetAutomationExecution",
                   "ssm:GetParameter", "ssm:GetAutomationExecution"):  # fmt: skip
        iam.add_response("simulate_principal_policy", decision(action, "allowed"), None)
    iam.add_response("simulate_principal_policy", decision("ssm:SendAutomationSignal", "implicitDeny"), None)
    for action in ("ssm:GetParameter", "ssm:ListCommands", "ssm:GetParameter", "ssm:ListCommands"):
        iam.add_response("simulate_principal_policy", decision(action, "allowed"), None)
    iam.add_response("simulate_principal_policy", decision("ssm:CancelCommand", "implicitDeny"), None)
    for action in ("ssm:GetParameter", "ssm:GetAutomationExecution", "ssm:GetParameter", "ssm:GetAutomationExecution",
                   "ssm:StopAutomationExecution"):  # fmt: skip
        iam.add_response("simulate_principal_policy", decision(action, "allowed"), None)
    # the caller's role: its path (configured principals) and its trust policy (the grant function's person rule)
    pinned = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
              "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
              "Condition": {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}}}]}  # fmt: skip
    role = {"Path": "/", "RoleName": "BreakGlassOperator", "RoleId": "AROAEXAMPLE00000000000", "CreateDate": START,
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/BreakGlassOperator",
            "AssumeRolePolicyDocument": quote(json.dumps(pinned))}  # fmt: skip
    iam.add_response("get_role", {"Role": role}, {"RoleName": "BreakGlassOperator"})
    # a runbook update CloudFormation did not promote: version 2 exists, version 1 is still the default
    content = json.dumps({"schemaVersion": "0.3", "mainSteps": [{"name": "Wait", "action": "aws:sleep",
                                                                 "inputs": {"Duration": "PT1M"}}]})  # fmt: skip
    ssm = rt.client("ssm")
    ssm.create_document(Name="AllowStartSsmSession", Content=content, DocumentType="Automation")
    ssm.update_document(Name="AllowStartSsmSession", Content=content.replace("PT1M", "PT2M"),
                        DocumentVersion="$LATEST")  # fmt: skip
    with iam, sts:
        code, stdout, stderr = invoke(rt, "--output", "json", "doctor")
    assert code == Exit.OK, stderr
    report = json.loads(stdout)
    assert report["person"] == "yes: alice"  # the session name is pinned to the user name
    assert report["runbook"].startswith("version 2 is newer than the default 1")
    assert report["controls"]["session_prefs"] is False and report["controls"]["break_glass"] is True
    assert report["commands"] == {
        "break-glass": "allowed (without ssm:DescribeInstanceInformation: a check is skipped)",
        "password": "denied: ssm:GetParameter",
        "report rotation": "unknown (iam:SimulatePrincipalPolicy is not allowed)",
        "request-session": "allowed",
        "pending": "allowed",
        "approve": "denied: ssm:SendAutomationSignal",
        "status (command)": "allowed",
        "cancel (command)": "denied: ssm:CancelCommand",
        "status (request)": "allowed",
        "cancel (request)": "allowed",
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


def _trail(cloudtrail: Any, selectors: list[dict[str, Any]], logging: bool = True) -> str:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="org-trail-logs")
    arn = cloudtrail.create_trail(Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=True)["TrailARN"]
    cloudtrail.put_event_selectors(TrailName="org-trail", EventSelectors=selectors)
    if logging:
        cloudtrail.start_logging(Name="org-trail")
    return arn


def test_doctor_names_the_trail_that_feeds_the_cloudtrail_alerts(aws: Any) -> None:
    """A multi-Region trail, logging, write management events: what EventBridge needs to receive
    "AWS API Call via CloudTrail" events (https://docs.aws.amazon.com/eventbridge/latest/userguide/event-types.html)."""
    rt = runtime()
    arn = _trail(rt.client("cloudtrail"), [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    assert doctor.trail_check(rt) == f"recorded by {arn}"


@pytest.mark.parametrize(
    ("selectors", "logging", "reason"),
    [
        (None, True, "no trail applies to eu-west-1"),
        ([{"ReadWriteType": "All", "IncludeManagementEvents": True}], False, "is not logging"),
        ([{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}], True, "records no write management events"),
    ],
    ids=["no trail", "stopped", "read-only"],
)
def test_doctor_says_when_no_trail_feeds_the_cloudtrail_alerts(
    aws: Any, selectors: list | None, logging: bool, reason: str
) -> None:
    rt = runtime()
    if selectors is not None:
        _trail(rt.client("cloudtrail"), selectors, logging)
    verdict = doctor.trail_check(rt)
    assert verdict.startswith("missing: ") and reason in verdict and "alerts never fire" in verdict
