"""ssm-guardrails: one command per operator task of SSM Guardrails (break-glass, rotated passwords,
session requests and approvals, reports)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer

from ssm_guardrails_cli.cli_support import EPILOG, HoistingGroup, report_failure, show_version
from ssm_guardrails_cli.runtime import Exit, Runtime

# No pretty tracebacks and no locals, whatever the installed Typer's defaults: a traceback's locals
# once held the password (Typer < 0.23 shows them by default). Every exception is caught in _run.
app = typer.Typer(
    cls=HoistingGroup,
    no_args_is_help=True,
    help=__doc__,
    epilog=EPILOG,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
report = typer.Typer(no_args_is_help=True, help="What the controls found, as a table (or JSON).",
                     pretty_exceptions_enable=False, pretty_exceptions_show_locals=False)  # fmt: skip
app.add_typer(report, name="report")

NODE_HELP = "Instance (i-...) or managed node (mi-...) id."
REGION_HELP = "AWS Region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)."
CONNECT_HELP = "Open the session once approved (default: on a terminal)."
ID_HELP = "Command or request id."
TIMEOUT_HELP = "Stop waiting after this many seconds (the command or request goes on: status / cancel)."


class Output(StrEnum):
    text = "text"
    json = "json"


@app.callback()
def _global(
    ctx: typer.Context,
    region: Annotated[str | None, typer.Option(help=REGION_HELP)] = None,
    profile: Annotated[str | None, typer.Option(help="AWS named profile (default: AWS_PROFILE or default).")] = None,
    output: Annotated[Output, typer.Option(help="text for people, json for scripts.")] = Output.text,
    version: Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print it.")] = False,
) -> None:  # fmt: skip
    """Global options go before or after the command."""
    if ctx.obj is None:  # tests pass a Runtime of their own
        ctx.obj = Runtime()
    ctx.obj.output = output.value if output is Output.json else ctx.obj.output
    ctx.obj.region_option = region or ctx.obj.region_option
    ctx.obj.profile = profile or ctx.obj.profile


def _run(ctx: typer.Context, command: Callable[[Runtime], Exit]) -> None:
    """Every command's errors become one line and a documented exit code, never a traceback."""
    rt: Runtime = ctx.obj
    try:
        code = command(rt)
    except KeyboardInterrupt:
        code = rt.fail(Exit.INTERRUPTED, "interrupted (Ctrl-C)")
    except Exception as error:
        code = report_failure(rt, error)
    raise typer.Exit(int(code))


@app.command(
    "break-glass", epilog="Example: ssm-guardrails break-glass i-0123456789abcdef0 --reason 'INC-42 root login broken'"
)
def break_glass(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help=NODE_HELP)],
    reason: Annotated[str, typer.Option(help="Why: becomes the command's comment (CloudTrail, audit topic).")],
    length: Annotated[int | None, typer.Option(min=14, max=128, help="Password length (default: the stack's).")] = None,
    copy: Annotated[bool, typer.Option("--copy", help="Put the password on the clipboard, not the screen.")] = False,
    timeout: Annotated[int, typer.Option(min=10, help=TIMEOUT_HELP)] = 600,
    resume: Annotated[str | None, typer.Option(help="Wait again for a command sent before (its id).")] = None,
) -> None:  # fmt: skip
    """Emergency root/Administrator password: run, reveal on the terminal, count down to deletion."""
    from ssm_guardrails_cli import passwords

    _run(ctx, lambda rt: passwords.run_break_glass(rt, node, reason, length, copy, timeout, resume))


@app.command("password", epilog="Example: ssm-guardrails password i-0123456789abcdef0")
def password(ctx: typer.Context, node: Annotated[str, typer.Argument(help="Windows instance id.")]) -> None:
    """A rotated Windows Administrator password, with its login, age, writer and expiry."""
    from ssm_guardrails_cli import passwords

    _run(ctx, lambda rt: passwords.run_password(rt, node))


@app.command(
    "request-session", epilog="Example: ssm-guardrails request-session i-0123456789abcdef0 --reason 'INC-42 disk full'"
)
def request_session(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help=NODE_HELP)],
    reason: Annotated[str, typer.Option(help="Why: shown to the approvers.")] = "",
    minutes: Annotated[int | None, typer.Option(min=1, max=60, help="Window (default: the stack's).")] = None,
    connect: Annotated[bool | None, typer.Option("--connect/--no-connect", help=CONNECT_HELP)] = None,
    timeout: Annotated[int, typer.Option(min=10, help=TIMEOUT_HELP)] = 3600,
    resume: Annotated[str | None, typer.Option(help="Wait again for a request sent before (its id).")] = None,
) -> None:  # fmt: skip
    """Ask for a session; wait for another person's approval; connect (or print the command)."""
    from ssm_guardrails_cli import sessions

    _run(ctx, lambda rt: sessions.run_request(rt, node, minutes, connect, reason, timeout, resume))


@app.command("pending", epilog="Example: ssm-guardrails pending --output json")
def pending(ctx: typer.Context) -> None:
    """Session requests waiting for an approver: full id, person, node, reason."""
    from ssm_guardrails_cli import approvals

    _run(ctx, approvals.run_pending)


@app.command(
    "approve", epilog="Example: ssm-guardrails approve 4f9b0c1e-1111-2222-3333-444455556666 --reason 'ticket checked'"
)
def approve(
    ctx: typer.Context,
    execution: Annotated[str, typer.Argument(help="Execution id (from `pending`).")],
    deny: Annotated[bool, typer.Option("--deny", help="Reject instead of approve.")] = False,
    reason: Annotated[str, typer.Option(help="Comment recorded with the decision.")] = "",
) -> None:  # fmt: skip
    """Approve (or --deny) a session request of someone else."""
    from ssm_guardrails_cli import approvals

    _run(ctx, lambda rt: approvals.run_approve(rt, execution, deny, reason))


@app.command("status", epilog="Example: ssm-guardrails status 4f9b0c1e-1111-2222-3333-444455556666")
def status(ctx: typer.Context, item: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)]) -> None:
    """Where a break-glass command or a session request stands."""
    from ssm_guardrails_cli import tracking

    _run(ctx, lambda rt: tracking.run_status(rt, item))


@app.command("cancel", epilog="Example: ssm-guardrails cancel 4f9b0c1e-1111-2222-3333-444455556666")
def cancel(ctx: typer.Context, item: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)]) -> None:
    """Cancel a break-glass command or a session request (its grant, if any, is removed)."""
    from ssm_guardrails_cli import tracking

    _run(ctx, lambda rt: tracking.run_cancel(rt, item))


@report.command("rotation")
def report_rotation(
    ctx: typer.Context,
    notify: Annotated[bool, typer.Option("--notify/--no-notify", help="Alert as the schedule does.")] = True,
) -> None:  # fmt: skip
    """Freshness of rotated Windows passwords: runs each window's report now. Like the scheduled
    run, it publishes an alert to the notification topic when it finds a MISSING or STALE password,
    unless --no-notify."""
    from ssm_guardrails_cli import reports

    _run(ctx, lambda rt: reports.run_rotation_report(rt, notify))


@report.command("access-keys")
def report_access_keys(ctx: typer.Context) -> None:
    """Users with an access key older than the rule's age (AWS Config, home Region)."""
    from ssm_guardrails_cli import reports

    _run(ctx, reports.run_access_key_report)


@app.command("doctor")
def doctor_command(ctx: typer.Context) -> None:
    """Which controls are deployed here, and whether you may run each command."""
    from ssm_guardrails_cli import doctor

    _run(ctx, doctor.run_doctor)


def main() -> None:
    app()
