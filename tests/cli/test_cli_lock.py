"""What operators install is pinned with hashes, satisfies cli/pyproject.toml, and no version of
Typer it allows shows local variables in tracebacks by default.

Typer's `pretty_exceptions_show_locals` defaults to True up to 0.22.0 and to False from 0.23.0
(typer/main.py of each release on PyPI; https://typer.tiangolo.com/tutorial/exceptions/). The CLI
turns it off explicitly as well (app.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "cli" / "pyproject.toml").read_text())
LEAKING_TYPER = ["0.15.0", "0.16.1", "0.19.2", "0.21.2", "0.22.0"]


def pins(path: Path) -> dict[str, str]:
    """name -> version of a uv requirements lock; every pin must carry at least one hash."""
    text = path.read_text()
    found = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", text, re.MULTILINE))
    blocks = re.split(r"^(?=[A-Za-z0-9_.-]+==)", text, flags=re.MULTILINE)[1:]
    assert all("--hash=sha256:" in block for block in blocks), f"a pin without a hash in {path.name}"
    return {name.lower(): version for name, version in found.items()}


def test_pylock_and_requirements_lock_pin_the_same_hashed_set() -> None:
    pylock = tomllib.loads((ROOT / "cli" / "pylock.toml").read_text())
    packages = {p["name"]: p for p in pylock["packages"]}
    assert all(any(f["hashes"].get("sha256") for f in p.get("wheels", [])) for p in packages.values())
    assert {name: p["version"] for name, p in packages.items()} == pins(ROOT / "cli" / "requirements.lock")


def test_the_lock_satisfies_pyproject_and_matches_the_repository_lock() -> None:
    locked = pins(ROOT / "cli" / "requirements.lock")
    for dependency in map(Requirement, PYPROJECT["project"]["dependencies"]):
        assert dependency.specifier.contains(locked[dependency.name.lower()]), dependency
    repository = pins(ROOT / "requirements.lock")
    assert {n: v for n, v in locked.items() if n in repository} == {n: repository[n] for n in locked if n in repository}


def test_no_allowed_typer_shows_locals_by_default() -> None:
    typer = next(r for r in map(Requirement, PYPROJECT["project"]["dependencies"]) if r.name == "typer")
    assert not any(typer.specifier.contains(v) for v in LEAKING_TYPER)
    lowest = min(Version(s.version) for s in typer.specifier if s.operator == ">=")
    assert typer.specifier.contains(str(lowest))
    # the leak test runs under exactly this lowest version (Makefile: .venv/typer-lowest)
    assert {n: Version(v) for n, v in pins(ROOT / "cli" / "typer-lowest.lock").items()} == {"typer": lowest}
    # the repository's own range (requirements-dev.txt) is the CLI's
    dev = next(Requirement(line) for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
               if line.startswith("typer"))  # fmt: skip
    assert dev.specifier == typer.specifier
