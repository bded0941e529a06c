"""Build inputs are locked: every Python package the build installs is pinned, with hashes, in
requirements.lock, and the Makefile and the pipeline install from the lock only (issue 14, item 1).

The check is offline: the requirement files are parsed with ``packaging``, and the packages their
extras and dependencies pull in are read from the installed distributions' metadata, which is the
same resolution pip performs.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
#: pip and the venv's own installer are not installed from the lock (``python -m venv`` brings pip).
NOT_INSTALLED_FROM_LOCK = {"pip"}


def _requirement_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            lines += _requirement_lines(path.parent / line[3:].strip())
        else:
            assert not line.startswith("-"), f"{path.name}: option lines other than -r are not locked: {line}"
            lines.append(line)
    return lines


def _lock() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of requirements.lock (pip's hash-checking format)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    text = LOCK.read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = block.split("\\", 1)[0].strip()
        if not first or first.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", first)
        assert match, f"requirements.lock: not an exact pin: {first!r}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        pins[canonicalize_name(match[1])] = (match[2], hashes)
    return pins


def _requirements() -> list[Requirement]:
    return [Requirement(line) for line in _requirement_lines(ROOT / "requirements-dev.txt")]


def test_the_lock_pins_every_package_with_hashes() -> None:
    pins = _lock()
    assert len(pins) > 50  # the parser read the file
    unhashed = sorted(name for name, (_, hashes) in pins.items() if not hashes)
    assert not unhashed, f"requirements.lock entries without --hash: {unhashed}"


def test_every_requirement_is_pinned_in_the_lock_within_its_range() -> None:
    pins = _lock()
    problems = []
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement} is not in requirements.lock")
        elif not requirement.specifier.contains(pins[name][0], prereleases=True):
            problems.append(f"{requirement} does not admit the locked {pins[name][0]}")
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_every_dependency_and_extra_the_requirements_pull_in_is_in_the_lock() -> None:
    """Walk the dependency closure (extras included) through the installed metadata: any package
    pip would install that the lock lacks would make `pip install --require-hashes` fail."""
    pins = _lock()
    environment = default_environment()
    missing: set[str] = set()
    pending = [(requirement, frozenset(requirement.extras)) for requirement in _requirements()]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        if name not in pins:
            missing.add(name)
            continue
        for line in metadata.requires(requirement.name) or []:
            dependency = Requirement(line)
            applies = dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
            )
            if applies:
                pending.append((dependency, frozenset(dependency.extras)))
    assert not missing, f"installed by the requirements but not in requirements.lock (run `make lock`): {missing}"


def test_the_venv_runs_what_the_lock_pins() -> None:
    """What the tests ran with is what the pipeline builds with: every locked package is installed
    at its locked version (re-run `make bootstrap` after the lock changes)."""
    wrong = []
    for name, (version, _) in _lock().items():
        if name in NOT_INSTALLED_FROM_LOCK:
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            wrong.append(f"{name}: locked {version}, installed {installed}")
    assert not wrong, "\n".join(wrong)


def test_make_installs_from_the_lock_only() -> None:
    makefile = (ROOT / "Makefile").read_text()
    stamp_rule = re.search(r"^\$\(VENV_STAMP\):(.*?)\n\n", makefile, re.S | re.M)
    assert stamp_rule, "Makefile: no $(VENV_STAMP) rule"
    prerequisites, recipe = stamp_rule[1].split("\n", 1)
    assert "requirements.lock" in prerequisites.split()
    commands = re.sub(r"\\\n\s*", " ", recipe)  # a command continued over lines with "\" is one command
    installs = [line.strip() for line in commands.splitlines() if "pip install" in line]
    assert installs, "the $(VENV_STAMP) recipe installs nothing"
    for line in installs:
        # each install either checks every hash, or installs only this project (and its CLI) without
        # dependencies, or puts the one hash-pinned lowest Typer aside for the CLI's leak test
        assert (
            ("--require-hashes" in line and "-r requirements.lock" in line)
            or ("--no-deps" in line and "--no-build-isolation" in line and line.endswith("-e . -e ./cli"))
            or ("--require-hashes" in line and "--no-deps" in line and line.endswith("-r cli/typer-lowest.lock"))
        ), f"unlocked install in the Makefile: {line}"
    assert not re.search(r"pip install[^\n]*-r requirements(-dev)?\.txt", makefile)


def test_the_editable_install_builds_with_a_locked_backend() -> None:
    """--no-build-isolation builds the project with the venv's setuptools: it must come from the lock."""
    assert "setuptools" in _lock()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'build-backend = "setuptools.build_meta"' in pyproject
