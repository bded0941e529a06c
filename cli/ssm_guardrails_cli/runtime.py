"""What every command runs with: AWS clients, the terminal, a clock. Tests inject their own."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import boto3
from botocore.config import Config
from rich.console import Console

#: Throttled calls are retried with backoff (botocore's standard mode retries throttling errors):
#: https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, user_agent_extra="ssm-guardrails-cli")
#: botocore logs response bodies at DEBUG, and a GetParameter body holds the decrypted password:
#: whatever logging an operator turns on, botocore's own records stop at WARNING.
for _logger in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_logger).setLevel(logging.WARNING)


class Exit(IntEnum):
    """Exit codes, the same for every command (README "Operator CLI")."""

    OK = 0
    FAILED = 1  # the AWS operation ran and failed (command failed, API error)
    USAGE = 2  # bad option or argument (Typer's own code)
    MISSING = 3  # the control is not deployed in this account and Region
    REFUSED = 4  # refused locally: a secret to a non-terminal, approving your own request
    NOT_APPROVED = 5  # a session request was rejected, expired or cancelled
    DENIED = 6  # AWS denied the caller (AccessDenied): see `ssm-guardrails doctor`


class Clipboard:
    """The system clipboard through pyperclip; a test passes its own."""

    def copy(self, text: str) -> None:
        import pyperclip

        pyperclip.copy(text)

    def paste(self) -> str:
        import pyperclip

        return pyperclip.paste()


@dataclass
class Runtime:
    session: Any = None  # boto3.Session
    output: str = "text"
    console: Console = field(default_factory=Console)
    error_console: Console = field(default_factory=lambda: Console(stderr=True))
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    is_tty: Callable[[], bool] = field(default=lambda: sys.stdout.isatty())
    clipboard: Any = field(default_factory=Clipboard)
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict)

    @classmethod
    def create(cls, region: str | None, profile: str | None, output: str) -> Runtime:
        return cls(session=boto3.Session(region_name=region, profile_name=profile), output=output)

    def client(self, service: str, region: str | None = None) -> Any:
        """One client per service and Region for the whole command."""
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=key[1], config=CLIENT_CONFIG)
        return self._clients[key]

    @property
    def region(self) -> str:
        return self.session.region_name

    @property
    def json(self) -> bool:
        return self.output == "json"

    def emit(self, data: dict[str, Any], text: Callable[[], None]) -> None:
        """``data`` as JSON with ``--output json``, else whatever ``text`` prints."""
        if self.json:
            self.console.print_json(json.dumps(data, default=str))
        else:
            text()

    def fail(self, code: Exit, message: str) -> Exit:
        self.error_console.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
        return code
