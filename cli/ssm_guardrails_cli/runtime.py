"""What every command runs with: AWS clients, the terminal, a clock. Tests inject their own.

boto3 is imported only when a command first needs AWS, so `--help` and `--version` stay fast.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from rich.console import Console

#: botocore logs response bodies at DEBUG, and a GetParameter body holds the decrypted password:
#: whatever logging an operator turns on, botocore's own records stop at WARNING.
for _logger in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_logger).setLevel(logging.WARNING)


class Exit(IntEnum):
    """Exit codes, the same for every command (README "Operator CLI", and `--help`)."""

    OK = 0
    FAILED = 1  # the AWS operation ran and failed (command failed, unknown id, node offline, API error)
    USAGE = 2  # bad option or argument, malformed id, no Region (Typer's own code for usage errors)
    MISSING = 3  # the control is not deployed in this account and Region, or in a newer settings version
    REFUSED = 4  # refused locally: a secret to a non-terminal, no clipboard, your own request, no AWS CLI
    NOT_APPROVED = 5  # a session request was rejected, expired or cancelled
    DENIED = 6  # AWS denied the caller (AccessDenied): see `ssm-guardrails doctor`
    CREDENTIALS = 7  # no usable credentials: unknown profile, expired token or sign-in
    TIMED_OUT = 8  # a wait reached its --timeout; the command or request goes on (status / cancel)
    INTERRUPTED = 130  # Ctrl-C during a wait (128 + SIGINT, as shells report it)


def client_config() -> Any:
    """Throttled calls are retried with backoff (botocore's standard mode retries throttling errors):
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html"""
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 8}, user_agent_extra="ssm-guardrails-cli")


def region_from_environment() -> str | None:
    """AWS_REGION first, as the AWS SDKs and CLI v2 read it (botocore reads only AWS_DEFAULT_REGION and
    the profile): https://docs.aws.amazon.com/sdkref/latest/guide/feature-region.html"""
    return os.environ.get("AWS_REGION") or None


class Clipboard:
    """The system clipboard through pyperclip; a test passes its own."""

    def check(self) -> None:
        """Raise if this machine has no clipboard (an SSH jump host): before anything runs."""
        import pyperclip

        pyperclip.paste()

    def copy(self, text: str) -> None:
        import pyperclip

        pyperclip.copy(text)

    def paste(self) -> str:
        import pyperclip

        return pyperclip.paste()


@dataclass
class Runtime:
    session: Any = None  # boto3.Session, created on first use from region/profile
    output: str = "text"
    region_option: str | None = None
    profile: str | None = None
    console: Console = field(default_factory=lambda: Console(emoji=False, highlight=False))
    error_console: Console = field(default_factory=lambda: Console(stderr=True, emoji=False, highlight=False))
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    is_tty: Callable[[], bool] = field(default=lambda: sys.stdout.isatty() and sys.stdin.isatty())
    clipboard: Any = field(default_factory=Clipboard)
    which: Callable[[str], str | None] = field(default=lambda name: __import__("shutil").which(name))
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    _account: str | None = None

    def boto_session(self) -> Any:
        if self.session is None:
            import boto3

            region = self.region_option or region_from_environment()
            self.session = boto3.Session(region_name=region, profile_name=self.profile)
        return self.session

    def client(self, service: str, region: str | None = None) -> Any:
        """One client per service and Region for the whole command."""
        key = (service, region or self.region)
        if key not in self._clients:
            session = self.boto_session()
            self._clients[key] = session.client(service, region_name=key[1], config=client_config())
        return self._clients[key]

    @property
    def region(self) -> str:
        region = self.boto_session().region_name
        if not region:
            from botocore.exceptions import NoRegionError

            raise NoRegionError
        return region

    def where(self, region: str | None = None) -> str:
        """'account 123456789012, Region eu-west-1' for error messages (the account only when STS answers)."""
        if self._account is None:
            try:
                self._account = self.client("sts").get_caller_identity()["Account"]
            except Exception:
                self._account = "?"
        return f"account {self._account}, Region {region or self.region}"

    @property
    def json(self) -> bool:
        return self.output == "json"

    def emit(self, data: dict[str, Any], text: Callable[[], None]) -> None:
        """``data`` as JSON with ``--output json``, else whatever ``text`` prints."""
        if self.json:
            self.console.file.write(json.dumps(data, default=str, indent=2) + "\n")
            self.console.file.flush()
        else:
            text()

    def say(self, text: str) -> None:
        """One line of plain text: no markup, emoji or highlighting, never wrapped onto a new line."""
        self.console.print(text, markup=False, emoji=False, highlight=False, soft_wrap=True)

    def fail(self, code: Exit, message: str) -> Exit:
        """One line on stderr. ``message`` is plain text (AWS messages and ids are never markup)."""
        self.error_console.print("error: " + message, markup=False, emoji=False, highlight=False, soft_wrap=True)
        return code
