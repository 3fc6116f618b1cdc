"""The screenshots of the weekly review in docs/staff.md, taken in headless Chromium.

    make screenshots        # or: .venv/bin/python -m tests.staff_screenshots [--out DIR]

Plants a few made-up conversations in a SQLite tracker store through Rasa's own store
(tests/planted_conversations.py, as the browser tests do; the pages mask the e-mail
address and phone number in them), starts the console on a copy of the project on a
free port, logs in as a publisher and walks the review: the conversations that need
review, one of them, a turn corrected, the conversation saved as a test story, the
train-and-publish page, insights. Writes 1000-pixel-wide PNGs reduced to 256 colours
to docs/images/ (``--out``). The project itself is not changed.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

from PIL import Image

from tests.planted_conversations import Step, save, step
from tests.project_copy import CHECKED_PARTS, copy_parts, git_repository

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "a long staff password 42"
WIDTH = 1000
DAY = 86400.0
FOLLOW_UP = "when is the next event in Hamburg?"
WRONG = "who do I talk to about that one?"


def conversations(now: float) -> Iterator[Tuple[str, List[Step], float]]:
    """Sender, turns and start of each planted conversation."""
    yield (
        "socketio:review-1",
        [
            step(
                FOLLOW_UP,
                "ask_events",
                action="action_search_events",
                answer="The next OFR event: Fachtag Rückkehrberatung, Hamburg, "
                "3 February, 10:00–16:00.",
                entities=[
                    {"entity": "city", "value": "Hamburg", "start": 26, "end": 33}
                ],
            ),
            step(
                WRONG,
                "ask_partners",
                confidence=0.55,
                answer="OFR is run by IOM with BAMF and GIZ.",
                vote=False,
            ),
        ],
        now - 2 * 3600,
    )
    yield (
        "rest:review-2",
        [
            step(
                "wer zahlt eigentlich die rückreise",
                "nlu_fallback",
                "de",
                0.31,
                "action_did_you_mean",
                "Ich bin nicht sicher, ob ich Sie richtig verstanden habe. Meinten "
                "Sie eines davon?",
                buttons=[
                    {"title": "REAG/GARP", "payload": "/ask_reag_garp"},
                    {"title": "StarthilfePlus", "payload": "/ask_starthilfeplus"},
                    {"title": "Etwas anderes: die IOM fragen", "payload": "/ask_human"},
                ],
            )
        ],
        now - 5 * 3600,
    )
    yield (
        "telegram:review-3",
        [
            step(
                "Ich brauche Hilfe mit einem Einzelfall, meine Nummer ist "
                "0170 1234567, Mail maria.k@example.org",
                "ask_individual_case",
                "de",
                0.91,
                "action_offer_handover",
                "Soll ich Ihre Frage an die IOM weitergeben?",
                buttons=[{"title": "Ja", "payload": "/affirm"}],
            )
        ],
        now - 26 * 3600,
    )
    topics = [
        ("who are the partners of OFR", "ask_partners", "en", "utter_partners"),
        ("was ist OFR", "ask_what_is_ofr", "de", "utter_what_is_ofr"),
        ("where can I find the handbook", "ask_handbook", "en", "utter_handbook"),
        ("welche Veranstaltungen gibt es", "ask_events", "de", "action_search_events"),
        ("how do I contact IOM", "ask_contact", "en", "utter_contact"),
        (
            "was bietet StarthilfePlus",
            "ask_starthilfeplus",
            "de",
            "utter_starthilfeplus",
        ),
    ]
    rng = random.Random(31)
    for number in range(60):
        text, intent, language, action = rng.choice(topics)
        turns = [step(text, intent, language, rng.uniform(0.7, 0.99), action, "…")]
        if rng.random() < 0.3:
            turns.append(step("thanks", "thank", language, 0.97, "utter_thank", "…"))
        if rng.random() < 0.12:
            turns[0] = step(
                text, "nlu_fallback", language, 0.35, "action_did_you_mean", "…"
            )
        channel = rng.choice(("socketio", "socketio", "telegram", "rest"))
        yield (
            f"{channel}:week-{number}",
            turns,
            now - rng.uniform(1.5, 12 * 7) * DAY,
        )


def _console(work: Path) -> Tuple[Any, str]:
    """The console on a free port, on a copy of the project and a planted store."""
    from rasa.shared.core.domain import Domain
    from werkzeug.serving import make_server

    from bot.storage.tracker_store import SQLTrackerStore
    from console.accounts import Accounts
    from console.app import ConsoleConfig, create_app

    project = git_repository(
        copy_parts(work / "project", ("config.yml", *CHECKED_PARTS))
    )
    var = work / "var"
    var.mkdir()
    db = var / "tracker.db"
    domain = Domain.load(str(ROOT / "domain.yml"))
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(db))
    for sender, turns, at in conversations(time.time()):
        save(store, domain, sender, turns, at)
    store.engine.dispose()
    (var / "endpoints.yml").write_text(
        "tracker_store:\n  type: bot.storage.tracker_store.SQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {db}\n",
        encoding="utf-8",
    )
    Accounts(var / "staff.db").set_user("anna", "publisher", PASSWORD)
    app = create_app(
        ConsoleConfig(project, var, project / "data" / "events.yml", warm_worker=False)
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _shoot(page: Any, path: Path, height: Optional[int] = None) -> None:
    """The page (its top ``height`` pixels), as a small PNG."""
    page.screenshot(path=str(path), full_page=True)
    _small(path, height)


def _shoot_part(page: Any, selector: str, path: Path) -> None:
    """One part of the page, as a small PNG."""
    page.locator(selector).screenshot(path=str(path))
    _small(path)


def _small(path: Path, height: Optional[int] = None) -> None:
    """The PNG at ``path`` cut to ``height`` pixels and reduced to 256 colours."""
    with Image.open(path) as image:
        shown = image.convert("RGB")
    if height and shown.height > height:
        shown = shown.crop((0, 0, shown.width, height))
    shown.quantize(256).save(path, optimize=True)
    print(f"{path} ({path.stat().st_size // 1024} KB)")


def walk(base: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_context(
            locale="en-GB", viewport={"width": WIDTH, "height": 800}
        ).new_page()
        page.goto(f"{base}/login")
        page.get_by_label("Name").fill("anna")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Keep the assistant current").wait_for()

        page.goto(f"{base}/conversations")
        page.get_by_label("Only those that need review").check()
        page.get_by_role("button", name="Show").click()
        page.get_by_role("link", name=FOLLOW_UP).wait_for()
        _shoot(page, out / "review-list.png", 900)

        page.get_by_role("link", name=FOLLOW_UP).click()
        page.get_by_role("heading", name="Turn 2", exact=False).wait_for()
        _shoot(page, out / "review-conversation.png", 1250)

        page.get_by_label("Should have been the intent").nth(1).fill(
            "ask_contact_person"
        )
        page.get_by_role("button", name="Add as an example (turn 2)").click()
        page.get_by_text("is now an example of ask_contact_person").wait_for()
        _shoot_part(page, "#turn-1", out / "review-corrected.png")

        page.get_by_label("Intent of turn 2").fill("ask_contact_person")
        page.get_by_label("Name", exact=True).fill("Who to ask about an event")
        _shoot_part(page, "section.save-story", out / "review-save-test.png")
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_text("Saved as the test story").wait_for(timeout=120_000)

        page.goto(f"{base}/model")
        page.get_by_role("heading", name="Train, check, publish").wait_for()
        _shoot(page, out / "review-train.png", 420)

        page.goto(f"{base}/insights?weeks=12")
        page.get_by_role("heading", name="Insights").first.wait_for()
        _shoot(page, out / "review-insights.png", 1300)
        browser.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if not Path(CHROMIUM).exists():
        print("Chromium is missing: `make test` installs Debian's chromium.")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ofr-screenshots-"))
    server = None
    try:
        server, base = _console(work)
        walk(base, args.out)
    finally:
        if server is not None:
            server.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
