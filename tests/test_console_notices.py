"""The console's alert box shows only problems the console itself made (issue 29,
finding 11a): a link with ``?problem=<any text>`` used to put that text in it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from console.accounts import Accounts
from console.app import ConsoleConfig, create_app
from tests.conftest import ROOT
from tests.project_copy import git_repository

PASSWORD = "correct horse battery"
PHISHING = "Your session ended: log in again at https://evil.example/login"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "events.yml", root / "data" / "events.yml")
    git_repository(root)
    config = ConsoleConfig(
        root, tmp_path / "var", root / "data" / "events.yml", warm_worker=False
    )
    console = create_app(config)
    accounts = Accounts(tmp_path / "var" / "staff.db")
    accounts.set_user("paul", "publisher", PASSWORD)
    accounts.set_user("anna", "publisher", PASSWORD)
    return console


def logged_in(app: Any, name: str) -> Any:
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "login_csrf": token, "next": "/"},
    )
    assert response.status_code == 302
    return client


def csrf_of(client: Any, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


@pytest.mark.parametrize("path", ["/model", "/history", "/inbox"])
def test_a_text_in_the_link_is_not_shown(app, path):
    client = logged_in(app, "paul")
    page = client.get(path, query_string={"problem": PHISHING})
    assert page.status_code == 200
    assert "evil.example" not in page.text


def test_a_problem_the_console_made_is_shown_to_its_session_only(app):
    paul = logged_in(app, "paul")
    response = paul.post("/model/publish", data={"csrf": csrf_of(paul, "/model")})
    assert response.status_code == 302
    key = parse_qs(urlsplit(response.headers["Location"]).query)["problem"][0]
    assert "Train" not in key  # a key, not the text
    assert (
        "Train and check a model first." in paul.get(response.headers["Location"]).text
    )
    anna = logged_in(app, "anna")
    other = anna.get("/model", query_string={"problem": key}).text
    assert "Train and check a model first." not in other
