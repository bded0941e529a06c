"""Owns the Session Manager preferences document ``SSM-SessionManagerRunShell`` of one Region.

The console creates that document on the first save of the preferences, so CloudFormation cannot
own it as a resource. This handler is the custom resource behind it (called by the CDK Provider
framework, which answers CloudFormation also when this code raises) and the daily drift
reconcile (called by an EventBridge schedule with ``{"action": "reconcile", ...}``).

* Create: create the document if missing; if it exists (console-created), remember its default
  version in the physical id and update it.
* Update / reconcile: merge the managed ``inputs`` keys into the current default version (keys we
  do not manage are preserved); when nothing changes, do nothing; otherwise write a new version
  and make it the default.
* Delete: never switch logging off. Restore the version that existed before the stack took over,
  or, if the stack created the document, leave the last applied (hardened) preferences in place.

Only boto3 and the standard library.
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

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
_RESTORE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+):restore-version-(?P<version>\d+)$")
_BASE = {"schemaVersion": "1.0", "description": "Session Manager preferences", "sessionType": "Standard_Stream"}


class UnsupportedEvent(ValueError):
    """The event is neither a CloudFormation custom resource request nor a reconcile request."""


@cache
def _ssm() -> Any:
    return boto3.client("ssm", config=RETRIES)


@cache
def _sns() -> Any:
    return boto3.client("sns", config=RETRIES)


def handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("RequestType") in ("Create", "Update", "Delete"):
        return on_event(event)
    if isinstance(event, dict) and event.get("action") == "reconcile":
        return reconcile(event)
    raise UnsupportedEvent("expected a CloudFormation custom resource event or {'action': 'reconcile', ...}")


def on_event(event: dict[str, Any]) -> dict[str, Any]:
    properties = event["ResourceProperties"]
    name, inputs = properties["DocumentName"], json.loads(properties["InputsJson"])
    request = event["RequestType"]
    LOGGER.info(json.dumps({"request": request, "document": name}))
    if request == "Create":
        return {"PhysicalResourceId": take_over(name, inputs)}
    if request == "Update":
        old_name = event.get("OldResourceProperties", {}).get("DocumentName", name)
        if old_name != name:  # a new document: CloudFormation then deletes the old physical id
            return {"PhysicalResourceId": take_over(name, inputs)}
        apply(name, inputs)
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    release(event["PhysicalResourceId"])
    return {"PhysicalResourceId": event["PhysicalResourceId"]}


def take_over(name: str, inputs: dict[str, Any]) -> str:
    """Create or adopt the document; the physical id records what to restore on delete."""
    current = _current(name)
    if current is None:
        try:
            _ssm().create_document(
                Name=name, Content=json.dumps(_with_inputs({}, inputs)), DocumentType="Session", DocumentFormat="JSON"
            )
            return name
        except ClientError as error:
            if error.response["Error"]["Code"] != "DocumentAlreadyExists":
                raise
            current = _current(name)  # created by the console in the meantime
    _, previous_version = current
    apply(name, inputs)
    return f"{name}:restore-version-{previous_version}"


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


def release(physical_id: str) -> None:
    """On stack deletion: restore the pre-existing preferences, or keep the hardened ones."""
    restore = _RESTORE.match(physical_id)
    if not restore:
        LOGGER.info(json.dumps({"delete": physical_id, "action": "left the last applied preferences in place"}))
        return
    name, version = restore["name"], restore["version"]
    try:
        previous = json.loads(_ssm().get_document(Name=name, DocumentVersion=version)["Content"])
    except ClientError as error:
        if error.response["Error"]["Code"] in ("InvalidDocument", "InvalidDocumentVersion"):
            LOGGER.warning(json.dumps({"delete": physical_id, "action": "previous version gone; left in place"}))
            return
        raise
    current = _current(name)
    if current is not None and current[0] != previous:
        _set_default(name, previous)
    LOGGER.info(json.dumps({"delete": physical_id, "action": f"restored version {version}"}))


def reconcile(event: dict[str, Any]) -> dict[str, Any]:
    """Scheduled drift check: put the managed keys back and say so when they had changed."""
    name, inputs = event["DocumentName"], json.loads(event["InputsJson"])
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
