"""The rotation freshness report against moto: fresh, stale and missing passwords, pagination, writers.

moto 5.2 answers ``LastModifiedUser: "N/A"`` for every parameter; ``aws_helpers.ParameterWriters``
patches its backend so each write is recorded as made by the instance itself (the legitimate
writer) unless a test spoofs another writer with ``acting_as``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_helpers import ParameterWriters, instance_session, topic_with_inbox
from botocore.stub import Stubber
from moto import mock_aws

HANDLER = Path(__file__).resolve().parents[1] / "lambdas" / "rotation_freshness" / "index.py"
MAX_AGE = 8 * 86400
SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    with mock_aws():
        topic_arn, read = topic_with_inbox("us-east-1", "alerts")
        monkeypatch.setenv("TAG_FILTERS", json.dumps({"Environment": ["Production", "Prod"]}))
        monkeypatch.setenv("PASSWORD_PATH", "/EC2Rescue/Passwords")
        monkeypatch.setenv("MAX_AGE_SECONDS", str(MAX_AGE))
        monkeypatch.setenv("TOPIC_ARN", topic_arn)
        monkeypatch.setenv("WINDOW_NAME", "production-window")
        writers = ParameterWriters(monkeypatch, default=lambda name: instance_session(name.rsplit("/", 1)[-1]))
        yield {"read": read, "writers": writers}


@pytest.fixture
def report(aws: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location("rotation_freshness_index", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _image(windows: bool) -> str:
    """An Amazon Windows (or Amazon Linux 2) image of moto's built-in catalogue, which is the same in
    every test: looked up once per run, and narrowed by a filter, because describing all of the
    catalogue's 1,300 images takes moto over 2 s. DescribeImages filters ``platform`` (``windows``)
    and ``name``: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImages.html"""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    narrowed = {"Name": "platform", "Values": ["windows"]} if windows else {"Name": "name", "Values": ["amzn2-ami-*"]}
    images = ec2.describe_images(Owners=["amazon"], Filters=[narrowed])["Images"]
    return next(i for i in images if (i.get("Platform") == "windows") == windows)["ImageId"]


def _instances(count: int, *, windows: bool = True, tags: dict[str, str] | None = None, ec2: Any = None) -> list[str]:
    """``count`` running instances in one reservation (``ec2``: a client to reuse, for many calls)."""
    ec2 = ec2 or boto3.client("ec2", region_name="us-east-1")
    image = _image(windows)
    tag_list = [{"Key": k, "Value": v} for k, v in (tags or {"Environment": "Production"}).items()]
    reservation = ec2.run_instances(
        ImageId=image,
        MinCount=count,
        MaxCount=count,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}],
    )
    return [instance["InstanceId"] for instance in reservation["Instances"]]


def _store_passwords(instance_ids: list[str]) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    for instance_id in instance_ids:
        ssm.put_parameter(Name=f"/EC2Rescue/Passwords/{instance_id}", Value="x", Type="SecureString")


def _messages(aws: Any) -> list[str]:
    return [envelope["Message"] for envelope in aws["read"]()]


def test_fresh_passwords_publish_nothing(aws: Any, report: ModuleType) -> None:
    instances = _instances(2)
    _store_passwords(instances)
    summary = report.handler(SCHEDULED_EVENT, None)
    assert summary == {
        "window": "production-window", "checked": 2, "missing": [], "stale": [], "reasons": {}, "skipped": [],
        "max_concurrency": "",
    }  # fmt: skip
    assert _messages(aws) == []


def test_missing_and_stale_passwords_are_reported_once(
    aws: Any, report: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated = _instances(2)
    _store_passwords(rotated)
    never_rotated = _instances(1)
    # Nine days later, nobody rotated anything: every stored password is now stale.
    later = datetime.now(UTC) + timedelta(days=9)
    monkeypatch.setattr(report, "_now", lambda: later)
    summary = report.handler(SCHEDULED_EVENT, None)
    assert summary["missing"] == never_rotated
    assert summary["stale"] == sorted(rotated)
    [message] = _messages(aws)
    assert f"MISSING  {never_rotated[0]}" in message
    assert all(f"STALE    {instance}" in message for instance in rotated)
    assert "production-window" in message


def test_no_notify_reports_without_publishing(aws: Any, report: ModuleType) -> None:
    """`ssm-guardrails report rotation --no-notify` sends {"notify": false}: the same summary, no alert."""
    missing = _instances(1)
    summary = report.handler({"notify": False}, None)
    assert summary["missing"] == missing
    assert _messages(aws) == []
    report.handler({}, None)  # by hand without the flag: alerts as on its schedule
    assert len(_messages(aws)) == 1


def test_stopped_linux_and_untagged_instances_are_ignored(aws: Any, report: ModuleType) -> None:
    stopped = _instances(1)
    boto3.client("ec2", region_name="us-east-1").stop_instances(InstanceIds=stopped)
    _instances(1, windows=False)
    _instances(1, tags={"Environment": "Test"})
    other_value = _instances(1, tags={"Environment": "Prod"})
    summary = report.handler({}, None)  # by hand
    assert summary["checked"] == 1
    assert summary["missing"] == other_value


def test_pagination_over_instances_and_parameters(aws: Any, report: ModuleType) -> None:
    pages = []
    report._client("ec2").meta.events.register("after-call.ec2.DescribeInstances", lambda **kw: pages.append(1))
    ec2 = boto3.client("ec2", region_name="us-east-1")
    instances = [_instances(1, ec2=ec2)[0] for _ in range(60)]  # moto pages by reservation
    _store_passwords(instances[:55])  # DescribeParameters pages hold at most 50
    summary = report.handler(SCHEDULED_EVENT, None)
    assert summary["checked"] == 60
    assert summary["missing"] == sorted(instances[55:])
    assert summary["stale"] == []
    assert len(pages) == 2  # 60 instances, 50 a page


def test_other_paths_do_not_count_as_rotated(aws: Any, report: ModuleType) -> None:
    [instance] = _instances(1)
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=f"/Elsewhere/{instance}", Value="x", Type="SecureString"
    )
    assert report.handler(SCHEDULED_EVENT, None)["missing"] == [instance]


@pytest.mark.parametrize("event", [None, [], "run"])
def test_non_object_events_are_rejected(aws: Any, report: ModuleType, event: Any) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        report.handler(event, None)


# ------------------------------------------------------------------------------------- the writer


def _described(name: str, writer: str, modified: datetime) -> dict[str, Any]:
    """One DescribeParameters entry, shaped as Parameter Store returns it."""
    return {
        "Name": name,
        "ARN": f"arn:aws:ssm:us-east-1:123456789012:parameter{name}",
        "Type": "SecureString",
        "KeyId": "alias/ec2rescue-passwords",
        "LastModifiedDate": modified,
        "LastModifiedUser": writer,
        "Version": 3,
        "Tier": "Standard",
        "Policies": [],
        "DataType": "text",
    }


NODE = "i-0123456789abcdef0"


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        (f"arn:aws:sts::123456789012:assumed-role/WindowsFleetRole/{NODE}", True),
        (f"arn:aws-us-gov:sts::123456789012:assumed-role/WindowsFleetRole/{NODE}", True),
        ("arn:aws:sts::123456789012:assumed-role/WindowsFleetRole/i-0fedcba9876543210", False),  # another instance
        (f"arn:aws:sts::123456789012:assumed-role/WindowsFleetRole/{NODE}0", False),  # longer id, same start
        (f"arn:aws:sts::123456789012:assumed-role/WindowsFleetRole/{NODE[:-1]}", False),  # shorter id
        ("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com", False),
        ("arn:aws:iam::123456789012:user/i-0123456789abcdef0", False),  # an IAM user named like the instance
        (f"arn:aws:sts::123456789012:federated-user/{NODE}", False),
        (f"arn:aws:sts::123456789012:assumed-role/WindowsFleetRole/{NODE}/extra", False),
        ("N/A", False),  # what moto answers
        ("", False),
    ],
)
def test_written_by_node(report: ModuleType, writer: str, expected: bool) -> None:
    assert report.written_by_node(writer, NODE) is expected


def test_stale_reason_on_describe_parameters_data(report: ModuleType) -> None:
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    cutoff = now - timedelta(seconds=MAX_AGE)
    name = f"/EC2Rescue/Passwords/{NODE}"
    own = f"arn:aws:sts::123456789012:assumed-role/WindowsFleetRole/{NODE}"
    other = "arn:aws:sts::123456789012:assumed-role/WindowsFleetRole/i-0fedcba9876543210"
    assert report.stale_reason(NODE, _described(name, own, now), cutoff) is None
    assert report.stale_reason(NODE, _described(name, own, cutoff - timedelta(seconds=1)), cutoff) == (
        f"last rotated {(cutoff - timedelta(seconds=1)).isoformat()}"
    )
    # Written a minute ago, but by another instance: stale whatever the date.
    assert report.stale_reason(NODE, _described(name, other, now), cutoff) == (
        f"last written by {other}, not by {NODE}"
    )
    unrecorded = _described(name, own, now)
    del unrecorded["LastModifiedUser"]
    assert report.stale_reason(NODE, unrecorded, cutoff) == f"last written by an unrecorded principal, not by {NODE}"


def test_moto_records_no_writer_of_its_own(report: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the tests patch moto: without ParameterWriters, moto 5.2 answers "N/A" for every writer."""
    monkeypatch.undo()  # removes the ParameterWriters patch (and the environment, unused here)
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name=f"/EC2Rescue/Passwords/{NODE}", Value="x", Type="SecureString")
    [parameter] = ssm.describe_parameters()["Parameters"]
    assert parameter["LastModifiedUser"] == "N/A"


def test_password_refreshed_by_another_instance_is_stale(aws: Any, report: ModuleType) -> None:
    victim, attacker = _instances(2)
    _store_passwords([attacker])  # the attacker's own rotation: legitimate
    # The attacker's instance-profile credentials rewrite the victim's parameter (the instance
    # policy allows PutParameter on every /EC2Rescue/Passwords/*): a fresh date, a foreign writer.
    attacker_session = instance_session(attacker)
    with aws["writers"].acting_as(attacker_session):
        _store_passwords([victim])
    summary = report.handler(SCHEDULED_EVENT, None)
    assert summary["missing"] == []
    assert summary["stale"] == [victim]
    assert summary["reasons"] == {victim: f"last written by {attacker_session}, not by {victim}"}
    [message] = _messages(aws)
    assert f"STALE    {victim}  last written by {attacker_session}, not by {victim}" in message
    assert attacker not in message.replace(attacker_session, "")


def test_password_written_by_a_person_is_stale_until_the_instance_rotates_again(aws: Any, report: ModuleType) -> None:
    [instance] = _instances(1)
    admin = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com"
    with aws["writers"].acting_as(admin):
        _store_passwords([instance])
    assert report.handler(SCHEDULED_EVENT, None)["reasons"] == {instance: f"last written by {admin}, not by {instance}"}
    ssm = boto3.client("ssm", region_name="us-east-1")
    # The next rotation window: EC2Rescue on the instance writes a new password with its own credentials.
    ssm.put_parameter(Name=f"/EC2Rescue/Passwords/{instance}", Value="y", Type="SecureString", Overwrite=True)
    assert report.handler(SCHEDULED_EVENT, None)["stale"] == []


# ----------------------------------------------------------------------------- the window ran out (issue 23 item 16)

WINDOW_ID = "mw-0123456789abcdef0"
RUN = "1a2b3c4d-1234-5678-90ab-1a2b3c4d5e6f"
TASK = "6417e808-7f35-4d1a-843f-123456789012"
COMMAND = "e5f6a7b8-1234-5678-90ab-0123456789ab"


def _window_history(client: Any, invocations: list[dict[str, str]]) -> Stubber:
    """The window's last execution as the API answers it (shapes from botocore's model of
    DescribeMaintenanceWindowExecutions, ...ExecutionTasks, ...ExecutionTaskInvocations, ListCommandInvocations)."""
    stubber = Stubber(client)
    older = datetime(2026, 11, 22, 5, tzinfo=UTC)
    stubber.add_response(
        "describe_maintenance_window_executions",
        {"WindowExecutions": [
            {"WindowId": WINDOW_ID, "WindowExecutionId": "0" * 8 + RUN[8:], "Status": "SUCCESS", "StartTime": older},
            {"WindowId": WINDOW_ID, "WindowExecutionId": RUN, "Status": "SUCCESS",
             "StartTime": older + timedelta(days=7)},
        ]},
        {"WindowId": WINDOW_ID, "MaxResults": 10},
    )  # fmt: skip
    stubber.add_response(
        "describe_maintenance_window_execution_tasks",
        {"WindowExecutionTaskIdentities": [{"WindowExecutionId": RUN, "TaskExecutionId": TASK, "TaskType": "RUN_COMMAND"}]},
        {"WindowExecutionId": RUN},
    )  # fmt: skip
    stubber.add_response(
        "describe_maintenance_window_execution_task_invocations",
        {"WindowExecutionTaskInvocationIdentities": [
            {"WindowExecutionId": RUN, "TaskExecutionId": TASK, "InvocationId": "0f1e2d3c-1234-5678-90ab-0123456789ab", "ExecutionId": COMMAND,
             "TaskType": "RUN_COMMAND", "Status": "TIMED_OUT"},
        ]},
        {"WindowExecutionId": RUN, "TaskId": TASK},
    )  # fmt: skip
    stubber.add_response(
        "list_command_invocations",
        {"CommandInvocations": [{"CommandId": COMMAND, **invocation} for invocation in invocations]},
        {"CommandId": COMMAND},
    )
    return stubber


def test_instances_the_window_never_reached_are_found_in_its_last_run(report: ModuleType) -> None:
    # StatusDetails values of a command invocation:
    # https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
    client = report._client("ssm")
    history = [
        {"InstanceId": "i-00000000000000001", "Status": "Success", "StatusDetails": "Success"},
        {"InstanceId": "i-00000000000000002", "Status": "TimedOut", "StatusDetails": "Delivery Timed Out"},
        {"InstanceId": "i-00000000000000003", "Status": "Cancelled", "StatusDetails": "Cancelled"},
        {"InstanceId": "i-00000000000000004", "Status": "TimedOut", "StatusDetails": "Execution Timed Out"},
        {"InstanceId": "i-00000000000000005", "Status": "Failed", "StatusDetails": "Failed"},
    ]
    with _window_history(client, history) as stubber:
        assert report.skipped_instances(WINDOW_ID) == {"i-00000000000000002", "i-00000000000000003"}
        stubber.assert_no_pending_responses()


def test_without_the_window_id_or_history_nothing_is_called_skipped(report: ModuleType) -> None:
    assert report.skipped_instances("") == set()
    client = report._client("ssm")
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_maintenance_window_executions", "AccessDeniedException")
        assert report.skipped_instances(WINDOW_ID) == set()  # the report still goes out


def test_the_report_names_skipped_instances_and_the_setting_to_raise(
    aws: Any, report: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    reached, skipped = _instances(1), _instances(1)
    monkeypatch.setenv("WINDOW_ID", WINDOW_ID)
    monkeypatch.setenv("MAX_CONCURRENCY", "5")
    monkeypatch.setattr(
        report, "skipped_instances", lambda window_id: set(skipped) if window_id == WINDOW_ID else set()
    )
    summary = report.handler(SCHEDULED_EVENT, None)
    assert summary["missing"] == sorted(reached + skipped) and summary["skipped"] == skipped
    [message] = _messages(aws)
    assert f"SKIPPED  {skipped[0]}" in message and f"SKIPPED  {reached[0]}" not in message
    assert "max_concurrency (now 5)" in message
