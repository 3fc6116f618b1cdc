"""The package rules of docs/architecture.md, read from the code itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ofr", "bot", "actions", "ofr_tools", "console")

# What each package may import of the project (besides itself).
ALLOWED: Dict[str, Set[str]] = {
    "ofr": set(),
    "actions": {"ofr"},
    "bot": {"ofr"},
    "ofr_tools": {"ofr", "bot"},
    "console": {"ofr", "bot", "ofr_tools"},
}
# Third-party packages that must stay out of a package.
FORBIDDEN: Dict[str, Set[str]] = {
    "ofr": {"rasa", "rasa_sdk", "tensorflow", "sanic", "telegram"},
    "actions": {"rasa", "tensorflow", "sanic", "telegram"},
    "console": {"rasa", "rasa_sdk", "tensorflow", "sanic", "telegram"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> List[str]:
    """Every module named in an import, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # The project imports absolutely; a relative import is reported as such.
            base = "." * node.level + (node.module or "")
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names]
    return found


def _project_modules() -> Dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_it_may(package: str) -> None:
    wrong = []
    for name, path in _project_modules().items():
        if name.split(".")[0] != package:
            continue
        for imported in _imports(path):
            top = imported.split(".")[0]
            if imported.startswith("."):
                wrong.append(f"{name} imports relatively: {imported}")
            if top in PACKAGES and top != package and top not in ALLOWED[package]:
                wrong.append(f"{name} imports {imported}")
            if top in FORBIDDEN.get(package, set()) or top == "tests":
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_no_import_circles() -> None:
    modules = _project_modules()
    graph = {
        name: {
            target
            for imported in _imports(path)
            for target in (imported, imported.rsplit(".", 1)[0])
            if target in modules and target != name
        }
        for name, path in modules.items()
    }
    # A package's __init__ importing its own modules is not a circle of logic.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    circles = []
    state: Dict[str, int] = {}

    def visit(node: str, trail: List[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                circles.append(" -> ".join(trail[trail.index(target) :] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def _edits_sys_path(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        func = node.func if isinstance(node, ast.Call) else None
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "path"
            and isinstance(func.value.value, ast.Name)
            and func.value.value.id == "sys"
        ):
            return True
    return False


def test_no_module_edits_sys_path() -> None:
    """The packages are installed (pip install -e .): no path tricks needed."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in (*PACKAGES, "bench", "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if _edits_sys_path(path)
    ]
    assert offenders == []


def test_no_test_module_imports_another() -> None:
    offenders = [
        f"{path.name} imports {imported}"
        for path in (ROOT / "tests").glob("test_*.py")
        for imported in _imports(path)
        if imported.split(".")[:2][-1].startswith("test_")
        and imported.startswith("tests")
    ]
    assert offenders == []


def test_the_rasa_server_loads_neither_actions_nor_rasa_sdk_nor_dateparser() -> None:
    """The Rasa server imports bot/ (and through it ofr/), never the action server's
    code: rasa_sdk and dateparser stay in the action server's process."""
    code = (
        "import sys, pkgutil, importlib, bot\n"
        "for info in pkgutil.walk_packages(bot.__path__, 'bot.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(sorted(m for m in ('rasa_sdk', 'dateparser', 'actions') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_benchmarks_do_not_import_the_tests() -> None:
    """bench/ scripts run on their own (python bench/x.py): they may use the
    project's packages, never tests/."""
    offenders = [
        f"{path.name} imports {imported}"
        for path in sorted((ROOT / "bench").glob("*.py"))
        for imported in _imports(path)
        if imported.split(".")[0] == "tests"
    ]
    assert offenders == []
