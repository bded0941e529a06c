"""Helpers for handler tests: inject AWS error responses in front of moto."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse


class _RawBody:
    """The minimal raw body botocore reads from an AWSResponse."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self._body


def fail_first(client: Any, operation: str, code: str, times: int) -> list[int]:
    """Answer the first ``times`` calls of ``operation`` with error ``code``; later calls reach moto.

    Returns the list of attempts (one entry per HTTP attempt, retries included).
    """
    attempts: list[int] = []

    def respond(request: Any, **kwargs: Any) -> AWSResponse | None:
        attempts.append(1)
        if len(attempts) <= times:
            body = f'{{"__type":"{code}","message":"injected"}}'.encode()
            return AWSResponse(request.url, 400, {"x-amzn-requestid": "test"}, _RawBody(body))
        return None

    client.meta.events.register(f"before-send.{client.meta.service_model.endpoint_prefix}.{operation}", respond)
    return attempts
