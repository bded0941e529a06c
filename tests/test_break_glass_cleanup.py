"""The break-glass clean-up Lambda against moto: TTL rule, second run, sweep, bad events, retries."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_helpers import fail_first
from botocore.exceptions import ClientError
from moto import mock_aws

HANDLER = Path(__file__).resolve().parents[1] / "lambdas" / "break_glass_cleanup" / "index.py"
TTL = 60
NODE = "i-0123456789abcdef0"
NAME = f"/BreakGlass/pwd-{NODE}"
SCHEDULED = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-22T10:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"],
    "detail": {},
}


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PARAMETER_PREFIX", "/BreakGlass")
    monkeypatch.setenv("TTL_SECONDS", str(TTL))
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


@pytest.fixture
def cleanup(ssm: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location("break_glass_cleanup_index", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _put(ssm: Any, name: str = NAME) -> None:
    ssm.put_parameter(Name=name, Value="not-a-real-password", Type="SecureString", Overwrite=True)


def _exists(ssm: Any, name: str = NAME) -> bool:
    return bool(ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"])


def _later(module: ModuleType, seconds: float) -> None:
    """Move the handler's clock; moto stamps LastModifiedDate with the real time."""
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    module._now = lambda: moment


def test_expired_password_is_deleted(ssm: Any, cleanup: ModuleType) -> None:
    _put(ssm)
    _later(cleanup, TTL + 1)
    result = cleanup.handler({"instance_id": NODE}, None)
    assert result["deleted"] == [NAME]
    assert not _exists(ssm)


def test_password_younger_than_ttl_is_kept(ssm: Any, cleanup: ModuleType) -> None:
    _put(ssm)
    _later(cleanup, TTL - 5)
    assert cleanup.handler({"instance_id": NODE}, None)["kept"] == [NAME]
    assert _exists(ssm)


def test_second_run_inside_the_ttl_keeps_its_new_password(ssm: Any, cleanup: ModuleType) -> None:
    _put(ssm)  # first run
    _put(ssm)  # second run, a moment later: a new LastModifiedDate
    # The first run's clean-up fires TTL after the first write: the rewrite is not that old yet.
    modified = ssm.describe_parameters()["Parameters"][0]["LastModifiedDate"]
    moment = modified + timedelta(seconds=TTL - 1)
    cleanup._now = lambda: moment
    assert cleanup.handler({"instance_id": NODE}, None)["kept"] == [NAME]
    assert _exists(ssm)


def test_absent_or_already_deleted_password_is_success(ssm: Any, cleanup: ModuleType) -> None:
    assert cleanup.handler({"instance_id": NODE}, None)["absent"] == [NAME]
    _put(ssm)
    _later(cleanup, TTL + 1)
    attempts = fail_first(cleanup._ssm(), "DeleteParameter", "ParameterNotFound", 1)
    assert cleanup.handler({"instance_id": NODE}, None)["deleted"] == [NAME]
    assert len(attempts) == 1  # not retried: already gone is done


def test_sweep_deletes_only_expired_break_glass_parameters(ssm: Any, cleanup: ModuleType) -> None:
    old = [f"/BreakGlass/pwd-i-{n:017x}" for n in range(57)]  # more than one page (50)
    for name in old:
        _put(ssm, name)
    untouched = ["/Other/pwd-i-0123456789abcdef0", "/BreakGlass/keep-me", "/BreakGlassy/pwd-i-0123456789abcdef1"]
    for name in untouched:
        _put(ssm, name)
    _later(cleanup, TTL + 1)
    result = cleanup.handler(SCHEDULED, None)
    assert sorted(result["deleted"]) == sorted(old)
    assert all(not _exists(ssm, name) for name in old)
    assert all(_exists(ssm, name) for name in untouched)


def test_sweep_keeps_fresh_passwords(ssm: Any, cleanup: ModuleType) -> None:
    _put(ssm)
    _later(cleanup, 1)
    assert cleanup.handler(SCHEDULED, None) == {"action": "sweep", "deleted": [], "kept": [NAME], "absent": []}
    assert _exists(ssm)


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {},
        {"instance_id": "i-xyz"},
        {"instance_id": f"{NODE}; rm -rf /"},
        {"instance_id": f"{NODE}/../../Other"},
        {"instance_id": 5},
        {"instance_id": NODE, "extra": 1},
        {**SCHEDULED, "source": "aws.ssm"},
        {"source": "aws.ssm", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "SendCommand"}},
    ],
)
def test_foreign_or_malformed_events_are_rejected_without_any_call(ssm: Any, cleanup: ModuleType, event: Any) -> None:
    calls: list[str] = []
    cleanup._ssm().meta.events.register("before-call.ssm", lambda model, **kwargs: calls.append(model.name))
    with pytest.raises(cleanup.UnsupportedEvent):
        cleanup.handler(event, None)
    assert calls == []


def test_throttling_is_retried(ssm: Any, cleanup: ModuleType) -> None:
    _put(ssm)
    _later(cleanup, TTL + 1)
    attempts = fail_first(cleanup._ssm(), "DeleteParameter", "ThrottlingException", 2)
    assert cleanup.handler({"instance_id": NODE}, None)["deleted"] == [NAME]
    assert len(attempts) == 3
    assert not _exists(ssm)


def test_other_errors_propagate_for_step_functions_to_retry(ssm: Any, cleanup: ModuleType) -> None:
    _put(ssm)
    _later(cleanup, TTL + 1)
    fail_first(cleanup._ssm(), "DeleteParameter", "AccessDeniedException", 99)
    with pytest.raises(ClientError, match="AccessDenied"):
        cleanup.handler({"instance_id": NODE}, None)
