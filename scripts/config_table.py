"""Rewrite the README's configuration tables from the settings declarations (``make config-table``)."""

from __future__ import annotations

from pathlib import Path

from stacks.config_docs import render

README = Path(__file__).resolve().parents[1] / "README.md"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    updated = render(text)
    if updated != text:
        README.write_text(updated, encoding="utf-8")
        print("README.md: configuration tables updated")
    else:
        print("README.md: configuration tables already current")


if __name__ == "__main__":
    main()
