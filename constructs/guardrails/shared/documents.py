"""Loads SSM document content shipped in the repository's ``ssm_documents/`` folder.

Documents live as YAML next to the code so that they can be linted, parsed and run in tests;
they are read at synth time and inlined into the templates (no file assets).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DOCUMENTS_DIR = Path(__file__).resolve().parents[3] / "ssm_documents"


@cache
def _read(name: str) -> dict[str, Any]:
    with (DOCUMENTS_DIR / f"{name}.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_document(name: str) -> dict[str, Any]:
    """Return a fresh, mutable copy of ``ssm_documents/<name>.yaml``."""
    return copy.deepcopy(_read(name))


def pin_parameter(content: dict[str, Any], parameter: str, value: str) -> None:
    """Fix a document parameter to one synth-time value.

    The value becomes both the default and the only allowed value, so the person running the
    document cannot point it at another key or path.
    """
    spec = content["parameters"][parameter]
    spec["default"] = value
    spec["allowedValues"] = [value]
    spec.pop("allowedPattern", None)


def embed_script(content: dict[str, Any], step_name: str, script: str) -> None:
    """Inline ``ssm_documents/scripts/<script>.py`` as the ``Script`` of an aws:executeScript step.

    The script lives as a real Python file so that it is linted and tested like any other code.
    """
    step = next(step for step in content["mainSteps"] if step["name"] == step_name)
    step["inputs"]["Script"] = (DOCUMENTS_DIR / "scripts" / f"{script}.py").read_text(encoding="utf-8")
