"""The guards of bot/rasa_patches: each patch fails here when the code it patches
changes, and the server refuses other versions with one sentence."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, Set

import pytest

from bot import rasa_patches
from bot.rasa_patches import (
    PATCHES,
    PatchSourceError,
    PatchVersionError,
    check_sources,
    check_versions,
    source_sha256,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(PATCHES))
def test_the_patched_code_is_what_the_patch_was_written_for(name: str) -> None:
    for target in PATCHES[name].targets:
        assert source_sha256(target.qualname) == target.source_sha256, (
            f"{target.qualname} changed: re-check {PATCHES[name].module} against the "
            "new code, then record the new hash in bot/rasa_patches/__init__.py"
        )


def test_the_installed_versions_are_the_pinned_ones() -> None:
    check_versions()


def test_another_version_stops_the_start_with_one_sentence(monkeypatch) -> None:
    monkeypatch.setattr(
        rasa_patches.metadata,
        "version",
        lambda package: "3.7.0" if package == "rasa" else "0",
    )
    with pytest.raises(PatchVersionError) as error:
        check_versions()
    text = str(error.value)
    assert "3.6.21" in text and "rasa 3.7.0 is installed" in text
    assert "make install" in text and "\n" not in text


def test_a_changed_function_is_noticed() -> None:
    target = PATCHES["event_class_lookup"].targets[0]
    source = rasa_patches.target_source(target.qualname)
    assert source.startswith("def resolve_by_type(")
    assert source_sha256("rasa.shared.core.events.Event.as_dict") != (
        target.source_sha256
    )


def test_importing_the_rasa_plugins_installs_every_patch() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event

    import bot.nlu  # noqa: F401  (config.yml's components)
    from bot.rasa_patches import (
        action_fallback,
        action_response_check,
        event_class_lookup,
    )

    assert RemoteAction.run is action_fallback._run_or_apologise
    assert RemoteAction._validate_action_result is (
        action_response_check.validate_action_result
    )
    assert Event.resolve_by_type is event_class_lookup.resolve_by_type


def printed_by(code: str) -> str:
    """What ``code`` prints in a fresh interpreter, which must end without an error."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_offline_tools_and_the_core_install_none() -> None:
    code = (
        "import ofr.events.store, ofr.language, bot.storage.conversations, "
        "ofr_tools.unanswered_report\n"
        "from rasa.core.actions.action import RemoteAction\n"
        "print(RemoteAction.run.__module__)"
    )
    assert printed_by(code) == "rasa.core.actions.action"


def test_the_core_package_loads_neither_rasa_nor_rasa_sdk() -> None:
    code = (
        "import sys, pkgutil, importlib, ofr\n"
        "for info in pkgutil.walk_packages(ofr.__path__, 'ofr.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('rasa', 'rasa_sdk', 'tensorflow', 'bot', 'actions')))"
    )
    assert printed_by(code) == "[]"


def test_another_source_stops_the_start_with_one_sentence(monkeypatch) -> None:
    """Finding 12 (issue 29): the pinned version is not enough; a package rebuilt or
    patched under the same number must not run under the patches either."""
    patch = PATCHES["rest_answers"]
    changed = dataclasses.replace(patch.targets[0], source_sha256="0" * 64)
    monkeypatch.setitem(
        PATCHES,
        "rest_answers",
        dataclasses.replace(patch, targets=(changed, *patch.targets[1:])),
    )
    check_sources(["action_fallback"])  # the others still match
    with pytest.raises(PatchSourceError) as error:
        check_sources()
    text = str(error.value)
    assert "CollectingOutputChannel._message of rasa 3.6.21" in text
    assert "'rest_answers'" in text and "make install" in text and "\n" not in text


@pytest.mark.parametrize(
    "change",
    [
        "dataclasses.replace(t, source_sha256='0' * 64)",
        "dataclasses.replace(t, version='5.8.0')",
    ],
)
def test_rasa_refuses_to_load_the_plugins_on_other_code(change: str) -> None:
    """What Rasa does at start (import the packages credentials.yml and config.yml
    name) stops with the one sentence when a target's hash or version differs."""
    code = (
        "import dataclasses\n"
        "from bot import rasa_patches\n"
        "patch = rasa_patches.PATCHES['server_agent']\n"
        "t = patch.targets[1]\n"
        f"t = {change}\n"
        "rasa_patches.PATCHES['server_agent'] = dataclasses.replace(\n"
        "    patch, targets=(patch.targets[0], t, *patch.targets[2:]))\n"
        "import bot.channels\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("bot.rasa_patches.Patch"), last
    assert "rasa.core.channels.channel.register" in last and "make install" in last


def test_rasa_serve_refuses_before_rewriting_rasas_command_line() -> None:
    code = (
        "import dataclasses, sys\n"
        "from bot import rasa_patches\n"
        "patch = rasa_patches.PATCHES['rasa_serve']\n"
        "t = dataclasses.replace(patch.targets[0], source_sha256='0' * 64)\n"
        "rasa_patches.PATCHES['rasa_serve'] = dataclasses.replace(\n"
        "    patch, targets=(t, *patch.targets[1:]))\n"
        "from ofr_tools import rasa_serve\n"
        "sys.argv = ['rasa_serve', '--version']\n"
        "rasa_serve.main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stdout
    [sentence] = result.stderr.strip().splitlines()
    assert "ofr_tools.rasa_serve relies on rasa.__main__.main" in sentence


# ---- every internal the code uses is registered (finding 12, issue 29)

PACKAGES = ("bot", "ofr", "ofr_tools", "actions", "console")
# Public names ending in "_" that are no fitted attribute (SQLAlchemy, NumPy).
NOT_FITTED = {"in_", "is_", "isnot_", "not_", "ix_", "or_", "and_"}  # numpy, SQLAlchemy
# Set by ABCMeta and typing.Protocol on every class: no use of anyone's inside.
CLASS_MACHINERY = {"_abc_impl", "_is_protocol"}
# Public-looking names of Rasa's inside that the project relies on.
WATCHED = {"stream_events", "SQLEvent"}


def _project_files() -> Dict[str, ast.Module]:
    files = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            module = module.removesuffix(".__init__")
            files[module] = ast.parse(path.read_text(encoding="utf-8"))
    return files


def _own_attributes(trees: Iterable[ast.Module]) -> Set[str]:
    """Attribute names the project's classes define (methods, class attributes and
    what they assign to self or cls)."""
    own: Set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        own.add(item.name)
                    elif isinstance(item, ast.AnnAssign | ast.Assign):
                        targets = (
                            item.targets
                            if isinstance(item, ast.Assign)
                            else [item.target]
                        )
                        own |= {t.id for t in targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                own |= {
                    t.attr
                    for t in targets
                    if isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and t.value.id in ("self", "cls")
                }
    return own


def _reached_into(name: str, own: Set[str]) -> bool:
    private = name.startswith("_") and not name.startswith("__")
    fitted = (
        name.endswith("_") and name[0] != "_" and not name.endswith("__")
    ) and name not in NOT_FITTED
    if name in CLASS_MACHINERY:
        return False
    return ((private or fitted) and name not in own) or name in WATCHED


def internal_uses(module: str, tree: ast.Module, own: Set[str]) -> Set[str]:
    """``module:name`` for every attribute of someone else's code ``module`` reads,
    sets or overrides: a private or fitted (``x_``) attribute its own classes do not
    define, a watched name, Rasa's ``app.ctx.agent``, Engine.IO's handlers, and an
    assignment to ``sys.argv``."""
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name, owner = node.attr, node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name, owner = node.args[1].value, node.args[0]
        else:
            continue
        owner_name = getattr(owner, "attr", getattr(owner, "id", None))
        if (owner_name, name) in (("ctx", "agent"), ("eio", "handlers")):
            found.add(f"{module}:{owner_name}.{name}")
        elif owner_name == "sys" and name == "argv" and isinstance(node.ctx, ast.Store):
            found.add(f"{module}:sys.argv")
        elif _reached_into(name, own):
            found.add(f"{module}:{name}")
    return found


def private_overrides(module: str) -> Set[str]:
    """``module:name`` for every private method or attribute a class of ``module``
    defines over one of a base class from outside the project."""
    found: Set[str] = set()
    loaded = importlib.import_module(module)
    for cls in vars(loaded).values():
        if not inspect.isclass(cls) or cls.__module__ != loaded.__name__:
            continue
        for name in vars(cls):
            if not name.startswith("_") or name.startswith("__"):
                continue
            if name in CLASS_MACHINERY:
                continue
            if any(
                base.__module__.split(".")[0] not in PACKAGES and name in vars(base)
                for base in cls.__mro__[1:]
            ):
                found.add(f"{module}:{name}")
    return found


def test_every_internal_the_code_uses_is_registered() -> None:
    trees = _project_files()
    own = _own_attributes(trees.values())
    found: Set[str] = set()
    for module, tree in trees.items():
        found |= internal_uses(module, tree, own) | private_overrides(module)
    registered = {use for patch in PATCHES.values() for use in patch.uses}
    unguarded = sorted(found - registered)
    assert not unguarded, (
        f"{unguarded} reach into Rasa's or a library's inside without a guard: add "
        "each to the uses (and its targets) of an entry in bot/rasa_patches/__init__.py"
    )
    for use in sorted(registered):
        module, name = use.split(":")
        path = ROOT / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = ROOT / module.replace(".", "/") / "__init__.py"
        assert name.split(".")[-1] in path.read_text(
            encoding="utf-8"
        ), f"{use} is registered but no longer in the code"


def test_the_scan_sees_a_new_use_of_an_internal() -> None:
    """The scan is not blind: each kind of use in a new module is found."""
    code = (
        "import sys\n"
        "class Store(Base):\n"
        "    def _own(self):\n"
        "        self._mine = 1\n"
        "def f(store, app, svm, sio):\n"
        "    store._private_of_rasa()\n"
        "    getattr(store, '_tracker_store', None)\n"
        "    svm.coef_ = 0\n"
        "    store.SQLEvent\n"
        "    app.ctx.agent = None\n"
        "    sio.eio.handlers['message']\n"
        "    sys.argv = []\n"
        "    store._own(); store._mine; store.values.in_(1)\n"
    )
    tree = ast.parse(code)
    own = _own_attributes([tree])
    assert internal_uses("new", tree, own) == {
        "new:_private_of_rasa",
        "new:_tracker_store",
        "new:coef_",
        "new:SQLEvent",
        "new:ctx.agent",
        "new:eio.handlers",
        "new:sys.argv",
    }
