"""Every wait shows what it waits for, its state and the elapsed time, and ends: by result, by
timeout, or by Ctrl-C. The last two print the id and the commands that resume or cancel it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rich.text import Text

from ssm_guardrails_cli.runtime import Exit, Runtime

T = TypeVar("T")


@dataclass(frozen=True)
class Ongoing:
    """What goes on in AWS when the CLI stops waiting, and how to get back to it."""

    what: str  # "break-glass command 4f9b... on i-0123..."
    resume: str  # a command line
    cancel: str  # a command line, or a sentence when there is nothing to cancel


class WaitEnded(Exception):
    """The CLI stopped waiting (timeout or Ctrl-C); the thing waited for goes on."""

    def __init__(self, code: Exit, why: str, ongoing: Ongoing, state: str = "") -> None:
        super().__init__(why)
        self.code = code
        self.ongoing = ongoing
        self.state = state

    def lines(self) -> list[str]:
        still = f" (last seen: {self.state})" if self.state else ""
        return [
            f"{self}: {self.ongoing.what} goes on{still}.",
            f"  resume: {self.ongoing.resume}",
            f"  cancel: {self.ongoing.cancel}",
        ]


def clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def wait_for(
    rt: Runtime,
    label: str,
    poll: Callable[[], tuple[T | None, str]],
    ongoing: Ongoing,
    timeout: float,
    interval: float,
    show_elapsed: bool = True,
) -> T:
    """Call ``poll`` (-> (result or None, state)) until it returns a result; show state and elapsed time."""
    start = rt.clock()
    state = ""
    try:
        with rt.console.status(Text(label)) as status:
            while True:
                result, state = poll()
                if result is not None:
                    return result
                elapsed = (rt.clock() - start).total_seconds()
                if elapsed >= timeout:
                    why = f"stopped waiting after {clock_text(timeout)} (--timeout)"
                    raise WaitEnded(Exit.TIMED_OUT, why, ongoing, state)
                limit = f" of at most {clock_text(timeout)}" if timeout != float("inf") else ""
                shown = f"{label} {state}" + (f", {clock_text(elapsed)}{limit}" if show_elapsed else "")
                status.update(Text(shown + " (Ctrl-C stops waiting)"))
                rt.sleep(interval)
    except KeyboardInterrupt:
        raise WaitEnded(Exit.INTERRUPTED, "stopped waiting (Ctrl-C)", ongoing, state) from None
