"""Open the approved session: `aws ssm start-session` with the credentials that asked for it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from typing import Any

from ssm_guardrails_cli.errors import CliError
from ssm_guardrails_cli.runtime import Exit, Runtime

#: IAM is eventually consistent: a new grant policy can take a few seconds to apply:
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
IAM_WAIT_SECONDS = 30
#: what `aws ssm start-session` prints when StartSession is denied (the API's error code)
DENIED_MARK = "AccessDeniedException"


def check_prerequisites(rt: Runtime) -> None:
    """Before the request is sent: an approval must not be wasted on a laptop that cannot connect.
    The Session Manager plugin is what the AWS CLI runs for start-session:
    https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html"""
    missing = [name for name in ("aws", "session-manager-plugin") if rt.which(name) is None]
    if missing:
        raise CliError(
            Exit.REFUSED,
            f"{' and '.join(missing)} not found on PATH: install the AWS CLI and the Session Manager plugin, "
            "or pass --no-connect to only print the command; nothing was sent",
        )


def start_session_argv(rt: Runtime, node: str, document: str, with_profile: bool = True) -> list[str]:
    argv = ["aws", "ssm", "start-session", "--target", node, "--document-name", document, "--region", rt.region]
    if with_profile and rt.profile:
        argv += ["--profile", rt.profile]
    return argv


def start_session_command(rt: Runtime, node: str, document: str) -> str:
    return shlex.join(start_session_argv(rt, node, document))


def connect(rt: Runtime, node: str, document: str) -> Exit:
    """Run start-session; while StartSession is denied (the grant not applied yet), retry with
    backoff for up to IAM_WAIT_SECONDS and say so."""
    argv = start_session_argv(rt, node, document, with_profile=False)
    environment = session_environment(rt)
    started = rt.clock()
    delay = 1.0
    while True:
        returncode, denied = _run_forwarding_stderr(argv, environment)
        if returncode == 0:
            return Exit.OK
        waited = (rt.clock() - started).total_seconds()
        if not denied or waited + delay > IAM_WAIT_SECONDS:
            return rt.fail(Exit.DENIED if denied else Exit.FAILED,
                           f"the session did not open ({'access denied' if denied else f'exit {returncode}'}); "
                           f"try again with: {start_session_command(rt, node, document)}")  # fmt: skip
        rt.say(f"Waiting for IAM to apply the grant ({int(waited)} s of at most {IAM_WAIT_SECONDS} s)...")
        rt.sleep(delay)
        delay = min(delay * 2, 8.0)


def _run_forwarding_stderr(argv: list[str], environment: dict[str, str]) -> tuple[int, bool]:
    """The child keeps the terminal for stdin and stdout; its stderr is shown as it comes and read
    for the denial. Ctrl-C inside the session belongs to the session: this process must not die of it
    and leave the child behind. A Python handler (unlike SIG_IGN) is not inherited across exec, and it
    is set before the child starts, so no Ctrl-C falls between the two."""
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        child = subprocess.Popen(argv, env=environment, stderr=subprocess.PIPE)  # noqa: S603 (fixed argv, no shell)
        seen: list[bytes] = []

        def forward() -> None:
            assert child.stderr is not None
            for line in child.stderr:
                seen.append(line)
                sys.stderr.buffer.write(line)
                sys.stderr.flush()

        reader = threading.Thread(target=forward, daemon=True)
        reader.start()
        returncode = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    reader.join(timeout=5)
    return returncode, any(DENIED_MARK.encode() in line for line in seen)


def session_environment(rt: Runtime) -> dict[str, str]:
    """The environment of the child `aws` process: this process's own, with this session's frozen
    credentials instead of any profile. The grant is for that role session only (aws:userid), and
    a profile that assumes a role would start a new session under another name."""
    credentials: Any = rt.boto_session().get_credentials().get_frozen_credentials()
    environment = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
    environment |= {"AWS_ACCESS_KEY_ID": credentials.access_key, "AWS_SECRET_ACCESS_KEY": credentials.secret_key}
    if credentials.token:
        environment["AWS_SESSION_TOKEN"] = credentials.token
    else:
        environment.pop("AWS_SESSION_TOKEN", None)
    return environment
