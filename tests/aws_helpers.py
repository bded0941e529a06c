"""Helpers for handler tests: inject AWS error responses in front of moto."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber


def fail_first(client: Any, operation: str, code: str, times: int) -> list[int]:
    """Answer the first ``times`` HTTP attempts of ``operation`` with error ``code``; return the attempts.

    botocore calls every before-send handler and keeps the first answer, so an error handler
    registered next to moto's would not stop moto from carrying the request out (a parameter
    would be deleted behind the injected error). Instead, moto's handler is put behind a gate on
    this one client: the injected attempts never reach moto, later ones do.
    """
    attempts: list[int] = []

    def gate(request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        if event_name.endswith(f".{operation}"):
            attempts.append(1)
            if len(attempts) <= times:
                body = MockRawResponse(f'{{"__type":"{code}","message":"injected"}}')
                return AWSResponse(request.url, 400, {"x-amzn-requestid": "test"}, body)
        return botocore_stubber(event_name=event_name, request=request, **kwargs)

    client.meta.events.unregister("before-send", botocore_stubber)
    client.meta.events.register("before-send", gate)
    return attempts
