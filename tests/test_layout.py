"""The package layout: one package per control, shared blocks in one place, small modules.

Where things go (README "Development"): a control's construct, props and one module per concern live in
``constructs/guardrails/<control>/``; what two controls need lives in ``constructs/guardrails/shared/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "constructs" / "guardrails"
CONTROLS = {"access_keys", "break_glass", "password_rotation", "separation_of_duties", "session_prefs"}
#: Packages any control or the rollout may import.
SHARED = {"shared"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    """The ``guardrails.<package>`` names a module imports (absolute imports only: the project uses no others)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            assert node.level == 0, f"{path.relative_to(ROOT)}: relative import; use guardrails.<package>"
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "guardrails" and len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
                found.add(parts[1])
    return found


def test_the_package_holds_only_packages_and_its_init() -> None:
    loose = sorted(p.name for p in PACKAGE.iterdir() if p.is_file() and p.name != "__init__.py")
    assert loose == []
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == CONTROLS | SHARED | {"rollout"}
    assert all((PACKAGE / name / "__init__.py").is_file() for name in packages)


def test_controls_import_each_other_only_through_the_shared_package() -> None:
    crossings = []
    for module in _modules():
        owner = module.relative_to(PACKAGE).parts[0]
        if owner not in CONTROLS | {"rollout"}:
            continue
        for imported in _imported_packages(module) - SHARED - {owner}:
            crossings.append(f"{module.relative_to(ROOT)} imports guardrails.{imported}")
    assert crossings == []


def test_the_shared_package_imports_no_control() -> None:
    crossings = [
        f"{module.relative_to(ROOT)} imports guardrails.{imported}"
        for module in (PACKAGE / "shared").glob("*.py")
        for imported in _imported_packages(module) - SHARED
    ]
    assert crossings == []


def test_the_import_check_sees_a_crossing(tmp_path: Path) -> None:
    """The scanner itself: both import forms of another control are found."""
    module = tmp_path / "m.py"
    module.write_text("from guardrails.session_prefs.props import X\nimport guardrails.break_glass.cleanup\n")
    assert _imported_packages(module) == {"session_prefs", "break_glass"}


def test_every_construct_module_stays_small() -> None:
    """A module past ~300 lines usually holds several concerns: split it into one module per concern."""
    modules = _modules()
    assert len(modules) > 40
    too_long = {str(m.relative_to(PACKAGE)): n for m in modules if (n := m.read_text().count("\n")) >= 300}
    assert too_long == {}
