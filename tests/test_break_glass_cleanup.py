"""The break-glass clean-up Lambda against moto: TTL rule, second run, sweep, bad events, retries, writers.

moto 5.2 answers ``LastModifiedUser: "N/A"`` for every parameter; ``aws_helpers.ParameterWriters``
patches its backend so each write is recorded as made by the node named in ``pwd-<id>`` (the
legitimate writer) unless a test spoofs another writer with ``acting_as``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.session
import pytest
from aws_helpers import ParameterWriters, fail_first, instance_session, topic_with_inbox
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
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The test's own client (to arrange and inspect), inside moto, with fake credentials."""
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PARAMETER_PREFIX": "/BreakGlass",
        "TTL_SECONDS": str(TTL),
    }.items():
        monkeypatch.setenv(variable, value)
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


@pytest.fixture
def writers(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> ParameterWriters:
    """Every write is the node's own unless a test says otherwise (``acting_as``)."""
    return ParameterWriters(
        monkeypatch, default=lambda name: instance_session(name.rsplit("/", 1)[-1].removeprefix("pwd-"))
    )


@pytest.fixture
def cleanup(ssm: Any, writers: ParameterWriters) -> Iterator[ModuleType]:
    """The handler module, loaded by path after the environment is set; its client is per test."""
    spec = importlib.util.spec_from_file_location("break_glass_cleanup_index", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module._ssm.cache_clear()
    module._sns.cache_clear()


def _outcome(action: str, **names: list[str]) -> dict[str, Any]:
    return {"action": action, "deleted": [], "kept": [], "absent": [], "alerts": [], **names}


def _put(ssm: Any, name: str = NAME) -> datetime:
    """Write a parameter the way a break-glass run does; return its LastModifiedDate."""
    ssm.put_parameter(Name=name, Value="not-a-real-password", Type="SecureString", Overwrite=True)
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    return found[0]["LastModifiedDate"]


def _exists(ssm: Any, name: str = NAME) -> bool:
    return bool(ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"])


def _clock_at(module: ModuleType, moment: datetime) -> None:
    module._now = lambda: moment


def _calls(client: Any, operation: str = "*") -> list[dict[str, Any]]:
    """Record the parameters of every call of ``operation`` the client makes."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        seen.append(params)

    client.meta.events.register(f"before-parameter-build.ssm.{operation}", record)
    return seen


def _meanwhile_delete(client: Any, operation: str, ssm: Any, name: str) -> None:
    """Just before ``client`` sends ``operation``, someone else deletes ``name``."""

    def delete(**kwargs: Any) -> None:  # a before-call handler that returns a value replaces the call
        ssm.delete_parameter(Name=name)

    client.meta.events.register(f"before-call.ssm.{operation}", delete)


def test_expired_password_is_deleted(ssm: Any, cleanup: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    written = _put(ssm)
    _clock_at(cleanup, written + timedelta(seconds=TTL + 1))
    with caplog.at_level(logging.INFO, logger="break_glass_cleanup"):
        result = cleanup.handler({"instance_id": NODE}, None)
    assert result == _outcome("expire", deleted=[NAME])
    assert not _exists(ssm)
    assert [json.loads(record.getMessage()) for record in caplog.records] == [result]  # names only, no value


def test_password_younger_than_ttl_is_kept(ssm: Any, cleanup: ModuleType) -> None:
    written = _put(ssm)
    _clock_at(cleanup, written + timedelta(seconds=TTL - 1))
    assert cleanup.handler({"instance_id": NODE}, None) == _outcome("expire", kept=[NAME])
    assert _exists(ssm)


def test_absent_password_is_success(ssm: Any, cleanup: ModuleType) -> None:
    assert cleanup.handler({"instance_id": NODE}, None) == _outcome("expire", absent=[NAME])
    assert cleanup.handler({"instance_id": "mi-0123456789abcdef0"}, None)["absent"] == [
        "/BreakGlass/pwd-mi-0123456789abcdef0"
    ]


def test_password_deleted_between_describe_and_delete_is_success(ssm: Any, cleanup: ModuleType) -> None:
    written = _put(ssm)
    _clock_at(cleanup, written + timedelta(seconds=TTL + 1))
    # A real race in moto: the parameter disappears just before the handler's DeleteParameter is sent.
    _meanwhile_delete(cleanup._ssm(), "DeleteParameter", ssm, NAME)
    assert cleanup.handler({"instance_id": NODE}, None) == _outcome("expire", absent=[NAME])


def test_second_run_inside_the_ttl_keeps_its_new_password(ssm: Any, cleanup: ModuleType) -> None:
    first = _put(ssm)  # first run
    time.sleep(0.01)  # moto stamps LastModifiedDate with the real time, to the millisecond
    second = _put(ssm)  # second run on the same node, inside the TTL: a new password
    assert second > first
    # The first run's clean-up fires TTL after its own write: the new password is younger than that.
    _clock_at(cleanup, first + timedelta(seconds=TTL))
    assert cleanup.handler({"instance_id": NODE}, None)["kept"] == [NAME]
    assert _exists(ssm)
    # The second run's clean-up fires TTL after the rewrite and removes it.
    _clock_at(cleanup, second + timedelta(seconds=TTL))
    assert cleanup.handler({"instance_id": NODE}, None)["deleted"] == [NAME]
    assert not _exists(ssm)


def test_sweep_deletes_only_expired_break_glass_passwords(ssm: Any, cleanup: ModuleType) -> None:
    old = [f"/BreakGlass/pwd-i-{n:017x}" for n in range(27)]
    fresh = [f"/BreakGlass/pwd-mi-{n:017x}" for n in range(26)]
    untouched = [
        "/Other/pwd-i-0123456789abcdef0",  # another prefix
        "/BreakGlassy/pwd-i-0123456789abcdef0",  # a prefix that merely starts the same way
        "/BreakGlass/keep-me",  # under the prefix, not a password
        "/BreakGlass/pwd-admin",  # pwd-, but no node id: instances may not write it (issue 23 item 3)
        "/BreakGlass/nested/pwd-i-0123456789abcdef0",  # deeper than the passwords live
    ]
    for name in old + fresh + untouched:
        _put(ssm, name)
    # moto stamps LastModifiedDate with the real time, so every parameter above is milliseconds
    # old. The handler's clock stops now, and the handler's DescribeParameters answers say the
    # "old" ones (and the untouched ones, to prove they are left alone by name, not by age) were
    # written TTL + 1 s earlier. Deterministic: fresh ones are younger than TTL by nearly a
    # minute, old ones older by at least a second, whatever the machine's speed.
    _clock_at(cleanup, datetime.now(UTC))

    def age_old_parameters(parsed: dict[str, Any], **kwargs: Any) -> None:
        for parameter in parsed["Parameters"]:
            if parameter["Name"] in old or parameter["Name"] in untouched:
                parameter["LastModifiedDate"] -= timedelta(seconds=TTL + 1)

    client = cleanup._ssm()
    client.meta.events.register("after-call.ssm.DescribeParameters", age_old_parameters)
    describes, deletes = _calls(client, "DescribeParameters"), _calls(client, "DeleteParameters")

    result = cleanup.handler(SCHEDULED, None)

    assert sorted(result["deleted"]) == sorted(old)
    assert sorted(result["kept"]) == sorted(fresh)
    assert result["absent"] == []
    assert len(describes) > 1  # paged (moto answers 10 at a time)
    assert [len(call["Names"]) for call in deletes] == [10, 10, 7]
    assert not any(_exists(ssm, name) for name in old)
    assert all(_exists(ssm, name) for name in fresh + untouched)


def _operations(client: Any) -> list[str]:
    """The name of every API call the client makes, in order."""
    seen: list[str] = []
    client.meta.events.register("before-call.ssm.*", lambda model, **kwargs: seen.append(model.name))
    return seen


def test_a_sweep_is_one_describe_page_at_the_usual_number_of_passwords(ssm: Any, cleanup: ModuleType) -> None:
    """Issue 13 item 8: the sweeper runs every minute, so a run must stay one metadata page.

    A password lives TTL + at most about a minute, so only nodes broken into in the last minutes
    have one; the sweeper asks for the largest page DescribeParameters allows (50, botocore's model
    of the API: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeParameters.html).
    moto pages by 10 whatever MaxResults says, so nine passwords are one page here (AWS: up to 50,
    best effort; a full page may come with a token for an empty next one, as moto's does). No value
    is read: no GetParameter*, no GetParametersByPath.
    """
    names = [f"/BreakGlass/pwd-i-{n:017x}" for n in range(9)]
    for name in names:
        _put(ssm, name)
    _clock_at(cleanup, datetime.now(UTC) + timedelta(seconds=TTL + 1))
    client = cleanup._ssm()
    operations, describes = _operations(client), _calls(client, "DescribeParameters")

    result = cleanup.handler(SCHEDULED, None)

    assert sorted(result["deleted"]) == names
    assert operations == ["DescribeParameters", "DeleteParameters"]
    assert describes == [
        {"ParameterFilters": [{"Key": "Path", "Option": "OneLevel", "Values": ["/BreakGlass"]}], "MaxResults": 50}
    ]
    model = botocore.session.get_session().get_service_model("ssm").operation_model("DescribeParameters")
    assert model.input_shape.members["MaxResults"].metadata["max"] == cleanup.DESCRIBE_PAGE == 50


def test_a_sweep_with_nothing_expired_makes_one_call(ssm: Any, cleanup: ModuleType) -> None:
    _put(ssm)
    _clock_at(cleanup, datetime.now(UTC))
    operations = _operations(cleanup._ssm())
    assert cleanup.handler(SCHEDULED, None) == _outcome("sweep", kept=[NAME])
    assert operations == ["DescribeParameters"]


def test_sweep_counts_passwords_already_gone_as_absent(ssm: Any, cleanup: ModuleType) -> None:
    names = [f"/BreakGlass/pwd-i-{n:017x}" for n in range(3)]
    for name in names:
        _put(ssm, name)
    _clock_at(cleanup, datetime.now(UTC) + timedelta(seconds=TTL + 1))
    _meanwhile_delete(cleanup._ssm(), "DeleteParameters", ssm, names[1])
    result = cleanup.handler(SCHEDULED, None)
    assert result == _outcome("sweep", deleted=[names[0], names[2]], absent=[names[1]])
    assert not any(_exists(ssm, name) for name in names)


def test_sweep_with_nothing_to_do(ssm: Any, cleanup: ModuleType) -> None:
    assert cleanup.handler(SCHEDULED, None) == _outcome("sweep")


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        [{"instance_id": NODE}],
        {},
        "i-0123456789abcdef0",
        {"instance_id": "i-xyz"},
        {"instance_id": "i-0123"},
        {"instance_id": "I-0123456789ABCDEF0"},
        {"instance_id": f"{NODE}\n"},
        {"instance_id": f"{NODE}; rm -rf /"},
        {"instance_id": f"{NODE}/../../Other"},
        {"instance_id": 5},
        {"instance_id": [NODE]},
        {"instance_id": NODE, "extra": 1},
        {"instanceId": NODE},
        {**SCHEDULED, "source": "aws.ssm"},
        {**SCHEDULED, "detail-type": "EC2 Instance State-change Notification"},
        {"source": "aws.ssm", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "SendCommand"}},
    ],
)
def test_foreign_or_malformed_events_are_rejected_without_any_call(ssm: Any, cleanup: ModuleType, event: Any) -> None:
    calls = _calls(cleanup._ssm())
    with pytest.raises(cleanup.UnsupportedEvent):
        cleanup.handler(event, None)
    assert calls == []
    assert issubclass(cleanup.UnsupportedEvent, ValueError)
    cleanup._ssm().describe_parameters()
    assert len(calls) == 1  # the recorder does see calls


@pytest.mark.parametrize("throttled", [2, 7])  # 7: more than botocore's default budget of 5 attempts
def test_throttling_is_retried_with_backoff(
    ssm: Any, cleanup: ModuleType, monkeypatch: pytest.MonkeyPatch, throttled: int
) -> None:
    written = _put(ssm)
    _clock_at(cleanup, written + timedelta(seconds=TTL + 1))
    pauses: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", pauses.append)  # keep the backoff, skip the wait
    attempts = fail_first(cleanup._ssm(), "DeleteParameter", "ThrottlingException", throttled)
    assert cleanup.handler({"instance_id": NODE}, None)["deleted"] == [NAME]
    assert len(attempts) == throttled + 1
    assert len(pauses) == throttled
    assert not _exists(ssm)


def test_other_errors_propagate_unretried_for_step_functions(ssm: Any, cleanup: ModuleType) -> None:
    written = _put(ssm)
    _clock_at(cleanup, written + timedelta(seconds=TTL + 1))
    attempts = fail_first(cleanup._ssm(), "DeleteParameter", "AccessDeniedException", 99)
    with pytest.raises(ClientError, match="AccessDenied"):
        cleanup.handler({"instance_id": NODE}, None)
    assert len(attempts) == 1
    assert _exists(ssm)


# ------------------------------------------------------------------------------------- the writer

OTHER_NODE = "i-0fedcba9876543210"
ATTACKER = instance_session(OTHER_NODE)


def _alert(name: str, writer: str, node: str = NODE) -> dict[str, str]:
    return {
        "parameter": name,
        "last_modified_user": writer,
        "reason": f"last written by {writer}, not by {node}: deleted at once",
    }


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        (f"arn:aws:sts::123456789012:assumed-role/LinuxFleetRole/{NODE}", True),
        (f"arn:aws-cn:sts::123456789012:assumed-role/LinuxFleetRole/{NODE}", True),
        (ATTACKER, False),
        (f"arn:aws:sts::123456789012:assumed-role/LinuxFleetRole/{NODE}0", False),
        (f"arn:aws:sts::123456789012:assumed-role/LinuxFleetRole/x{NODE}", False),
        ("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com", False),
        (f"arn:aws:iam::123456789012:user/{NODE}", False),
        ("N/A", False),
        ("", False),
    ],
)
def test_written_by_node(cleanup: ModuleType, writer: str, expected: bool) -> None:
    assert cleanup.written_by_node(writer, NODE) is expected


def test_foreign_write_alert_on_describe_parameters_data(cleanup: ModuleType) -> None:
    entry = {
        "Name": NAME,
        "ARN": f"arn:aws:ssm:us-east-1:123456789012:parameter{NAME}",
        "Type": "SecureString",
        "KeyId": "alias/break-glass",
        "LastModifiedDate": datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
        "LastModifiedUser": instance_session(NODE),
        "Version": 2,
        "Tier": "Standard",
        "Policies": [],
        "DataType": "text",
    }
    assert cleanup.foreign_write_alert(entry) is None
    assert cleanup.foreign_write_alert({**entry, "LastModifiedUser": ATTACKER}) == _alert(NAME, ATTACKER)
    managed = "/BreakGlass/pwd-mi-0123456789abcdef0"
    assert cleanup.foreign_write_alert({**entry, "Name": managed, "LastModifiedUser": instance_session(NODE)}) == {
        "parameter": managed,
        "last_modified_user": instance_session(NODE),
        "reason": f"last written by {instance_session(NODE)}, not by mi-0123456789abcdef0: deleted at once",
    }
    del entry["LastModifiedUser"]
    assert cleanup.foreign_write_alert(entry)["reason"] == (
        f"last written by an unrecorded principal, not by {NODE}: deleted at once"
    )


def test_password_rewritten_by_another_node_is_deleted_at_once_with_every_version(
    ssm: Any, cleanup: ModuleType, writers: ParameterWriters, caplog: pytest.LogCaptureFixture
) -> None:
    written = _put(ssm)  # the node's own break-glass password
    with writers.acting_as(ATTACKER):
        _put(ssm)  # another node rewrites it, to keep it (and the real password, version 1) alive
    _clock_at(cleanup, written + timedelta(seconds=TTL))  # the node's expire call: the parameter is young
    with caplog.at_level(logging.INFO, logger="break_glass_cleanup"):
        result = cleanup.handler({"instance_id": NODE}, None)
    assert result == _outcome("expire", deleted=[NAME], alerts=[_alert(NAME, ATTACKER)])
    assert not _exists(ssm)
    with pytest.raises(ClientError, match="ParameterNotFound"):
        ssm.get_parameter_history(Name=NAME)  # no older version left to read
    errors = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [{"alert": _alert(NAME, ATTACKER)}]


def test_foreign_write_is_deleted_even_when_written_just_now(
    ssm: Any, cleanup: ModuleType, writers: ParameterWriters
) -> None:
    with writers.acting_as(ATTACKER):
        written = _put(ssm)
    _clock_at(cleanup, written)  # age zero: the TTL rule alone would keep it
    assert cleanup.handler({"instance_id": NODE}, None)["deleted"] == [NAME]
    assert not _exists(ssm)


def test_alert_is_published_when_a_topic_is_configured(
    ssm: Any, cleanup: ModuleType, writers: ParameterWriters, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic_arn, read = topic_with_inbox("us-east-1", "break-glass-alerts")
    monkeypatch.setenv("TOPIC_ARN", topic_arn)
    admin = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com"
    with writers.acting_as(admin):
        _put(ssm)
    cleanup.handler({"instance_id": NODE}, None)
    [envelope] = read()
    assert envelope["Subject"] == "Break-glass: 1 password(s) written by another principal, deleted"
    assert envelope["Message"] == f"{NAME}  last written by {admin}, not by {NODE}: deleted at once"
    # The node's own writes raise nothing.
    _put(ssm)
    cleanup.handler({"instance_id": NODE}, None)
    assert read() == []


def test_sweep_deletes_foreign_writes_at_once_and_keeps_young_own_writes(
    ssm: Any, cleanup: ModuleType, writers: ParameterWriters
) -> None:
    own = [f"/BreakGlass/pwd-i-{n:017x}" for n in range(3)]
    foreign = [f"/BreakGlass/pwd-i-{n:017x}" for n in range(3, 15)]  # more than one DeleteParameters batch
    for name in own:
        _put(ssm, name)
    with writers.acting_as(ATTACKER):
        for name in foreign:
            _put(ssm, name)
    _clock_at(cleanup, datetime.now(UTC))  # everything is younger than the TTL
    deletes = _calls(cleanup._ssm(), "DeleteParameters")
    result = cleanup.handler(SCHEDULED, None)
    assert sorted(result["deleted"]) == sorted(foreign)
    assert sorted(result["kept"]) == sorted(own)
    assert [alert["parameter"] for alert in result["alerts"]] == sorted(foreign)
    assert all(alert["last_modified_user"] == ATTACKER for alert in result["alerts"])
    assert [len(call["Names"]) for call in deletes] == [10, 2]
    assert all(_exists(ssm, name) for name in own)
    assert not any(_exists(ssm, name) for name in foreign)


def test_node_rewriting_its_own_password_still_follows_the_ttl(
    ssm: Any, cleanup: ModuleType, writers: ParameterWriters
) -> None:
    with writers.acting_as(ATTACKER):
        _put(ssm)
    _put(ssm)  # the node's own later run overwrites the foreign write: legitimate again
    _clock_at(cleanup, datetime.now(UTC))
    assert cleanup.handler({"instance_id": NODE}, None) == _outcome("expire", kept=[NAME])
