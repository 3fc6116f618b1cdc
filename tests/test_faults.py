"""Faults against the real servers: a killed Rasa server, a dead or hung action server,
an events file broken while running; and what the logs may contain."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import free_port, running_action_server, running_bot

pytestmark = pytest.mark.server

MARKER = "Zebrafisch Quastenflosser 4711"
EMAIL = "maria.muster@example.org"


def texts(answer: list) -> str:
    return "\n".join(message.get("text", "") for message in answer)


def stored_events(var_dir: Path, sender: str) -> int:
    with sqlite3.connect(var_dir / "tracker.db") as db:
        return db.execute(
            "select count(*) from events where sender_id = ?", (f"rest:{sender}",)
        ).fetchone()[0]


def test_conversation_survives_sigkill_of_the_rasa_server(tmp_path):
    sender = "sigkill-user"
    with running_bot(tmp_path) as bot:
        assert "OFR" in texts(bot.rest(sender, "Was ist OFR?"))
        # The conversation switches to English; the language lives in the tracker.
        assert "English" in texts(bot.rest(sender, "Can we continue in English?"))
        before = stored_events(tmp_path, sender)
        os.kill(bot.rasa_pid(), signal.SIGKILL)
        bot.process.wait(timeout=30)
    assert before > 0
    with running_bot(tmp_path) as bot:
        # "IOM?" alone does not decide a language: the stored conversation does.
        answer = texts(bot.rest(sender, "IOM?"))
        assert "International Organization for Migration" in answer, answer
        assert stored_events(tmp_path, sender) > before


@pytest.fixture(scope="module")
def bot_with_own_action_server(tmp_path_factory):
    """Rasa with an action server this test can stop, and a copy of the events file."""
    var_dir = tmp_path_factory.mktemp("faults")
    events_file = var_dir / "events.yml"
    events_file.write_text((ROOT / "data" / "events.yml").read_text("utf-8"), "utf-8")
    port = free_port()
    env = {
        "ACTION_SERVER_URL": f"http://127.0.0.1:{port}/webhook",
        "OFR_ACTION_TIMEOUT": "3",
        "OFR_EVENTS_FILE": str(events_file),
    }
    os.environ["OFR_EVENTS_FILE"] = str(events_file)  # for the action server
    try:
        with running_bot(var_dir, env=env) as bot:
            bot.action_port = port
            bot.events_file = events_file
            yield bot
    finally:
        del os.environ["OFR_EVENTS_FILE"]


def past_2018(bot, sender: str) -> str:
    return texts(bot.rest(sender, "What did OFR do in 2018?"))


def test_dead_or_hung_action_server_gets_an_apology_then_recovers(
    bot_with_own_action_server,
):
    bot = bot_with_own_action_server
    log = bot.var_dir / "actions.log"
    # No action server at all: an apology in the user's language, not silence.
    answer = texts(bot.rest("down-de", "Welche Veranstaltungen gab es 2019?"))
    assert "Entschuldigung, das kann ich gerade nicht nachsehen" in answer, answer
    answer = texts(bot.rest("down-en", "What did OFR do in 2018?"))
    assert "Sorry, I cannot look that up right now" in answer, answer
    with running_action_server(bot.action_port, log) as actions:
        # Back again: the same conversation's next question works.
        assert "2018" in past_2018(bot, "down-en")
        # Hung, not dead: the apology comes within the action timeout (3 s here).
        os.killpg(actions.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            answer = past_2018(bot, "down-en")
            waited = time.monotonic() - started
        finally:
            os.killpg(actions.pid, signal.SIGCONT)
        assert "Sorry, I cannot look that up right now" in answer, answer
        assert waited < 15, waited
        assert "2018" in past_2018(bot, "down-en")


def test_broken_events_file_keeps_the_last_good_answers(bot_with_own_action_server):
    bot = bot_with_own_action_server
    with running_action_server(bot.action_port, bot.var_dir / "actions.log"):
        before = past_2018(bot, "events-user")
        assert "2018" in before
        bot.events_file.write_text("events:\n  - id: [broken\n", "utf-8")
        assert past_2018(bot, "events-user") == before
        assert past_2018(bot, "events-user") == before
    log = (bot.var_dir / "actions.log").read_text("utf-8", errors="replace")
    assert log.count("Events file not loaded") == 1, log[-2000:]


def test_logs_hold_no_message_text(bot_with_own_action_server):
    bot = bot_with_own_action_server
    with running_action_server(bot.action_port, bot.var_dir / "actions.log"):
        bot.rest("log-user", f"Mein Name ist {MARKER}, Mail {EMAIL}")
        bot.rest("log-user", f"What did OFR do in 2018? {MARKER}")
        bot.rest("log-user", MARKER)
    for name in ("rasa.log", "actions.log"):
        content = bot.log(name)
        assert MARKER not in content, name
        assert EMAIL not in content, name
