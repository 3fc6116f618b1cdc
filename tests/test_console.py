"""The staff console without servers (Flask's test client): accounts, sessions,
CSRF, the login delays, event forms, the audit log and git history."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
import yaml

from console.accounts import SESSION_IDLE_SECONDS, AccountError, Accounts
from console.app import LOGIN_COOKIE, SESSION_COOKIE, ConsoleConfig, create_app
from ofr.events.model import parse_events
from tests.conftest import ROOT
from tests.project_copy import CHECKED_PARTS, copy_parts, git_repository

PASSWORD = "correct horse battery"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's events file in a git repository of its own."""
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "events.yml", root / "data" / "events.yml")
    return git_repository(root)


@pytest.fixture
def app(project: Path, tmp_path: Path) -> Any:
    config = ConsoleConfig(
        project, tmp_path / "var", project / "data" / "events.yml", warm_worker=False
    )
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


def version_of(client: Any, path: str) -> str:
    """The version an edit form was made from (a stale one is refused)."""
    return re.search(r'name="version" value="([^"]+)"', client.get(path).text).group(1)


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
    """Each wrong password doubles the wait of that name from that address (1 s,
    2 s, 4 s, …); the right password from elsewhere, and other names, are not
    held up (tests/test_console_login_limits.py: in parallel, floods, proxies)."""
    clock = [1_000_000.0]
    accounts = app.extensions["ofr_console"].accounts
    accounts.clock = lambda: clock[0]
    browser = app.test_client()
    for wait in (1, 2, 4, 8, 16):
        assert log_in(browser, password="wrong password!").status_code == 401
        # Held up, even with the right password, until the wait is over.
        response = log_in(browser)
        assert response.status_code == 429
        assert f"wait {wait} second" in response.text
        assert response.headers["Retry-After"] == str(wait)
        clock[0] += wait
    assert log_in(browser, password="wrong password!").status_code == 401
    assert log_in(browser).status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert log_in(elsewhere).status_code == 302  # the right password, elsewhere
    assert log_in(app.test_client(), name="paul").status_code == 302  # others too
    clock[0] += 32
    assert log_in(browser).status_code == 302
    # The right password starts the name afresh from that address.
    assert log_in(app.test_client(), password="wrong password!").status_code == 401


def test_every_change_needs_the_csrf_token(client, project, app):
    before = (project / "data" / "events.yml").read_text(encoding="utf-8")
    for path, data in [
        ("/logout", {}),
        ("/events/new", {"id": "ofr-x", "title_en": "a"}),
        ("/events/ofr-2018-berlin/edit", {"title_en": "a"}),
        ("/events/ofr-2018-berlin/cancel", {}),
    ]:
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf": "wrong"}).status_code == 403
    # Every other change too (the login form has a token of its own, tested below).
    posts = [
        rule.build({arg: "ofr-2018-berlin" for arg in rule.arguments})[1]
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and rule.endpoint != "login"
    ]
    assert "/questions" in posts and "/model/publish" in posts
    for path in posts:
        assert client.post(path, data={"csrf": "wrong"}).status_code == 403, path
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
    changed = {
        **NEW_EVENT,
        "start_time": "11:00",
        "csrf": csrf_of(client),
        "version": version_of(client, "/events/ofr-2027-kiel/edit"),
    }
    assert client.post("/events/ofr-2027-kiel/edit", data=changed).status_code == 302
    event = next(e for e in parse_events(events_file) if e.id == "ofr-2027-kiel")
    assert event.start.isoformat() == "2027-03-04T11:00:00+01:00"

    asked = client.get("/events/ofr-2027-kiel/cancel")
    assert "Yes, cancel the event" in asked.text and "subscribed" in asked.text
    cancel = {
        "csrf": csrf_of(client, "/events/ofr-2027-kiel/cancel"),
        "version": version_of(client, "/events/ofr-2027-kiel/cancel"),
    }
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


# ---------------------------------------------------------------- training data, inbox, history

PROJECT_PARTS = CHECKED_PARTS


@pytest.fixture
def full_project(tmp_path: Path) -> Path:
    """The files the project checks read, in a git repository of their own."""
    return git_repository(copy_parts(tmp_path / "full", PROJECT_PARTS))


@pytest.fixture
def full_client(full_project: Path, tmp_path: Path) -> Iterator[Any]:
    var = tmp_path / "fullvar"
    config = ConsoleConfig(
        full_project, var, full_project / "data" / "events.yml", warm_worker=False
    )
    console = create_app(config)
    Accounts(var / "staff.db").set_user("anna", "editor", PASSWORD)
    with console.test_client() as browser:
        assert log_in(browser).status_code == 302
        yield browser


def test_examples_are_added_changed_removed_and_checked(full_client, full_project):
    en = full_project / "data" / "nlu" / "en" / "partners.yml"
    before = en.read_text(encoding="utf-8")
    page = full_client.get("/intents?q=partners")
    assert "ask_partners" in page.text and "who is behind OFR" in page.text
    token = csrf_of(full_client, "/intents/ask_partners")
    new = "which outfits team up in the OFR thing"
    response = full_client.post(
        "/intents/ask_partners/examples",
        data={"csrf": token, "lang": "en", "text": new},
    )
    assert response.status_code == 302
    assert f"    - {new}\n- intent: ask_iom" in en.read_text(encoding="utf-8")
    assert git_log(full_project).splitlines()[0] == (
        "anna|Example added for ask_partners (en) in the staff console"
    )
    changed = "which outfits team up in the OFR project"
    full_client.post(
        "/intents/ask_partners/examples/change",
        data={"csrf": token, "lang": "en", "old": new, "text": changed},
    )
    assert changed in en.read_text(encoding="utf-8")
    full_client.post(
        "/intents/ask_partners/examples/remove",
        data={"csrf": token, "lang": "en", "text": changed},
    )
    assert en.read_text(encoding="utf-8") == before  # comments and layout kept

    # Refused, with the reason: a duplicate, a held-out question, an empty text.
    for text, reason in [
        ("who are the partners", "already there"),
        (held_out_question("en", "partners.yml"), "held-out test question"),
        ("  ", "as a user would ask it"),
    ]:
        response = full_client.post(
            "/intents/ask_partners/examples",
            data={"csrf": token, "lang": "en", "text": text},
            follow_redirects=True,
        )
        assert reason in response.text, text
    assert en.read_text(encoding="utf-8") == before
    assert full_client.get("/intents/no_such_intent").status_code == 404
    bad_language = {"csrf": token, "lang": "../x", "text": "hello there"}
    assert (
        full_client.post(
            "/intents/ask_partners/examples", data=bad_language
        ).status_code
        == 422
    )


def held_out_question(language: str, topic: str) -> str:
    from ofr_tools.evaluation import held_out_texts

    path_texts = held_out_texts(
        language, ROOT / "tests" / "nlu", ROOT / "tests" / "event_questions"
    )
    wanted = (ROOT / "tests" / "nlu" / language / topic).read_text(encoding="utf-8")
    return next(text for text in path_texts if text in wanted and len(text) > 20)


def test_a_change_is_undone_from_the_history(full_client, full_project):
    en = full_project / "data" / "nlu" / "en" / "partners.yml"
    before = en.read_text(encoding="utf-8")
    token = csrf_of(full_client, "/intents/ask_partners")
    full_client.post(
        "/intents/ask_partners/examples",
        data={"csrf": token, "lang": "en", "text": "who else is in on ofr besides iom"},
    )
    page = full_client.get("/history").text
    commit = re.search(r'action="/history/([0-9a-f]{40})/undo"', page).group(1)
    assert (
        full_client.post(f"/history/{commit}/undo", data={"csrf": token}).status_code
        == 302
    )
    assert en.read_text(encoding="utf-8") == before
    assert git_log(full_project).splitlines()[0].startswith("anna|Undo: Example added")
    # Only the console's own commits can be undone.
    start = subprocess.run(
        ["git", "-C", str(full_project), "rev-list", "--max-parents=0", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    refused = full_client.post(
        f"/history/{start}/undo", data={"csrf": token}, follow_redirects=True
    )
    assert "not a change made in the console" in refused.text


def test_the_inbox_turns_an_unanswered_question_into_an_example(
    full_client, full_project, tmp_path, rasa_domain
):
    import asyncio

    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.storage.tracker_store import SQLTrackerStore

    var = tmp_path / "fullvar"
    store = SQLTrackerStore(rasa_domain, dialect="sqlite", db=str(var / "tracker.db"))
    tracker = DialogueStateTracker("socketio:x", rasa_domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(
        UserUttered(
            "wer zahlt eigentlich die ofr-leute", intent={"name": "nlu_fallback"}
        )
    )
    tracker.update(SlotSet("language", "de"))
    tracker.update(ActionExecuted("action_did_you_mean"))
    tracker.update(BotUttered("Meinten Sie …?"))
    tracker.update(ActionExecuted("action_listen"))
    asyncio.run(store.save(tracker))
    (var / "endpoints.yml").write_text(
        f"tracker_store:\n  type: bot.storage.tracker_store.SQLTrackerStore\n  dialect: sqlite\n  db: {var / 'tracker.db'}\n",
        encoding="utf-8",
    )
    page = full_client.get("/inbox").text
    assert "wer zahlt eigentlich die ofr-leute" in page
    token = csrf_of(full_client, "/inbox")
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    response = full_client.post(
        "/inbox/add",
        data={
            "csrf": token,
            "lang": "de",
            "text": "wer zahlt eigentlich die ofr-leute",
            "key": key,
            "intent": "ask_partners",
        },
        follow_redirects=True,
    )
    assert "is now an example of ask_partners" in response.text
    de = (full_project / "data" / "nlu" / "de" / "partners.yml").read_text(
        encoding="utf-8"
    )
    assert "- wer zahlt eigentlich die ofr-leute\n" in de
    assert (
        "wer zahlt eigentlich die ofr-leute</strong>"
        not in full_client.get("/inbox").text
    )
    wrong = {"csrf": token, "lang": "de", "text": "x", "key": key, "intent": "nonsense"}
    assert (
        "Choose an intent"
        in full_client.post("/inbox/add", data=wrong, follow_redirects=True).text
    )


def test_only_publishers_publish_and_a_worse_model_needs_a_reason(
    app, tmp_path, monkeypatch
):
    from console.pipeline import Job
    from console.services import KEY
    from tests.servers import free_port

    # Nothing answers here: the publish step must fail, never reach a real bot.
    monkeypatch.setenv("OFR_VAR_DIR", str(tmp_path))
    (tmp_path / "admin-token").write_text("t" * 32, encoding="utf-8")
    monkeypatch.setenv("RASA_PORT", str(free_port()))
    monkeypatch.delenv("OFR_PUBLISH_URLS", raising=False)

    pipeline = app.extensions[KEY].pipeline
    model = tmp_path / "console-test.tar.gz"
    model.write_bytes(b"not a real model")
    pipeline.job = Job(
        "anna",
        state="ready",
        model=model,
        scores={
            "en": {"accuracy": 0.95, "right": 95, "total": 100},
            "de": {"accuracy": 0.97, "right": 97, "total": 100},
        },
        running={
            "en": {"accuracy": 0.96, "right": 96, "total": 100},
            "de": {"accuracy": 0.96, "right": 96, "total": 100},
        },
    )
    assert pipeline.job.worse() == ["en"]
    with app.test_client() as editor:
        log_in(editor, "anna")
        page = editor.get("/model").text
        assert "Only publishers may publish" in page and "worse" in page
        response = editor.post(
            "/model/publish", data={"csrf": csrf_of(editor, "/model")}
        )
        assert response.status_code == 403
    with app.test_client() as publisher:
        log_in(publisher, "paul")
        token = csrf_of(publisher, "/model")
        refused = publisher.post(
            "/model/publish", data={"csrf": token}, follow_redirects=True
        )
        assert "worse in English: give a reason" in refused.text
        assert pipeline.job.state == "ready"
        reason = "The German answers matter more this week."
        publisher.post("/model/publish", data={"csrf": token, "reason": reason})
    entry = app.accounts.audit_log()[0]
    assert (entry.name, entry.action, entry.detail["reason"]) == (
        "paul",
        "publishing a worse model started",
        reason,
    )
    # Without a bot to publish to, the step fails and says why.
    deadline = time.time() + 30
    while pipeline.job.state == "publishing" and time.time() < deadline:
        time.sleep(0.2)
    assert pipeline.job.state == "failed" and pipeline.job.error


def test_an_answer_is_previewed_changed_and_checked(full_client, full_project):
    domain = full_project / "domain.yml"
    before = domain.read_text(encoding="utf-8")
    page = full_client.get("/answers?q=returningfromgermany")
    assert "utter_iom" in page.text
    form = full_client.get("/answers/utter_iom").text
    english = re.search(r'name="text_en"[^>]*>([^<]*)</textarea>', form).group(1)
    german = re.search(r'name="text_de"[^>]*>([^<]*)</textarea>', form).group(1)
    import html

    english, german = html.unescape(english), html.unescape(german)
    token = csrf_of(full_client, "/answers/utter_iom")
    made_from = version_of(full_client, "/answers/utter_iom")
    new = english + "\nMore: https://www.returningfromgermany.de/en/programmes"
    preview = full_client.post(
        "/answers/utter_iom",
        data={"csrf": token, "text_en": new, "text_de": german, "action": "preview"},
    )
    assert (
        '<br>More: <a href="https://www.returningfromgermany.de/en/programmes">'
        in preview.text
    )
    assert domain.read_text(encoding="utf-8") == before  # a preview saves nothing
    # make validate's facts check: a link no fact in data/facts.yml has, and in the
    # English text only, is refused with the check's own words; nothing is saved.
    refused = full_client.post(
        "/answers/utter_iom",
        data={
            "csrf": token,
            "text_en": new,
            "text_de": german,
            "action": "save",
            "version": made_from,
        },
    )
    assert refused.status_code == 422
    assert "https://www.returningfromgermany.de/en/programmes" in refused.text
    assert "which no fact in data/facts.yml has" in refused.text
    assert domain.read_text(encoding="utf-8") == before
    new = english + "\nMore: https://www.returningfromgermany.de"  # a sourced link
    saved = full_client.post(
        "/answers/utter_iom",
        data={
            "csrf": token,
            "text_en": new,
            "text_de": german,
            "action": "save",
            "version": made_from,
        },
    )
    assert saved.status_code == 302
    after = domain.read_text(encoding="utf-8")
    changed = [
        (a, b)
        for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
        if a != b
    ]
    assert len(changed) == 1  # one line: every other byte of domain.yml stays
    assert changed[0][1].endswith('\\nMore: https://www.returningfromgermany.de"')
    assert git_log(full_project).splitlines()[0] == (
        "anna|Answer utter_iom changed (en) in the staff console"
    )
    made_from = version_of(full_client, "/answers/utter_iom")  # the saved one now
    empty = full_client.post(
        "/answers/utter_iom",
        data={
            "csrf": token,
            "text_en": " ",
            "text_de": german,
            "action": "save",
            "version": made_from,
        },
    )
    assert empty.status_code == 422 and "cannot be empty" in empty.text
    assert full_client.get("/answers/utter_nothing").status_code == 404


NEWSLETTER_EN = [
    "is there an ofr newsletter",
    "can I subscribe to a newsletter about OFR?",
    "newsletter?",
    "do you send out news by mail",
    "how do I get OFR's newsletter",
    "I'd like regular updates in my inbox",
    "where can i sign up for the mailing list",
    "does the project publish a bulletin",
    "any e-mail digest I could receive?",
    "is there a monthly news letter for counsellors",
    "how can volunteers stay informed by email",
    "mailing list for practitioners, does one exist",
    "can you put me on your distribution list",
    "i want to receive the latest news as a subscriber",
    "Is a newsletter planned at some point?",
    "Where would I register for news updates?",
    "send me the newsletter pls",
    "how often does the newsletter come out",
    "Does IOM email a circular about this programme?",
    "our municipality wants your periodic news mails",
]
NEWSLETTER_DE = [
    "gibt es einen ofr newsletter",
    "kann ich einen Newsletter zu OFR abonnieren?",
    "newsletter?",
    "verschickt ihr Neuigkeiten per Mail",
    "wie bekomme ich den Newsletter von OFR",
    "ich hätte gern regelmäßige Infos im Postfach",
    "wo trage ich mich in den Verteiler ein",
    "gibt das Projekt ein Rundschreiben heraus",
    "gibt es einen E-Mail-Rundbrief für Beratende?",
    "erscheint monatlich ein Infobrief",
    "wie bleiben Ehrenamtliche per Mail auf dem Laufenden",
    "existiert eine Mailingliste für Fachkräfte",
    "könnt ihr mich auf eure Verteilerliste setzen",
    "ich möchte als Abonnentin die neuesten Nachrichten erhalten",
    "Ist ein Newsletter geplant?",
    "Wo melde ich mich für Neuigkeiten an?",
    "schick mir bitte den newsletter",
    "wie oft kommt der Newsletter raus",
    "Verschickt die IOM einen Rundbrief zu dem Programm?",
    "unsere Kommune möchte eure regelmäßigen Infomails",
]


def new_question_form(token: str, **changes: str) -> Dict[str, str]:
    return {
        "csrf": token,
        "intent": "ask_newsletter",
        "description": "whether OFR has a newsletter or mailing list",
        "topic": "contact.yml",
        "answer_en": "I do not know of an OFR newsletter. IOM can tell you more.",
        "answer_de": "Ein OFR-Newsletter ist mir nicht bekannt. Die IOM weiß mehr.",
        "examples_en": "\n".join(NEWSLETTER_EN),
        "examples_de": "\n".join(NEWSLETTER_DE),
        "label_en": "A newsletter",
        "label_de": "Ein Newsletter",
        **changes,
    }


def test_a_new_question_gets_answers_rule_examples_and_test_questions(
    full_client, full_project
):
    from ofr_tools import check_project
    from ofr_tools.held_out import held_out_texts, near_copy, normalise_example

    page = full_client.get("/questions/new?lang=en&text=newsletter%3F&key=k1")
    assert page.status_code == 200 and ">newsletter?</textarea>" in page.text
    token = csrf_of(full_client, "/questions/new")
    too_few = new_question_form(token, examples_de="\n".join(NEWSLETTER_DE[:12]))
    refused = full_client.post("/questions", data=too_few)
    assert refused.status_code == 422
    assert "at least 20 German ways of asking (12 so far)" in refused.text
    assert git_log(full_project).splitlines()[0] == "dev|start"  # nothing written
    alike = new_question_form(
        token, examples_en="\n".join(f"newsletter for town {n}" for n in range(20))
    )
    assert "worded differently" in full_client.post("/questions", data=alike).text
    taken = new_question_form(
        token, examples_en="\n".join(NEWSLETTER_EN[:19] + ["who is behind ofr"])
    )
    assert (
        "already has “who is behind ofr”"
        in full_client.post("/questions", data=taken).text
    )
    assert (
        full_client.post(
            "/questions", data=new_question_form(token, intent="ask_partners")
        ).status_code
        == 422
    )

    saved = full_client.post("/questions", data=new_question_form(token))
    assert saved.status_code == 302
    assert git_log(full_project).splitlines()[0] == (
        "anna|New question ask_newsletter from the staff console"
    )
    changed = subprocess.run(
        ["git", "-C", str(full_project), "show", "--numstat", "--format=", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    numbers = {line.split("\t")[2]: line.split("\t")[:2] for line in changed if line}
    assert set(numbers) == {
        "domain.yml",
        "docs/intents.md",
        "data/rules/contact.yml",
        "data/nlu/en/contact.yml",
        "data/nlu/de/contact.yml",
        "tests/nlu/en/contact.yml",
        "tests/nlu/de/contact.yml",
        "ofr/messages.yml",
    }
    assert all(deleted == "0" for _, deleted in numbers.values())  # only additions
    assert check_project.run(full_project)[0] == []
    domain = yaml.safe_load((full_project / "domain.yml").read_text("utf-8"))
    assert "ask_newsletter" in domain["intents"]
    texts = [v["text"] for v in domain["responses"]["utter_newsletter"]]
    assert texts[1].startswith("Ein OFR-Newsletter")
    for language in ("en", "de"):
        held = yaml.safe_load(
            (full_project / "tests" / "nlu" / language / "contact.yml").read_text(
                "utf-8"
            )
        )["nlu"][-1]
        trained = yaml.safe_load(
            (full_project / "data" / "nlu" / language / "contact.yml").read_text(
                "utf-8"
            )
        )["nlu"][-1]
        assert held["intent"] == trained["intent"] == "ask_newsletter"
        held_lines = [x[2:] for x in held["examples"].splitlines()]
        trained_lines = [x[2:] for x in trained["examples"].splitlines()]
        assert len(held_lines) == 10 and len(trained_lines) == 10
        assert trained_lines[0] in (NEWSLETTER_EN[0], NEWSLETTER_DE[0])
        training = [
            normalise_example(t)
            for p in (full_project / "data" / "nlu" / language).glob("*.yml")
            for block in yaml.safe_load(p.read_text("utf-8")).get("nlu", [])
            for t in [x[2:] for x in block.get("examples", "").splitlines()]
        ]
        for question in held_lines:
            assert not any(near_copy(normalise_example(question), t) for t in training)
        assert set(held_lines) <= set(
            held_out_texts(
                language,
                full_project / "tests" / "nlu",
                full_project / "tests" / "event_questions",
            )
        )
    labels = yaml.safe_load((full_project / "ofr" / "messages.yml").read_text("utf-8"))
    assert labels["intent_ask_newsletter"] == {
        "en": "A newsletter",
        "de": "Ein Newsletter",
    }
    page = full_client.get("/intents/ask_newsletter")
    assert "whether OFR has a newsletter" in page.text
