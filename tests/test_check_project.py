"""ofr_tools/check_project.py: each test breaks a copy of the project one way and
expects one line ``file:line: ...`` that points at the problem."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from ofr_tools import check_project

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the files the checks read: domain, data and the test stories."""
    shutil.copy(ROOT / "domain.yml", tmp_path / "domain.yml")
    shutil.copytree(ROOT / "data", tmp_path / "data")
    shutil.copytree(ROOT / "tests" / "stories", tmp_path / "tests" / "stories")
    return tmp_path


def check(root: Path, capsys: pytest.CaptureFixture) -> Tuple[int, List[str]]:
    code = check_project.main([str(root)])
    return code, capsys.readouterr().out.splitlines()


def lines_of(path: Path) -> List[str]:
    return path.read_text(encoding="utf-8").split("\n")


def write(path: Path, lines: List[str]) -> None:
    path.write_text("\n".join(lines), encoding="utf-8")


def index_of(lines: List[str], text: str, start: int = 0) -> int:
    return next(i for i in range(start, len(lines)) if lines[i] == text)


def keep_examples(path: Path, intent: str, count: int) -> int:
    """Keep the first ``count`` examples of an intent; return its block's line."""
    lines = lines_of(path)
    block = index_of(lines, f"- intent: {intent}")
    first = block + 2  # after "  examples: |"
    end = first
    while end < len(lines) and lines[end].startswith("    - "):
        end += 1
    assert end - first > count
    write(path, lines[: first + count] + lines[end:])
    return block + 1


def test_the_real_project_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ofr_tools.check_project"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Project checks passed: ")


def test_an_intent_with_nine_german_examples(project, capsys) -> None:
    line = keep_examples(project / "data/nlu/de/chitchat.yml", "greet", 9)
    code, output = check(project, capsys)
    assert code == 1
    assert output == [
        f"data/nlu/de/chitchat.yml:{line}: intent 'greet' has 9 German examples, "
        "10 are needed — add 1 more here"
    ]


def test_an_intent_without_german_examples_points_at_the_domain(
    project, capsys
) -> None:
    path = project / "data/nlu/de/chitchat.yml"
    lines = lines_of(path)
    block = index_of(lines, "- intent: greet")
    end = next(i for i in range(block + 1, len(lines)) if lines[i].startswith("- "))
    write(path, lines[:block] + lines[end:])
    domain_line = index_of(lines_of(project / "domain.yml"), "  - greet") + 1
    code, output = check(project, capsys)
    assert code == 1
    assert output == [
        f"domain.yml:{domain_line}: intent 'greet' has 0 German examples, 10 are "
        "needed — add a '- intent: greet' block to data/nlu/de/chitchat.yml"
    ]


def test_a_response_without_german(project, capsys) -> None:
    path = project / "domain.yml"
    lines = lines_of(path)
    response = index_of(lines, "  utter_greet:")
    german = index_of(lines, "      value: de", response) - 3  # its "- condition:"
    end = index_of(lines, "", german)
    write(path, lines[:german] + lines[end:])
    code, output = check(project, capsys)
    assert code == 1
    assert output == [
        f"domain.yml:{response + 1}: response 'utter_greet' has no German "
        "variation — add one with 'condition: [{type: slot, name: language, "
        "value: de}]'"
    ]


def test_an_example_under_two_intents(project, capsys) -> None:
    english = lines_of(project / "data/nlu/en/about.yml")
    block = index_of(english, "- intent: ask_what_is_ofr")
    taken = block + 2  # its first example
    *words, last = english[taken].removeprefix("    - ").split()
    # Upper case, two spaces and an entity annotation: still the same example.
    copy = "  ".join(words).upper() + f" [{last}](topic)"
    german = project / "data/nlu/de/chitchat.yml"
    lines = lines_of(german)
    greet = index_of(lines, "- intent: greet")
    lines.insert(greet + 2, f"    - {copy}")
    write(german, lines)
    code, output = check(project, capsys)
    assert code == 1
    assert output == [
        f"data/nlu/de/chitchat.yml:{greet + 3}: '{copy}' is an example of 'greet' "
        "here and of 'ask_what_is_ofr' at "
        f"data/nlu/en/about.yml:{taken + 1} — keep it under one intent only"
    ]


def test_a_story_with_an_unknown_intent_action_and_slot(project, capsys) -> None:
    path = project / "data/stories/conversations.yml"
    start = len(lines_of(path))
    with path.open("a", encoding="utf-8") as file:
        file.write(
            "\n"
            "  - story: A misspelt intent, action and slot\n"
            "    steps:\n"
            "      - intent: ask_wether\n"
            "      - action: utter_wether\n"
            "      - slot_was_set:\n"
            "          - langauge: en\n"
            "      - action: action_listen\n"
        )
    code, output = check(project, capsys)
    assert code == 1
    file = "data/stories/conversations.yml"
    todo = "— fix the spelling, or add it"
    assert output == [
        f"{file}:{start + 3}: intent 'ask_wether' is not in domain.yml {todo} "
        "under 'intents:' in domain.yml",
        f"{file}:{start + 4}: action 'utter_wether' is not in domain.yml {todo} "
        "under 'responses:' (utter_...) or 'actions:' in domain.yml",
        f"{file}:{start + 6}: slot 'langauge' is not in domain.yml {todo} "
        "under 'slots:' in domain.yml",
    ]


def test_an_intent_missing_from_the_domain(project, capsys) -> None:
    path = project / "domain.yml"
    lines = lines_of(path)
    lines.remove("  - ask_handbook")
    write(path, lines)
    code, output = check(project, capsys)
    assert code == 1
    for language in ("en", "de"):
        nlu = project / "data" / "nlu" / language / "about.yml"
        line = index_of(lines_of(nlu), "- intent: ask_handbook") + 1
        assert (
            f"data/nlu/{language}/about.yml:{line}: intent 'ask_handbook' is not in "
            "domain.yml — add it under 'intents:' there, or fix the spelling"
        ) in output
    # The rule that answers it now uses an unknown intent too.
    assert any(o.startswith("data/rules/") and "'ask_handbook'" in o for o in output)


def test_a_broken_events_entry(project, capsys) -> None:
    path = project / "data/events.yml"
    lines = lines_of(path)
    entry = index_of(lines, "events:") + 1
    field = next(
        i for i in range(entry, len(lines)) if lines[i].startswith("    format:")
    )
    entry_number = sum(line.startswith("  - id:") for line in lines[:field])
    lines[field] = "    format: in-person"
    write(path, lines)
    code, output = check(project, capsys)
    assert code == 1
    assert len(output) == 1
    assert output[0].startswith(
        f"data/events.yml:{field + 1}: entry {entry_number} (id "
    )
    assert "format must be one of 'in_person', 'online', 'hybrid' — " in output[0]


def test_broken_yaml_names_the_file_and_line(project, capsys) -> None:
    path = project / "data/nlu/en/contact.yml"
    lines = lines_of(path)
    lines.insert(2, "- intent: [ask_contact")
    write(path, lines)
    code, output = check(project, capsys)
    assert code == 1
    assert any(o.startswith("data/nlu/en/contact.yml:") for o in output)


def test_plain_example_ignores_case_spaces_and_entity_markup() -> None:
    assert check_project.plain_example(
        ' Events in [München](city)  [online]{"entity": "format"} '
    ) == check_project.plain_example("events in münchen online")


def test_an_intent_without_a_rule(project, capsys) -> None:
    path = project / "data" / "rules" / "about.yml"
    text = path.read_text(encoding="utf-8")
    rule = (
        "  - rule: Answer ask handbook\n    steps:\n      - intent: ask_handbook\n"
        "      - action: utter_handbook\n"
    )
    assert rule in text
    path.write_text(text.replace(rule, ""), encoding="utf-8")
    code, output = check(project, capsys)
    assert code == 1
    line = index_of(lines_of(project / "domain.yml"), "  - ask_handbook") + 1
    assert output == [
        f"domain.yml:{line}: intent 'ask_handbook' has no rule, so the bot would not "
        "answer it — add a rule to data/rules/ (intent, then the response or action)"
    ]
