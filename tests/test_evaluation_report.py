"""The evaluation report from hand-made predictions and a fake story-test folder."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest

from ofr_tools.evaluation import LanguageReport, Prediction, entity_spans
from ofr_tools.evaluation_report import (
    FAILED_STORIES,
    STORY_CONFUSION_MATRIX,
    STORY_LOG,
    STORY_REPORT,
    cell,
    intent_rows,
    read_story_results,
    run_story_tests,
    summary,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def prediction(text, expected, predicted, confidence=0.9, language="en", **kw):
    return Prediction(
        text=text,
        expected=expected,
        predicted=predicted,
        confidence=confidence,
        detected_language=language,
        top_intent=kw.pop("top_intent", predicted),
        top_confidence=kw.pop("top_confidence", confidence),
        file=kw.pop("file", f"tests/nlu/{language}/about.yml"),
    )


@pytest.fixture
def nlu():
    en = LanguageReport("en")
    en.predictions = [
        prediction("hello", "greet", "greet"),
        prediction("hi there", "greet", "greet"),
        prediction("good morning", "greet", "greet"),
        prediction("what is OFR", "ask_what_is_ofr", "ask_what_is_ofr"),
        prediction("OFR?", "ask_what_is_ofr", "ask_what_is_ofr"),
        prediction(
            "who runs OFR | the project",
            "ask_partners",
            "ask_what_is_ofr",
            confidence=0.55,
        ),
        prediction("who are the partners", "ask_partners", "ask_partners"),
        prediction(
            "blorp",
            "ask_contact_phone",
            "nlu_fallback",
            confidence=0.4,
            top_intent="ask_partners",
            top_confidence=0.31,
            file="tests/nlu/en/contact.yml",
        ),
    ]
    de = LanguageReport("de")
    de.predictions = [
        prediction("hallo", "greet", "greet", language="de"),
        prediction("servus", "greet", "greet", language=None),
        prediction("Was ist OFR?", "ask_what_is_ofr", "ask_what_is_ofr", language="de"),
    ]
    return {"en": en, "de": de}


def test_summary_and_worst_intent_first(nlu):
    s = summary(nlu["en"])
    assert (s.examples, s.errors) == (8, 2)
    assert s.accuracy == pytest.approx(6 / 8)
    assert 0 < s.macro_f1 < s.weighted_f1 < 1
    rows = intent_rows(nlu["en"])
    assert rows[0].intent == "ask_contact_phone" and rows[0].f1 == 0
    assert rows[-1].f1 == 1.0
    partners = next(r for r in rows if r.intent == "ask_partners")
    assert (partners.recall, partners.support) == (0.5, 2)
    assert partners.confused_with == [("ask_what_is_ofr", 1)]
    assert summary(nlu["de"]).errors == 0


def test_entity_scores_compare_annotated_spans():
    report = LanguageReport("en")
    text = "events in Munich next month"
    annotated = entity_spans(
        text,
        [
            {"entity": "city", "start": 10, "end": 16, "value": "München"},
            {"entity": "date", "start": 17, "end": 27},
        ],
    )
    assert annotated == {("city", "munich"), ("date", "next month")}
    extracted = entity_spans(
        text,
        [
            {"entity": "city", "start": 10, "end": 16},
            {"entity": "topic", "start": 0, "end": 6},
            {"entity": "detected_language", "value": "en"},
        ],
    )
    report.predictions = [
        Prediction(
            text,
            "ask_events",
            "ask_events",
            0.9,
            "en",
            expected_entities=annotated,
            predicted_entities=extracted,
        ),
        Prediction("hello", "greet", "greet", 0.9, "en"),
    ]
    precision, recall, f1 = report.entity_scores
    assert (precision, recall) == (0.5, 0.5) and f1 == pytest.approx(0.5)
    assert LanguageReport("de").entity_scores == (0.0, 0.0, 0.0)


def test_cell_escapes_table_breakers():
    assert cell("a | b\nc *d*") == r"a \| b c \*d\*"


def test_report_has_tables_errors_and_images(nlu, tmp_path):
    model = tmp_path / "ofr.tar.gz"
    model.write_bytes(b"model")
    path = write_report(
        nlu, tmp_path / "reports", model, generated=datetime(2025, 1, 2)
    )
    text = path.read_text(encoding="utf-8")

    assert path.name == "evaluation.md"
    assert "Generated 2025-01-02 00:00" in text
    assert "| English | 8 | 2 | 0.750 |" in text
    assert "| German | 3 | 0 | 1.000 |" in text
    assert "| intent | precision | recall | F1 | support | mistaken for |" in text
    # Worst F1 first in the English intent table.
    english = text.split("## English")[1].split("## German")[0]
    assert english.index("`ask_contact_phone`") < english.index("`greet`")
    # The misclassified examples, with what was predicted and the escaped pipe.
    assert (
        r"| who runs OFR \| the project | `ask_partners` | `ask_what_is_ofr` | 0.55 |"
        in english
    )
    assert "`nlu_fallback` (best: `ask_partners` 0.31)" in english
    assert "contact.yml" in english
    assert "Every test example was recognised." in text.split("## German")[1]
    assert "Story tests" not in text

    for language in ("en", "de"):
        image = path.parent / f"confusion_{language}.png"
        assert f"]({image.name})" in text
        assert image.read_bytes()[:8] == PNG_SIGNATURE
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(path.parent / "confusion_en.png").shape
    assert width > 300 and height > 300


FAILED_YAML = """\
version: "3.1"
stories:
- story: English events (tests/stories/events.yml)
  steps:
  - intent: ask_events
  - action: action_list_events  # predicted: utter_default
"""


def fake_story_folder(folder: Path, total: int, correct: int, failed: str) -> Path:
    folder.mkdir(parents=True)
    report = {
        "utter_greet": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0},
        "conversation_accuracy": {
            "accuracy": correct / total,
            "correct": correct,
            "with_warnings": 0,
            "total": total,
        },
    }
    (folder / STORY_REPORT).write_text(json.dumps(report), encoding="utf-8")
    (folder / FAILED_STORIES).write_text(failed, encoding="utf-8")
    (folder / STORY_CONFUSION_MATRIX).write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "TEDPolicy_report.json").write_text("{}", encoding="utf-8")
    return folder


def test_failed_stories_are_shown(nlu, tmp_path):
    out = tmp_path / "reports"
    results = read_story_results(fake_story_folder(out / "stories", 5, 4, FAILED_YAML))
    assert (results.total, results.passed, results.failed) == (5, 4, 1)
    text = write_report(nlu, out, tmp_path / "ofr.tar.gz", results).read_text()
    stories = text.split("## Story tests")[1]
    assert "5 test stories: 4 passed, **1 failed**." in stories
    assert "```yaml\n" + FAILED_YAML.strip() + "\n```" in stories
    assert "(stories/story_confusion_matrix.png)" in stories
    assert "[story_report.json](stories/story_report.json)" in stories
    assert "TEDPolicy" not in stories


def test_all_stories_passed(nlu, tmp_path):
    out = tmp_path / "reports"
    folder = fake_story_folder(
        out / "stories", 3, 3, "# None of the test stories failed - all good!"
    )
    results = read_story_results(folder)
    assert results.failed == 0 and results.failed_stories == ""
    text = write_report(nlu, out, tmp_path / "ofr.tar.gz", results).read_text()
    assert "All 3 test stories passed." in text
    assert "```yaml" not in text


def test_missing_story_report_is_said(tmp_path):
    results = read_story_results(tmp_path)
    assert results.total is None
    assert "story_report.json" in results.error


# Stands in for `rasa`: fake_rasa.py <exit code> <failed stories file> test core ...
FAKE_RASA = """
import json, shutil, sys
from pathlib import Path
out = Path(sys.argv[sys.argv.index("--out") + 1])
report = {"conversation_accuracy": {"correct": 1, "with_warnings": 0, "total": 2}}
(out / "story_report.json").write_text(json.dumps(report))
shutil.copy(sys.argv[2], out / "failed_test_stories.yml")
print("Failed stories written")
sys.exit(int(sys.argv[1]))
"""


@pytest.mark.parametrize("exit_code", [0, 1])
def test_run_story_tests_reads_what_rasa_wrote(tmp_path, exit_code):
    fake = tmp_path / "fake_rasa.py"
    fake.write_text(FAKE_RASA, encoding="utf-8")
    failed = tmp_path / "failed.yml"
    failed.write_text(FAILED_YAML, encoding="utf-8")
    folder = tmp_path / "stories"
    folder.mkdir()
    stale = folder / "TEDPolicy_report.json"
    stale.write_text("{}", encoding="utf-8")
    results = run_story_tests(
        tmp_path / "ofr.tar.gz",
        Path("tests/stories"),
        folder,
        rasa=[sys.executable, str(fake), str(exit_code), str(failed)],
    )
    assert not stale.exists()
    assert (results.total, results.failed) == (2, 1)
    assert "predicted: utter_default" in results.failed_stories
    assert "Failed stories written" in (folder / STORY_LOG).read_text()
    assert bool(results.error) == bool(exit_code)


def test_stories_are_copied_under_the_names_rasa_reads_with_e2e(tmp_path):
    from rasa.shared.constants import TEST_STORIES_FILE_PREFIX

    from ofr_tools.evaluation_report import TEST_PREFIX, conversation_test_copy

    assert TEST_PREFIX == TEST_STORIES_FILE_PREFIX
    stories = tmp_path / "stories"
    (stories / "more").mkdir(parents=True)
    (stories / "events.yml").write_text("a", encoding="utf-8")
    (stories / "test_kept.yml").write_text("b", encoding="utf-8")
    (stories / "more" / "follow_ups.yml").write_text("c", encoding="utf-8")
    target = tmp_path / "copy"
    (target / "test_gone.yml").parent.mkdir()
    (target / "test_gone.yml").write_text("old", encoding="utf-8")
    assert conversation_test_copy(stories, target) == target
    copied = {
        str(p.relative_to(target)): p.read_text("utf-8") for p in target.rglob("*.yml")
    }
    assert copied == {
        "test_events.yml": "a",
        "test_kept.yml": "b",
        "more/test_follow_ups.yml": "c",
    }


@pytest.mark.model
def test_the_story_tests_run_in_this_process_as_in_their_own(tmp_path, trained_model):
    """The console's warm worker runs `rasa test core` in its own process: the same
    results as a new process, a misread text failing its story in both."""
    stories = tmp_path / "stories.yml"
    stories.write_text(
        'version: "3.1"\nstories:\n'
        "- story: Partners\n  steps:\n  - user: |\n      who are the partners?\n"
        "    intent: ask_partners\n  - action: utter_partners\n"
        "- story: Misread\n  steps:\n  - user: |\n      who are the partners?\n"
        "    intent: ask_contact\n  - action: utter_contact\n",
        encoding="utf-8",
    )
    results = [
        run_story_tests(
            trained_model, stories, tmp_path / name, read_texts=True, in_process=here
        )
        for name, here in (("process", False), ("here", True))
    ]
    from console.model_job import failing_stories

    for found in results:
        assert (found.total, found.error) == (2, ""), found
        # Rasa fails both on the language entity no story marks; the console
        # counts only a misread intent or a wrong action.
        assert failing_stories(found.failed_stories) == ["Misread"], found
