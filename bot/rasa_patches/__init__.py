"""Every place the OFR assistant changes or leans on the inside of Rasa, in one list.

Rasa 3.6 gives no hook for what these do (docs/architecture.md, "Rasa patches").
Each entry names the code it was written against: the package version it was
checked with and the qualified name of the function or attribute it replaces,
wraps or overrides. ``install_all`` refuses to start with one sentence when an
installed version differs; tests/test_rasa_patches.py fails when the source of a
patched function changes, so an upgrade cannot change their meaning unnoticed.

Process-wide patches are installed here, explicitly, by the two packages Rasa
imports from config.yml and credentials.yml (``bot.nlu`` and ``bot.channels``).
Tools that only read stored conversations (purge, unanswered, migrate-ids) import
``bot.storage`` or ``ofr`` and get none of them; ``ofr-evaluate`` runs the NLU
pipeline and so gets them like the server. Subclasses that override Rasa's methods
(tracker store, lock store, socket.io) are listed too: their targets are guarded
the same way, though nothing is installed for them.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Callable, Dict, List, Tuple


class PatchVersionError(RuntimeError):
    """An installed package is not the version a patch was written for."""


@dataclass(frozen=True)
class Target:
    """A piece of someone else's code that a patch replaces or relies on."""

    package: str  # the distribution, as pip names it
    version: str  # the version the patch was written for and tested with
    qualname: str  # module path, then attribute path, e.g. "rasa.x.Cls.method"
    source_sha256: str  # of the target's source text in that version


@dataclass(frozen=True)
class Patch:
    """What a patch changes, where it lives, and how to install it (if process-wide)."""

    module: str
    targets: Tuple[Target, ...]
    install: Callable[[], None] | None = None  # None: applied by its channel/store


RASA = "3.6.21"
ENGINEIO = "4.15.1"
AIOHTTP = "3.9.5"


def _install_action_fallback() -> None:
    from bot.rasa_patches import action_fallback

    action_fallback.install()


def _install_action_response_check() -> None:
    from bot.rasa_patches import action_response_check

    action_response_check.install()


def _install_event_class_lookup() -> None:
    from bot.rasa_patches import event_class_lookup

    event_class_lookup.install()


PATCHES: Dict[str, Patch] = {
    "action_fallback": Patch(
        "bot.rasa_patches.action_fallback",
        (
            Target(
                "rasa",
                RASA,
                "rasa.core.actions.action.RemoteAction.run",
                "b530fc5a6789c82f2f273ef04df4894f741226fd9b15f154f0af78cd3f5df32b",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.constants.DEFAULT_REQUEST_TIMEOUT",
                "24e99267bfb74ebaf5ab10f378a345fdae012ad69c6ac0f2e53d45420ae6335c",
            ),
        ),
        _install_action_fallback,
    ),
    "action_connection": Patch(
        "bot.rasa_patches.action_connection",
        (
            Target(
                "rasa",
                RASA,
                "rasa.utils.endpoints.EndpointConfig.session",
                "f6136492eac7ede36e18bfb9f7c205970b6a9eb4f27251cae2bba69d4c3c5581",
            ),
            # reads ClientSession._loop to find a session of another event loop
            Target(
                "aiohttp",
                AIOHTTP,
                "aiohttp.client.ClientSession.__init__",
                "2a8c70631b8d8d70930d6b44d8ba163a2282e6db2771f95648643e486a9d83f0",
            ),
        ),
        # applied to the action endpoint by action_fallback on the first call
    ),
    "action_response_check": Patch(
        "bot.rasa_patches.action_response_check",
        (
            Target(
                "rasa",
                RASA,
                "rasa.core.actions.action.RemoteAction._validate_action_result",
                "24da0f6bdeb2d44f1f85da375a5aca57cd0a9fb2cdd5cfa722914761d759c018",
            ),
        ),
        _install_action_response_check,
    ),
    "event_class_lookup": Patch(
        "bot.rasa_patches.event_class_lookup",
        (
            Target(
                "rasa",
                RASA,
                "rasa.shared.core.events.Event.resolve_by_type",
                "ffabe9999fc8f7f3c65533056a95af7a71f79d3565e5b43f507cc8128246d10f",
            ),
        ),
        _install_event_class_lookup,
    ),
    "socketio_checks": Patch(
        "bot.channels.socketio",
        (
            Target(
                "rasa",
                RASA,
                "rasa.core.channels.socketio.SocketIOOutput.send_custom_json",
                "7f563a5772bbbf97a5b7d8cec195d8c4c5d9bb2a8063e4019bc9051537a747f7",
            ),
            Target(
                "python-engineio",
                ENGINEIO,
                "engineio.async_socket.AsyncSocket._websocket_handler",
                "dfa7a417e0e9828ea8414728c6252e8592dc9aaefeb4445539799dc3e71051f0",
            ),
        ),
    ),
    "tracker_store": Patch(
        "bot.storage.tracker_store",
        (
            # erasing on request: the save every store does after a turn
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.TrackerStore.save",
                "25487f1b67e7792947ca6937e2fe2139f8408acb80bf50e165fef6ecb3750913",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.RedisTrackerStore.save",
                "f1f3d53ea2cddab0f7aa46f1639ddf326768df99f83dabf790ffee0694408013",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.InMemoryTrackerStore.save",
                "a2ce75fc0f7e7f90481cb33da31e4f9ed6af92ae1e467f74bb1c816f97c6b08e",
            ),
            # SQL: pooled SQLite engine, latest session in one query, new rows only
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.__init__",
                "7c89f1231aac70a1d9af35f89418b585140b8fb54910f0a661a032e8d7473b54",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore._retrieve",
                "78c7e08ac30924b63eb5b5a3a906bbc7deeb672d5f3642fd4b6f6ba72f9c43c8",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.retrieve",
                "677c6bcd5340d5f4996730e89508200b18035343a37d8532cbc9280fdc6cd312",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.save",
                "ded301e08f4c708e8b3149783589904eb9b111e3a9c75fb574afb9e4ce4f9c80",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore._additional_events",
                "5ad906f458419020a669e048e709c5ee19e706655374e14f13909f867e303dbb",
            ),
        ),
    ),
    "redis_lock_store": Patch(
        "bot.storage.lock_store",
        (
            Target(
                "rasa",
                RASA,
                "rasa.core.lock_store.LockStore.lock",
                "d84cf99f0517cbc1b426e9c5e03d0ca28c3b183bbe0f0d91ecf634e1e4d6cae0",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.lock_store.RedisLockStore.__init__",
                "6ba34830ecb02ab232492e21abed4e4660a4dc83a2bf44b3536f61128a68a0d8",
            ),
        ),
    ),
}

_installed = False


def check_versions() -> None:
    """Refuse to run patches written for other versions of what they patch."""
    for name, patch in PATCHES.items():
        for target in patch.targets:
            try:
                installed = metadata.version(target.package)
            except metadata.PackageNotFoundError:
                installed = "none"
            if installed != target.version:
                raise PatchVersionError(
                    f"{patch.module} patches {target.qualname} of {target.package} "
                    f"{target.version}, but {target.package} {installed} is installed: "
                    f"install the pinned versions (make install), or re-check the patch "
                    f"'{name}' against the new code and update bot/rasa_patches/__init__.py."
                )


def install_all() -> None:
    """Check the versions once, then install every process-wide patch (idempotent)."""
    global _installed
    if _installed:
        return
    check_versions()
    for patch in PATCHES.values():
        if patch.install is not None:
            patch.install()
    _installed = True


def target_source(qualname: str) -> str:
    """The source text of a function, class or module-level name, found by its
    qualified name in the installed package's file (patched or not)."""
    parts = qualname.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
            break
        except ImportError:
            continue
    else:
        raise LookupError(f"no module found for {qualname}")
    assert module.__file__ is not None
    source = open(module.__file__, encoding="utf-8").read()
    body: List[ast.stmt] = ast.parse(source).body
    node: ast.AST | None = None
    for name in parts[cut:]:
        node = next((n for n in body if _defines(n, name)), None)
        if node is None:
            raise LookupError(f"{qualname}: {name} is not defined there")
        body = getattr(node, "body", [])
    assert node is not None
    segment = ast.get_source_segment(source, node)
    assert segment is not None
    return segment


def _defines(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == name
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and t.id == name for t in targets)
    return False


def source_sha256(qualname: str) -> str:
    return hashlib.sha256(target_source(qualname).encode("utf-8")).hexdigest()
