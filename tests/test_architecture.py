"""The package rules of docs/architecture.md that import-linter does not check.

The import contracts (layers, forbidden packages, no circles) are in pyproject.toml
and checked by import-linter in make lint. Here: what it cannot see: sys.path
tricks, test modules importing each other, bench/ importing tests/, and what a
process really loads (a package's __init__ runs before any of its modules).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import List

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ofr", "bot", "actions", "ofr_tools", "console")
# Rasa's processes only (docs/architecture.md).
RASA = ("rasa", "rasa_sdk", "tensorflow", "sanic", "telegram", "bot.rasa_patches")
# The console's training worker is a process of its own (python -m console.model_job).
WORKER = ("console.model_job", "console.model_check")


def _imports(path: Path) -> List[str]:
    """Every module named in an import, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names]
    return found


def _loaded_after_importing(modules: List[str], then: str = "") -> List[str]:
    """Which of RASA a fresh interpreter holds after importing ``modules``."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"{then}\n"
        f"print(json.dumps(sorted(m for m in {RASA!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_console_process_loads_no_rasa(tmp_path: Path) -> None:
    """Every project module the console can import, also inside its functions
    (the pages read conversations only when opened), and the app made: no Rasa,
    no patches of Rasa."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    console = {
        name
        for name in graph.find_descendants("console") | {"console"}
        if name not in WORKER
    }
    reached = set(console)
    for name in console:
        reached |= graph.find_upstream_modules(name)
    assert "bot.storage.conversations" in reached and "console.app" in reached
    assert not reached & set(WORKER)
    make_app = (
        "from pathlib import Path\n"
        "from console.app import ConsoleConfig, create_app\n"
        f"var = Path({str(tmp_path)!r})\n"
        "create_app(ConsoleConfig(Path.cwd(), var, Path('data/events.yml'), False))"
    )
    assert _loaded_after_importing(sorted(reached), then=make_app) == []


def test_make_share_links_loads_no_rasa() -> None:
    """It writes links and QR codes: no reason to install Rasa's patches."""
    assert _loaded_after_importing(["ofr_tools.share_links"]) == []


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
