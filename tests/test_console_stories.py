"""Stories, rules and test stories in the console (Flask's test client, a copy of
the project in its own git repository, a real SQLite tracker store): "save as a
test / story / rule" from a conversation, and the stories page that changes and
deletes them. Every save runs `rasa data validate` (story conflicts included); a
refused one leaves every file as it was, byte for byte."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from console.accounts import Accounts
from console.app import ConsoleConfig, create_app
from console.dialogue_check import command as validate_command
from tests.planted_conversations import save, step
from tests.project_copy import CHECKED_PARTS, copy_parts, git_repository

PASSWORD = "correct horse battery"
PROJECT_PARTS = ("config.yml", *CHECKED_PARTS)
EMAIL = "lena.vogel@example.org"
HOUR = 3600.0


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return git_repository(copy_parts(tmp_path / "project", PROJECT_PARTS))


@pytest.fixture
def var(tmp_path: Path) -> Path:
    folder = tmp_path / "var"
    folder.mkdir()
    return folder


@pytest.fixture
def store(var: Path, rasa_domain: Any) -> Iterator[Any]:
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
    """sender → first question: a right one, one answered wrongly, one that
    would contradict a training story, one with an e-mail address."""
    now = time.time()
    found = {
        "socketio:right": "who is behind OFR actually",
        "socketio:wrong": "how do I reach the IOM people by phone",
        "rest:conflict": "how can I get in touch with you",
        "telegram:private": f"please write to {EMAIL} about the partners",
    }
    save(
        store,
        rasa_domain,
        "socketio:right",
        [step(found["socketio:right"], "ask_partners")],
        now - 4 * HOUR,
    )
    save(
        store,
        rasa_domain,
        "socketio:wrong",
        [
            step(found["socketio:wrong"], "ask_partners", confidence=0.41),
            step("thank you", "thank", action="utter_thank", answer="You're welcome."),
        ],
        now - 3 * HOUR,
    )
    save(
        store,
        rasa_domain,
        "rest:conflict",
        [step(found["rest:conflict"], "ask_contact", action="utter_partners")],
        now - 2 * HOUR,
    )
    save(
        store,
        rasa_domain,
        "telegram:private",
        [step(found["telegram:private"], "ask_partners")],
        now - 1 * HOUR,
    )
    return found


@pytest.fixture
def app(project: Path, var: Path) -> Any:
    console = create_app(
        ConsoleConfig(project, var, project / "data" / "events.yml", warm_worker=False)
    )
    accounts = Accounts(var / "staff.db")
    accounts.set_user("anna", "editor", PASSWORD)
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


def conversation_link(client: Any, question: str) -> str:
    page = client.get("/conversations?period=all").text
    found = re.search(
        rf'href="(/conversations/[0-9a-f]{{32}})[^"]*"[^>]*>{re.escape(question)}<',
        page,
    )
    assert found, question
    return found.group(1)


def form_value(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def git_log(project: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(project), "log", "--format=%an|%s", "-n1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def snapshot(project: Path) -> Dict[str, bytes]:
    """Every story, rule and test story file, byte for byte."""
    return {
        str(path.relative_to(project)): path.read_bytes()
        for folder in ("data/stories", "data/rules", "tests/stories")
        for path in sorted((project / folder).glob("*.yml"))
    }


def save_form(client: Any, link: str, **fields: str) -> Dict[str, str]:
    page = client.get(link).text
    data = {
        "csrf": form_value(page, "csrf"),
        "version": form_value(page, "version"),
        "area": "tests",
        "file": "conversations.yml",
        "name": "A story",
        "include-0": "1",
    }
    data.update(fields)
    return data


# ---------------------------------------------------------------- tests


def test_story_routes_need_a_login_and_the_token(app, conversations):
    browser = app.test_client()
    assert browser.get("/stories").status_code == 302
    assert browser.get("/stories/rules/contact.yml/0").status_code == 302
    for path in (
        "/stories/rules/contact.yml/0",
        "/stories/rules/contact.yml/0/delete",
        "/stories/rules/new",
        "/conversations/" + "0" * 32 + "/story",
    ):
        assert browser.post(path, data={}).status_code == 401
    assert log_in(browser).status_code == 302
    for path in ("/stories/rules/contact.yml/0/delete", "/stories/rules/new"):
        assert browser.post(path, data={"csrf": "forged"}).status_code == 403
    # Paths from forms and addresses reach no other file.
    for path in (
        "/stories/rules/..%2Fdomain.yml/0",
        "/stories/nlu/en.yml/0",
        "/stories/rules/contact.yml/99",
        "/stories/rules/Contact.yml/0",
    ):
        assert browser.get(path).status_code == 404


def test_save_as_a_test_story_writes_one_that_rasa_validates(
    client, conversations, project, app
):
    tests_file = project / "tests" / "stories" / "conversations.yml"
    before = tests_file.read_text(encoding="utf-8")
    link = conversation_link(client, conversations["socketio:wrong"])
    page = client.get(link).text
    assert "Save as a test, a story or a rule" in page
    response = client.post(
        f"{link}/story",
        data=save_form(
            client,
            link,
            name="Reaching IOM by phone, then thanks",
            **{"include-1": "1", "intent-0": "ask_contact_phone", "intent-1": "thank"},
        ),
        follow_redirects=True,
    )
    assert "Saved as the test story" in response.text, response.text[-2000:]
    after = tests_file.read_text(encoding="utf-8")
    # Appended; the rest of the file byte for byte.
    assert after.startswith(before.rstrip("\n") + "\n")
    assert (
        after[len(before.rstrip("\n")) + 1 :]
        == (
            "\n"
            "  - story: Reaching IOM by phone, then thanks\n"
            "    steps:\n"
            "      - user: |\n"
            f"          {conversations['socketio:wrong']}\n"
            "        intent: ask_contact_phone\n"
            "      - action: utter_contact_phone\n"  # the rule's answer, not the wrong one
            "      - user: |\n"
            "          thank you\n"
            "        intent: thank\n"
            "      - action: utter_thank\n"
        )
    )
    assert git_log(project) == (
        "anna|New test story “Reaching IOM by phone, then thanks” from a "
        "conversation in the staff console"
    )
    entry = app.accounts.audit_log()[0]
    assert entry.action == "test story added" and entry.detail["turns"] == [1, 2]
    # Rasa itself, as `make validate` runs it, accepts the project with it.
    done = subprocess.run(
        validate_command(project), cwd=project, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-2000:]
    # Saved turns count as reviewed.
    assert (
        conversations["socketio:wrong"]
        not in client.get("/conversations?review=1&period=all").text
    )


def test_a_story_that_conflicts_is_refused_and_every_file_put_back(
    client, conversations, project, app
):
    before = snapshot(project)
    link = conversation_link(client, conversations["rest:conflict"])
    response = client.post(
        f"{link}/story",
        data=save_form(
            client, link, area="stories", file="contact.yml", name="Contact, wrongly"
        ),
        follow_redirects=True,
    )
    assert "Not saved" in response.text
    assert "Story structure conflict after intent" in response.text
    assert snapshot(project) == before  # contact.yml was new: it is gone again
    assert not (project / "data" / "stories" / "contact.yml").exists()
    assert git_log(project) == "dev|start"
    assert all(e.action != "training story added" for e in app.accounts.audit_log())


def test_a_test_story_keeps_the_text_masked_as_the_page_shows_it(
    client, conversations, project
):
    link = conversation_link(client, "please write to &lt;email&gt; about the partners")
    saved = client.post(
        f"{link}/story",
        data=save_form(client, link, name="Partners asked with an address"),
        follow_redirects=True,
    )
    assert "Saved as the test story" in saved.text
    text = (project / "tests" / "stories" / "conversations.yml").read_text("utf-8")
    assert "please write to <email> about the partners" in text
    for path in project.rglob("*.yml"):
        assert EMAIL not in path.read_text(encoding="utf-8"), path


def test_a_stale_save_form_is_refused(client, conversations, project):
    before = snapshot(project)
    link = conversation_link(client, conversations["socketio:right"])
    response = client.post(
        f"{link}/story",
        data=save_form(client, link, version="0" * 20, name="Old form"),
        follow_redirects=True,
    )
    assert "Someone changed this conversation meanwhile" in response.text
    assert snapshot(project) == before


def test_the_stories_page_shows_steps_in_plain_words(client):
    page = client.get("/stories").text
    assert '<a href="/stories" aria-current="page">Stories</a>' in page
    assert "Answer ask contact phone" in page
    # The intent's description and the answer's text, not only names.
    assert "Bot</span> answers <code>utter_contact_phone</code>: “" in page
    assert re.search(r"asks <code>ask_contact_phone</code>: \w+", page)
    assert "Remembers</span> <code>pending</code> = delete" in page


def rule_number(project: Path, name: str) -> int:
    from console.dialogue_files import DialogueFiles

    flows = DialogueFiles(project).flows("rules", "contact.yml")
    return next(flow.number for flow in flows if flow.name == name)


def test_change_a_rule_s_steps_then_a_stale_form_is_refused(client, project, app):
    path = project / "data" / "rules" / "contact.yml"
    before = path.read_text(encoding="utf-8")
    number = rule_number(project, "Answer ask contact email")
    address = f"/stories/rules/contact.yml/{number}"
    page = client.get(address).text
    version = form_value(page, "version")
    data = {
        "csrf": form_value(page, "csrf"),
        "version": version,
        "rows": "3",
        "kind-0": "intent",
        "name-0": "ask_contact_email",
        "position-0": "1",
        # The second answer first: reordered by the numbers.
        "kind-1": "action",
        "name-1": "utter_contact",
        "position-1": "3",
        "kind-2": "action",
        "name-2": "utter_contact_email",
        "position-2": "2",
    }
    response = client.post(address, data=data, follow_redirects=True)
    assert "was saved" in response.text, response.text[-1500:]
    after = path.read_text(encoding="utf-8")
    assert after == before.replace(
        "      - intent: ask_contact_email\n      - action: utter_contact_email\n",
        "      - intent: ask_contact_email\n      - action: utter_contact_email\n"
        "      - action: utter_contact\n",
    )
    assert git_log(project).startswith("anna|Rule “Answer ask contact email” changed")
    # The same form again was made from the old version: refused, both shown.
    again = client.post(address, data=data)
    assert again.status_code == 409
    assert "Someone changed data/rules/contact.yml meanwhile" in again.text
    assert "As it is now" in again.text and "What you sent" in again.text
    assert path.read_text(encoding="utf-8") == after


def test_an_unknown_name_or_a_rule_taken_away_is_refused(client, project):
    path = project / "data" / "rules" / "contact.yml"
    before = path.read_text(encoding="utf-8")
    number = rule_number(project, "Answer ask contact phone")
    address = f"/stories/rules/contact.yml/{number}"
    page = client.get(address).text
    token, version = form_value(page, "csrf"), form_value(page, "version")
    wrong = client.post(
        address,
        data={
            "csrf": token,
            "version": version,
            "rows": "2",
            "kind-0": "intent",
            "name-0": "ask_contact_fax",
            "kind-1": "action",
            "name-1": "utter_contact_phone",
        },
    )
    assert wrong.status_code == 422
    assert "“ask_contact_fax” is no intent of the domain" in wrong.text
    assert path.read_text(encoding="utf-8") == before
    # Deleting it leaves the rule without an answer: make validate's rules refuse.
    refused = client.post(f"{address}/delete", data={"csrf": token, "version": version})
    assert refused.status_code == 422
    assert "intent &#39;ask_contact_phone&#39; has no rule" in refused.text
    assert path.read_text(encoding="utf-8") == before


def test_delete_a_test_story_removes_only_its_lines(client, project):
    from console.dialogue_files import DialogueFiles

    path = project / "tests" / "stories" / "conversations.yml"
    before = path.read_text(encoding="utf-8")
    flow = DialogueFiles(project).flows("tests", "conversations.yml")[1]
    page = client.get("/stories").text
    response = client.post(
        f"/stories/tests/conversations.yml/{flow.number}/delete",
        data={"csrf": form_value(page, "csrf"), "version": flow.version},
        follow_redirects=True,
    )
    assert "was deleted" in response.text
    after = path.read_text(encoding="utf-8")
    assert after == before.replace(flow.source + "\n", "", 1)
    assert git_log(project).startswith(f"anna|Test story “{flow.name}” deleted")
