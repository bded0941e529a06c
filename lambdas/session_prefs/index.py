"""Owns the Session Manager preferences document ``SSM-SessionManagerRunShell`` of one Region.

The console creates that document on the first save of the preferences, so CloudFormation cannot
own it as a resource. This handler is the custom resource behind it (called by the CDK Provider
framework, which answers CloudFormation also when this code raises) and the daily drift
reconcile (called by an EventBridge schedule with ``{"action": "reconcile"}``).

What it writes comes from its own configuration, never from the event: the environment holds the
document name (``DOCUMENT_NAME``) and the desired preferences (``INPUTS_JSON``), which only the stack
can change. Custom-resource events are accepted only when their ``StackId`` and
``LogicalResourceId`` are this stack's and this resource's (``STACK_ID``, ``RESOURCE_LOGICAL_ID``);
anything else is refused before any call. Whoever may invoke the function can therefore only make
it apply the configured preferences again, or release them as a stack deletion would.

* Create: create the document if missing; if it exists (console-created), remember its default
  version and update it. What to restore is kept in the handler's own state, the SSM parameter
  ``RESTORE_PARAMETER`` (written once, at Create; the stack grants it to this function only), never
  in the event: whoever may invoke the function chooses the event's ``PhysicalResourceId``.
* Update / reconcile: merge the managed ``inputs`` keys into the current default version (keys we
  do not manage are preserved); when nothing changes, do nothing; otherwise write a new version
  and make it the default.
* Delete: never weaken anything. Restore the version recorded in the state only when it is at
  least as strict as the configured preferences on every managed key (``strictness.weaker_logging``);
  otherwise, if the stack created the document, or if there is no state (a stack created before
  the state existed), leave the last applied preferences in place and log why. The state is then
  deleted, so a later stack starts afresh.

Only boto3, the standard library and ``strictness`` (the comparison of two preferences, next to this
file in the function's code).
"""

from __future__ import annotations

import json
import logging
import os
import re
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from strictness import weaker_logging

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
_RESTORE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+):restore-version-(?P<version>\d+)$")
_BASE = {"schemaVersion": "1.0", "description": "Session Manager preferences", "sessionType": "Standard_Stream"}


class UnsupportedEvent(ValueError):
    """The event is neither a CloudFormation custom resource request nor a reconcile request."""


class ForeignEvent(UnsupportedEvent):
    """A custom resource request of another stack or resource."""


def _state_parameter() -> str:
    return os.environ["RESTORE_PARAMETER"]


def _remember(name: str, version: str | None) -> None:
    """Record, once, what to restore on Delete: ``version`` of ``name``, or nothing (None)."""
    state = _recalled()
    if state is not None and state.get("document") == name:
        return  # written by the real Create; a second (forged) Create never replaces it
    _ssm().put_parameter(
        Name=_state_parameter(),
        Type="String",
        Overwrite=state is not None,  # only a state of another document (renamed) is replaced
        Value=json.dumps({"document": name, "restore_version": version}),
        Description="SSM Guardrails: the Session Manager preferences version to restore on stack deletion",
    )


def _recalled() -> dict[str, Any] | None:
    try:
        value = _ssm().get_parameter(Name=_state_parameter())["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise
    state = json.loads(value)
    return state if isinstance(state, dict) else None


def _forget() -> None:
    try:
        _ssm().delete_parameter(Name=_state_parameter())
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise


def _configured() -> tuple[str, dict[str, Any]]:
    """The document name and the desired preferences, from the function's environment."""
    return os.environ["DOCUMENT_NAME"], json.loads(os.environ["INPUTS_JSON"])


@cache
def _ssm() -> Any:
    return boto3.client("ssm", config=RETRIES)


@cache
def _sns() -> Any:
    return boto3.client("sns", config=RETRIES)


def handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("RequestType") in ("Create", "Update", "Delete"):
        _check_origin(event)
        return on_event(event)
    if isinstance(event, dict) and event.get("action") == "reconcile":
        return reconcile(event)
    raise UnsupportedEvent("expected a CloudFormation custom resource event or {'action': 'reconcile'}")


def _check_origin(event: dict[str, Any]) -> None:
    expected = {"StackId": os.environ["STACK_ID"], "LogicalResourceId": os.environ["RESOURCE_LOGICAL_ID"]}
    got = {key: event.get(key) for key in expected}
    if got != expected:
        LOGGER.error(json.dumps({"refused": "custom resource event of another stack or resource", "got": got}))
        raise ForeignEvent(f"not this stack's preferences resource: {got}")


def on_event(event: dict[str, Any]) -> dict[str, Any]:
    name, inputs = _configured()
    request = event["RequestType"]
    LOGGER.info(json.dumps({"request": request, "document": name}))
    if request == "Create":
        return {"PhysicalResourceId": take_over(name, inputs)}
    if request == "Update":
        if _document_of(event.get("PhysicalResourceId", "")) != name:
            # A new document name: CloudFormation then deletes the old physical id.
            return {"PhysicalResourceId": take_over(name, inputs)}
        apply(name, inputs)
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    release(event["PhysicalResourceId"], name, inputs)
    return {"PhysicalResourceId": event["PhysicalResourceId"]}


def _document_of(physical_id: str) -> str:
    restore = _RESTORE.match(physical_id)
    return restore["name"] if restore else physical_id


def take_over(name: str, inputs: dict[str, Any]) -> str:
    """Create or adopt the document, and remember (in the state) what to restore on delete."""
    current = _current(name)
    if current is None:
        try:
            _ssm().create_document(
                Name=name, Content=json.dumps(_with_inputs({}, inputs)), DocumentType="Session", DocumentFormat="JSON"
            )
            _remember(name, None)
            return name
        except ClientError as error:
            if error.response["Error"]["Code"] != "DocumentAlreadyExists":
                raise
            current = _current(name)  # created by the console in the meantime
    _, previous_version = current
    _remember(name, previous_version)
    apply(name, inputs)
    return name


def apply(name: str, inputs: dict[str, Any]) -> str:
    """Make ``inputs`` part of the default version. Returns ``unchanged``, ``updated`` or ``created``."""
    current = _current(name)
    if current is None:
        take_over(name, inputs)
        return "created"
    content, _ = current
    desired = _with_inputs(content, inputs)
    if desired == content:
        return "unchanged"
    _set_default(name, desired)
    return "updated"


def release(physical_id: str, configured_name: str, managed: dict[str, Any]) -> str:
    """On stack deletion: restore the version recorded at Create only if it is at least as strict as
    ``managed`` (the configured preferences) on every key; otherwise keep the last applied ones.

    The event's physical id only says which document the event is about (another one is left
    alone); the version comes from the state. Returns ``restored``, ``kept`` or ``left``."""
    if _document_of(physical_id) != configured_name:
        LOGGER.warning(json.dumps({"delete": physical_id, "action": "not the configured document; left alone"}))
        return "left"
    state = _recalled()
    version = state.get("restore_version") if state and state.get("document") == configured_name else None
    result = _restore(configured_name, str(version), managed) if version else "kept"
    if not version:
        why = "no earlier version recorded at Create (created here, or by an older release)"
        LOGGER.info(json.dumps({"delete": configured_name, "action": "kept the last applied", "because": why}))
    _forget()
    return result


def _restore(name: str, version: str, managed: dict[str, Any]) -> str:
    try:
        previous = json.loads(_ssm().get_document(Name=name, DocumentVersion=version)["Content"])
    except ClientError as error:
        if error.response["Error"]["Code"] in ("InvalidDocument", "InvalidDocumentVersion"):
            LOGGER.warning(json.dumps({"delete": name, "action": "previous version gone; kept the last applied"}))
            return "kept"
        raise
    reasons = weaker_logging(previous.get("inputs", {}), managed)
    if reasons:
        LOGGER.warning(
            json.dumps({"delete": name, "action": f"kept the last applied preferences, did not restore "
                        f"version {version}", "because": reasons})
        )  # fmt: skip
        return "kept"
    current = _current(name)
    if current is not None and current[0] != previous:
        _set_default(name, previous)
    LOGGER.info(json.dumps({"delete": name, "action": f"restored version {version}"}))
    return "restored"


def reconcile(event: dict[str, Any]) -> dict[str, Any]:
    """Scheduled drift check: put the configured keys back and say so when they had changed.

    Everything but ``action`` in the event is ignored."""
    name, inputs = _configured()
    result = apply(name, inputs)
    if result != "unchanged" and os.environ.get("TOPIC_ARN"):
        region = os.environ.get("AWS_REGION", "this Region")
        _sns().publish(
            TopicArn=os.environ["TOPIC_ARN"],
            Subject=f"Session Manager preferences drift corrected in {region}"[:100],
            Message=f"The Session Manager preferences document {name} in {region} differed from the "
            f"configured preferences (changed by hand?) and was {result} again.",
        )
    LOGGER.info(json.dumps({"reconcile": name, "result": result}))
    return {"document": name, "result": result}


def _current(name: str) -> tuple[dict[str, Any], str] | None:
    try:
        document = _ssm().get_document(Name=name, DocumentFormat="JSON")
    except ClientError as error:
        if error.response["Error"]["Code"] == "InvalidDocument":
            return None
        raise
    return json.loads(document["Content"]), document["DocumentVersion"]


def _with_inputs(content: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    merged = {**_BASE, **content}
    merged["inputs"] = {**content.get("inputs", {}), **inputs}
    return merged


def _set_default(name: str, content: dict[str, Any]) -> None:
    try:
        version = _ssm().update_document(
            Name=name, Content=json.dumps(content), DocumentVersion="$LATEST", DocumentFormat="JSON"
        )["DocumentDescription"]["DocumentVersion"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "DuplicateDocumentContent":
            raise
        # An existing version already has this content (for example the one the console or the
        # stack wrote before a default was switched by hand): make that version the default.
        version = _version_with(name, content)
    _ssm().update_document_default_version(Name=name, DocumentVersion=version)


def _version_with(name: str, content: dict[str, Any]) -> str:
    latest = int(_ssm().describe_document(Name=name)["Document"]["LatestVersion"])
    for version in map(str, range(latest, 0, -1)):
        found = _ssm().get_document(Name=name, DocumentVersion=version, DocumentFormat="JSON")
        if json.loads(found["Content"]) == content:
            return version
    raise RuntimeError(f"{name}: SSM reported duplicate content but no version matches it")
