"""The rotation freshness report against moto: fresh, stale and missing passwords, pagination."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_helpers import topic_with_inbox
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
        yield {"read": read}


@pytest.fixture
def report(aws: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location("rotation_freshness_index", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _instances(count: int, *, windows: bool = True, tags: dict[str, str] | None = None) -> list[str]:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    platform = [{"Name": "platform", "Values": ["windows"]}] if windows else []
    images = ec2.describe_images(Owners=["amazon"], Filters=platform)["Images"]
    image = next(i for i in images if (i.get("Platform") == "windows") == windows)["ImageId"]
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
    assert summary == {"window": "production-window", "checked": 2, "missing": [], "stale": []}
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
    instances = [_instances(1)[0] for _ in range(60)]  # moto pages by reservation
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
