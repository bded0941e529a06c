"""The README's configuration tables, generated from the settings declarations (``make config-table``).

Each setting is declared once, in its control's settings class or in :mod:`stacks.config`, with its type,
default, allowed values and one line of documentation; this module turns those declarations into the
Markdown tables between ``<!-- config-table:<section>:start -->`` and ``...:end -->`` in README.md, and
``tests/test_config_docs.py`` fails when the README is stale.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from guardrails.shared.settings import Allowed
from stacks.config import GuardrailsConfig

#: The README sections, in order: the dotted path of each section in the configuration file.
SECTIONS = (
    "organization",
    "rollout",
    "pipeline",
    "controls.break_glass",
    "controls.password_rotation",
    "controls.access_key_remediation",
    "controls.session_prefs",
    "controls.separation_of_duties",
)
_MARKER = re.compile(
    r"(<!-- config-table:(?P<section>[\w.]+):start -->\n).*?(<!-- config-table:(?P=section):end -->)", re.S
)


def section_model(section: str) -> type[BaseModel]:
    model: type[BaseModel] = GuardrailsConfig
    for part in section.split("."):
        model = _model_of(model.model_fields[part].annotation)
    return model


def table(section: str) -> str:
    """The Markdown table of one section: key, default, allowed, meaning."""
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for key, field in _rows(section_model(section), ""):
        allowed = _allowed(field.annotation, field.metadata)
        lines.append(f"| `{key}` | {_default(field)} | {allowed} | {field.description or ''} |")
    return "\n".join(lines) + "\n"


def render(readme: str) -> str:
    """``readme`` with every marked table regenerated."""

    def replace(match: re.Match[str]) -> str:
        return match.group(1) + table(match.group("section")) + match.group(3)

    return _MARKER.sub(replace, readme)


def marked_sections(readme: str) -> list[str]:
    return [match.group("section") for match in _MARKER.finditer(readme)]


def _rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
    """Every field, with nested sections flattened into dotted keys (``windows[].name``). A config section
    that extends a control's settings lists its own keys (``enabled``, the roles) first."""
    own = set(inspect.get_annotations(model))
    ordered = sorted(model.model_fields.items(), key=lambda item: item[0] not in own)
    for name, field in ordered:
        key = f"{prefix}{name}"
        nested = _model_of(field.annotation)
        if nested is None:
            yield key, field
            continue
        many = get_origin(_without_none(field.annotation)) is list
        yield key, field
        yield from _rows(nested, f"{key}[]." if many else f"{key}.")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings class an annotation holds (directly, optionally, or as a list of them)."""
    annotation = _without_none(annotation)
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _allowed(annotation: Any, metadata: list[Any]) -> str:
    for item in metadata:
        if isinstance(item, Allowed):
            return item.text
    lengths = _lengths(metadata)
    annotation = _without_none(annotation)
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return _allowed(inner, [*extra, *metadata])
    if origin is Literal:
        return ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin is list:
        item = _allowed(get_args(annotation)[0], [])
        entries = f"{lengths} entries" if lengths else "list"
        return f"{entries} of: {item}" if item else entries
    if origin is dict:
        return "mapping"
    if annotation is bool:
        return "`true`, `false`"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping, keys below"
    if annotation is str:
        return f"{lengths} characters" if lengths else "text"
    if annotation is int:
        return "whole number"
    return ""


def _lengths(metadata: list[Any]) -> str:
    low = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), None)
    high = next((m.max_length for m in metadata if isinstance(m, annotated_types.MaxLen)), None)
    if low is not None and high is not None:
        return f"{low}-{high}"
    if low is not None:
        return f"{low} or more"
    return ""


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "see keys"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`' if value == "" or value.isdigit() else f"`{value}`"
    return f"`{value}`"
