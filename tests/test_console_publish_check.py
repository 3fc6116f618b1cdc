"""The check before publishing runs the test stories (tests/stories, where stories
saved from reviewed conversations go) and a model that fails one needs a
publisher's reason, as a worse model does."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from console.accounts import Accounts
from console.app import ConsoleConfig, create_app
from tests.conftest import ROOT

PASSWORD = "correct horse battery"
FAILING = """
  - story: Contact asked, partners answered
    steps:
      - intent: ask_contact
      - action: utter_partners
"""
# A text today's model does not read as the story's intent: without reading the
# texts (rasa test core --e2e) this story would pass.
MISREAD = """
  - story: Nonsense read as the partners (a test)
    steps:
      - user: |
          zorblax quintet umbrella
        intent: ask_partners
      - action: utter_partners
"""


@pytest.mark.model
def test_the_worker_runs_the_test_stories_and_names_the_failing_ones(
    tmp_path, trained_model, monkeypatch
):
    from console.model_job import story_results

    project = tmp_path / "project"
    # Every story of the project passes on the trained model; the two planted fail.
    shutil.copytree(ROOT / "tests" / "stories", project / "tests" / "stories")
    stories = project / "tests" / "stories" / "conversations.yml"
    stories.write_text(stories.read_text("utf-8") + FAILING + MISREAD, encoding="utf-8")
    monkeypatch.chdir(project)
    found = story_results(trained_model, tmp_path / "var")
    assert found["failed"] == [
        "Contact asked, partners answered",
        "Nonsense read as the partners (a test)",
    ], found
    assert found["total"] >= 10 and found["passed"] == found["total"] - 2
    assert not found["error"]


def test_only_a_misread_intent_or_a_wrong_action_fails_a_story():
    """Rasa also fails a story for entities; the language detector's entity on
    every text is in no hand-written story."""
    from console.model_job import failing_stories

    written = """version: "3.1"
stories:
- story: Entities only (tests/stories/test_a.yml)
  steps:
  - intent: greet  # predicted: greet: [hi]{"entity": "detected_language", "value": "en"}
  - action: utter_greet
- story: Misread (and brackets) (tests/stories/test_a.yml)
  steps:
  - intent: ask_events  # predicted: ask_past_events: [und jetzt?]{"entity": "detected_language", "value": "de"}
  - action: action_search_events
- story: Wrong answer (tests/stories/test_b.yml)
  steps:
  - intent: ask_contact
  - action: utter_partners  # predicted: utter_contact
"""
    assert failing_stories(written) == ["Misread (and brackets)", "Wrong answer"]


def log_in(client: Any, name: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "login_csrf": token, "next": "/"},
    )


def test_failing_test_stories_are_shown_and_need_a_reason_to_publish(
    tmp_path, monkeypatch
):
    from console.pipeline import Job
    from console.services import KEY
    from tests.servers import free_port

    # Nothing answers here: the publish step must fail, never reach a real bot.
    monkeypatch.setenv("OFR_VAR_DIR", str(tmp_path))
    (tmp_path / "admin-token").write_text("t" * 32, encoding="utf-8")
    monkeypatch.setenv("RASA_PORT", str(free_port()))
    monkeypatch.delenv("OFR_PUBLISH_URLS", raising=False)
    app = create_app(
        ConsoleConfig(ROOT, tmp_path, ROOT / "data" / "events.yml", warm_worker=False)
    )
    Accounts(tmp_path / "staff.db").set_user("paul", "publisher", PASSWORD)
    app.accounts = Accounts(tmp_path / "staff.db")
    model = tmp_path / "console-test.tar.gz"
    model.write_bytes(b"not a real model")
    score = {"accuracy": 0.95, "right": 95, "total": 100}
    same = {"en": score, "de": score}
    pipeline = app.extensions[KEY].pipeline
    pipeline.job = Job(
        "anna",
        state="ready",
        model=model,
        scores=same,
        running=same,
        stories={
            "total": 12,
            "passed": 11,
            "failed": ["Contact asked, partners answered"],
            "error": "",
        },
        stories_in_use={
            "total": 12,
            "passed": 10,
            "failed": ["Contact asked, partners answered", "Travel costs"],
            "error": "",
        },
    )
    assert pipeline.job.worse() == []
    assert pipeline.job.fixed_stories() == ["Travel costs"]
    with app.test_client() as publisher:
        log_in(publisher, "paul")
        page = publisher.get("/model").text
        assert (
            "11 of 12 passed with the new model, 10 of 12 with the model in use."
            in page
        )
        assert "<li>Contact asked, partners answered</li>" in page
        fixed = re.search(r'<ul class="fixed">(.*?)</ul>', page, re.S).group(1)
        assert fixed == "<li>Travel costs</li>"
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        refused = publisher.post(
            "/model/publish", data={"csrf": token}, follow_redirects=True
        )
        assert "fails 1 test story: give a reason" in refused.text
        assert pipeline.job.state == "ready"
        reason = "The failing story tests a flow we change next week."
        publisher.post("/model/publish", data={"csrf": token, "reason": reason})
    entry = app.accounts.audit_log()[0]
    assert entry.detail["failing_stories"] == ["Contact asked, partners answered"]
    assert entry.detail["reason"] == reason
    deadline = time.time() + 30
    while pipeline.job.state == "publishing" and time.time() < deadline:
        time.sleep(0.2)
    assert pipeline.job.state == "failed"


def test_the_worker_tells_the_console_its_story_results(tmp_path: Path):
    """The worker's message reaches the job as the page reads it."""
    import json

    from console.pipeline import MARK, Job, Pipeline

    class Lines:
        """A finished worker's output, as the console reads it."""

        def __init__(self, lines):
            self._lines = lines
            self.process = type("Done", (), {"wait": staticmethod(lambda: 0)})()

        def give(self, order):
            pass

        def lines(self):
            yield from self._lines

    stories = {"total": 3, "passed": 2, "failed": ["B"], "error": ""}
    in_use = {"total": 3, "passed": 1, "failed": ["A", "B"], "error": ""}
    job = Job("anna")
    Pipeline(tmp_path, tmp_path, warm_worker=False)._work(
        Lines(
            [
                MARK + json.dumps({"stories": stories, "seconds": 4.2}) + "\n",
                MARK + json.dumps({"stories_in_use": in_use, "seconds": 3.1}) + "\n",
            ]
        ),
        job,
        {},
    )
    assert job.stories == stories and job.failing_stories() == ["B"]
    assert job.stories_in_use == in_use and job.fixed_stories() == ["A"]
    assert job.seconds["test stories"] == 4.2
    assert job.seconds["test stories, model in use"] == 3.1


def test_story_results_are_remembered_per_model_and_version_of_the_stories(
    tmp_path: Path,
):
    from console.pipeline import score_file, story_file

    stories = tmp_path / "tests" / "stories" / "conversations.yml"
    stories.parent.mkdir(parents=True)
    stories.write_text('version: "3.1"\nstories: []\n', encoding="utf-8")
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"one model")
    before = story_file(tmp_path, tmp_path, model)
    assert before.parent == tmp_path / "console" / "story-results"
    assert story_file(tmp_path, tmp_path, model) == before
    scores = score_file(tmp_path, tmp_path, model)
    stories.write_text(stories.read_text("utf-8") + FAILING, encoding="utf-8")
    assert story_file(tmp_path, tmp_path, model) != before
    assert score_file(tmp_path, tmp_path, model) == scores  # held-out sets unchanged
    model.write_bytes(b"another model")
    assert story_file(tmp_path, tmp_path, model) not in (before, scores)
