"""`make unanswered`: the questions the bot could not answer, grouped, anonymous.

Three levels: the masking and grouping functions; stores written by Rasa's own
tracker stores (tests/stores.py: SQLite, a fresh PostgreSQL database, Redis) with
chosen timestamps; and the tracker store of the real bot after real conversations
over REST.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import yaml

from ofr_tools.unanswered_report import (
    FALLBACK_ACTIONS,
    FALLBACK_INTENTS,
    Unanswered,
    group,
    grouping_key,
    mask,
)
from tests.conftest import ROOT
from tests.servers import Servers, running_bot
from tests.stores import DAY, save_conversation, write_endpoints
from tests.tools import load_script, run_script

# ---------------------------------------------------------------- masking, grouping


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Mail me: anna.schmidt+ofr@example.co.uk", "Mail me: <email>"),
        ("Ruf an: +49 30 27877 8816 bitte", "Ruf an: <phone> bitte"),
        ("meine Nummer 0176/12345678", "meine Nummer <phone>"),
        ("Tel. (030) 123 456", "Tel. <phone>"),
        ("Aktenzeichen 5123456-275", "Aktenzeichen <number>"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN DE89 <number>"),
        ("geboren 12.03.1985", "geboren <number>"),
        ("Events in 2027?", "Events in 2027?"),
        ("OFR 2.0 and  REAG/GARP", "OFR 2.0 and REAG/GARP"),
    ],
)
def test_personal_details_are_masked(text, masked):
    assert mask(text) == masked


def test_normalise_folds_case_punctuation_spaces_and_umlauts():
    assert grouping_key("  Wie   ist die RÜCKKEHR-Förderung?! ") == (
        "wie ist die rueckkehr foerderung"
    )
    assert grouping_key("Rueckkehr") == grouping_key("Rückkehr")
    assert grouping_key("Straße, café") == "strasse cafe"


def messages(*items: tuple) -> List[Unanswered]:
    return [
        Unanswered(text, language, date(2026, 5, day)) for text, language, day in items
    ]


def test_similar_wordings_are_one_group_per_language():
    groups = group(
        messages(
            ("What's the weather in Paris?", "en", 3),
            ("what is the weather in paris", "en", 5),
            ("Weather in Paris, what is the?", "en", 1),
            ("Wie wird das Wetter morgen?", "de", 2),
            ("wie wird das wetter morgen", "de", 4),
            ("Wie wird das Wetter morgen", "de", 4),
            ("Wo ist der Bahnhof?", "de", 9),
            ("What's the weather in Paris?", "de", 6),
        )
    )
    summary = [(g.language, g.count, g.last_seen.day, g.text) for g in groups]
    assert summary == [
        ("de", 3, 4, "Wie wird das Wetter morgen"),
        ("de", 1, 9, "Wo ist der Bahnhof?"),
        ("de", 1, 6, "What's the weather in Paris?"),
        ("en", 3, 5, "Weather in Paris, what is the?"),
    ]
    # Variants differ in more than case and punctuation.
    assert groups[0].variants == []
    assert groups[3].variants == [
        "What's the weather in Paris?",
        "what is the weather in paris",
    ]


def test_different_questions_stay_apart():
    groups = group(
        messages(
            ("Wie wird das Wetter morgen?", "de", 1),
            ("Wie wird das Wetter in Berlin?", "de", 1),
            ("asdf", "de", 1),
            ("qwertz", "de", 1),
        )
    )
    assert len(groups) == 4


def test_counts_sort_before_recency():
    groups = group(
        messages(("older but frequent", "en", 1), ("older but frequent", "en", 2))
        + messages(("recent and rare", "en", 20))
    )
    assert [g.text for g in groups] == ["older but frequent", "recent and rare"]


def test_fallback_names_match_the_project_rules_and_config():
    """The rules' answers to nlu_fallback and out_of_scope count as unanswered."""
    answers = {}
    for path in (ROOT / "data" / "rules").glob("*.yml"):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            steps = rule.get("steps", [])
            for step, following in zip(steps, steps[1:], strict=False):
                if step.get("intent") in FALLBACK_INTENTS and "action" in following:
                    answers[step["intent"]] = following["action"]
    assert set(answers) == FALLBACK_INTENTS
    assert set(answers.values()) <= FALLBACK_ACTIONS
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    core = [p for p in config["policies"] if p["name"] == "RulePolicy"][0]
    assert core.get("core_fallback_action_name", "action_default_fallback") in (
        FALLBACK_ACTIONS
    )


# ---------------------------------------------------------------- stores Rasa wrote


def local_day(days_ago: int) -> str:
    return str(date.today() - timedelta(days=days_ago))


def noon(days_ago: int) -> float:
    """Noon of a day: the turns that follow stay on that day."""
    day = date.today() - timedelta(days=days_ago)
    return datetime.combine(day, datetime.min.time()).timestamp() + DAY / 2


def fill(store) -> None:
    """Conversations with known outcomes, on known days."""
    conversations = [
        # sender, days ago, the session's language, turns
        (
            "sid-a",
            2,
            "de",
            [
                ("Was ist OFR?", "ask_what_is_ofr", None, "utter_what_is_ofr"),
                ("Wie wird das Wetter?", "out_of_scope", None, "utter_out_of_scope"),
                ("blorf zzk", "nlu_fallback", "en", "utter_rephrase"),
                ("/ask_partners", "ask_partners", None, "utter_partners"),
            ],
        ),
        (
            "sid-b",
            1,
            "en",
            [
                # Intent fine, but the bot's core fallback answered: unanswered.
                (
                    "partners of the moon?",
                    "ask_partners",
                    None,
                    "action_default_fallback",
                ),
                ("Who are the partners?", "ask_partners", None, "utter_partners"),
                ("Blorf zzk!", "nlu_fallback", None, "action_did_you_mean"),
                ("Wie wird das Wetter?", "out_of_scope", "de", "utter_out_of_scope"),
            ],
        ),
        (
            "sid-c",
            40,
            "de",
            [("Was kostet ein Kaffee?", "out_of_scope", None, "utter_out_of_scope")],
        ),
    ]
    for sender, days_ago, language, turns in conversations:
        save_conversation(store, sender, turns, noon(days_ago), language)


def rows(output: str) -> List[Dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def filled_store(request) -> Path:
    """The same conversations in SQLite, a fresh PostgreSQL database and Redis."""
    store, endpoints = request.getfixturevalue(f"{request.param}_store")
    fill(store)
    return endpoints


def test_unanswered_from_a_store_rasa_wrote(filled_store, capsys):
    report = load_script("unanswered")

    code = report.main(["--endpoints", str(filled_store), "--format", "csv"])

    assert code == 0
    assert rows(capsys.readouterr().out) == [
        {
            "language": "de",
            "count": "2",
            "not_helpful": "0",
            "last_seen": local_day(1),
            "question": "Wie wird das Wetter?",
            "variants": "",
        },
        {
            "language": "en",
            "count": "2",
            "not_helpful": "0",
            "last_seen": local_day(1),
            "question": "Blorf zzk!",
            "variants": "",
        },
        {
            "language": "en",
            "count": "1",
            "not_helpful": "0",
            "last_seen": local_day(1),
            "question": "partners of the moon?",
            "variants": "",
        },
    ]


def test_period_can_be_chosen(sqlite_store, capsys):
    store, endpoints = sqlite_store
    fill(store)
    report = load_script("unanswered")

    report.main(["--endpoints", str(endpoints), "--since", "60", "--format", "csv"])
    assert "Was kostet ein Kaffee?" in capsys.readouterr().out

    day = local_day(40)
    report.main(["--endpoints", str(endpoints), "--from", day, "--to", day])
    output = capsys.readouterr().out
    assert output.splitlines()[0] == f"Unanswered questions, {day} to {day}"
    assert "Was kostet ein Kaffee?" in output
    assert "Wetter" not in output


def test_markdown_report(sqlite_store, capsys):
    store, endpoints = sqlite_store
    fill(store)

    load_script("unanswered").main(
        ["--endpoints", str(endpoints), "--format", "markdown"]
    )

    output = capsys.readouterr().out
    assert "## German (de): 2 messages, 1 group" in output
    assert f"| 2 | 0 | {local_day(1)} | Wie wird das Wetter? |  |" in output


def test_the_projects_own_store_class_is_understood(tmp_path, rasa_domain, capsys):
    from bot.storage.tracker_store import SQLTrackerStore

    db = tmp_path / "tracker.db"
    fill(SQLTrackerStore(rasa_domain, dialect="sqlite", db=str(db)))
    endpoints = write_endpoints(
        tmp_path / "endpoints.yml",
        type="bot.storage.tracker_store.SQLTrackerStore",
        dialect="sqlite",
        db=str(db),
    )

    assert load_script("unanswered").main(["--endpoints", str(endpoints)]) == 0
    assert "Wie wird das Wetter?" in capsys.readouterr().out


def test_empty_period_says_none(sqlite_store, capsys):
    store, endpoints = sqlite_store
    fill(store)
    first, last = local_day(20), local_day(10)

    load_script("unanswered").main(
        ["--endpoints", str(endpoints), "--from", first, "--to", last]
    )

    assert capsys.readouterr().out.splitlines()[1:] == ["None."]


def test_missing_store_is_explained_in_one_sentence(tmp_path, capsys):
    endpoints = write_endpoints(
        tmp_path / "endpoints.yml", type="SQL", dialect="sqlite", db="var/nothing.db"
    )

    assert load_script("unanswered").main(["--endpoints", str(endpoints)]) == 1

    assert capsys.readouterr().err.strip() == (
        "No conversations found at var/nothing.db: start the bot with make run "
        "first, or pass --endpoints."
    )
    assert not (ROOT / "var" / "nothing.db").exists()


# ---------------------------------------------------------------- the real bot

# (metadata language, message, expected language in the report); all out of scope
# for the bot (each reply is checked below), some near-duplicates of each other.
UNANSWERABLE = [
    ("en", "What's the weather in Paris?", "en"),
    ("en", "what is the weather in Paris", "en"),
    ("de", "Wie wird das Wetter morgen?", "de"),
    ("de", "asdfgh qwertz jklö", "de"),
    (
        "en",
        "Book me a table for two tonight, I am max.mustermann@example.com",
        "en",
    ),
    # A German conversation, an English question: reported as English.
    ("de", "Who won the football world cup?", "en"),
]
ANSWERABLE = [("de", "Was ist OFR?"), ("en", "Who are the partners?")]


@pytest.fixture(scope="module")
def talked_to_bot(tmp_path_factory, trained_model) -> Iterator[Servers]:
    """One real bot, after conversations in both languages; its store stays."""
    with running_bot(tmp_path_factory.mktemp("var")) as bot:
        yield bot


def reply_texts(domain: Dict, response: str) -> set:
    return {variation["text"] for variation in domain["responses"][response]}


@pytest.mark.server
def test_real_conversations_are_reported_without_personal_data(talked_to_bot, domain):
    bot = talked_to_bot
    fallback = reply_texts(domain, "utter_out_of_scope") | reply_texts(
        domain, "utter_rephrase"
    )
    senders = []
    for language, message, _ in UNANSWERABLE:
        senders.append(f"unanswered-{uuid.uuid4().hex}")
        answers = bot.rest(senders[-1], message, {"language": language})
        assert answers and answers[0]["text"] in fallback, (message, answers)
    for language, message in ANSWERABLE:
        senders.append(f"answered-{uuid.uuid4().hex}")
        answers = bot.rest(senders[-1], message, {"language": language})
        assert answers and answers[0]["text"] not in fallback, (message, answers)
    # One conversation: an answer, then the same question again.
    senders.append(f"twice-{uuid.uuid4().hex}")
    bot.rest(senders[-1], "Was ist OFR?", {"language": "de"})
    answers = bot.rest(senders[-1], "wie wird das Wetter morgen?", {"language": "de"})
    assert answers[0]["text"] in fallback

    text = run_script("unanswered", "--endpoints", str(bot.var_dir / "endpoints.yml"))
    # Without --endpoints: $OFR_VAR_DIR/endpoints.yml, as `make unanswered` after
    # `make run` reads var/endpoints.yml.
    table = run_script(
        "unanswered", "--format", "csv", env={"OFR_VAR_DIR": str(bot.var_dir)}
    )

    assert text.returncode == 0, text.stderr
    assert table.returncode == 0, table.stderr
    today = str(date.today())
    found = {(r["language"], r["question"]): r for r in rows(table.stdout)}
    assert found[("en", "What's the weather in Paris?")]["count"] == "2"
    assert found[("en", "What's the weather in Paris?")]["variants"] == (
        "what is the weather in Paris"
    )
    assert found[("de", "Wie wird das Wetter morgen?")]["count"] == "2"
    assert found[("de", "asdfgh qwertz jklö")]["count"] == "1"
    assert found[("en", "Who won the football world cup?")]["count"] == "1"
    assert (
        found[("en", "Book me a table for two tonight, I am <email>")]["last_seen"]
        == today
    )
    assert len(found) == 5
    for _, message, language in UNANSWERABLE:
        assert any(
            row["language"] == language
            and mask(message) in [row["question"], *row["variants"].split(" | ")]
            for row in found.values()
        ), message
    for output in (text.stdout, table.stdout):
        assert "Was ist OFR" not in output
        assert "partners?" not in output
        assert "mustermann" not in output and "example.com" not in output
        for sender in senders:
            assert sender not in output
        assert not re.search(r"\d\d:\d\d|\d{9,}", output)  # no times
    assert "English (en): 4 messages, 3 groups" in text.stdout
    assert "German (de): 3 messages, 2 groups" in text.stdout


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_an_answer_marked_not_helpful_is_listed(kind, request, capsys):
    """A 👎 names the answer's time; the SQL reader must read the bot's answers to
    match it (it read only user, slot and action events, so no 👎 ever showed)."""
    import asyncio

    from rasa.shared.core.events import SlotSet

    store, endpoints = request.getfixturevalue(f"{kind}_store")
    at = noon(1)
    turns = [("Who are the partners?", "ask_partners", None, "utter_partners")]
    save_conversation(store, "sid-vote", turns, at, "en")
    answered = at + 60 + 1  # the first turn's answer (tests/stores.py)

    async def vote() -> None:
        tracker = await store.retrieve("sid-vote")
        tracker.update(
            SlotSet("feedback", {"helpful": False, "at": answered}, timestamp=at + 90)
        )
        await store.save(tracker)

    asyncio.run(vote())
    report = load_script("unanswered")

    assert report.main(["--endpoints", str(endpoints), "--format", "csv"]) == 0
    assert rows(capsys.readouterr().out) == [
        {
            "language": "en",
            "count": "1",
            "not_helpful": "1",
            "last_seen": local_day(1),
            "question": "Who are the partners?",
            "variants": "",
        }
    ]
