"""Several staff saving at the same moment (issue 29, finding 5): every change stays,
each commit holds its author's change only, a form made from an older version is
refused, and git's index.lock never leaves a change staged and uncommitted.

Each staff member has a browser of their own (Flask's test client), prepares the
form first, then all of them are released together by a barrier.
"""

from __future__ import annotations

import html
import re
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

from console.accounts import Accounts
from console.app import ConsoleConfig, create_app
from console.history import History, HistoryError
from ofr.events.model import parse_events
from tests.project_copy import CHECKED_PARTS, copy_parts, git_repository

PASSWORD = "correct horse battery"
STAFF = ("anna", "bert", "cora", "dave")
PROJECT_PARTS = CHECKED_PARTS


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return git_repository(copy_parts(tmp_path / "project", PROJECT_PARTS))


@pytest.fixture
def app(project: Path, tmp_path: Path) -> Any:
    var = tmp_path / "var"
    config = ConsoleConfig(
        project, var, project / "data" / "events.yml", warm_worker=False
    )
    console = create_app(config)
    accounts = Accounts(var / "staff.db")
    for name in STAFF:
        accounts.set_user(name, "editor", PASSWORD)
    return console


def browser_of(app: Any, name: str) -> Any:
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = f"192.0.2.{STAFF.index(name) + 1}"
    page = browser.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    response = browser.post(
        "/login",
        data={"name": name, "password": PASSWORD, "login_csrf": token, "next": "/"},
    )
    assert response.status_code == 302, name
    return browser


def hidden(page: str, name: str) -> str:
    return html.unescape(
        re.search(rf'name="{name}" value="([^"]*)"', page).group(1)  # type: ignore[union-attr]
    )


def textarea(page: str, name: str) -> str:
    return html.unescape(
        re.search(rf'name="{name}"[^>]*>([^<]*)</textarea>', page).group(1)  # type: ignore[union-attr]
    )


def event_form(browser: Any, event_id: str, **changes: str) -> Dict[str, str]:
    """The edit form of an event as the browser shows it, with ``changes``."""
    page = browser.get(f"/events/{event_id}/edit").text
    fields = dict(
        re.findall(r'<input id="(\w+)" name="\w+" type="\w+" value="([^"]*)"', page)
    )
    fields = {key: html.unescape(value) for key, value in fields.items()}
    fields["format"] = re.search(r'<option value="(\w+)" selected', page).group(1)  # type: ignore[union-attr]
    for name in ("csrf", "version", "status", "id"):
        fields[name] = hidden(page, name)
    return {**fields, **changes}


def answer_form(browser: Any, name: str, suffix: str) -> Dict[str, str]:
    page = browser.get(f"/answers/{name}").text
    return {
        "csrf": hidden(page, "csrf"),
        "version": hidden(page, "version"),
        "text_en": textarea(page, "text_en") + suffix,
        "text_de": textarea(page, "text_de"),
        "action": "save",
    }


def example_form(browser: Any, intent: str, language: str, text: str) -> Dict[str, str]:
    page = browser.get(f"/intents/{intent}").text
    return {"csrf": hidden(page, "csrf"), "lang": language, "text": text}


def together(posts: List[Tuple[Any, str, Dict[str, str]]]) -> List[Any]:
    """Send every (browser, path, form) at the same moment; their responses."""
    barrier = threading.Barrier(len(posts))
    responses: List[Any] = [None] * len(posts)

    def send(number: int) -> None:
        browser, path, form = posts[number]
        barrier.wait()
        try:
            responses[number] = browser.post(path, data=form)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            responses[number] = error

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return responses


def git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(project), *args], capture_output=True, text=True, check=True
    ).stdout


def commits_since_start(project: Path) -> List[Tuple[str, str, List[str], str]]:
    """(author, subject, files, diff) of each commit after the first, oldest first."""
    found = []
    for line in git(project, "log", "--reverse", "--format=%H|%an|%s").splitlines()[1:]:
        commit, author, subject = line.split("|", 2)
        files = git(project, "show", "--name-only", "--format=", commit).split()
        found.append((author, subject, files, git(project, "show", commit)))
    return found


def test_four_staff_saving_at_once_keep_all_four_changes_each_under_its_author(
    app, project
):
    browsers = {name: browser_of(app, name) for name in STAFF}
    anna_text = " The IOM team answers in English and German."
    bert_title = "First OFR network meeting in Berlin"
    cora_example = "which outfits team up in the OFR thing"
    dave_example = "what is the job of that migration organisation in the project"
    posts = [
        (
            browsers["anna"],
            "/answers/utter_iom",
            answer_form(browsers["anna"], "utter_iom", anna_text),
        ),
        (
            browsers["bert"],
            "/events/ofr-2018-berlin/edit",
            event_form(browsers["bert"], "ofr-2018-berlin", title_en=bert_title),
        ),
        (
            browsers["cora"],
            "/intents/ask_partners/examples",
            example_form(browsers["cora"], "ask_partners", "en", cora_example),
        ),
        (
            browsers["dave"],
            "/intents/ask_iom/examples",
            example_form(browsers["dave"], "ask_iom", "en", dave_example),
        ),
    ]
    responses = together(posts)
    for name, response in zip(STAFF, responses, strict=True):
        assert not isinstance(response, Exception), (name, response)
        assert response.status_code == 302, (name, response.status_code)
        assert "problem=" not in response.headers["Location"], (name, response.headers)

    # All four changes are in the files ...
    domain = (project / "domain.yml").read_text(encoding="utf-8")
    assert anna_text.strip() in domain
    berlin = next(
        e
        for e in parse_events(project / "data" / "events.yml")
        if e.id == "ofr-2018-berlin"
    )
    assert berlin.title.en == bert_title
    partners = (project / "data" / "nlu" / "en" / "partners.yml").read_text("utf-8")
    assert f"- {cora_example}\n" in partners and f"- {dave_example}\n" in partners

    # ... and in git: one commit each, by its author, holding only that change.
    commits = commits_since_start(project)
    assert sorted(author for author, *_ in commits) == sorted(STAFF)
    mine = {
        "anna": ("domain.yml", anna_text.strip()),
        "bert": ("data/events.yml", bert_title),
        "cora": ("data/nlu/en/partners.yml", cora_example),
        "dave": ("data/nlu/en/partners.yml", dave_example),
    }
    for author, subject, files, diff in commits:
        path, text = mine[author]
        assert files == [path], (author, subject, files)
        added = [line for line in diff.splitlines() if line.startswith("+")]
        assert any(text in line for line in added), (author, subject)
        for other, (_, their_text) in mine.items():
            if other != author:
                assert not any(their_text in line for line in added), (author, other)
    assert git(project, "status", "--porcelain").strip() == ""  # nothing left over


def test_a_form_made_from_an_older_version_is_refused_with_both_versions(app, project):
    anna, bert = browser_of(app, "anna"), browser_of(app, "bert")
    # An answer: both open the form; bert saves first; anna's save is refused.
    annas = answer_form(anna, "utter_iom", " Anna's sentence.")
    berts = answer_form(bert, "utter_iom", " Bert's sentence.")
    assert bert.post("/answers/utter_iom", data=berts).status_code == 302
    refused = anna.post("/answers/utter_iom", data=annas)
    assert refused.status_code == 409
    assert "Someone changed the answer utter_iom meanwhile" in refused.text
    assert "Bert&#39;s sentence." in refused.text  # theirs
    assert "Anna&#39;s sentence." in refused.text  # yours, still in the form
    domain = (project / "domain.yml").read_text(encoding="utf-8")
    assert "Bert's sentence." in domain and "Anna's sentence." not in domain
    # The refusal's form carries the version now saved: sent again, it is kept.
    again = {**annas, "version": hidden(refused.text, "version")}
    assert anna.post("/answers/utter_iom", data=again).status_code == 302
    assert "Anna's sentence." in (project / "domain.yml").read_text(encoding="utf-8")

    # An event: the same, with each field of both versions side by side.
    annas = event_form(anna, "ofr-2018-berlin", title_en="Anna's title")
    berts = event_form(bert, "ofr-2018-berlin", title_en="Bert's title")
    assert bert.post("/events/ofr-2018-berlin/edit", data=berts).status_code == 302
    refused = anna.post("/events/ofr-2018-berlin/edit", data=annas)
    assert refused.status_code == 409
    assert "Someone changed the event ofr-2018-berlin meanwhile" in refused.text
    assert "Bert&#39;s title" in refused.text and "Anna&#39;s title" in refused.text
    events = parse_events(project / "data" / "events.yml")
    assert (
        next(e for e in events if e.id == "ofr-2018-berlin").title.en == "Bert's title"
    )
    cancel = anna.get("/events/ofr-2018-berlin/cancel").text
    stale_cancel = {
        "csrf": hidden(cancel, "csrf"),
        "version": hidden(cancel, "version"),
    }
    changed = event_form(bert, "ofr-2018-berlin", city="Potsdam")
    assert bert.post("/events/ofr-2018-berlin/edit", data=changed).status_code == 302
    refused = anna.post("/events/ofr-2018-berlin/cancel", data=stale_cancel)
    assert refused.status_code == 409 and "Potsdam" in refused.text
    events = parse_events(project / "data" / "events.yml")
    assert not next(e for e in events if e.id == "ofr-2018-berlin").cancelled

    # An example: anna changes one that bert removed meanwhile.
    intent = anna.get("/intents/ask_partners").text
    old = html.unescape(
        re.search(
            r'name="text" value="([^"]+)"', intent.split("examples/remove")[1]
        ).group(1)  # type: ignore[union-attr]
    )
    token = hidden(intent, "csrf")
    removed = bert.post(
        "/intents/ask_partners/examples/remove",
        data={
            "csrf": hidden(bert.get("/intents/ask_partners").text, "csrf"),
            "lang": "en",
            "text": old,
        },
    )
    assert removed.status_code == 302
    refused = anna.post(
        "/intents/ask_partners/examples/change",
        data={
            "csrf": token,
            "lang": "en",
            "old": old,
            "text": "who works together on OFR then",
        },
    )
    assert refused.status_code == 409
    assert "Someone changed the EN examples of ask_partners meanwhile" in refused.text
    assert "who works together on OFR then" in refused.text
    partners = (project / "data" / "nlu" / "en" / "partners.yml").read_text("utf-8")
    assert "who works together on OFR then" not in partners
    authors = [a for a, *_ in commits_since_start(project)]
    assert authors == ["bert", "anna", "bert", "bert", "bert"]


def test_after_two_parallel_example_saves_the_next_one_still_works(app, project):
    anna, bert, cora = (browser_of(app, name) for name in ("anna", "bert", "cora"))
    first = "which outfits team up in the OFR thing"
    second = "what is the job of that migration organisation in the project"
    responses = together(
        [
            (
                anna,
                "/intents/ask_partners/examples",
                example_form(anna, "ask_partners", "en", first),
            ),
            (
                bert,
                "/intents/ask_iom/examples",
                example_form(bert, "ask_iom", "en", second),
            ),
        ]
    )
    assert [r.status_code for r in responses] == [302, 302]
    third = "who else runs ofr with the iom"
    response = cora.post(
        "/intents/ask_partners/examples",
        data=example_form(cora, "ask_partners", "en", third),
    )
    assert response.status_code == 302 and "saved=" in response.headers["Location"]
    partners = (project / "data" / "nlu" / "en" / "partners.yml").read_text("utf-8")
    for text in (first, second, third):
        assert f"- {text}\n" in partners
    assert sorted(a for a, *_ in commits_since_start(project)) == [
        "anna",
        "bert",
        "cora",
    ]


# ---------------------------------------------------------------- git's index.lock


def changed_repository(tmp_path: Path) -> Tuple[Path, History, Path]:
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.yml").write_text("a: 1\n", encoding="utf-8")
    git_repository(root)
    (root / "data" / "a.yml").write_text("a: 2\n", encoding="utf-8")
    return root, History(root), root / ".git" / "index.lock"


def with_lock_at(
    history: History, lock: Path, step: str, seconds: float
) -> Callable[..., str]:
    """Make another git process hold ``lock`` for ``seconds`` from ``step`` on."""
    real, taken = history._git, []

    def git_(*args: str) -> str:
        if args[0] == step and not taken:
            taken.append(True)
            lock.write_text("", encoding="utf-8")
            threading.Timer(seconds, lock.unlink).start()
        return real(*args)

    return git_


def test_an_index_lock_held_for_a_moment_is_waited_for(tmp_path, monkeypatch):
    root, history, lock = changed_repository(tmp_path)
    monkeypatch.setattr(history, "_git", with_lock_at(history, lock, "commit", 1.0))
    assert history.commit([root / "data" / "a.yml"], "anna", "A changed")
    assert git(root, "log", "-n1", "--format=%an|%s").strip() == "anna|A changed"
    assert git(root, "status", "--porcelain").strip() == ""


def test_an_index_lock_left_behind_stages_nothing_and_says_so(tmp_path, monkeypatch):
    root, history, lock = changed_repository(tmp_path)
    monkeypatch.setattr("console.history.INDEX_LOCK_WAIT", 0.5)
    lock.write_text("", encoding="utf-8")
    with pytest.raises(HistoryError, match="index.lock stayed .* not in the history"):
        history.commit([root / "data" / "a.yml"], "anna", "A changed")
    lock.unlink()
    assert git(root, "diff", "--cached", "--name-only").strip() == ""  # not staged
    assert git(root, "log", "--format=%s").splitlines() == ["start"]
    # Once git is free again, the next commit of the file takes the change.
    assert history.commit([root / "data" / "a.yml"], "anna", "A changed")
    assert git(root, "status", "--porcelain").strip() == ""
