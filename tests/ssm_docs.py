"""Small helpers for tests of the SSM documents in ``ssm_documents/``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

#: A parameter reference as SSM Agent substitutes it: ``{{ Name }}``, spaces optional.
REFERENCE = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _strings(item)


def references(obj: Any) -> set[str]:
    """Every parameter name referenced as ``{{ Name }}`` in any string of a loaded document."""
    return {match.group(1) for text in _strings(obj) for match in REFERENCE.finditer(text)}


def render(text: str, parameters: Mapping[str, str]) -> str:
    """Substitute ``{{ Name }}`` references like SSM does; an unknown name raises KeyError."""
    return REFERENCE.sub(lambda match: str(parameters[match.group(1)]), text)


def defaults(content: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter name -> default value (parameters without a default are left out)."""
    return {name: spec["default"] for name, spec in content.get("parameters", {}).items() if "default" in spec}


def step(content: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The ``mainSteps`` entry called ``name``."""
    matches = [candidate for candidate in content["mainSteps"] if candidate["name"] == name]
    assert len(matches) == 1, f"expected one step named {name}, found {len(matches)}"
    return matches[0]
