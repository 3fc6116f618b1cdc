"""The web chat in a real browser: Debian's Chromium, driven headless by Playwright,
against the servers `make run` starts. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import ROOT
from tests.servers import Servers, running_bot

pytestmark = pytest.mark.server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory, trained_model) -> Iterator[Servers]:
    with running_bot(tmp_path_factory.mktemp("var")) as servers:
        yield servers


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Chromium is missing: `make test` installs Debian's chromium package."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def bot_messages(page):
    return page.locator(".ofr-chat__message--bot .ofr-chat__text")


def ask(page, text: str) -> str:
    """Type a question like a user and return the bot's next answer."""
    before = bot_messages(page).count()
    page.locator("#ofr-chat-input").fill(text)
    page.keyboard.press("Enter")
    bot_messages(page).nth(before).wait_for(timeout=60_000)
    return bot_messages(page).nth(before).inner_text()


def test_conversation_in_the_browser(bot, browser, domain):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        locale="de-DE", viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    page.goto(f"{bot.url}/webhooks/webchat/")
    page.locator(".ofr-chat__log").wait_for()
    # The first language comes from the browser: German labels and German answers.
    assert page.locator(".ofr-chat__send").inner_text() == "Senden"

    answer = ask(page, "Was ist OFR eigentlich?")
    assert "Option Freiwillige Rückkehr" in answer and "Projekt" in answer

    answer = ask(page, "Who are the partners of OFR?")
    assert "partners" in answer and "International Organization for Migration" in answer

    ask(page, "what can you do?")
    buttons = page.locator(".ofr-chat__message--bot").last.locator("button")
    assert buttons.count() >= 5
    before = bot_messages(page).count()
    buttons.filter(has_text="Contact").first.click()
    bot_messages(page).nth(before).wait_for(timeout=60_000)
    contact = page.locator(".ofr-chat__message--bot").last
    assert contact.locator("a[href='mailto:lschardt@iom.int']").count() == 1
    page.screenshot(path=str(ARTIFACTS / "webchat-desktop.png"))

    # Reload: the history is still there and the conversation goes on in English.
    shown = page.locator(".ofr-chat__message").count()
    page.reload()
    page.locator(".ofr-chat__message").nth(shown - 1).wait_for()
    assert page.locator(".ofr-chat__message").count() == shown
    assert "Internationale" not in ask(page, "IOM?")

    phone = browser.new_context(
        locale="en-GB",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    mobile = phone.new_page()
    mobile.goto(f"{bot.url}/webhooks/webchat/")
    answer = ask(mobile, "When is the next event?")
    assert "event" in answer.lower()
    width = mobile.evaluate(
        "document.querySelector('.ofr-chat__panel').getBoundingClientRect().width"
    )
    assert width <= 390
    mobile.screenshot(path=str(ARTIFACTS / "webchat-phone.png"))
    context.close()
    phone.close()


def test_keyboard_and_screen_reader_basics(bot, browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{bot.url}/webhooks/webchat/")
    log = page.locator(".ofr-chat__log")
    assert (
        log.get_attribute("role") == "log"
        and log.get_attribute("aria-live") == "polite"
    )
    assert page.get_by_label("Your question").is_visible()
    # Escape closes the panel and focus returns to the toggle; Enter opens it again.
    page.get_by_label("Your question").focus()
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.className") == "ofr-chat__toggle"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "ofr-chat-input"
    context.close()


def test_deleting_the_conversation_clears_the_browser_history(bot, browser):
    """Issue 15: the widget kept the last 200 messages in localStorage after the
    conversation was deleted on the server."""
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{bot.url}/webhooks/webchat/")
    page.locator(".ofr-chat__log").wait_for()

    def stored() -> dict:
        return page.evaluate("JSON.parse(localStorage.getItem('ofr-chat'))")

    ask(page, "Who are the partners?")
    first = stored()
    assert len(first["messages"]) >= 2
    assert "Shall I delete" in ask(page, "please delete my data")
    before = bot_messages(page).count()
    page.locator(".ofr-chat__message--bot").last.locator("button").first.click()
    bot_messages(page).nth(before).wait_for(timeout=60_000)
    page.wait_for_function(
        "JSON.parse(localStorage.getItem('ofr-chat')).messages.length === 0"
    )
    assert stored()["sessionId"] != first["sessionId"]
    page.reload()
    page.locator(".ofr-chat__log").wait_for()
    assert page.locator(".ofr-chat__message--user").count() == 0
    context.close()
