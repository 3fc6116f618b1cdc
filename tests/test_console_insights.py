"""/insights: week-by-week numbers counted from a planted SQLite tracker store, as
charts (server-rendered SVG with titles) and the same numbers as tables and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from console.accounts import Accounts
from console.app import ConsoleConfig, create_app
from ofr.events.model import BERLIN
from tests.conftest import ROOT
from tests.planted_conversations import save, step

PASSWORD = "correct horse battery"


def week_start(weeks_ago: int) -> datetime:
    today = datetime.now(BERLIN).date()
    monday = today - timedelta(days=today.weekday(), weeks=weeks_ago)
    return datetime(monday.year, monday.month, monday.day, tzinfo=BERLIN)


def tuesday_ten(weeks_ago: int) -> float:
    return (week_start(weeks_ago) + timedelta(days=1, hours=10)).timestamp()


@pytest.fixture
def var(tmp_path: Path, rasa_domain: Any) -> Iterator[Path]:
    """A store with conversations in the weeks 1, 2 and 6 before this one."""
    from bot.storage.tracker_store import SQLTrackerStore

    folder = tmp_path / "var"
    folder.mkdir()
    db = folder / "tracker.db"
    store = SQLTrackerStore(rasa_domain, dialect="sqlite", db=str(db))
    (folder / "endpoints.yml").write_text(
        "tracker_store:\n  type: bot.storage.tracker_store.SQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {db}\n",
        encoding="utf-8",
    )
    last = tuesday_ten(1)
    save(
        store,
        rasa_domain,
        "socketio:a",
        [
            step("who runs OFR", "ask_partners"),
            step("phone?", "ask_contact", action="utter_contact", vote=True),
        ],
        last,
    )
    save(
        store,
        rasa_domain,
        "socketio:b",
        [step("wer zahlt", "nlu_fallback", "de", 0.3, "action_did_you_mean")],
        last + 3600,
    )
    save(
        store,
        rasa_domain,
        "telegram:c",
        [
            step("partners?", "ask_partners", vote=False),
            step("a human please", "ask_human", action="action_offer_handover"),
        ],
        last + 7200,
    )
    save(
        store,
        rasa_domain,
        "rest:d",
        [step("blorp", "nlu_fallback", "de", 0.2, "utter_rephrase")],
        tuesday_ten(2),
    )
    save(store, rasa_domain, "rest:old", [step("old one", "greet")], tuesday_ten(6))
    yield folder
    store.engine.dispose()


@pytest.fixture
def client(var: Path) -> Iterator[Any]:
    app = create_app(
        ConsoleConfig(ROOT, var, ROOT / "data" / "events.yml", warm_worker=False)
    )
    Accounts(var / "staff.db").set_user("anna", "editor", PASSWORD)
    with app.test_client() as browser:
        page = browser.get("/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
        browser.post(
            "/login",
            data={"name": "anna", "password": PASSWORD, "login_csrf": token},
        )
        yield browser


def rows_of(client: Any, address: str) -> list:
    response = client.get(address)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.text)))


def test_insights_need_a_login(var):
    app = create_app(
        ConsoleConfig(ROOT, var, ROOT / "data" / "events.yml", warm_worker=False)
    )
    browser = app.test_client()
    for path in ("/insights", "/insights/weeks.csv"):
        response = browser.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_weekly_numbers_match_the_planted_store(client):
    weeks = rows_of(client, "/insights/weeks.csv?weeks=4")
    assert weeks[0] == [
        "week",
        "conversations",
        "channel rest",
        "channel socketio",
        "channel telegram",
        "language de",
        "language en",
        "turns",
        "did_you_mean turns",
        "fallback turns",
        "thumbs_down turns",
        "handover turns",
    ]
    by_week = {row[0]: row[1:] for row in weeks[1:]}
    assert len(by_week) == 4  # the old one (6 weeks ago) is outside
    one, two = (week_start(n).date().isoformat() for n in (1, 2))
    assert by_week[one] == ["3", "0", "2", "1", "1", "2", "5", "1", "0", "1", "1"]
    assert by_week[two] == ["1", "1", "0", "0", "1", "0", "1", "0", "1", "0", "0"]
    assert by_week[week_start(0).date().isoformat()] == ["0"] * 11
    intents = rows_of(client, "/insights/intents.csv?weeks=4")
    assert intents[1:] == [
        ["ask_partners", "2"],
        ["nlu_fallback", "2"],
        ["ask_contact", "1"],
        ["ask_human", "1"],
    ]
    helpful = rows_of(client, "/insights/helpful.csv?weeks=4")
    assert sorted(helpful[1:]) == [
        ["ask_contact", "1", "0"],
        ["ask_partners", "0", "1"],
    ]
    # Twelve weeks reach the old conversation.
    longer = rows_of(client, "/insights/weeks.csv?weeks=12")
    assert sum(int(row[1]) for row in longer[1:]) == 5
    assert client.get("/insights/secrets.csv").status_code == 404


def test_the_page_has_accessible_charts_and_the_same_numbers_as_tables(client):
    page = client.get("/insights?weeks=4").text
    assert '<a href="/insights" aria-current="page">Insights</a>' in page
    assert "<strong>4</strong> conversations and <strong>6</strong> user turns" in page
    for key in ("channels", "languages", "shares", "intents"):
        assert re.search(
            rf'<svg class="chart"[^>]* role="img" aria-labelledby="{key}-title '
            rf'{key}-desc"',
            page,
        ), key
        assert f'<title id="{key}-title">' in page and f'<desc id="{key}-desc">' in page
    # Nothing the console's CSP would refuse, and no JavaScript.
    assert "<script" not in page and "style=" not in page and "<style" not in page
    one = week_start(1).date().isoformat()
    assert re.search(
        rf'<th scope="row">{one}</th><td>5</td>\s*<td>1 \(20.0 %\)</td>'
        r"<td>0 \(0.0 %\)</td><td>1 \(20.0 %\)</td><td>1 \(20.0 %\)</td>",
        page,
    )
    # The planted texts and ids never appear: counts keep no identity.
    for secret in ("who runs OFR", "socketio:a", "telegram:c", "blorp"):
        assert secret not in page


def test_alert_subscribers_per_week_by_language(client, var):
    """Counted from the subscriptions the bot holds now: one that unsubscribed or
    was erased is gone from every week, and no chat id reaches the page."""
    import time

    import sqlalchemy as sa

    from bot.storage.event_alerts import AlertStore, Subscription

    alerts = AlertStore(sa.create_engine(f"sqlite:///{var / 'tracker.db'}"))
    plans = [
        ("4711001", {}, "en", tuesday_ten(5)),
        ("4711001", {"format": "online"}, "en", tuesday_ten(1)),  # the same chat
        ("4711002", {}, "de", tuesday_ten(1)),
        ("4711003", {}, "en", tuesday_ten(1)),  # unsubscribes below
        ("4711004", {}, "de", time.time() - 60),
        ("4711005", {}, "en", tuesday_ten(2)),  # deletes its data below
    ]
    for chat, wanted, language, at in plans:
        assert alerts.subscribe(Subscription(chat, wanted, language), at)
    alerts.unsubscribe("4711003")
    alerts.forget_chat("4711005")
    alerts.engine.dispose()

    rows = rows_of(client, "/insights/subscribers.csv?weeks=4")
    assert rows[0] == [
        "week",
        "subscribers",
        "language de",
        "language en",
        "new subscribers",
    ]
    assert rows[1:] == [
        [week_start(3).date().isoformat(), "1", "0", "1", "0"],
        [week_start(2).date().isoformat(), "1", "0", "1", "0"],
        [week_start(1).date().isoformat(), "2", "1", "1", "1"],
        [week_start(0).date().isoformat(), "3", "2", "1", "1"],
    ]
    page = client.get("/insights?weeks=4").text
    assert re.search(
        r'<svg class="chart"[^>]* role="img" aria-labelledby="subscribers-title '
        r'subscribers-desc"',
        page,
    )
    assert "3 Telegram chats subscribed to event alerts now" in page
    assert re.search(
        rf'<th scope="row">{week_start(1).date().isoformat()}</th><td>2</td>\s*'
        r"<td>1</td><td>1</td>\s*<td>1</td>",
        page,
    )
    assert "/insights/subscribers.csv?weeks=4" in page
    assert "4711" not in page and "<script" not in page
