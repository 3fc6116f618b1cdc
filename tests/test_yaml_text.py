"""console/yaml_text.py, the one way the console changes project files, and the
editors that use it (answers, examples, events, stories): each kind of edit changes
its own characters or lines and leaves every other byte of the file as it was:
comments, quoting, indentation, unicode, and LF or CRLF line ends."""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

import pytest
import yaml

from console import yaml_text
from console.answers import Answers
from console.events_file import EventForm, EventsFile
from console.training_data import TrainingData
from ofr.events.model import parse_events
from ofr_tools.check_project import child, items
from tests.project_copy import CHECKED_PARTS, copy_parts

# A file as people write them: comments everywhere, several quoting styles, a
# line without its line end at the very end, unicode (ü, an emoji, U+2028 inside
# a quoted value, which PyYAML counts as a line break and Python's splitlines too).
STORIES = (
    "# Stories, by hand.\n"
    'version: "3.1"\n'
    "stories:\n"
    "  - story: first  # the first\n"
    "    steps:\n"
    "      - intent: greet\n"
    "      - action: utter_greet\n"
    "  # between the two\n"
    "\n"
    "  - story: 'zwei, üben 😀'\n"
    "    steps:\n"
    '      - slot_was_set:\n          - note: "a\\u2028b \u2028 c"\n'
    "      - intent: bye  # last step\n"
    "    # inside, after the steps\n"
    "# end of file"
)


def changed_lines(before: str, after: str) -> Tuple[str, str]:
    """What differs between two texts, with the common start and end cut off."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while (
        end < min(len(before), len(after)) - start
        and before[len(before) - 1 - end] == after[len(after) - 1 - end]
    ):
        end += 1
    return before[start : len(before) - end], after[start : len(after) - end]


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


@pytest.fixture(params=["lf", "crlf"])
def newline(request: pytest.FixtureRequest) -> str:
    return "\n" if request.param == "lf" else "\r\n"


# ---------------------------------------------------------------- reading


def test_read_keeps_crlf_and_lines_break_at_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "stories.yml"
    path.write_bytes(crlf(STORIES).encode("utf-8"))
    source = yaml_text.read(path)
    assert source == crlf(STORIES)  # Path.read_text would give LF
    lines = yaml_text.lines(source)
    assert "".join(lines) == source and len(lines) == STORIES.count("\n") + 1
    assert lines[-1] == "# end of file"  # no line end added
    # U+2028 is inside a line; the parser's index finds the same line.
    document = yaml.compose(source)
    bye = items(child(items(child(document, "stories"))[1], "steps"))[1]
    assert "intent: bye" in lines[yaml_text.line_of(source, bye.start_mark.index)]
    assert yaml_text.column_of(source, bye.start_mark.index) == 8


# ---------------------------------------------------------------- edits


def test_replace_spans_changes_only_the_characters_at_the_parsers_places(
    newline: str,
) -> None:
    source = STORIES.replace("\n", newline)
    document = yaml.compose(source)
    first, second = (child(n, "story") for n in items(child(document, "stories")))
    after = yaml_text.replace_spans(
        source,
        [
            (first.start_mark.index, first.end_mark.index, '"eins"'),
            (second.start_mark.index, second.end_mark.index, "two\nlines"),
        ],
    )
    assert changed_lines(source, after) == (
        source[first.start_mark.index : second.end_mark.index],
        '"eins"'
        + source[first.end_mark.index : second.start_mark.index]
        # New text gets the file's line ends.
        + f"two{newline}lines",
    )
    with pytest.raises(ValueError, match="overlap"):
        yaml_text.replace_spans(source, [(0, 10, "a"), (5, 12, "b")])


def test_appended_adds_a_block_after_the_last_line(newline: str) -> None:
    block = "  - story: new\n    steps:\n      - intent: greet\n"
    source = STORIES.replace("\n", newline)
    after = yaml_text.appended(source, block)
    assert after == source + newline + block.replace("\n", newline)
    # Trailing blank lines are dropped, so the block follows the last line.
    assert yaml_text.appended(source + newline * 3, block) == after
    assert yaml_text.appended("", block) == block


def test_insert_after_line_puts_text_before_the_line_end(newline: str) -> None:
    source = STORIES.replace("\n", newline)
    document = yaml.compose(source)
    steps = child(items(child(document, "stories"))[0], "steps")
    after = yaml_text.insert_after_line(
        source, yaml_text.last_leaf(steps), "\n      - action: utter_more"
    )
    end = source.index("utter_greet") + len("utter_greet")  # before the line end
    assert after == source[:end] + f"{newline}      - action: utter_more" + source[end:]
    assert yaml.safe_load(after)["stories"][0]["steps"][-1] == {"action": "utter_more"}


def test_insert_lines_keeps_a_last_line_without_line_end() -> None:
    source = "a: 1\nb: 2"
    assert yaml_text.insert_lines(source, 1, "c: 3\n") == "a: 1\nc: 3\nb: 2"
    assert yaml_text.insert_lines(source, 2, "c: 3\n") == "a: 1\nb: 2\nc: 3\n"
    assert yaml_text.insert_lines(crlf(source), 1, "c: 3\n") == crlf("a: 1\nc: 3\nb: 2")


def test_an_item_is_found_by_its_lines_and_replaced_or_taken_out(
    newline: str,
) -> None:
    source = STORIES.replace("\n", newline)
    document = yaml.compose(source)
    first, end = yaml_text.item_span(source, document, "stories", 0)
    lines = yaml_text.lines(source)
    # The comment at the dashes' indent belongs to what follows, not to the item.
    assert "".join(lines[first:end]) == "".join(lines[3:7])
    replaced = yaml_text.replace_lines(source, first, end, "  - story: new\n")
    assert replaced == "".join(lines[:3]) + f"  - story: new{newline}" + "".join(
        lines[7:]
    )
    # The last item keeps its own deeper comment; the file's last line stays.
    first, end = yaml_text.item_span(source, document, "stories", 1)
    assert (first, end) == (9, 15)
    taken_out = yaml_text.replace_lines(source, first, end, "")
    assert taken_out == "".join(lines[:9]) + "# end of file"


def test_value_lines_are_a_keys_value_without_what_follows(newline: str) -> None:
    source = STORIES.replace("\n", newline)
    document = yaml.compose(source)
    story = items(child(document, "stories"))[1]
    _, item_end = yaml_text.item_span(source, document, "stories", 1)
    first, end = yaml_text.value_lines(source, story, "steps", item_end)
    lines = yaml_text.lines(source)
    assert lines[first].strip() == "- slot_was_set:"
    # A comment at the story's indent, after its steps, is not one of them.
    assert lines[end - 1].strip() == "- intent: bye  # last step"
    with pytest.raises(KeyError):
        yaml_text.value_lines(source, story, "no_such_key", item_end)


NLU = (
    'version: "3.1"\n'
    "nlu:\n"
    "- intent: greet  # hello\n"
    "  examples: |  # keep this\n"
    "      - hi\n"
    "      - grüß dich 😀\n"
    "      # a line of the block, not a comment\n"
    "\n"
    "# bye things\n"
    "- intent: bye\n"
    "  examples: |-\n"
    "    - 'bye' \"now\"\n"
)


def test_literal_block_rewrites_one_value_at_its_own_indent(newline: str) -> None:
    source = NLU.replace("\n", newline)
    document = yaml.compose(source)
    greet, bye = items(child(document, "nlu"))
    _, greet_end = yaml_text.item_span(source, document, "nlu", 0)
    after = yaml_text.literal_block(
        source, greet, "examples", greet_end, ["- hi", "- servus"]
    )
    assert changed_lines(source, after) == (
        f"grüß dich 😀{newline}      # a line of the block, not a comment",
        "servus",
    )
    # A block with a chomping indicator becomes "|"; the next key (none here)
    # and the end of the file bound it.
    after = yaml_text.literal_block(source, bye, "examples", None, ["- ciao"])
    assert (
        after == source[: source.index("|-")] + "|" + newline + "    - ciao" + newline
    )
    assert yaml.safe_load(after)["nlu"][1]["examples"] == "- ciao\n"


def test_file_change_puts_every_file_back_byte_for_byte(tmp_path: Path) -> None:
    kept, made = tmp_path / "kept.yml", tmp_path / "new" / "made.yml"
    original = crlf(STORIES).encode("utf-8")
    kept.write_bytes(original)
    change = yaml_text.FileChange()
    change.write(kept, yaml_text.appended(change.before(kept), "x: 1\n"))
    change.write(made, "y: 2\n")
    assert kept.read_bytes().endswith(b"# end of file\r\nx: 1\r\n")
    assert change.paths == sorted([kept, made])
    change.put_back()
    assert kept.read_bytes() == original
    assert not made.exists()


# ---------------------------------------------------------------- the editors

EVENTS = (
    "# Events, by hand: quotes kept, ümlauts and 😀 as they are.\n"
    "events:\n"
    "- id: ofr-2027-first  # the first\n"
    "  title: {en: 'First 😀', de: \"Erstes „Treffen“\"}\n"
    "  start: 2027-01-05\n"
    "  format: online\n"
    "  source: 'a note'\n"
    "\n"
    "# --- later ---\n"
    "- id: ofr-2027-second\n"
    "  title:\n"
    "    en: Second\n"
    "    de: Zweites\n"
    "  start: 2027-02-05\n"
    "  format: online\n"
    "# end of the events\n"
)


def lines_replaced(source: str, first: int, end: int, *new: str) -> str:
    """What a file should read with its lines [first, end) replaced by ``new``
    (each given without its line end: it gets the file's)."""
    ending = "\r\n" if "\r\n" in source else "\n"
    lines = yaml_text.lines(source)
    return "".join(lines[:first] + [line + ending for line in new] + lines[end:])


def test_the_events_editor_changes_one_entry_and_keeps_the_rest(
    tmp_path: Path, newline: str
) -> None:
    path = tmp_path / "events.yml"
    source = EVENTS.replace("\n", newline)
    path.write_bytes(source.encode("utf-8"))
    events = EventsFile(path)

    events.cancel("ofr-2027-first")
    assert path.read_bytes().decode("utf-8") == lines_replaced(
        source, 7, 7, "  status: cancelled"
    )

    path.write_bytes(source.encode("utf-8"))
    form = EventForm.from_event(events.get("ofr-2027-second"))  # type: ignore[arg-type]
    form.title_en = "Second, moved"
    events.update("ofr-2027-second", form)
    # The entry as the form writes it, at the file's own indent; the rest stays.
    moved = '  title: {en: "Second, moved", de: "Zweites"}'
    assert path.read_bytes().decode("utf-8") == lines_replaced(
        source, 9, 15, "- id: ofr-2027-second", moved, *EVENTS.splitlines()[13:15]
    )

    path.write_bytes(source.encode("utf-8"))
    third = EventForm("ofr-2027-third", "Third", "Drittes", "2027-03-05")
    third.format = "online"
    events.add(third)
    assert path.read_bytes().decode("utf-8") == lines_replaced(
        source,
        15,
        15,
        "",
        "- id: ofr-2027-third",
        '  title: {en: "Third", de: "Drittes"}',
        "  start: 2027-03-05",
        "  format: online",
    )
    assert [e.id for e in parse_events(path)][-1] == "ofr-2027-third"


@pytest.fixture(scope="module")
def crlf_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the project checks read, domain.yml and one NLU file with CRLF."""
    root = copy_parts(tmp_path_factory.mktemp("crlf"), CHECKED_PARTS)
    for part in ("domain.yml", "data/nlu/en/partners.yml"):
        path = root / part
        path.write_bytes(crlf(path.read_text(encoding="utf-8")).encode("utf-8"))
    return root


def test_the_answers_editor_changes_only_the_text(crlf_project: Path) -> None:
    path = crlf_project / "domain.yml"
    before = path.read_bytes().decode("utf-8")
    answer = next(
        a for a in Answers(crlf_project).all() if set(a.texts) == {"en", "de"}
    )
    Answers(crlf_project).change(answer.name, {"en": 'New "one"\nü 😀'})
    after = path.read_bytes().decode("utf-8")
    old, new = changed_lines(before, after)
    assert "\n" not in old + new  # within one line: the rest stays byte for byte
    assert after.count("\r\n") == before.count("\r\n") == after.count("\n")
    assert Answers(crlf_project).get(answer.name).texts["en"] == 'New "one"\nü 😀'  # type: ignore[union-attr]


def test_the_examples_editor_changes_only_the_examples(crlf_project: Path) -> None:
    path = crlf_project / "data" / "nlu" / "en" / "partners.yml"
    before = path.read_bytes()
    data = TrainingData(crlf_project)
    data.add("ask_partners", "en", "which outfits team up in the OFR thing")
    after = path.read_bytes()
    old, new = changed_lines(before.decode("utf-8"), after.decode("utf-8"))
    assert old == "" and new.endswith(
        "    - which outfits team up in the OFR thing\r\n"
    )
    assert after.count(b"\r\n") == after.count(b"\n")
    data.remove("ask_partners", "en", "which outfits team up in the OFR thing")
    assert path.read_bytes() == before


def test_a_change_make_validate_refuses_is_put_back(crlf_project: Path) -> None:
    path = crlf_project / "data" / "nlu" / "en" / "partners.yml"
    before = path.read_bytes()
    with pytest.raises(ValueError, match="ask_partners"):
        with yaml_text.FileChange() as change:
            change.write(
                path, 'version: "3.1"\nnlu:\n- intent: ask_partners\n  examples: |\n'
            )
            change.check(crlf_project, ValueError)
    assert path.read_bytes() == before
