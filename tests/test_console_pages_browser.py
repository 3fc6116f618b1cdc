"""The console's stories, conversation-save and insights pages in a real browser
(Debian's Chromium through Playwright): axe-core finds no serious or critical
problem on any of them, and a story is saved from the conversation page with the
keyboard-reachable form. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from console.accounts import Accounts
from console.app import ConsoleConfig, create_app
from tests.conftest import ROOT
from tests.planted_conversations import save, step
from tests.project_copy import CHECKED_PARTS, copy_parts, git_repository

pytestmark = pytest.mark.server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "a long staff password 42"
PARTS = ("config.yml", *CHECKED_PARTS)


def serious_accessibility_problems(page) -> List[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "axe.run(document).then(r => r.violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.length})))"
    )
    return [
        f"{v['id']} ({v['nodes']})"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="module")
def console(tmp_path_factory, rasa_domain) -> Iterator[str]:
    """The console on a free port, on a copy of the project and a planted store."""
    from werkzeug.serving import make_server

    from bot.storage.tracker_store import SQLTrackerStore

    root = tmp_path_factory.mktemp("console")
    project = git_repository(copy_parts(root / "project", PARTS))
    var = root / "var"
    var.mkdir()
    db = var / "tracker.db"
    store = SQLTrackerStore(rasa_domain, dialect="sqlite", db=str(db))
    (var / "endpoints.yml").write_text(
        "tracker_store:\n  type: bot.storage.tracker_store.SQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {db}\n",
        encoding="utf-8",
    )
    now = time.time()
    save(
        store,
        rasa_domain,
        "socketio:review",
        [
            step("who can I ask about that event", "ask_partners", confidence=0.45),
            step("thanks", "thank", action="utter_thank", answer="You're welcome."),
        ],
        now - 8 * 86400,
    )
    save(store, rasa_domain, "telegram:x", [step("hallo", "greet", "de")], now - 3600)
    store.engine.dispose()
    Accounts(var / "staff.db").set_user("anna", "editor", PASSWORD)
    app = create_app(
        ConsoleConfig(project, var, project / "data" / "events.yml", warm_worker=False)
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def page(console) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        # axe-core is injected into the pages: the console's CSP would refuse it.
        context = browser.new_context(
            locale="en-GB", viewport={"width": 1280, "height": 900}, bypass_csp=True
        )
        tab = context.new_page()
        tab.goto(f"{console}/login")
        tab.get_by_label("Name").fill("anna")
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        tab.get_by_role("heading", name="Keep the assistant current").wait_for()
        yield tab
        browser.close()


def test_the_new_pages_have_no_serious_accessibility_problems(console, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for path, heading, shot in [
        ("/stories", "Stories and rules", "console-stories.png"),
        ("/stories/rules/contact.yml/0", "Answer ask contact", "console-story.png"),
        ("/stories/tests/new", "New test story", "console-story-new.png"),
        ("/insights?weeks=12", "Insights", "console-insights.png"),
    ]:
        page.goto(f"{console}{path}")
        page.get_by_role("heading", name=heading).first.wait_for()
        assert serious_accessibility_problems(page) == [], path
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    # Each chart is announced by its title.
    assert page.get_by_role("img", name="The most asked intents").count() == 1


def test_save_a_conversation_as_a_test_story_in_the_browser(console, page):
    page.goto(f"{console}/conversations?period=all&review=1")
    page.get_by_role("link", name="who can I ask about that event").click()
    page.get_by_role("heading", name="Save as a test, a story or a rule").wait_for()
    assert serious_accessibility_problems(page) == []
    page.get_by_label("Intent of turn 1").fill("ask_contact_person")
    page.get_by_label("Name", exact=True).fill("Who to ask about an event")
    page.get_by_role("button", name="Save", exact=True).click()
    status = page.get_by_role("status")
    status.wait_for()
    assert "Saved as the test story “Who to ask about an event”" in status.inner_text()
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(ARTIFACTS / "console-story-saved.png"), full_page=True)
    page.goto(f"{console}/stories#tests")
    assert page.get_by_role("heading", name="Who to ask about an event").count() == 1
