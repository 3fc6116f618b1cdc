"""The staff console without servers (Flask's test client): accounts, sessions,
CSRF, the login limit, event forms, the audit log and git history."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from console.accounts import SESSION_IDLE_SECONDS, AccountError, Accounts
from console.app import LOGIN_COOKIE, SESSION_COOKIE, ConsoleConfig, create_app
from ofr.events.model import parse_events
from tests.conftest import ROOT

PASSWORD = "correct horse battery"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's events file in a git repository of its own."""
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "events.yml", root / "data" / "events.yml")
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run(
        [
            *git,
            "-c",
            "user.name=dev",
            "-c",
            "user.email=dev@example.org",
            "commit",
            "-qm",
            "start",
        ],
        check=True,
    )
    return root


@pytest.fixture
def app(project: Path, tmp_path: Path) -> Any:
    config = ConsoleConfig(project, tmp_path / "var", project / "data" / "events.yml")
    console = create_app(config)
    accounts = Accounts(tmp_path / "var" / "staff.db")
    accounts.set_user("anna", "editor", PASSWORD)
    accounts.set_user("paul", "publisher", PASSWORD)
    console.accounts = accounts  # for the tests' own checks
    return console


def log_in(client: Any, name: str = "anna", password: str = PASSWORD, **headers: str):
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login",
        data={
            "name": name,
            "password": password,
            "login_csrf": token,
            "next": "/events",
        },
        headers=headers,
    )


def csrf_of(client: Any, path: str = "/events") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    with app.test_client() as browser:
        assert log_in(browser).status_code == 302
        yield browser


def test_every_page_and_action_needs_a_login(app):
    browser = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("login", "static"):
            continue
        path = rule.build({arg: "ofr-2018-berlin" for arg in rule.arguments})[1]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = browser.open(path, method=method)
            if method == "GET":
                assert response.status_code == 302, path
                assert response.headers["Location"].startswith("/login")
            else:
                assert response.status_code == 401, (method, path)
    # A forged session cookie opens nothing either.
    browser.set_cookie(SESSION_COOKIE, "forged")
    assert browser.get("/events").status_code == 302


def test_login_sets_a_safe_cookie_and_logout_ends_the_session(app):
    browser = app.test_client()
    response = log_in(browser, **{"X-Forwarded-Proto": "https"})
    assert response.status_code == 302 and response.headers["Location"] == "/events"
    cookie = next(
        v for v in response.headers.getlist("Set-Cookie") if SESSION_COOKIE in v
    )
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    page = browser.get("/events")
    assert page.status_code == 200 and "anna (editor)" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert browser.post("/logout", data={"csrf": csrf_of(browser)}).status_code == 302
    assert browser.get("/events").status_code == 302
    actions = [e.action for e in app.accounts.audit_log()]
    assert actions[:2] == ["logout", "login"]


def test_plain_http_cookies_are_not_secure_and_redirects_stay_here(app):
    browser = app.test_client()
    page = browser.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    response = browser.post(
        "/login",
        data={
            "name": "anna",
            "password": PASSWORD,
            "login_csrf": token,
            "next": "//evil.example",
        },
    )
    assert response.headers["Location"] == "/"
    cookie = next(
        v for v in response.headers.getlist("Set-Cookie") if SESSION_COOKIE in v
    )
    assert "Secure" not in cookie


def test_the_login_form_needs_its_own_token(app):
    browser = app.test_client()
    browser.get("/login")
    response = browser.post("/login", data={"name": "anna", "password": PASSWORD})
    assert response.status_code == 403
    browser.delete_cookie(LOGIN_COOKIE)


def test_wrong_passwords_are_limited(app):
    browser = app.test_client()
    for _ in range(5):
        assert log_in(browser, password="wrong password!").status_code == 401
    # Locked for that name, even with the right password now.
    response = log_in(browser)
    assert response.status_code == 429 and "wait 15 minutes" in response.text
    assert log_in(browser, name="paul").status_code == 302  # others may log in
    # From one address, 20 failures in all lock every name.
    for number in range(15):
        log_in(app.test_client(), name=f"guess{number}", password="x" * 12)
    assert log_in(app.test_client(), name="paul").status_code == 429


def test_every_change_needs_the_csrf_token(client, project):
    before = (project / "data" / "events.yml").read_text(encoding="utf-8")
    for path, data in [
        ("/logout", {}),
        ("/events/new", {"id": "ofr-x", "title_en": "a"}),
        ("/events/ofr-2018-berlin/edit", {"title_en": "a"}),
        ("/events/ofr-2018-berlin/cancel", {}),
    ]:
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf": "wrong"}).status_code == 403
    assert (project / "data" / "events.yml").read_text(encoding="utf-8") == before
    assert client.get("/events").status_code == 200  # still logged in


NEW_EVENT = {
    "id": "ofr-2027-kiel",
    "title_en": "Network meeting Kiel",
    "title_de": "Netzwerktreffen Kiel",
    "start_date": "2027-03-04",
    "start_time": "10:00",
    "end_time": "15:30",
    "format": "in_person",
    "city": "Kiel",
    "state": "Schleswig-Holstein",
    "topics": "reintegration, networking",
}


def git_log(project: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(project), "log", "--format=%an|%s", "-n3"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_an_event_is_added_changed_and_cancelled(client, project, app):
    events_file = project / "data" / "events.yml"
    header = events_file.read_text(encoding="utf-8").split("events:")[0]
    response = client.post("/events/new", data={**NEW_EVENT, "csrf": csrf_of(client)})
    assert response.status_code == 302
    added = next(e for e in parse_events(events_file) if e.id == "ofr-2027-kiel")
    assert added.city == "Kiel" and added.topics == ["reintegration", "networking"]
    assert added.start.isoformat() == "2027-03-04T10:00:00+01:00"
    text = events_file.read_text(encoding="utf-8")
    assert text.startswith(header)  # the comments on top stay
    assert '\n\n  - id: ofr-2027-kiel\n    title: {en: "Network meeting Kiel"' in text
    assert git_log(project).splitlines()[0] == (
        "anna|Event ofr-2027-kiel added in the staff console"
    )

    form = client.get("/events/ofr-2027-kiel/edit").text
    assert 'value="Netzwerktreffen Kiel"' in form and 'value="10:00"' in form
    changed = {**NEW_EVENT, "start_time": "11:00", "csrf": csrf_of(client)}
    assert client.post("/events/ofr-2027-kiel/edit", data=changed).status_code == 302
    event = next(e for e in parse_events(events_file) if e.id == "ofr-2027-kiel")
    assert event.start.isoformat() == "2027-03-04T11:00:00+01:00"

    asked = client.get("/events/ofr-2027-kiel/cancel")
    assert "Yes, cancel the event" in asked.text and "subscribed" in asked.text
    cancel = {"csrf": csrf_of(client, "/events/ofr-2027-kiel/cancel")}
    assert client.post("/events/ofr-2027-kiel/cancel", data=cancel).status_code == 302
    assert next(
        e for e in parse_events(events_file) if e.id == "ofr-2027-kiel"
    ).cancelled
    log = git_log(project).splitlines()
    assert log[0] == "anna|Event ofr-2027-kiel cancelled in the staff console"
    assert log[1] == "anna|Event ofr-2027-kiel changed in the staff console"
    actions = [(e.name, e.action, e.detail) for e in app.accounts.audit_log()]
    assert actions[0] == ("anna", "event cancelled", {"id": "ofr-2027-kiel"})
    assert "ofr-2027-kiel" in client.get("/audit").text
    assert "Event ofr-2027-kiel cancelled" in client.get("/").text


def test_a_wrong_form_says_what_to_fix_and_changes_nothing(client, project):
    events_file = project / "data" / "events.yml"
    before = events_file.read_text(encoding="utf-8")
    wrong = {**NEW_EVENT, "id": "Kiel 2027!", "title_de": "", "start_date": "4.3.2027"}
    response = client.post("/events/new", data={**wrong, "csrf": csrf_of(client)})
    assert response.status_code == 422
    assert "lower-case letters" in response.text and "both languages" in response.text
    assert "YYYY-MM-DD" in response.text and 'aria-invalid="true"' in response.text
    # The bot's own rules: a city unless online.
    no_city = {**NEW_EVENT, "city": "", "csrf": csrf_of(client)}
    response = client.post("/events/new", data=no_city)
    assert response.status_code == 422 and "city is required" in response.text
    taken = {**NEW_EVENT, "id": "ofr-2018-berlin", "csrf": csrf_of(client)}
    assert "exists" in client.post("/events/new", data=taken).text
    assert events_file.read_text(encoding="utf-8") == before
    assert git_log(project).splitlines()[0] == "dev|start"


def test_names_from_forms_cannot_reach_other_files(client, project):
    token = csrf_of(client)
    for event_id in ("../../etc/passwd", "..%2F..%2Fdomain.yml", "nonexistent"):
        assert client.get(f"/events/{event_id}/edit").status_code == 404
        response = client.post(f"/events/{event_id}/cancel", data={"csrf": token})
        assert response.status_code == 404
    # An id with a path in it is refused by the form's own rule.
    sneaky = {**NEW_EVENT, "id": "../domain", "csrf": token}
    assert client.post("/events/new", data=sneaky).status_code == 422
    assert sorted(p.name for p in (project / "data").iterdir()) == ["events.yml"]


def test_accounts_keep_only_hashes_and_sessions_expire(tmp_path):
    accounts = Accounts(tmp_path / "staff.db")
    assert accounts.set_user("anna", "editor", PASSWORD) is True
    with pytest.raises(AccountError, match="too short"):
        accounts.set_user("anna", "editor", "short")
    with pytest.raises(AccountError, match="no role"):
        accounts.set_user("anna", "admin", PASSWORD)
    with pytest.raises(AccountError, match="cannot be a name"):
        accounts.set_user("../x", "editor", PASSWORD)
    raw = (tmp_path / "staff.db").read_bytes()
    assert PASSWORD.encode() not in raw and b"$argon2id$" in raw
    staff = accounts.check_password("anna", PASSWORD)
    assert staff is not None and not staff.can_publish
    assert accounts.check_password("anna", PASSWORD + "x") is None
    token = accounts.open_session(staff)
    assert token.encode() not in (tmp_path / "staff.db").read_bytes()
    assert accounts.session(token).staff.name == "anna"
    # A new password ends the sessions; an idle session ends by itself.
    assert accounts.set_user("anna", "publisher", PASSWORD + "!") is False
    assert accounts.session(token) is None
    staff = accounts.check_password("anna", PASSWORD + "!")
    assert staff.can_publish
    token = accounts.open_session(staff)
    import time

    assert accounts.session(token, now=time.time() + SESSION_IDLE_SECONDS + 1) is None


def test_make_staff_user_reads_a_password_file(tmp_path, monkeypatch, capsys):
    from console import staff_user

    monkeypatch.setenv("OFR_VAR_DIR", str(tmp_path))
    secret = tmp_path / "password.txt"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    assert staff_user.main(["maria", "publisher", "--password-file", str(secret)]) == 0
    assert "Created maria (publisher)." in capsys.readouterr().out
    assert Accounts(tmp_path / "staff.db").check_password("maria", PASSWORD).can_publish
    secret.write_text("short\n", encoding="utf-8")
    assert staff_user.main(["maria", "editor", "--password-file", str(secret)]) == 1
    assert "too short" in capsys.readouterr().err
    missing = str(tmp_path / "nope.txt")
    assert staff_user.main(["maria", "editor", "--password-file", missing]) == 1
    assert "cannot be read" in capsys.readouterr().err
