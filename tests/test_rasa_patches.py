"""The guards of bot/rasa_patches: each patch fails here when the code it patches
changes, and the server refuses other versions with one sentence."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot import rasa_patches
from bot.rasa_patches import PATCHES, PatchVersionError, check_versions, source_sha256


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
