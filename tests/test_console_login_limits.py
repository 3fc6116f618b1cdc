"""The console's login delays (issue 29, finding 6): counted atomically per name and
client address, so parallel guesses check one password; a flood of made-up names
holds up no real user; and the client address comes from the trusted proxy only."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Iterator, List

import pytest
import requests
from waitress.server import create_server

from console.accounts import ADDRESS_FREE_FAILURES, Accounts
from console.app import ConsoleConfig, create_app
from console.serve import server_options
from console.services import KEY
from tests.project_copy import git_repository

PASSWORD = "correct horse battery"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "events.yml").write_text("events: []\n", encoding="utf-8")
    git_repository(root)
    var = tmp_path / "var"
    console = create_app(
        ConsoleConfig(root, var, root / "data" / "events.yml", warm_worker=False)
    )
    Accounts(var / "staff.db").set_user("anna", "editor", PASSWORD)
    # The delays' clock stands still: a slow machine cannot let a wait run out.
    console.extensions[KEY].accounts.clock = lambda: 1_000_000.0
    return console


def browser_from(app: Any, address: str) -> Any:
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def log_in(browser: Any, name: str = "anna", password: str = PASSWORD) -> Any:
    page = browser.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return browser.post(
        "/login",
        data={"name": name, "password": password, "login_csrf": token, "next": "/"},
    )


def count_password_checks(app: Any, monkeypatch: Any) -> List[str]:
    """The names whose password the console checked, in order."""
    accounts = app.extensions[KEY].accounts
    checked: List[str] = []
    real = accounts.check_password

    def check(name: str, password: str) -> Any:
        checked.append(name)
        return real(name, password)

    monkeypatch.setattr(accounts, "check_password", check)
    return checked


def test_parallel_guesses_check_one_password_per_name_and_address(app, monkeypatch):
    checked = count_password_checks(app, monkeypatch)
    browsers = [browser_from(app, "203.0.113.5") for _ in range(16)]
    tokens = [
        re.search(r'name="login_csrf" value="([^"]+)"', b.get("/login").text).group(1)  # type: ignore[union-attr]
        for b in browsers
    ]
    barrier = threading.Barrier(len(browsers))
    statuses: List[int] = [0] * len(browsers)

    def guess(number: int) -> None:
        form = {
            "name": "anna",
            "password": f"guess number {number}",
            "login_csrf": tokens[number],
        }
        barrier.wait()
        statuses[number] = browsers[number].post("/login", data=form).status_code

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # One password was checked; the 15 others were told to wait, unchecked.
    assert checked == ["anna"]
    assert sorted(statuses) == [401] + [429] * 15


def test_a_flood_of_made_up_names_holds_up_no_real_user(app, monkeypatch):
    checked = count_password_checks(app, monkeypatch)
    attacker = browser_from(app, "203.0.113.66")
    # Guesses at a real name, then a flood of made-up names, from one address.
    for _ in range(5):
        log_in(attacker, password="y" * 12)
    statuses = [
        log_in(attacker, name=f"guess{number}", password="x" * 12).status_code
        for number in range(ADDRESS_FREE_FAILURES + 10)
    ]
    # The real name's guesses wait after the first; the address's guesses wait
    # after ADDRESS_FREE_FAILURES in all.
    assert checked.count("anna") == 1
    assert len(checked) <= ADDRESS_FREE_FAILURES + 1
    assert statuses[-9:] == [429] * 9
    # The real user, from elsewhere, is not held up.
    assert log_in(browser_from(app, "198.51.100.20")).status_code == 302
    assert log_in(browser_from(app, "198.51.100.21")).status_code == 302


@pytest.fixture
def server(app: Any, request: Any) -> Iterator[str]:
    """The console on a real waitress server with ``server_options(request.param)``."""
    server = create_server(
        app, host="127.0.0.1", port=0, threads=4, **server_options(request.param)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()


def http_log_in(url: str, password: str, forwarded_for: str) -> int:
    with requests.Session() as session:
        session.headers["X-Forwarded-For"] = forwarded_for
        page = session.get(f"{url}/login", timeout=30)
        token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        form = {"name": "anna", "password": password, "login_csrf": token}
        answer = session.post(
            f"{url}/login", data=form, allow_redirects=False, timeout=30
        )
        return answer.status_code


@pytest.mark.parametrize("server", [()], indirect=True)
def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(server):
    # Without OFR_TRUSTED_PROXY, the peer (127.0.0.1) is the client, whatever it
    # claims: a wrong password then holds up anna from "another" address too.
    assert http_log_in(server, "wrong password!", "198.51.100.1") == 401
    assert http_log_in(server, PASSWORD, "198.51.100.2") == 429


@pytest.mark.parametrize("server", [("127.0.0.1",)], indirect=True)
def test_the_trusted_proxy_names_the_client(server, app):
    assert http_log_in(server, "wrong password!", "198.51.100.1") == 401
    assert http_log_in(server, PASSWORD, "198.51.100.1") == 429
    # Another client behind the same proxy is not held up.
    assert http_log_in(server, PASSWORD, "198.51.100.2") == 302
    login = next(
        e for e in app.extensions[KEY].accounts.audit_log() if e.action == "login"
    )
    assert login.detail["address"] == "198.51.100.2"
    # The proxy appends the real peer: an address the client made up comes first
    # and is not taken.
    assert http_log_in(server, PASSWORD, "198.51.100.1, 198.51.100.3") == 302


def test_the_console_takes_one_proxy_from_the_setting():
    assert server_options(()) == {"clear_untrusted_proxy_headers": True}
    options = server_options(("127.0.0.1", "10.0.0.2"))
    assert options["trusted_proxy"] == "127.0.0.1"
    assert options["trusted_proxy_count"] == 1
    assert options["trusted_proxy_headers"] == {"x-forwarded-for", "x-forwarded-proto"}
