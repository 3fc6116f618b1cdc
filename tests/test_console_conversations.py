"""The console's conversation review (Flask's test client): the list with its
filters and pages, one conversation turn by turn, masking, "mark as reviewed" and
"should have been intent X", on a real SQLite tracker store as the bot writes it."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from console.accounts import Accounts
from console.app import ConsoleConfig, create_app
from tests.conftest import ROOT
from tests.planted_conversations import save, step
from tests.project_copy import CHECKED_PARTS, copy_parts, git_repository

PASSWORD = "correct horse battery"
PROJECT_PARTS = CHECKED_PARTS
EMAIL = "anna.schmidt@example.org"
PHONE = "+49 170 1234567"
SECRET_SENDER = "crm-secret-7781"
HOUR = 3600.0


def held_out_question(language: str, topic: str) -> str:
    from ofr_tools.evaluation import held_out_texts

    texts = held_out_texts(
        language, ROOT / "tests" / "nlu", ROOT / "tests" / "event_questions"
    )
    wanted = (ROOT / "tests" / "nlu" / language / topic).read_text(encoding="utf-8")
    return next(text for text in texts if text in wanted and len(text) > 20)


@pytest.fixture
def full_project(tmp_path: Path) -> Path:
    return git_repository(copy_parts(tmp_path / "full", PROJECT_PARTS))


@pytest.fixture
def var(tmp_path: Path) -> Path:
    folder = tmp_path / "var"
    folder.mkdir()
    return folder


@pytest.fixture
def store(var: Path, rasa_domain: Any) -> Iterator[Any]:
    """The bot's SQLite tracker store, with the endpoints file the console reads."""
    from bot.storage.tracker_store import SQLTrackerStore

    db = var / "tracker.db"
    tracker_store = SQLTrackerStore(rasa_domain, dialect="sqlite", db=str(db))
    (var / "endpoints.yml").write_text(
        "tracker_store:\n  type: bot.storage.tracker_store.SQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {db}\n",
        encoding="utf-8",
    )
    yield tracker_store
    tracker_store.engine.dispose()


@pytest.fixture
def conversations(store: Any, rasa_domain: Any) -> Dict[str, str]:
    """A plain one, a did-you-mean, a 👎 with planted personal data, a follow-up
    and two for the example checks; sender → its first question."""
    now = time.time()
    found = {
        "socketio:plain": "who is behind OFR actually",
        "rest:dym": "wer zahlt eigentlich die ofr-leute",
        f"rest:{SECRET_SENDER}": f"call me at {PHONE} or write to {EMAIL}",
        "telegram:follow": "what is the next event",
        "socketio:duplicate": "who are the partners",
        "socketio:heldout": held_out_question("en", "partners.yml"),
    }
    save(
        store,
        rasa_domain,
        "socketio:plain",
        [step(found["socketio:plain"], "ask_partners")],
        now - 6 * HOUR,
    )
    save(
        store,
        rasa_domain,
        "rest:dym",
        [
            step(
                found["rest:dym"],
                "nlu_fallback",
                "de",
                0.3,
                "action_did_you_mean",
                "Meinten Sie …?",
                buttons=[{"title": "Partner", "payload": "/ask_partners"}],
            )
        ],
        now - 5 * HOUR,
    )
    save(
        store,
        rasa_domain,
        f"rest:{SECRET_SENDER}",
        [
            step(
                found[f"rest:{SECRET_SENDER}"],
                "ask_contact",
                action="utter_contact",
                answer=f"We noted {EMAIL}.",
                entities=[{"entity": "email", "value": EMAIL, "start": 0, "end": 5}],
                event_filter={"topic": PHONE},
                vote=False,
            )
        ],
        now - 4 * HOUR,
    )
    save(
        store,
        rasa_domain,
        "telegram:follow",
        [
            step(
                found["telegram:follow"],
                "ask_events",
                action="action_search_events",
                answer="Next: Berlin.",
            ),
            step(
                "/ask_event_details",
                "ask_event_details",
                action="action_event_details",
                answer="Details.",
                metadata={"ofr_typed": "what time?", "ofr_follow_up": "aspect"},
            ),
        ],
        now - 3 * HOUR,
    )
    save(
        store,
        rasa_domain,
        "socketio:duplicate",
        [step(found["socketio:duplicate"], "ask_iom", confidence=0.5)],
        now - 2 * HOUR,
    )
    save(
        store,
        rasa_domain,
        "socketio:heldout",
        [step(found["socketio:heldout"], "ask_iom", confidence=0.5)],
        now - 1 * HOUR,
    )
    return found


@pytest.fixture
def app(full_project: Path, var: Path) -> Any:
    console = create_app(
        ConsoleConfig(
            full_project, var, full_project / "data" / "events.yml", warm_worker=False
        )
    )
    accounts = Accounts(var / "staff.db")
    accounts.set_user("anna", "editor", PASSWORD)
    accounts.set_user("paul", "publisher", PASSWORD)
    console.accounts = accounts
    return console


def log_in(client: Any, name: str = "anna") -> Any:
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "login_csrf": token, "next": "/"},
    )


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    with app.test_client() as browser:
        assert log_in(browser).status_code == 302
        yield browser


def csrf_of(client: Any, path: str = "/conversations") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def link_of(page: str, question: str) -> str:
    """The conversation page the list links from a first question."""
    escaped = re.escape(question)
    found = re.search(
        rf'href="(/conversations/[0-9a-f]{{32}})[^"]*"[^>]*>{escaped}<', page
    )
    assert found, question
    return found.group(1)


def git_log(project: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(project), "log", "--format=%an|%s", "-n3"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


# ---------------------------------------------------------------- tests


def test_every_conversation_route_needs_a_login_and_posts_need_the_token(
    app, conversations
):
    browser = app.test_client()
    key = "0" * 32
    for path in ("/conversations", f"/conversations/{key}"):
        response = browser.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    for path in (
        f"/conversations/{key}/turns/0/reviewed",
        f"/conversations/{key}/turns/0/intent",
    ):
        assert browser.post(path, data={"intent": "ask_partners"}).status_code == 401
    assert log_in(browser).status_code == 302
    page = browser.get("/conversations").text
    assert '<a href="/conversations" aria-current="page">Conversations</a>' in page
    link = link_of(page, "who is behind OFR actually")
    for action, data in (
        ("reviewed", {}),
        ("intent", {"intent": "ask_partners"}),
    ):
        refused = browser.post(f"{link}/turns/0/{action}", data=data)
        assert refused.status_code == 403
        wrong = browser.post(
            f"{link}/turns/0/{action}", data={**data, "csrf": "forged"}
        )
        assert wrong.status_code == 403
    assert "not yet" in browser.get(link).text  # nothing was marked


def test_the_list_masks_and_never_shows_sender_ids(client, conversations):
    page = client.get("/conversations?period=all").text
    assert "6 conversations" in page
    assert "call me at &lt;phone&gt; or write to &lt;email&gt;" in page
    for secret in (EMAIL, "1234567", SECRET_SENDER, "socketio:plain", "rest:dym"):
        assert secret not in page
    # Newest first; the channel and the language of each.
    order = [page.index(q) for q in ("what is the next event", "who is behind OFR")]
    assert order == sorted(order)
    assert re.search(r"<td>telegram</td>\s*<td>EN</td>\s*<td>2</td>", page)
    # The typed text is shown, not the payload it stood for.
    link = link_of(page, "what is the next event")
    follow = client.get(link).text
    assert "what time?" in follow and "/ask_event_details" in follow
    assert "follow-up: aspect" in follow


def test_a_conversation_shows_every_turn_masked_with_what_the_bot_understood(
    client, conversations
):
    page = client.get("/conversations").text
    link = link_of(page, "call me at &lt;phone&gt; or write to &lt;email&gt;")
    assert SECRET_SENDER not in link
    shown = client.get(link).text
    for secret in (EMAIL, "1234567", SECRET_SENDER):
        assert secret not in shown
    assert "We noted &lt;email&gt;." in shown  # the bot's text, masked too
    assert "ask_contact (0.95)" in shown and "ask_iom (0.05)" in shown
    assert "email = “&lt;email&gt;”" in shown
    assert "topic: &lt;phone&gt;" in shown  # the event filter slot
    assert "utter_contact" in shown and "👎" in shown
    dym = client.get(link_of(page, conversations["rest:dym"])).text
    assert "Meinten Sie …?" in dym and '<li title="/ask_partners">Partner</li>' in dym
    assert "needs review: did you mean" in dym


def test_made_up_ids_are_not_found(client, conversations):
    for path in (
        "/conversations/" + "0" * 32,
        "/conversations/not-a-key",
        "/conversations/socketio:plain",
    ):
        assert client.get(path).status_code == 404
    page = client.get("/conversations").text
    link = link_of(page, "who is behind OFR actually")
    # A message in the address is shown only if this console kept it.
    forged = client.get(f"{link}?problem=log+in+again+at+evil.example").text
    assert "evil.example" not in forged
    token = csrf_of(client)
    assert (
        client.post(f"{link}/turns/7/reviewed", data={"csrf": token}).status_code == 404
    )
    assert (
        client.post(f"{link}/turns/x/reviewed", data={"csrf": token}).status_code == 404
    )


def test_needs_review_lists_did_you_mean_and_thumbs_down_until_reviewed(
    client, conversations, app
):
    page = client.get("/conversations?review=1").text
    assert conversations["rest:dym"] in page
    assert "write to &lt;email&gt;" in page  # the 👎 one
    assert "who is behind OFR actually" not in page  # plain, sure
    assert "turn 1: did you mean" in page and "turn 1: 👎" in page
    # Low confidence counts below the threshold staff set.
    assert "turn 1: low confidence" in page
    stricter = client.get("/conversations?review=1&below=0.4").text
    assert "low confidence" not in stricter
    # Filters by channel and language.
    rest = client.get("/conversations?review=1&channel=rest").text
    assert conversations["rest:dym"] in rest and "who are the partners" not in rest
    german = client.get("/conversations?lang=de").text
    assert conversations["rest:dym"] in german and "who is behind OFR" not in german

    link = link_of(page, conversations["rest:dym"])
    token = csrf_of(client)
    response = client.post(
        f"{link}/turns/0/reviewed", data={"csrf": token}, follow_redirects=True
    )
    assert "Turn 1 marked as reviewed." in response.text
    assert "by anna" in response.text
    assert conversations["rest:dym"] not in client.get("/conversations?review=1").text
    assert conversations["rest:dym"] in client.get("/conversations").text
    entry = app.accounts.audit_log()[0]
    assert entry.action == "conversation turn reviewed" and entry.name == "anna"


def test_should_have_been_adds_the_example_as_the_example_editor_does(
    client, conversations, full_project, app
):
    de = full_project / "data" / "nlu" / "de" / "partners.yml"
    en = full_project / "data" / "nlu" / "en" / "partners.yml"
    before = en.read_text(encoding="utf-8")
    page = client.get("/conversations").text
    token = csrf_of(client)

    # Refused, with the editor's reasons, and nothing changes: a duplicate, a
    # held-out copy, masked personal data, an intent that does not exist.
    for question, intent, reason in (
        ("who are the partners", "ask_partners", "already there"),
        (conversations["socketio:heldout"], "ask_partners", "held-out test question"),
        (
            "call me at &lt;phone&gt; or write to &lt;email&gt;",
            "ask_partners",
            "masked personal data",
        ),
        ("who is behind OFR actually", "nonsense", "Choose an intent"),
    ):
        link = link_of(page, question)
        response = client.post(
            f"{link}/turns/0/intent",
            data={"csrf": token, "intent": intent},
            follow_redirects=True,
        )
        assert reason in response.text, question
    assert en.read_text(encoding="utf-8") == before
    assert git_log(full_project).splitlines()[0] == "dev|start"

    link = link_of(page, conversations["rest:dym"])
    response = client.post(
        f"{link}/turns/0/intent",
        data={"csrf": token, "intent": "ask_partners"},
        follow_redirects=True,
    )
    assert "is now an example of ask_partners" in response.text
    assert "- wer zahlt eigentlich die ofr-leute\n" in de.read_text(encoding="utf-8")
    assert git_log(full_project).splitlines()[0] == (
        "anna|Example added for ask_partners (de) from a conversation in the "
        "staff console"
    )
    entry = app.accounts.audit_log()[0]
    assert entry.action == "example added" and entry.detail["source"] == "conversation"
    # Corrected turns count as reviewed.
    assert conversations["rest:dym"] not in client.get("/conversations?review=1").text
    # The save form starts from the correction, so nobody chooses it twice.
    page = client.get(link).text
    assert re.search(r'id="story-intent-0" [^>]*value="ask_partners"', page), page
    assert "should have been <strong>ask_partners</strong>" in page
    # The same text again is now a duplicate.
    again = client.post(
        f"{link}/turns/0/intent",
        data={"csrf": token, "intent": "ask_partners"},
        follow_redirects=True,
    )
    assert "already there, under this intent" in again.text


def test_pages_of_the_list(client, store, rasa_domain):
    now = time.time()
    for number in range(30):
        save(
            store,
            rasa_domain,
            f"socketio:user-{number}",
            [step(f"question number {number:02d}", "ask_partners")],
            now - (number + 1) * 60,
        )
    first = client.get("/conversations").text
    assert "30 conversations, page 1 of 2" in first
    assert "question number 00" in first and "question number 24" in first
    assert "question number 25" not in first
    assert (
        'href="/conversations?page=2&amp;period=30&amp;below=0.60" rel="next"' in first
    )
    second = client.get("/conversations?page=2").text
    assert "question number 25" in second and "question number 29" in second
    assert "question number 00" not in second
    assert 'rel="prev"' in second
    # A new conversation is read on the next request (the index follows the store).
    save(store, rasa_domain, "socketio:late", [step("a late question", "ask_iom")], now)
    assert "a late question" in client.get("/conversations").text


def test_an_erased_conversation_leaves_the_list_on_the_next_request(
    client, conversations, store
):
    """Erasure and purge delete whole conversations: the index notices that a
    conversation's last event is gone without counting the store."""
    import sqlalchemy as sa

    page = client.get("/conversations?review=1").text
    assert "wer zahlt eigentlich die ofr-leute" in page
    assert "6 conversations" in client.get("/conversations").text
    with store.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM events WHERE sender_id = 'rest:dym'"))
    assert "wer zahlt eigentlich" not in client.get("/conversations?review=1").text
    assert "5 conversations" in client.get("/conversations").text


def test_the_store_missing_is_explained(app, var):
    with app.test_client() as browser:
        assert log_in(browser).status_code == 302
        page = browser.get("/conversations")
        assert page.status_code == 200
        assert 'class="problem"' in page.text


def test_the_event_filter_shows_its_period_as_dates_and_masks_the_rest():
    """Tried as staff: a 2022 question's filter read 'period: start: <number>, end:
    <number>' (the dates were masked as long numbers)."""
    from console.conversation_review import _filter_text

    assert _filter_text(
        {
            "period": {"start": "2022-01-01", "end": "2023-01-01", "label": "2022"},
            "city": None,
            "scope": "past",
        }
    ) == ("period: 2022 (2022-01-01 to 2023-01-01), scope: past")
    assert PHONE not in _filter_text({"topic": PHONE, "period": None})


def test_a_rate_limited_conversation_needs_review_for_rate_limit(
    client, conversations, store, var, monkeypatch
):
    """Refused messages never reach the conversation; the limits count them beside
    it (bot/storage/rate_limited.py), and the review shows the reason."""
    import asyncio

    from bot.services import rate_limits
    from bot.storage.eraser import erase_conversation
    from bot.storage.rate_limited import RefusalStore

    monkeypatch.setenv("OFR_VAR_DIR", str(var))
    monkeypatch.setitem(rate_limits._SHARED, "refusals", rate_limits.RefusalCounts())
    plain = conversations["socketio:plain"]
    assert plain not in client.get("/conversations?review=1").text

    async def flood() -> None:
        limits = rate_limits.RateLimits(per_conversation=10, per_address=0)
        for _ in range(12):  # a burst of 5, then seven refused
            if not limits.allow("socketio:plain"):
                await rate_limits.record_refusal(store, "socketio:plain")

    asyncio.run(flood())
    # One write for the first refusal: the others are added up for later.
    episodes = RefusalStore(store.engine).episodes()
    assert [e.messages for e in episodes["socketio:plain"]] == [1]

    page = client.get("/conversations?review=1").text
    assert plain in page and "turn 1: rate limit" in page
    shown = client.get(link_of(page, plain)).text
    assert "needs review: rate limit" in shown
    assert "1 message after this turn refused as too fast" in shown
    assert "socketio:plain" not in page + shown
    # Reviewed, it leaves the filter as every other reason does.
    client.post(
        f"{link_of(page, plain)}/turns/0/reviewed", data={"csrf": csrf_of(client)}
    )
    assert plain not in client.get("/conversations?review=1").text

    # "Delete my data" takes the count with the conversation.
    asyncio.run(erase_conversation(store, "socketio:plain"))
    assert "socketio:plain" not in RefusalStore(store.engine).episodes()


def test_the_purge_takes_old_refusal_counts_with_it(store, monkeypatch, var):
    from bot.storage.conversations import SQLConversations
    from bot.storage.rate_limited import RefusalStore

    monkeypatch.setenv("OFR_VAR_DIR", str(var))
    refusals = RefusalStore(store.engine)
    now = time.time()
    refusals.note("rest:never-stored", 3, now - 100 * 86400)  # refused from the start
    refusals.note("rest:recent", 2, now - 60)
    SQLConversations.of_engine(store.engine).purge(now - 90 * 86400)
    assert set(refusals.episodes()) == {"rest:recent"}


def test_logging_in_reads_the_conversations_ahead(app, conversations):
    """The first visit to the list should not be the one that reads the store."""
    from console.conversation_pages import INDEX_KEY

    with app.test_client() as browser:
        assert INDEX_KEY not in app.extensions
        assert log_in(browser).status_code == 302
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            index = app.extensions.get(INDEX_KEY)
            if index is not None and len(index.summaries) == len(conversations):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the conversations were not read after the login")
