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
    """A copy of the files the checks read: domain, data (with the events and the
    facts file), the message texts and the test stories."""
    shutil.copy(ROOT / "domain.yml", tmp_path / "domain.yml")
    shutil.copytree(ROOT / "data", tmp_path / "data")
    (tmp_path / "ofr").mkdir()
    shutil.copy(ROOT / "ofr" / "messages.yml", tmp_path / "ofr" / "messages.yml")
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


# ------------------------------------------------------------------ answers and facts


def replace_once(path: Path, old: str, new: str) -> int:
    """Replace the one occurrence of ``old``; return its line (1-based)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def unsourced(where: str, line: int, name: str, language: str, token: str) -> str:
    return (
        f"{where}:{line}: {name} ({language}) states '{token}', which no fact in "
        f"data/facts.yml has — add the fact with its source to data/facts.yml, or "
        f"take '{token}' out of the answer"
    )


def test_an_answer_stating_a_number_without_a_source(project, capsys) -> None:
    """The planted claim is in both languages, so only the missing source is wrong."""
    domain = project / "domain.yml"
    english = replace_once(domain, "about 40 countries when", "about 45 countries when")
    german = replace_once(domain, "waren es etwa 40 Länder", "waren es etwa 45 Länder")
    code, output = check(project, capsys)
    assert code == 1
    name = "response 'utter_starthilfeplus'"
    assert output == [
        unsourced("domain.yml", english, name, "English", "45"),
        unsourced("domain.yml", german, name, "German", "45"),
    ]


def test_a_message_with_an_unsourced_phone_number_and_address(project, capsys):
    messages = project / "ofr" / "messages.yml"
    text = messages.read_text(encoding="utf-8")
    start = text.index("action_unavailable:")
    end = text.index("\n# ", start)
    planted = text[start:end].replace(
        "lschardt@iom.int, +49 30 27877 8816",
        "ofr@example.org, +49 (0)30 1234-5678",
    )
    messages.write_text(text[:start] + planted + text[end:], encoding="utf-8")
    line = text[:start].count("\n") + 2  # the English text, below the key
    code, output = check(project, capsys)
    assert code == 1
    name = "text 'action_unavailable'"
    assert output == [
        unsourced("ofr/messages.yml", line, name, "English", "ofr@example.org"),
        unsourced("ofr/messages.yml", line, name, "English", "+49 (0)30 1234-5678"),
        unsourced("ofr/messages.yml", line + 1, name, "German", "ofr@example.org"),
        unsourced("ofr/messages.yml", line + 1, name, "German", "+49 (0)30 1234-5678"),
    ]


def test_english_and_german_stating_different_dates(project, capsys) -> None:
    messages = project / "ofr" / "messages.yml"
    line = replace_once(
        messages,
        "or contact IOM directly: lschardt@iom.int, +49 30 27877 8816 (contact "
        "details as published in 2021).",
        "or contact IOM directly: lschardt@iom.int, +49 30 27877 8816.",
    )
    code, output = check(project, capsys)
    assert code == 1
    assert output == [
        f"ofr/messages.yml:{line}: text 'handover_failed' has '2021' in German but "
        "not in English — say the same in both languages, or take it out of both"
    ]


def test_an_answer_that_hard_codes_the_years_of_the_events(project, capsys) -> None:
    messages = project / "ofr" / "messages.yml"
    english = replace_once(
        messages, "The events I know of are from {years}.", "They are from 2018–2023."
    )
    german = replace_once(
        messages,
        "liegen im Zeitraum {years}.",
        "stammen aus den Jahren 2018 bis 2023.",
    )
    code, output = check(project, capsys)
    assert code == 1
    todo = (
        "which change whenever staff edit data/events.yml — compute them in the "
        "action and pass them as a {placeholder}, or leave them out"
    )
    assert output == [
        f"ofr/messages.yml:{english}: text 'past_none_matching' (English) hard-codes "
        f"the event years '2018–2023', {todo}",
        f"ofr/messages.yml:{german}: text 'past_none_matching' (German) hard-codes "
        f"the event years '2018 bis 2023', {todo}",
    ]


def test_a_range_of_years_without_events_is_no_event_range(project, capsys) -> None:
    """ "As published 2017–2020" (utter_bamf) is a source's date, not event years."""
    assert "2017–2020" in (project / "domain.yml").read_text(encoding="utf-8")
    code, _ = check(project, capsys)
    assert code == 0


def test_removing_a_fact_reports_every_answer_that_rests_on_it(project, capsys):
    facts = project / "data" / "facts.yml"
    text = facts.read_text(encoding="utf-8")
    start = text.index("  - id: starthilfeplus\n")
    end = text.index("  - id: ", start + 1)
    facts.write_text(text[:start] + text[end:], encoding="utf-8")
    code, output = check(project, capsys)
    assert code == 1
    assert [o.split(": ", 1)[1].split(" states ")[0] for o in output] == [
        "response 'utter_starthilfeplus' (English)",
        "response 'utter_starthilfeplus' (German)",
    ]
    assert all("states '40'" in o for o in output)


FACT_2019 = """  - id: events-2019
    en: "In 2019, a series of dialogues"""


def test_a_fact_needs_a_known_source_a_date_and_both_languages(project, capsys):
    facts = project / "data" / "facts.yml"
    line = replace_once(facts, FACT_2019, FACT_2019)
    replace_once(
        facts,
        '    source: S1\n    date: "2021"\n\n  - id: events-2020',
        "    source: S9\n\n  - id: events-2020",
    )
    replace_once(
        facts, "2019 fand eine Reihe von Dialogen", "2018 fand eine Reihe von Dialogen"
    )
    code, output = check(project, capsys)
    assert code == 1
    fact = f"data/facts.yml:{line}: fact 'events-2019'"
    assert output == [
        f"{fact} has '{year}' in one language only — write the same numbers, dates "
        "and addresses in its English and German text"
        for year in ("2018", "2019")
    ] + [
        f"{fact} names the source 'S9' — use one of S1, S2, S3, S4, S4b, S5, S6, "
        "S7 (../shared/CONTENT.md) or 'project'",
        f"{fact} has no date — add 'date:' with when its source published it, "
        "e.g. 'date: \"2021\"', or 'date: undated' when the source gives none",
    ]


def test_without_the_facts_file_every_number_lacks_a_source(project, capsys):
    (project / "data" / "facts.yml").unlink()
    code, output = check(project, capsys)
    assert code == 1
    assert output[0] == (
        "data/facts.yml:1: is missing, so no number, date or address of an answer "
        "has a source — restore it from git (docs/staff.md explains it)"
    )
    assert any("response 'utter_contact' (English) states '2021'" in o for o in output)


@pytest.mark.parametrize(
    "text, found",
    [
        # URLs: scheme, www., a trailing slash and a full stop do not count.
        (
            "See https://www.returningfromgermany.de/. Or returningfromgermany.de",
            {"returningfromgermany.de"},
        ),
        ("Write to LSchardt@iom.int.", {"lschardt@iom.int"}),
        ("Call +49 30 27877 8816 or +49 (30) 27877-8816", {"+4930278778816"}),
        # German and English dates of one day carry the same tokens.
        ("am 5. März 2018", {"5", "2018"}),
        ("on 5 March 2018", {"5", "2018"}),
        ("1,000 or 1.000 people; 2,5 or 2.5 days", {"1000", "2.5"}),
        ("from 9:00 to 17:00", {"09:00", "17:00"}),
        ("REAG/GARP 2.0", {"2.0"}),
        # Placeholders and the numbers of a numbered list are not statements.
        ("Ticket #{number}, {shown} of {total}", set()),
        ("Three messages:\n1. first\n2. second", set()),
    ],
)
def test_tokens(text, found) -> None:
    assert set(check_project.tokens(text)) == found


def test_rasa_s_built_in_names_are_copied_right() -> None:
    """check_project keeps copies of Rasa's built-in names so that the console,
    which runs these checks, never loads Rasa: they must be Rasa's."""
    from rasa.shared.core import constants

    assert check_project.DEFAULT_INTENTS == constants.DEFAULT_INTENTS
    assert check_project.DEFAULT_ACTION_NAMES == constants.DEFAULT_ACTION_NAMES
    assert check_project.DEFAULT_SLOT_NAMES == constants.DEFAULT_SLOT_NAMES
