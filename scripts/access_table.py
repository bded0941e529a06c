#!/usr/bin/env python3
"""The README's access tables, generated from the access suite's data (`make access-table`).

- "Who can do what": `tests/access/scenarios.yaml` holds every call of every README walkthrough
  (allowed) and every abuse path (denied), each judged by the IAM simulator in `make test`;
  per principal, what it may and may not do.
- "Adversaries with AWS managed policies": `tests/access/adversaries.py`; per adversary, the abuses
  it is denied and the boundaries AWS leaves (each judged in `make test` too).
- "Privileged roles and who can reach them": `tests/access/privileged_roles.py`.

A test fails when the README and the data disagree.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "tests" / "access" / "scenarios.yaml"
README = ROOT / "README.md"
START, END = "<!-- who-can-do-what:start -->", "<!-- who-can-do-what:end -->"
ADVERSARIES = ("<!-- adversaries:start -->", "<!-- adversaries:end -->")
PRIVILEGED_ROLES = ("<!-- privileged-roles:start -->", "<!-- privileged-roles:end -->")


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


def _access_module(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "access" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def adversary_table() -> str:
    """One row per adversary: the abuses it is denied, and the boundaries AWS leaves it."""
    adversaries = _access_module("adversaries")
    rows = ["| adversary (AWS managed policy) | may not | boundary AWS leaves |", "|---|---|---|"]
    for who, adversary in adversaries.ADVERSARIES.items():  # type: ignore[attr-defined]
        boundaries = {abuse: s for (w, abuse), s in adversaries.BOUNDARIES.items() if w == who}  # type: ignore[attr-defined]
        denied = _unique(a.may_not for name, a in adversaries.ABUSES.items() if name not in boundaries)  # type: ignore[attr-defined]
        rows.append(f"| {adversary.label} | {'; '.join(denied)} | {' '.join(_unique(boundaries.values())) or '—'} |")
    return "\n".join(rows)


def privileged_roles_table(data: dict[str, Any]) -> str:
    """One row per privileged role: what it holds, who may pass it, who may change what it runs."""
    sys.path.insert(0, str(ROOT / "tests" / "access"))  # privileged_roles imports its siblings
    adversaries, roles = _access_module("adversaries"), _access_module("privileged_roles")
    labels = {**data["principals"], **{k: a.label for k, a in adversaries.ADVERSARIES.items()}}  # type: ignore[attr-defined]

    def who(role: str, way: str) -> str:
        reach = roles.REACH[role, way]  # type: ignore[attr-defined]
        boundaries = set(adversaries.BOUNDARIES.values())  # type: ignore[attr-defined]
        named = [f"{labels[p]} ({'a boundary above' if why in boundaries else why})" for p, why in reach.items()]
        return "; ".join(named) or "nobody"

    rows = ["| role | trusted by | holds | may pass it to its service | may change its code or permissions |",
            "|---|---|---|---|---|"]  # fmt: skip
    for key, role in roles.ROLES.items():  # type: ignore[attr-defined]
        rows.append(
            f"| {role.label} | `{role.service}` only | {role.holds} | {who(key, 'pass')} | {who(key, 'change')} |"
        )
    return "\n".join(rows)


def readme_with_table(readme: str, rendered: str, markers: tuple[str, str] = (START, END)) -> str:
    start, end = markers
    before, found, rest = readme.partition(start)
    _, found_end, after = rest.partition(end)
    if not (found and found_end):
        raise SystemExit(f"README.md lacks the markers {start} ... {end}")
    return f"{before}{start}\n{rendered}\n{end}{after}"


def rendered_readme(readme: str) -> str:
    """The README with every generated table rewritten."""
    data = yaml.safe_load(SCENARIOS.read_text())
    readme = readme_with_table(readme, table(data))
    readme = readme_with_table(readme, adversary_table(), ADVERSARIES)
    return readme_with_table(readme, privileged_roles_table(data), PRIVILEGED_ROLES)


def main() -> int:
    README.write_text(rendered_readme(README.read_text()))
    print(f"README.md: 'Who can do what' rewritten from {SCENARIOS.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
