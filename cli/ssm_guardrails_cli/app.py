"""ssm-guardrails: one command per operator task (Typer app; `ssm-guardrails --help`)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape

from ssm_guardrails_cli import doctor, passwords, reports, sessions
from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.settings import ControlMissing

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
report = typer.Typer(no_args_is_help=True, help="What the controls found, as a table (or JSON).")
app.add_typer(report, name="report")


class Output(StrEnum):
    text = "text"
    json = "json"


@app.callback()
def _global(
    ctx: typer.Context,
    region: Annotated[str | None, typer.Option(help="AWS Region (default: your profile's).")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS named profile.")] = None,
    output: Annotated[Output, typer.Option(help="text for people, json for scripts.")] = Output.text,
) -> None:
    if ctx.obj is None:  # tests pass a Runtime of their own
        ctx.obj = Runtime.create(region, profile, output.value)
    elif output is Output.json:
        ctx.obj.output = "json"


def _run(ctx: typer.Context, command: Callable[[Runtime], Exit]) -> None:
    """Every command's errors become one line and a documented exit code, never a traceback."""
    rt: Runtime = ctx.obj
    try:
        code = command(rt)
    except ControlMissing as missing:
        code = rt.fail(Exit.MISSING, escape(str(missing)))
    except ClientError as error:
        aws = error.response["Error"]
        denied = aws.get("Code") in ("AccessDenied", "AccessDeniedException")
        code = rt.fail(Exit.DENIED if denied else Exit.FAILED, escape(f"{aws.get('Code')}: {aws.get('Message')}"))
    except BotoCoreError as error:
        code = rt.fail(Exit.FAILED, escape(str(error)))
    raise typer.Exit(int(code))


@app.command("break-glass")
def break_glass(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="Instance (i-...) or managed node (mi-...) id.")],
    reason: Annotated[str, typer.Option(help="Why: becomes the command's comment (CloudTrail, audit topic).")],
    length: Annotated[int | None, typer.Option(min=14, max=128, help="Password length (default: the stack's).")] = None,
    copy: Annotated[bool, typer.Option("--copy", help="Put the password on the clipboard, not the screen.")] = False,
) -> None:
    """Emergency root/Administrator password: run, reveal on the terminal, count down to deletion."""
    _run(ctx, lambda rt: passwords.run_break_glass(rt, node, reason, length, copy))


@app.command("password")
def password(ctx: typer.Context, node: Annotated[str, typer.Argument(help="Windows instance id.")]) -> None:
    """A rotated Windows Administrator password, with its age and who wrote it."""
    _run(ctx, lambda rt: passwords.run_password(rt, node))


@app.command("request-session")
def request_session(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="Instance (i-...) or managed node (mi-...) id.")],
    minutes: Annotated[int | None, typer.Option(min=1, max=60, help="Window (default: the stack's).")] = None,
    connect: Annotated[bool, typer.Option("--connect", help="Open the session once approved.")] = False,
) -> None:
    """Ask for a session; wait for another person's approval; optionally connect."""
    _run(ctx, lambda rt: sessions.run_request(rt, node, minutes, connect))


@app.command("pending")
def pending(ctx: typer.Context) -> None:
    """Session requests waiting for an approver."""
    _run(ctx, sessions.run_pending)


@app.command("approve")
def approve(
    ctx: typer.Context,
    execution: Annotated[str, typer.Argument(help="Execution id (from `pending`).")],
    deny: Annotated[bool, typer.Option("--deny", help="Reject instead of approve.")] = False,
    reason: Annotated[str, typer.Option(help="Comment recorded with the decision.")] = "",
) -> None:
    """Approve (or --deny) a session request of someone else."""
    _run(ctx, lambda rt: sessions.run_approve(rt, execution, deny, reason))


@report.command("rotation")
def report_rotation(ctx: typer.Context) -> None:
    """Freshness of rotated Windows passwords (runs each window's report now)."""
    _run(ctx, reports.run_rotation_report)


@report.command("access-keys")
def report_access_keys(ctx: typer.Context) -> None:
    """Users with an access key older than the rule's age (AWS Config, home Region)."""
    _run(ctx, reports.run_access_key_report)


@app.command("doctor")
def doctor_command(ctx: typer.Context) -> None:
    """Which controls are deployed here, and whether you may run each command."""
    _run(ctx, doctor.run_doctor)


def main() -> None:
    app()
