"""The Session Manager preferences handler against moto: create, adopt, update, reconcile, delete."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_helpers import fail_first, topic_with_inbox
from botocore.exceptions import ClientError
from moto import mock_aws

HANDLER = Path(__file__).resolve().parents[1] / "lambdas" / "session_prefs" / "index.py"
NAME = "SSM-SessionManagerRunShell"
INPUTS = {
    "cloudWatchLogGroupName": "/sessions",
    "cloudWatchEncryptionEnabled": True,
    "cloudWatchStreamingEnabled": True,
    "idleSessionTimeout": "20",
    "maxSessionDuration": "480",
    "kmsKeyId": "key-1",
    "runAsEnabled": False,
    "runAsDefaultUser": "",
    "shellProfile": {"linux": "", "windows": ""},
}
CONSOLE_CONTENT = {
    "schemaVersion": "1.0",
    "description": "Document to hold regional settings for Session Manager",
    "sessionType": "Standard_Stream",
    "inputs": {"idleSessionTimeout": "5", "s3BucketName": "console-bucket", "cloudWatchLogGroupName": ""},
}


@pytest.fixture
def ssm() -> Any:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


@pytest.fixture
def prefs(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.delenv("TOPIC_ARN", raising=False)
    spec = importlib.util.spec_from_file_location("session_prefs_index", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(request: str, inputs: dict[str, Any] = INPUTS, physical_id: str | None = None, **extra: Any) -> dict:
    event = {
        "RequestType": request,
        "ResourceProperties": {"ServiceToken": "x", "DocumentName": NAME, "InputsJson": json.dumps(inputs)},
        **extra,
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return event


def _default(ssm: Any) -> tuple[dict[str, Any], str]:
    document = ssm.get_document(Name=NAME)
    return json.loads(document["Content"]), document["DocumentVersion"]


def _versions(ssm: Any) -> int:
    return int(ssm.describe_document(Name=NAME)["Document"]["LatestVersion"])


def test_create_when_missing_creates_a_session_document(ssm: Any, prefs: ModuleType) -> None:
    result = prefs.handler(_event("Create"), None)
    assert result == {"PhysicalResourceId": NAME}
    content, _ = _default(ssm)
    assert content["schemaVersion"] == "1.0" and content["sessionType"] == "Standard_Stream"
    assert content["inputs"] == INPUTS
    assert ssm.describe_document(Name=NAME)["Document"]["DocumentType"] == "Session"


def test_create_over_a_console_document_updates_it_and_remembers_what_to_restore(ssm: Any, prefs: ModuleType) -> None:
    ssm.create_document(Name=NAME, Content=json.dumps(CONSOLE_CONTENT), DocumentType="Session", DocumentFormat="JSON")
    result = prefs.handler(_event("Create"), None)
    assert result == {"PhysicalResourceId": f"{NAME}:restore-version-1"}
    content, version = _default(ssm)
    assert version == "2"
    assert content["inputs"]["idleSessionTimeout"] == "20"
    assert content["inputs"]["s3BucketName"] == "console-bucket"  # not managed here: preserved


def test_unchanged_content_makes_no_new_version(ssm: Any, prefs: ModuleType) -> None:
    prefs.handler(_event("Create"), None)
    prefs.handler(_event("Update", physical_id=NAME, OldResourceProperties={"DocumentName": NAME}), None)
    assert _versions(ssm) == 1


def test_changed_content_becomes_the_new_default_version(ssm: Any, prefs: ModuleType) -> None:
    prefs.handler(_event("Create"), None)
    changed = {**INPUTS, "idleSessionTimeout": "15"}
    result = prefs.handler(_event("Update", changed, NAME, OldResourceProperties={"DocumentName": NAME}), None)
    assert result == {"PhysicalResourceId": NAME}
    content, version = _default(ssm)
    assert (content["inputs"]["idleSessionTimeout"], version) == ("15", "2")


def test_content_equal_to_the_latest_version_is_success(ssm: Any, prefs: ModuleType) -> None:
    prefs.handler(_event("Create"), None)
    changed = {**INPUTS, "idleSessionTimeout": "15"}
    prefs.handler(_event("Update", changed, NAME, OldResourceProperties={"DocumentName": NAME}), None)
    ssm.update_document_default_version(Name=NAME, DocumentVersion="1")  # someone switched back by hand
    prefs.handler(_event("Update", changed, NAME, OldResourceProperties={"DocumentName": NAME}), None)
    content, version = _default(ssm)
    assert (content["inputs"]["idleSessionTimeout"], version) == ("15", "2")


def test_delete_restores_the_console_content(ssm: Any, prefs: ModuleType) -> None:
    ssm.create_document(Name=NAME, Content=json.dumps(CONSOLE_CONTENT), DocumentType="Session", DocumentFormat="JSON")
    physical_id = prefs.handler(_event("Create"), None)["PhysicalResourceId"]
    prefs.handler(_event("Delete", physical_id=physical_id), None)
    content, _ = _default(ssm)
    assert content == CONSOLE_CONTENT


def test_delete_of_a_created_document_keeps_the_hardened_preferences(ssm: Any, prefs: ModuleType) -> None:
    prefs.handler(_event("Create"), None)
    prefs.handler(_event("Delete", physical_id=NAME), None)
    content, _ = _default(ssm)
    assert content["inputs"]["cloudWatchLogGroupName"] == "/sessions"  # logging stays on


def test_reconcile_puts_drifted_keys_back_and_notifies(
    ssm: Any, prefs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic, read = topic_with_inbox("us-east-1", "drift")
    monkeypatch.setenv("TOPIC_ARN", topic)
    prefs.handler(_event("Create"), None)
    drifted = {**CONSOLE_CONTENT, "inputs": {**INPUTS, "cloudWatchLogGroupName": "", "idleSessionTimeout": "60"}}
    ssm.update_document(Name=NAME, Content=json.dumps(drifted), DocumentVersion="$LATEST", DocumentFormat="JSON")
    ssm.update_document_default_version(Name=NAME, DocumentVersion="2")
    reconcile = {"action": "reconcile", "DocumentName": NAME, "InputsJson": json.dumps(INPUTS)}
    assert prefs.handler(reconcile, None) == {"document": NAME, "result": "updated"}
    content, _ = _default(ssm)
    assert content["inputs"]["cloudWatchLogGroupName"] == "/sessions"
    [envelope] = read()
    assert "drift" in envelope["Subject"].lower()
    assert prefs.handler(reconcile, None)["result"] == "unchanged"
    assert read() == []


def test_throttling_is_retried(ssm: Any, prefs: ModuleType) -> None:
    attempts = fail_first(prefs._ssm(), "CreateDocument", "ThrottlingException", 2)
    prefs.handler(_event("Create"), None)
    assert len(attempts) == 3
    assert _versions(ssm) == 1


def test_errors_propagate_so_the_provider_framework_answers_failed(ssm: Any, prefs: ModuleType) -> None:
    fail_first(prefs._ssm(), "GetDocument", "AccessDeniedException", 99)
    with pytest.raises(ClientError, match="AccessDenied"):
        prefs.handler(_event("Create"), None)


@pytest.mark.parametrize("event", [None, {}, {"RequestType": "Replace"}, {"action": "delete"}, []])
def test_foreign_events_are_rejected_without_any_call(ssm: Any, prefs: ModuleType, event: Any) -> None:
    calls = []
    prefs._ssm().meta.events.register("before-call.ssm", lambda **kwargs: calls.append(1))
    with pytest.raises(prefs.UnsupportedEvent):
        prefs.handler(event, None)
    assert calls == []
