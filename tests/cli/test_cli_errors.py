"""Every error is one line on stderr with the account, the Region and the next step, and a
documented exit code (README "Operator CLI"); nothing is sent to AWS when a check can fail locally."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import botocore.exceptions
import pytest
from botocore.stub import Stubber
from cli_helpers import ACCOUNT, NODE, REGION, SETTINGS, answer, invoke, node_online, runtime, session

from ssm_guardrails_cli.cli_support import hoist_global_options
from ssm_guardrails_cli.runtime import Exit
from ssm_guardrails_cli.settings import SETTINGS_PARAMETER

WHERE = f"account {ACCOUNT}, Region {REGION}"


def one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    assert "Traceback" not in stderr
    return stderr


def test_an_unknown_profile_is_one_line_and_exit_7(aws: Any) -> None:
    rt = runtime()
    rt.session = None  # built from --profile, as on a laptop
    code, _, stderr = invoke(rt, "--profile", "nosuch", "pending")
    assert code == Exit.CREDENTIALS
    assert one_line(stderr) == (
        "error: AWS profile 'nosuch' is not configured: list yours with `aws configure list-profiles`\n"
    )


@pytest.mark.parametrize("error_code", ["ExpiredTokenException", "ExpiredToken", "InvalidClientTokenId"])
def test_expired_credentials_are_exit_7_with_the_sign_in_step(aws: Any, error_code: str) -> None:
    rt = runtime(profile="ops")
    stub = Stubber(rt.client("ssm"))
    stub.add_client_error("get_parameter", error_code, "The security token included in the request is expired")
    with stub:
        code, _, stderr = invoke(rt, "password", NODE)
    assert code == Exit.CREDENTIALS
    assert f"refused ({error_code}): sign in again (for example `aws sso login --profile ops`)" in one_line(stderr)


def test_an_expired_sso_sign_in_is_exit_7(aws: Any) -> None:
    rt = runtime(profile="ops")

    def expired(params: dict[str, Any]) -> dict[str, Any]:
        raise botocore.exceptions.TokenRetrievalError(provider="sso", error_msg="Token has expired")

    answer(rt.client("ssm"), "GetParameter", expired)
    code, _, stderr = invoke(rt, "password", NODE)
    assert code == Exit.CREDENTIALS
    assert one_line(stderr) == "error: your AWS sign-in has expired: run `aws sso login --profile ops` and try again\n"


def test_no_region_is_exit_2(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    rt = runtime(session=session(None))
    rt.session = None  # built from options and environment, as on a laptop
    code, _, stderr = invoke(rt, "password", NODE)
    assert code == Exit.USAGE
    assert "no AWS Region: pass --region, set AWS_REGION" in one_line(stderr)


def test_aws_region_is_honoured_before_aws_default_region(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_REGION precedes AWS_DEFAULT_REGION: https://docs.aws.amazon.com/sdkref/latest/guide/feature-region.html"""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", REGION)  # the settings exist only in REGION
    rt = runtime()
    rt.session = None
    aws.put_parameter(Name=f"/EC2Rescue/Passwords/{NODE}", Value="x", Type="SecureString")
    code, _, stderr = invoke(rt, "password", NODE)
    assert code == Exit.OK, stderr
    assert rt.region == REGION


def test_access_denied_names_the_account_region_and_doctor(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    stub.add_client_error("get_parameter", "AccessDeniedException", "")
    with stub:
        code, _, stderr = invoke(rt, "pending")
    assert code == Exit.DENIED
    assert one_line(stderr) == (
        f"error: GetParameter denied in {WHERE}: (AWS gave no message); "
        "run `ssm-guardrails doctor` to see what your role may run\n"
    )


@pytest.mark.parametrize(("version", "says"), [(2, "upgrade the CLI"), (0, "update the stacks")])
def test_a_settings_version_mismatch_says_which_side_to_upgrade(aws: Any, version: int, says: str) -> None:
    aws.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps({**SETTINGS, "version": version}), Type="String",
                      Overwrite=True)  # fmt: skip
    code, _, stderr = invoke(runtime(), "pending")
    assert code == Exit.MISSING
    assert WHERE in one_line(stderr) and says in stderr


def test_not_deployed_names_account_and_region(aws: Any) -> None:
    aws.delete_parameter(Name=SETTINGS_PARAMETER)
    code, _, stderr = invoke(runtime(), "pending")
    assert code == Exit.MISSING
    assert one_line(stderr) == f"error: SSM Guardrails is not deployed in {WHERE} (no {SETTINGS_PARAMETER} parameter)\n"


@pytest.mark.parametrize(
    "args",
    [
        ["break-glass", "i-XYZ", "--reason", "INC-42"],
        ["break-glass", "web-1", "--reason", "INC-42"],
        ["password", "i-0123"],
        ["request-session", "i-0123456789abcdef0;rm", "--no-connect"],
        ["approve", "not-an-id"],
        ["status", "4f9b0c1e"],
        ["cancel", "../4f9b0c1e-1111-2222-3333-444455556666"],
        ["break-glass", NODE, "--reason", "INC-42", "--resume", "x"],
    ],
)
def test_malformed_ids_are_refused_locally_with_exit_2(aws: Any, args: list[str]) -> None:
    rt = runtime()
    calls: list[str] = []
    rt.client("ssm").meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    code, _, stderr = invoke(rt, *args)
    assert code == Exit.USAGE
    assert "is not a" in one_line(stderr)
    assert calls == []  # nothing went to AWS


def test_an_unknown_node_is_named_with_account_and_region(aws: Any) -> None:
    rt = runtime()
    answer(rt.client("ssm"), "DescribeInstanceInformation", {"InstanceInformationList": []})
    code, _, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42")
    assert code == Exit.FAILED
    assert one_line(stderr).startswith(f"error: {NODE} is not a managed node in {WHERE}: check the id and --region")
    assert aws.list_commands()["Commands"] == []


def test_an_offline_node_gets_nothing_sent(aws: Any) -> None:
    """PingStatus ConnectionLost:
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html"""
    rt = runtime()
    node_online(rt, ping="ConnectionLost")
    code, _, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42")
    assert code == Exit.FAILED
    assert f"{NODE} is ConnectionLost, last seen 2026-11-29 12:00 UTC in {WHERE}: nothing was sent" in one_line(stderr)
    assert aws.list_commands()["Commands"] == []


def test_invalid_instance_id_from_aws_comes_with_a_hint(aws: Any) -> None:
    """SendCommand's InvalidInstanceId arrives without text when the caller may not describe nodes:
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html"""
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    stub.add_response("get_parameter", {"Parameter": {"Name": SETTINGS_PARAMETER, "Value": json.dumps(SETTINGS)}})
    stub.add_client_error("describe_instance_information", "AccessDeniedException", "")
    stub.add_client_error("send_command", "InvalidInstanceId", "")
    with stub:
        code, _, stderr = invoke(rt, "break-glass", NODE, "--reason", "INC-42")
    assert code == Exit.FAILED
    assert one_line(stderr) == (
        f"error: SendCommand failed in {WHERE}: InvalidInstanceId: (AWS gave no message); the node is not a "
        "managed node here, not running, or its SSM Agent is offline: check the id, --region and the node\n"
    )


def test_a_missing_rotated_password_says_why(aws: Any) -> None:
    code, _, stderr = invoke(runtime(), "password", NODE)
    assert code == Exit.FAILED
    assert one_line(stderr).startswith(f"error: no password /EC2Rescue/Passwords/{NODE} in {WHERE}: the rotation has")


def test_an_unknown_execution_id_is_named(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    stub.add_response("get_parameter", {"Parameter": {"Name": SETTINGS_PARAMETER, "Value": json.dumps(SETTINGS)}})
    stub.add_client_error("get_automation_execution", "AutomationExecutionNotFoundException", "")
    with stub:
        code, _, stderr = invoke(rt, "approve", "4f9b0c1e-1111-2222-3333-444455556666")
    assert code == Exit.FAILED
    assert "AutomationExecutionNotFoundException" in one_line(stderr) and "check the id, --region" in stderr


def test_an_unexpected_exception_is_one_line_without_its_text(aws: Any) -> None:
    rt = runtime()
    secret = "Zq8!w-Example-Secret-7Kp"

    def broken(params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError(f"cannot parse {secret}")

    answer(rt.client("ssm"), "GetParameter", broken)
    code, stdout, stderr = invoke(rt, "password", NODE)
    assert code == Exit.FAILED
    assert "unexpected ValueError at test_cli_errors.py:" in one_line(stderr)
    assert secret not in stdout + stderr


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        (["pending", "--output", "json"], ["--output", "json", "pending"]),
        (["approve", "ID", "--region=eu-west-1", "--deny"], ["--region=eu-west-1", "approve", "ID", "--deny"]),
        (["break-glass", NODE, "--reason", "x", "--profile", "ops"], ["--profile", "ops", "break-glass", NODE,
                                                                       "--reason", "x"]),
        (["status", "--", "--output"], ["status", "--", "--output"]),
    ],
)  # fmt: skip
def test_global_options_are_accepted_after_the_command(typed: list[str], parsed: list[str]) -> None:
    assert hoist_global_options(typed) == parsed


def test_output_json_after_the_command_works(aws: Any) -> None:
    rt = runtime()
    stub = Stubber(rt.client("ssm"))
    stub.add_response("get_parameter", {"Parameter": {"Name": SETTINGS_PARAMETER, "Value": json.dumps(SETTINGS)}})
    stub.add_response("describe_automation_executions", {"AutomationExecutionMetadataList": []})
    with stub:
        code, stdout, stderr = invoke(rt, "pending", "--output", "json")
    assert code == Exit.OK, stderr
    assert json.loads(stdout) == {"pending": []}


def test_help_and_version_do_not_import_boto3() -> None:
    """--help stays fast: boto3 (and botocore) are imported by the first command that needs AWS."""
    probe = (
        "import sys; from ssm_guardrails_cli.app import app\n"
        "from typer.testing import CliRunner\n"
        "help = CliRunner().invoke(app, ['--help']).stdout; version = CliRunner().invoke(app, ['--version']).stdout\n"
        "assert 'Exit codes' in help and 'Examples' in help and version.startswith('ssm-guardrails '), help\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
