"""Script steps of the AllowStartSsmSession runbook (SeparationOfDuties): call the grant function.

Inlined at synth into the GrantSession, Revoke and TerminateSessions steps. The runbook role may do
nothing but invoke the session grant function (``lambdas/session_grant``), with nothing but this
execution's id: the function re-derives everything else from the execution and decides what the
step in progress needs (grant, revoke, end sessions). A refusal fails the step.
Only boto3 and the standard library; SSM runs it with the runbook's AutomationAssumeRole.
"""

from __future__ import annotations

import json
from typing import Any

import boto3


def _lambda() -> Any:
    return boto3.client("lambda")


def invoke(events: dict[str, Any], context: Any) -> Any:
    """Invoke ``FunctionName`` with ``{"ExecutionId": ...}``; return its answer or fail with its error.
    Invoke reports a function error in ``FunctionError``, with the error as the payload:
    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html"""
    response = _lambda().invoke(
        FunctionName=events["FunctionName"], Payload=json.dumps({"ExecutionId": events["ExecutionId"]}).encode()
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        reason = payload.get("errorMessage") if isinstance(payload, dict) else payload
        raise RuntimeError(f"{events['FunctionName']} refused: {reason}")
    return payload
