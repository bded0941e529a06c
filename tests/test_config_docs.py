"""Each setting is declared once: the README's configuration tables are generated from the declarations
(``make config-table``) and must be current; every declared setting has its line of documentation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from guardrails.break_glass import BreakGlassSettings
from guardrails.shared.settings import in_range
from stacks import config_docs
from stacks.config_docs import SECTIONS, marked_sections, render, section_model, table

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_readme_has_a_table_for_every_section() -> None:
    assert marked_sections(README) == list(SECTIONS)


def test_the_readme_tables_are_current() -> None:
    """Fails after a setting is added, removed or re-documented until `make config-table` is run."""
    assert render(README) == README, "README.md configuration tables are stale: run make config-table"


@pytest.mark.parametrize("section", SECTIONS)
def test_every_setting_has_one_line_of_documentation(section: str) -> None:
    model = section_model(section)
    stack: list[type[BaseModel]] = [model]
    undocumented = []
    while stack:
        current = stack.pop()
        for name, field in current.model_fields.items():
            description = field.description or ""
            if not description or "\n" in description:
                undocumented.append(f"{current.__name__}.{name}")
            nested = [a for a in getattr(field.annotation, "__args__", ()) if isinstance(a, type)]
            stack.extend(a for a in nested if issubclass(a, BaseModel))
    assert undocumented == []


def test_a_new_setting_appears_in_its_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator reads the declaration: a setting added to a settings class shows its type, default,
    allowed values and documentation without any other edit."""

    class Extended(BreakGlassSettings):
        retries: Annotated[int, in_range(1, 9, "tries")] = Field(3, description="How often to try.")

    monkeypatch.setattr(config_docs, "section_model", lambda section: Extended)
    assert "| `retries` | `3` | 1-9 tries | How often to try. |" in table("controls.break_glass")
