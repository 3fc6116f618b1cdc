"""Whole conversations over REST: the held-out multi-turn set and the bot's own
questions answered in plain words (issue 27).

One bot serves the module, on the project's events plus the conversations' own
(tests/conversation_events.py, dated from today).
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import text_of
from tests.conversation_events import write_events_file
from tests.conversation_runner import LANGUAGES, play_all, table
from tests.servers import Servers, running_bot

pytestmark = pytest.mark.server

# Right answers to the last turn of held-out conversations, per language.
FLOOR = 0.95


@pytest.fixture(scope="module")
def bot(tmp_path_factory, trained_model) -> Iterator[Servers]:
    var = tmp_path_factory.mktemp("var")
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    events = write_events_file(var / "events.yml", today)
    with running_bot(var, env={"OFR_EVENTS_FILE": str(events)}) as servers:
        yield servers


@pytest.fixture(scope="module")
def results(bot):
    return play_all(bot.url)


@pytest.mark.parametrize("language", LANGUAGES)
def test_held_out_conversations_floor(results, language):
    mine = [r for r in results if r.language == language]
    right = sum(r.ok for r in mine) / len(mine)
    failures = [f"{r.kind} / {r.name}: {f}" for r in mine for f in r.failures]
    assert right >= FLOOR, (
        f"{language}: {right:.3f} right\n" + table(results) + "\n" + "\n".join(failures)
    )


def test_every_kind_is_held_out_in_both_languages(results):
    for language in LANGUAGES:
        kinds = {}
        for r in results:
            if r.language == language:
                kinds[r.kind] = kinds.get(r.kind, 0) + 1
        assert len(kinds) == 8 and min(kinds.values()) >= 15, (language, kinds)


def sender() -> str:
    return f"pending-{uuid.uuid4().hex[:8]}"


def stored(bot: Servers, conversation: str) -> int:
    with sqlite3.connect(bot.var_dir / "tracker.db") as connection:
        return connection.execute(
            "select count(*) from events where sender_id = ?", (conversation,)
        ).fetchone()[0]


@pytest.mark.parametrize(
    ("first", "answer", "language"),
    [("Daten löschen", "ja", "de"), ("Daten löschen", "Jo, gerne", "de"),
     ("delete my data", "yep", "en"), ("delete my data", "sure, go ahead", "en")],
)  # fmt: skip
def test_a_plain_yes_deletes_the_conversation(bot, domain, first, answer, language):
    user = sender()
    bot.rest(user, first, metadata={"language": language})
    assert bot.rest(user, answer)[0]["text"] == text_of(
        domain, "utter_data_deleted", language
    )
    assert stored(bot, f"rest:{user}") == 0


@pytest.mark.parametrize(
    ("first", "answer", "language"),
    [
        ("vergiss dieses Gespräch", "nö", "de"),
        ("forget this conversation", "nah", "en"),
    ],
)
def test_a_plain_no_keeps_it(bot, domain, first, answer, language):
    user = sender()
    bot.rest(user, first, metadata={"language": language})
    assert bot.rest(user, answer)[0]["text"] == text_of(
        domain, "utter_data_kept", language
    )
    assert stored(bot, f"rest:{user}") > 0


def test_an_unrelated_question_is_answered_and_the_question_stays_open(bot, domain):
    user = sender()
    bot.rest(user, "Daten löschen")
    answer = bot.rest(user, "Wer sind die Partner?")[0]["text"]
    assert answer == text_of(domain, "utter_partners", "de")
    assert stored(bot, f"rest:{user}") > 0
    assert bot.rest(user, "ja")[0]["text"] == text_of(
        domain, "utter_data_deleted", "de"
    )
    assert stored(bot, f"rest:{user}") == 0


def test_a_non_answer_never_deletes(bot):
    user = sender()
    bot.rest(user, "delete my data", metadata={"language": "en"})
    for text in ("hmm", "what?", "not sure"):
        bot.rest(user, text)
        assert stored(bot, f"rest:{user}") > 0


def test_a_later_yes_asks_again(bot, domain):
    """Four turns later the question is closed: a "yes" is no deletion."""
    user = sender()
    bot.rest(user, "Daten löschen")
    for text in ("Was ist OFR?", "Wer sind die Partner?", "Was ist die GIZ?", "IOM?"):
        bot.rest(user, text)
    bot.rest(user, "ja")
    assert stored(bot, f"rest:{user}") > 0


def test_the_first_words_of_a_conversation_decide_its_language(bot, domain):
    assert bot.rest(sender(), "thanks!")[0]["text"] == text_of(
        domain, "utter_thank", "en"
    )
    assert bot.rest(sender(), "danke!")[0]["text"] == text_of(
        domain, "utter_thank", "de"
    )
