"""Settings: where every user setting of a control is declared, once.

A control's settings class (``BreakGlassSettings``, ``SessionPrefsSettings``, ...) is at the same time

* the construct's props (``BreakGlass(scope, id, settings=BreakGlassSettings(ttl_seconds=120), ...)``),
* the section of the deployment configuration (``stacks/config.py`` extends it with the roles it
  attaches and an ``enabled`` switch, and passes the section to the construct as it is), and
* the source of the README's configuration tables (``make config-table``).

Each field carries its type, its default, what is allowed (an :class:`Allowed` rule, a ``Literal`` or a
nested settings class) and one line of documentation (``Field(description=...)``). A bad value given to
the construct raises :class:`PropsError` naming ``<Construct>.<setting>``; the config loader reports the
same rule with the file and key path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationError
from pydantic_core import core_schema

from guardrails.shared.validation import PropsError, check_pattern, check_range


@dataclass(frozen=True)
class Allowed:
    """A pydantic rule built from one of the checks in :mod:`guardrails.shared.validation`.

    ``text`` is what the README's table says is allowed; the error says what the check says."""

    check: Callable[[str, Any], None]
    text: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source))

    def _validate(self, value: Any) -> Any:
        try:
            self.check("value", value)
        except PropsError as error:
            raise ValueError(f"allowed: {error.allowed}") from None
        return value


def in_range(low: int, high: int, unit: str = "") -> Allowed:
    suffix = f" {unit}" if unit else ""
    return Allowed(lambda setting, value: check_range(setting, value, low, high, unit), f"{low}-{high}{suffix}")


def zero_or_range(low: int, high: int, unit: str) -> Allowed:
    """0 switches the behaviour off; anything else must be in the range."""

    def check(setting: str, value: int) -> None:
        if value != 0:
            check_range(setting, value, low, high, f"{unit} (0 disables)")

    return Allowed(check, f"0 (off) or {low}-{high} {unit}")


def matching(pattern: str | re.Pattern[str], allowed: str) -> Allowed:
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    return Allowed(lambda setting, value: check_pattern(setting, value, compiled, allowed), allowed)


def rule(check: Callable[[str, Any], None], text: str) -> Allowed:
    """Any check of :mod:`guardrails.shared.validation` (or the control's own) as a rule."""
    return Allowed(check, text)


#: Set while a whole configuration file is validated: errors then keep pydantic's shape, so the loader
#: reports them with the file and the key path instead of the construct's name.
_IN_CONFIG: ContextVar[bool] = ContextVar("in_config", default=False)


@contextmanager
def validating_config() -> Iterator[None]:
    """Validate a configuration file: settings errors stay pydantic errors with their key path."""
    token = _IN_CONFIG.set(True)
    try:
        yield
    finally:
        _IN_CONFIG.reset(token)


class Settings(BaseModel):
    """Base of every control's settings: frozen, strictly typed, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    #: The construct these settings configure, for error messages (``BreakGlass.ttl_seconds: got ...``).
    construct_name: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            if _IN_CONFIG.get():
                raise
            raise _props_error(type(self), error) from None
        if not _IN_CONFIG.get():
            for key, value, allowed in self.problems():
                raise PropsError(f"{self.construct_name or type(self).__name__}.{key}", value, allowed)

    def problems(self) -> Iterator[tuple[str, Any, str]]:
        """Rules that span several settings: ``(setting, value, what is allowed)`` for each one broken.
        The construct raises the first; the config loader reports each with its key path."""
        return iter(())


def _props_error(model: type[Settings], error: ValidationError) -> PropsError:
    """The first problem as one line, in the construct's own words."""
    item = error.errors(include_url=False)[0]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]).lstrip(".")
    owner = model.construct_name or model.__name__
    message = item["msg"].removeprefix("Value error, ")
    allowed = message.removeprefix("allowed: ") if message.startswith("allowed: ") else message
    if item["type"] == "extra_forbidden":
        allowed = f"one of {', '.join(sorted(model.model_fields))}"
    return PropsError(f"{owner}.{where}", item.get("input"), allowed)
