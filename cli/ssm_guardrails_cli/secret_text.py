"""A password read from Parameter Store, and shown exactly as stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ssm_guardrails_cli.errors import CliError
from ssm_guardrails_cli.runtime import Exit, Runtime

#: how long the CLI waits for the node's new password to appear after its command succeeded
FRESH_PASSWORD_SECONDS = 30


@dataclass(frozen=True)
class Secret:
    """A password with what the operator needs to know about it. ``repr`` never shows the value."""

    value: str
    parameter: str
    written: datetime
    writer: str

    def __repr__(self) -> str:
        return f"Secret(parameter={self.parameter!r}, written={self.written!r})"


def read_secret(rt: Runtime, ssm: Any, name: str, with_writer: bool = True, missing_hint: str = "") -> Secret:
    """The decrypted value and its date (GetParameter) and, when asked, its last writer: the
    newest version's LastModifiedUser in GetParameterHistory, which is scoped to the parameter's
    ARN like GetParameter (DescribeParameters would need "*") and, without decryption, returns
    older values encrypted:
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameterHistory.html"""
    from botocore.exceptions import ClientError

    try:
        parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound" and missing_hint:
            raise CliError(Exit.FAILED, f"no password {name} in {rt.where()}: {missing_hint}") from None
        raise
    writer = "not read"
    if with_writer:
        versions = [
            v for page in ssm.get_paginator("get_parameter_history").paginate(Name=name) for v in page["Parameters"]
        ]
        writer = max(versions, key=lambda v: v["Version"]).get("LastModifiedUser", "unknown") if versions else "unknown"
    return Secret(parameter["Value"], name, parameter["LastModifiedDate"], writer)


def read_secret_after(rt: Runtime, ssm: Any, name: str, since: datetime | None) -> Secret:
    """The password the node stored for this command: never an older one still in place, and
    waiting briefly when the store is not visible yet (the demo's node writes after the command
    reports Success; on AWS the document stores it before it ends)."""
    from botocore.exceptions import ClientError

    deadline = rt.clock() + timedelta(seconds=FRESH_PASSWORD_SECONDS)
    while True:
        try:
            secret = read_secret(rt, ssm, name, with_writer=False)
            if since is None or secret.written >= since - timedelta(seconds=1):
                return secret
        except ClientError as error:
            if error.response["Error"]["Code"] != "ParameterNotFound":
                raise
        if rt.clock() >= deadline:
            raise CliError(Exit.FAILED, f"the command succeeded but {name} holds no new password in {rt.where()} "
                                        f"after {FRESH_PASSWORD_SECONDS} s: check the command's output")  # fmt: skip
        rt.sleep(1)


def reveal(rt: Runtime, secret: Secret, copy: bool, detail: str = "") -> None:
    """The value exactly as stored: no markup, no emoji codes, no highlighting, and never wrapped,
    so what the operator copies from the terminal is the password."""
    if copy:
        rt.clipboard.copy(secret.value)
        rt.say(f"Password of {secret.parameter} copied to the clipboard.")
    else:
        rt.say(f"Password ({secret.parameter}):")
        rt.say(secret.value)
    if detail:
        rt.say(detail)
