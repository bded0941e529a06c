"""Shared by the operator CLI tests: settings as the stacks publish them, a fake clock and clipboard,
a Runtime on moto, and botocore hooks for what moto lacks (DescribeInstanceInformation) or what a
node does (store the password when the command arrives)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from rich.console import Console
from typer.testing import CliRunner

from ssm_guardrails_cli.app import app
from ssm_guardrails_cli.runtime import Runtime

REGION = "eu-west-1"
ACCOUNT = "123456789012"
NODE = "i-0123456789abcdef0"
EXECUTION = "4f9b0c1e-1111-2222-3333-444455556666"
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
BREAK_GLASS_PARAMETER = f"/Emergency/pwd-{NODE}"


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
    def __init__(self, works: bool = True) -> None:
        self.history: list[str] = []
        self.works = works

    def check(self) -> None:
        if not self.works:
            raise RuntimeError("no clipboard mechanism")  # pyperclip's PyperclipException is a RuntimeError

    def copy(self, text: str) -> None:
        self.history.append(text)

    def paste(self) -> str:
        return self.history[-1] if self.history else ""


_LOADER = botocore.session.get_session().get_component("data_loader")


def session(region: str | None = REGION) -> boto3.Session:
    """A new boto3 session that shares one loader of service models: parsing the SSM model again for
    every test costs about 0.3 s each."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(region_name=region, botocore_session=core)


def runtime(tty: bool = True, clock: FakeClock | None = None, **kwargs: Any) -> Runtime:
    clock = clock or FakeClock()
    return Runtime(
        session=kwargs.pop("session", None) or session(),
        console=Console(file=io.StringIO(), width=80),
        error_console=Console(file=io.StringIO(), width=80),
        clock=clock,
        sleep=clock.sleep,
        is_tty=lambda: tty,
        clipboard=kwargs.pop("clipboard", None) or FakeClipboard(),
        **kwargs,
    )


def invoke(rt: Runtime, *args: str) -> tuple[int, str, str]:
    """Run the CLI; return (exit code, everything on stdout, everything on stderr)."""
    result = CliRunner().invoke(app, list(args), obj=rt)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    stdout = rt.console.file.getvalue() + result.stdout
    return result.exit_code, stdout, rt.error_console.file.getvalue() + (result.stderr or "")


def answer(client: Any, operation: str, response: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Answer ``operation`` on this client without moto (which lacks it): a botocore before-call
    handler's (http, parsed) return value replaces the call."""

    def handler(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        # ``params`` is the serialized request; these JSON protocol services carry the API parameters as its body
        parsed = response(json.loads(params["body"] or b"{}")) if callable(response) else response
        status = parsed.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
        return AWSResponse("https://ssm.test", status, {}, None), parsed

    client.meta.events.register(f"before-call.{client.meta.service_model.service_name}.{operation}", handler)


def node_online(rt: Runtime, ping: str = "Online", platform: str = "Linux") -> None:
    info = {"InstanceId": NODE, "PingStatus": ping, "PlatformType": platform, "LastPingDateTime": START}
    answer(rt.client("ssm"), "DescribeInstanceInformation", {"InstanceInformationList": [info]})


def node_stores_password_on_send(rt: Runtime, value: str = PASSWORD) -> None:
    """What the document does on the node (moto runs no script): store the password."""
    writer = boto3.client("ssm", region_name=REGION)

    def store(**_: Any) -> None:
        writer.put_parameter(Name=BREAK_GLASS_PARAMETER, Value=value, Type="SecureString", Overwrite=True)

    rt.client("ssm").meta.events.register("after-call.ssm.SendCommand", store)


def cleanup_deletes_at(clock: FakeClock, ssm: Any, seconds: int) -> None:
    clock.at(clock.start + timedelta(seconds=seconds), lambda: ssm.delete_parameter(Name=BREAK_GLASS_PARAMETER))


def assert_password_only_in(where: str, outputs: dict[str, str], logs: pytest.LogCaptureFixture) -> None:
    assert all(PASSWORD not in record.getMessage() for record in logs.records), "a log record holds the password"
    for name, text in outputs.items():
        assert (PASSWORD in text) == (name == where), f"password {'missing from' if name == where else 'in'} {name}"
