#!/usr/bin/env python3
"""The README's "Who can do what" table, generated from the access scenarios.

`tests/access/scenarios.yaml` holds every call of every README walkthrough (allowed) and every
abuse path (denied), each judged by the IAM simulator in `make test`. This script renders, per
principal, what it may and may not do, and writes it between the README's markers
(`make access-table`); a test fails when the README and the scenarios disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "tests" / "access" / "scenarios.yaml"
README = ROOT / "README.md"
START, END = "<!-- who-can-do-what:start -->", "<!-- who-can-do-what:end -->"


def table(data: dict[str, Any]) -> str:
    """One row per principal: what its allowed scenarios mean, and what its denied ones stand for."""
    rows = ["| who | may | may not |", "|---|---|---|"]
    for key, label in data["principals"].items():
        mine = [s for s in data["scenarios"] if s["as"] == key]
        may = _unique(s["may"] for s in mine if s["expect"] == "allowed")
        may_not = _unique(s["may_not"] for s in mine if s["expect"] == "denied")
        rows.append(f"| {label} | {'; '.join(may) or '—'} | {'; '.join(may_not) or '—'} |")
    return "\n".join(rows)


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def readme_with_table(readme: str, rendered: str) -> str:
    before, found, rest = readme.partition(START)
    _, found_end, after = rest.partition(END)
    if not (found and found_end):
        raise SystemExit(f"README.md lacks the markers {START} ... {END}")
    return f"{before}{START}\n{rendered}\n{END}{after}"


def main() -> int:
    rendered = table(yaml.safe_load(SCENARIOS.read_text()))
    README.write_text(readme_with_table(README.read_text(), rendered))
    print(f"README.md: 'Who can do what' rewritten from {SCENARIOS.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
