"""What the Typer app needs around the commands: global options anywhere, --version, help text,
and the one place a failure becomes a line on stderr."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from ssm_guardrails_cli.runtime import Exit, Runtime

GLOBAL_OPTIONS = ("--region", "--profile", "--output")  # each takes a value

EPILOG = """\b
Examples:
  ssm-guardrails break-glass i-0123456789abcdef0 --reason 'INC-42 root login broken'
  ssm-guardrails request-session i-0123456789abcdef0 --reason 'INC-42 disk full'
  ssm-guardrails pending --profile approver
  ssm-guardrails status 4f9b0c1e-1111-2222-3333-444455556666
  ssm-guardrails doctor --region eu-west-1

\b
Exit codes (every command):
    0 done                          5 session request rejected, expired or cancelled
    1 AWS operation failed          6 AWS denied the call: run `ssm-guardrails doctor`
    2 bad option, argument or id    7 no usable credentials (profile, expired sign-in)
    3 control not deployed here     8 --timeout reached (it goes on: status / cancel)
    4 refused locally             130 Ctrl-C during a wait (it goes on: status / cancel)"""


def hoist_global_options(args: list[str]) -> list[str]:
    """Move --region/--profile/--output (with their values) before the command, wherever they were
    typed, so `ssm-guardrails pending --output json` works like `ssm-guardrails --output json pending`."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS and "=" in arg:
            front.append(arg)
            index += 1
        elif name in GLOBAL_OPTIONS:
            front += args[index : index + 2]
            index += 2
        else:
            rest.append(arg)
            index += 1
    return front + rest


class HoistingGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))


def show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"ssm-guardrails {version('ssm-guardrails-cli')}")
        raise typer.Exit


def report_failure(rt: Runtime, error: Exception) -> Exit:
    """One line (three for a wait that was stopped: what goes on, how to resume, how to cancel)."""
    from ssm_guardrails_cli.errors import explain
    from ssm_guardrails_cli.waits import WaitEnded

    if isinstance(error, WaitEnded):
        for line in error.lines():
            rt.error_console.print(line, markup=False, emoji=False, highlight=False, soft_wrap=True)
        return error.code
    code, message = explain(rt, error)
    return rt.fail(code, message)
