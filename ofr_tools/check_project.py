"""The project's own checks on the files staff edit: `make validate` runs this.

    .venv/bin/python ofr_tools/check_project.py [ROOT]

`rasa data validate` checks Rasa's formats; these are the rules of this project: both
languages everywhere, no example under two intents, stories and rules that only use
what the domain defines, a usable events file, and answers that state only sourced
facts (every number, date, e-mail address, phone number and URL of an answer is in
data/facts.yml, the same in English and German, and no answer hard-codes the years
the events file knows). Prints one line per problem,
``file:line: what is wrong — what to do``, and exits 1; prints a one-line summary and
exits 0 when all is well. ROOT (default: this repository) lets tests check a copy.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set, Tuple

import yaml

from ofr.events.model import EventsFileError, EventsFileProblem, parse_events

REPO = Path(__file__).resolve().parent.parent

MIN_EXAMPLES = 10
# Rasa 3.6's built-in names (rasa.shared.core.constants), copied so that the
# console, which runs these checks, never loads Rasa; tests/test_check_project.py
# checks them against Rasa's.
DEFAULT_INTENTS = ["restart", "back", "out_of_scope", "session_start", "nlu_fallback"]
DEFAULT_ACTION_NAMES = [
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    "...",
    "action_extract_slots",
]
DEFAULT_SLOT_NAMES = {
    "requested_slot",
    "session_started_metadata",
    "knowledge_base_listed_objects",
    "knowledge_base_last_object",
    "knowledge_base_last_object_type",
}
LANGUAGES = {"en": "English", "de": "German"}
DIALOGUE_FOLDERS = ("data/stories", "data/rules", "tests/stories")
EVENTS_FILE = "data/events.yml"
FACTS_FILE = "data/facts.yml"
MESSAGES_FILE = "ofr/messages.yml"
# The sources of ../shared/CONTENT.md, and "project" for what the assistant's own
# code and settings do (e.g. how long conversations are kept).
SOURCES = ("S1", "S2", "S3", "S4", "S4b", "S5", "S6", "S7", "project")
# [München](city) or [online]{"entity": "format", "value": "online"} -> the text only
_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Place:
    """Where something is: the file (relative to the root) and the line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Problem(Place):
    """What is wrong at a place, printed as ``path:line: message``."""

    message: str

    def __str__(self) -> str:
        return f"{Place.__str__(self)}: {self.message}"


@dataclass(frozen=True)
class Example:
    language: str
    intent: str
    text: str
    place: Place


@dataclass(frozen=True)
class Reference:
    """A name a story or rule uses; kind is intent, action, entity, slot or form."""

    kind: str
    name: str
    place: Place


@dataclass
class Domain:
    intents: Dict[str, int] = field(default_factory=dict)  # name -> line
    responses: Dict[str, Tuple[int, yaml.Node]] = field(default_factory=dict)
    actions: Set[str] = field(default_factory=set)
    entities: Set[str] = field(default_factory=set)
    slots: Set[str] = field(default_factory=set)
    forms: Set[str] = field(default_factory=set)


@dataclass
class Nlu:
    examples: List[Example] = field(default_factory=list)
    # (language, intent) -> the `- intent:` line of its first block
    blocks: Dict[Tuple[str, str], Place] = field(default_factory=dict)
    files: Dict[str, Set[str]] = field(default_factory=dict)  # language -> names


# ------------------------------------------------------------------ YAML nodes


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def pairs(node: Optional[yaml.Node]) -> List[Tuple[yaml.Node, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def child(node: Optional[yaml.Node], key: str) -> Optional[yaml.Node]:
    return next((v for k, v in pairs(node) if k.value == key), None)


def items(node: Optional[yaml.Node]) -> List[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def scalar(node: Optional[yaml.Node]) -> Optional[str]:
    """The text of a scalar node; None for anything else and for null."""
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":null"):
        return None
    return node.value


def names(node: Optional[yaml.Node]) -> List[Tuple[str, int]]:
    """Names in a list of ``- name`` or ``- name: ...`` items, with their lines."""
    found = []
    for item in items(node):
        if scalar(item) is not None:
            found.append((item.value, line_of(item)))
        found += [(key.value, line_of(key)) for key, _ in pairs(item)]
    return found


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def compose(path: Path, root: Path, problems: List[Problem]) -> Optional[yaml.Node]:
    """Parse a YAML file keeping line numbers; a broken file becomes a problem."""
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except OSError as error:
        problems.append(
            Problem(relative(path, root), 1, f"cannot be read — {error.strerror}")
        )
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        what = getattr(error, "problem", None) or "not valid YAML"
        problems.append(
            Problem(
                relative(path, root),
                mark.line + 1 if mark else 1,
                f"{what} — check the indentation, dashes and quotes",
            )
        )
    return None


# ------------------------------------------------------------------ loading


def load_domain(root: Path, problems: List[Problem]) -> Optional[Domain]:
    """The names domain.yml defines, with the lines of intents and responses."""
    node = compose(root / "domain.yml", root, problems)
    if node is None:
        return None
    return Domain(
        intents=dict(names(child(node, "intents"))),
        responses={
            key.value: (line_of(key), value)
            for key, value in pairs(child(node, "responses"))
        },
        actions={name for name, _ in names(child(node, "actions"))},
        entities={name for name, _ in names(child(node, "entities"))},
        slots={key.value for key, _ in pairs(child(node, "slots"))},
        forms={key.value for key, _ in pairs(child(node, "forms"))},
    )


def load_nlu(root: Path, problems: List[Problem]) -> Nlu:
    """Every training example of data/nlu/en and data/nlu/de, with its line."""
    nlu = Nlu()
    for language in LANGUAGES:
        folder = root / "data" / "nlu" / language
        nlu.files[language] = {path.name for path in folder.glob("*.yml")}
        for path in sorted(folder.glob("*.yml")):
            name = relative(path, root)
            for block in items(child(compose(path, root, problems), "nlu")):
                intent = scalar(child(block, "intent"))
                if intent is None:
                    continue  # a synonym, regex or lookup
                nlu.blocks.setdefault((language, intent), Place(name, line_of(block)))
                for text, line in example_lines(child(block, "examples")):
                    place = Place(name, line)
                    nlu.examples.append(Example(language, intent, text, place))
    return nlu


def example_lines(node: Optional[yaml.Node]) -> List[Tuple[str, int]]:
    """The ``- example`` lines of an ``examples: |`` block and their line numbers."""
    if scalar(node) is None or not isinstance(node, yaml.ScalarNode):
        return []
    # In a `|` block, line n of the text is line n after `examples: |`.
    first = line_of(node) + (node.style == "|")
    return [
        (raw.strip()[2:].strip(), first + offset)
        for offset, raw in enumerate(node.value.split("\n"))
        if raw.strip().startswith("- ")
    ]


def load_dialogue(root: Path, problems: List[Problem]) -> Tuple[List[Reference], int]:
    """The names stories and rules use, and how many stories and rules there are."""
    references: List[Reference] = []
    count = 0

    def visit(step: yaml.Node, path: str) -> None:
        for key, value in pairs(step):
            place = Place(path, line_of(value))
            if key.value in ("intent", "action") and scalar(value):
                references.append(Reference(key.value, value.value, place))
            elif key.value == "active_loop" and scalar(value):
                references.append(Reference("form", value.value, place))
            elif key.value in ("entities", "slot_was_set"):
                kind = "entity" if key.value == "entities" else "slot"
                for name, line in names(value):
                    references.append(Reference(kind, name, Place(path, line)))
            elif key.value == "or":
                for alternative in items(value):
                    visit(alternative, path)

    for folder in DIALOGUE_FOLDERS:
        for path in sorted((root / folder).rglob("*.yml")):
            node = compose(path, root, problems)
            for entry in items(child(node, "stories")) + items(child(node, "rules")):
                count += 1
                steps = items(child(entry, "steps")) + items(child(entry, "condition"))
                for step in steps:
                    visit(step, relative(path, root))
    return references, count


# ------------------------------------------------------------------ checks


def check_example_counts(domain: Domain, nlu: Nlu) -> List[Problem]:
    """One model serves both languages: an intent with few examples in one language
    is recognised badly in it, and one missing from domain.yml cannot be answered."""
    problems = []
    counts = Counter((e.language, e.intent) for e in nlu.examples)
    for intent, line in domain.intents.items():
        for language, name in LANGUAGES.items():
            found = counts[language, intent]
            if found >= MIN_EXAMPLES:
                continue
            place = nlu.blocks.get((language, intent))
            if place is None:
                other = next(
                    (p for (_, i), p in nlu.blocks.items() if i == intent), None
                )
                file = Path(other.path).name if other else "<topic>.yml"
                place = Place("domain.yml", line)
                todo = f"add a '- intent: {intent}' block to data/nlu/{language}/{file}"
            else:
                todo = f"add {MIN_EXAMPLES - found} more here"
            problems.append(
                Problem(
                    place.path,
                    place.line,
                    f"intent '{intent}' has {found} {name} examples, "
                    f"{MIN_EXAMPLES} are needed — {todo}",
                )
            )
    for (_, intent), place in nlu.blocks.items():
        if intent not in domain.intents and intent not in DEFAULT_INTENTS:
            problems.append(
                Problem(
                    place.path,
                    place.line,
                    f"intent '{intent}' is not in domain.yml — add it under 'intents:' "
                    "there, or fix the spelling",
                )
            )
    return problems


def check_file_pairs(nlu: Nlu) -> List[Problem]:
    """Staff find a topic's English and German examples under the same file name."""
    problems = []
    for language, other in (("en", "de"), ("de", "en")):
        for name in sorted(nlu.files[language] - nlu.files[other]):
            problems.append(
                Problem(
                    f"data/nlu/{language}/{name}",
                    1,
                    f"has no {LANGUAGES[other]} twin — create data/nlu/{other}/{name} "
                    "(same file name in both folders)",
                )
            )
    return problems


def check_response_languages(domain: Domain) -> List[Problem]:
    """The language slot picks a response's variation: without an English and a
    German one, users of the other language get no answer or the wrong language."""
    problems = []
    for response, (line, variations) in domain.responses.items():
        found = set()
        for variation in items(variations):
            for condition in items(child(variation, "condition")):
                if scalar(child(condition, "name")) != "language":
                    continue
                value_node = child(condition, "value")
                value = scalar(value_node)
                if value in LANGUAGES:
                    found.add(value)
                else:
                    problems.append(
                        Problem(
                            "domain.yml",
                            line_of(value_node or condition),
                            f"response '{response}' has a variation for language "
                            f"'{value}' — use 'en' or 'de'",
                        )
                    )
        for language, name in LANGUAGES.items():
            if language not in found:
                problems.append(
                    Problem(
                        "domain.yml",
                        line,
                        f"response '{response}' has no {name} variation — add one "
                        "with 'condition: [{type: slot, name: language, "
                        f"value: {language}}}]'",
                    )
                )
    return problems


def plain_example(text: str) -> str:
    """Compare examples as the model sees them: no markup, case or extra spaces."""
    return " ".join(_ENTITY.sub(r"\1", text).casefold().split())


def check_duplicate_examples(nlu: Nlu) -> List[Problem]:
    """An example under two intents teaches the model two answers to one question."""
    problems = []
    first: Dict[str, Example] = {}
    for example in nlu.examples:
        seen = first.setdefault(plain_example(example.text), example)
        if seen.intent != example.intent:
            problems.append(
                Problem(
                    example.place.path,
                    example.place.line,
                    f"'{example.text}' is an example of '{example.intent}' here and "
                    f"of '{seen.intent}' at {seen.place} — keep it under one intent "
                    "only",
                )
            )
    return problems


def check_dialogue(domain: Domain, references: List[Reference]) -> List[Problem]:
    """A story or rule with a misspelt name fails training or never matches."""
    known = {
        "intent": set(domain.intents) | set(DEFAULT_INTENTS),
        "action": set(domain.responses)
        | domain.actions
        | domain.forms
        | set(DEFAULT_ACTION_NAMES),
        "entity": domain.entities,
        "slot": domain.slots | DEFAULT_SLOT_NAMES,
        "form": domain.forms | domain.actions,
    }
    where = {
        "intent": "under 'intents:'",
        "action": "under 'responses:' (utter_...) or 'actions:'",
        "entity": "under 'entities:'",
        "slot": "under 'slots:'",
        "form": "under 'forms:'",
    }
    return [
        Problem(
            ref.place.path,
            ref.place.line,
            f"{ref.kind} '{ref.name}' is not in domain.yml — fix the spelling, or add "
            f"it {where[ref.kind]} in domain.yml",
        )
        for ref in references
        if ref.name not in known[ref.kind]
    ]


def check_rules_cover_intents(
    domain: Domain, references: List[Reference]
) -> List[Problem]:
    """Without TED (config.yml), an intent without a rule gets no answer at all."""
    in_rules = {
        ref.name
        for ref in references
        if ref.kind == "intent" and ref.place.path.startswith("data/rules/")
    }
    return [
        Problem(
            "domain.yml",
            line,
            f"intent '{intent}' has no rule, so the bot would not answer it — add a "
            "rule to data/rules/ (intent, then the response or action)",
        )
        for intent, line in domain.intents.items()
        if intent not in in_rules
    ]


def check_events(root: Path) -> Tuple[List[Problem], int]:
    """The bot answers event questions from this file; reuses the action server's
    validation and adds the line of each broken entry."""
    path = root / EVENTS_FILE
    try:
        return [], len(parse_events(path))
    except EventsFileError as error:
        found = error.problems
    document = compose(path, root, [])
    return [_event_problem(problem, document) for problem in found], 0


def _event_problem(found: EventsFileProblem, document: Optional[yaml.Node]) -> Problem:
    """The events file's problem at its line, with advice on what to do."""
    what, prefix = found.message.rstrip("."), ""
    if found.field:
        what = f"{found.field} {what}"
    entries = items(child(document, "events"))
    line = found.line or _field_line(document, what.split(" ", 1)[0])
    if found.entry is not None:
        prefix = f"entry {found.entry}"
        prefix += f" (id {found.event_id})" if found.event_id else ""
        prefix += ": "
        if found.entry - 1 < len(entries):
            line = _field_line(entries[found.entry - 1], what.split(" ", 1)[0])
    if found.duplicate_id is not None:
        ids = [
            line_of(e) for e in entries if scalar(child(e, "id")) == found.duplicate_id
        ]
        line = ids[-1] if ids else line
        what = f"id '{found.duplicate_id}' is used twice (also entry "
        what += f"{found.duplicate_entries[0]}) — give each event its own id"
    return Problem(EVENTS_FILE, line, prefix + _with_advice(what))


def _field_line(entry: Optional[yaml.Node], field_path: str) -> int:
    """The line of a field such as ``title.de`` in an entry, or of its nearest parent."""
    line = line_of(entry) if entry is not None else 1
    for part in field_path.split("."):
        key = next((k for k, _ in pairs(entry) if k.value == part), None)
        if key is None:
            break
        line, entry = line_of(key), child(entry, part)
    return line


def _with_advice(what: str) -> str:
    """'x (check the spelling)' or 'x; do y' -> 'x — do y'; else point to the header."""
    if " — " in what:
        return what
    advice = re.match(r"(.*?)\s*\(([^()]+)\)$", what) or re.match(r"(.*?); (.*)", what)
    if advice:
        return f"{advice[1]} — {advice[2]}"
    return f"{what} — fix it; the header of {EVENTS_FILE} shows every field"


# ------------------------------------------------------------------ answers and facts

# What an answer states that a reader could act on wrongly: URLs (with or without
# https://), e-mail addresses, phone numbers, times and numbers (dates, years,
# counts). {placeholders} are filled in by code and are not looked at.
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_URL_CHARS = r"[^\s<>\"'“”„«»()\[\]]"
_URL = re.compile(rf"\b(?:https?://|www\.){_URL_CHARS}+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DOMAIN = re.compile(
    rf"\b(?:[a-z0-9-]+\.)+(?:de|org|int|com|net|eu|info)\b(?:/{_URL_CHARS}*)?",
    re.IGNORECASE,
)
_PHONE = re.compile(r"\+\d[\d \t()/-]{5,}\d")
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Formatting numbers: the "1. " of a numbered list at the start of a line.
_LIST_NUMBER = re.compile(r"(?m)^[ \t]*\d{1,2}[.)][ \t]")
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_YEAR_RANGES = (
    re.compile(r"\b(\d{4})\s*(?:–|—|-|\bto\b|\bbis\b|\buntil\b|\btill\b)\s*(\d{4})\b"),
    re.compile(r"\b(?:between|zwischen)\s+(\d{4})\s+(?:and|und)\s+(\d{4})\b"),
)


@dataclass(frozen=True)
class AnswerText:
    """One language of one answer: a response of domain.yml or a message text."""

    path: str
    key: str
    language: str
    text: str
    line: int

    @property
    def name(self) -> str:
        kind = "response" if self.path == "domain.yml" else "text"
        return f"{kind} '{self.key}'"


def tokens(text: str) -> Dict[str, str]:
    """The checkable tokens of a text: normalised form -> the form as written.

    URLs lose their scheme, ``www.``, a trailing slash and sentence punctuation;
    phone numbers keep only ``+`` and digits; ``1,000`` and ``1.000`` are ``1000``,
    ``2,5`` is ``2.5``. Placeholders and the numbers of a numbered list are skipped.
    """
    found: Dict[str, str] = {}
    rest = _PLACEHOLDER.sub(" ", text)

    def take(pattern: re.Pattern, normalise: Callable[[str], str]) -> None:
        nonlocal rest
        for match in pattern.finditer(rest):
            written = match.group(0).rstrip(".,;:!?")
            found.setdefault(normalise(written), written)
        rest = pattern.sub(" ", rest)

    take(_URL, _plain_url)
    take(_EMAIL, str.lower)
    take(_DOMAIN, _plain_url)
    take(_PHONE, lambda phone: "+" + re.sub(r"\D", "", phone))
    rest = _LIST_NUMBER.sub(" ", rest)
    take(_TIME, lambda time: time.zfill(5))
    take(_NUMBER, _plain_number)
    return found


def _plain_url(url: str) -> str:
    url = re.sub(r"^https?://", "", url.lower())
    return url.removeprefix("www.").rstrip("/")


def _plain_number(number: str) -> str:
    if _THOUSANDS.fullmatch(number):
        return re.sub(r"[.,]", "", number)
    return number.replace(",", ".")


def answer_texts(
    root: Path, domain: Optional[Domain], problems: List[Problem]
) -> List[AnswerText]:
    """Every answer in both languages: domain.yml's responses, the message texts."""
    texts = []
    for response, (_, variations) in (domain.responses if domain else {}).items():
        for variation in items(variations):
            language = next(
                (
                    scalar(child(condition, "value"))
                    for condition in items(child(variation, "condition"))
                    if scalar(child(condition, "name")) == "language"
                ),
                None,
            )
            node = child(variation, "text")
            text = scalar(node)
            if language in LANGUAGES and node is not None and text is not None:
                texts.append(
                    AnswerText("domain.yml", response, language, text, line_of(node))
                )
    path = root / MESSAGES_FILE
    if path.is_file():  # a partial copy of the project (tests) may leave it out
        for key, value in pairs(compose(path, root, problems)):
            for language in LANGUAGES:
                node = child(value, language)
                text = scalar(node)
                if node is not None and text is not None:
                    texts.append(
                        AnswerText(
                            MESSAGES_FILE, key.value, language, text, line_of(node)
                        )
                    )
    return texts


def load_facts(root: Path, problems: List[Problem]) -> Tuple[Dict[str, str], int]:
    """The tokens the facts file states (normalised -> as written) and how many facts
    it has; each fact needs an id, both languages, a known source and a date."""
    path = root / FACTS_FILE
    if not path.is_file():
        problems.append(
            Problem(
                FACTS_FILE,
                1,
                "is missing, so no number, date or address of an answer has a "
                "source — restore it from git (docs/staff.md explains it)",
            )
        )
        return {}, 0
    known: Dict[str, str] = {}
    seen: Set[str] = set()
    facts = items(child(compose(path, root, problems), "facts"))
    for number, fact in enumerate(facts, start=1):
        fact_id = scalar(child(fact, "id"))
        name = f"fact '{fact_id}'" if fact_id else f"fact {number}"
        found = _fact_problems(fact, fact_id, seen, known)
        problems += [Problem(FACTS_FILE, line_of(fact), f"{name} {f}") for f in found]
        seen.add(fact_id or "")
    return known, len(facts)


def _fact_problems(
    fact: yaml.Node, fact_id: Optional[str], seen: Set[str], known: Dict[str, str]
) -> List[str]:
    """What is wrong with one fact (each the end of a sentence); adds its tokens to
    ``known``."""
    found = []
    if not fact_id:
        found.append("has no id — add 'id:' with a short unique name, e.g. 'id: x-y'")
    elif fact_id in seen:
        found.append("uses an id that an earlier fact has — give each fact its own id")
    texts = {}
    for language, language_name in LANGUAGES.items():
        text = scalar(child(fact, language))
        if not text or not text.strip():
            found.append(
                f"has no {language_name} text — add '{language}: \"...\"' saying the "
                "fact in the project's own words"
            )
            continue
        texts[language] = tokens(text)
        known.update(texts[language])
    if len(texts) == 2:
        for token in sorted(set(texts["en"]) ^ set(texts["de"])):
            written = {**texts["en"], **texts["de"]}[token]
            found.append(
                f"has '{written}' in one language only — write the same numbers, "
                "dates and addresses in its English and German text"
            )
    source = child(fact, "source")
    named = [scalar(s) for s in items(source)] or [scalar(source)]
    unknown = [s for s in named if s not in SOURCES]
    if unknown:
        found.append(
            f"names the source '{unknown[0]}' — use one of "
            f"{', '.join(SOURCES[:-1])} (../shared/CONTENT.md) or 'project'"
        )
    date = scalar(child(fact, "date"))
    if not date or not date.strip():
        found.append(
            "has no date — add 'date:' with when its source published it, e.g. "
            "'date: \"2021\"', or 'date: undated' when the source gives none"
        )
    return found


def event_years(root: Path) -> Set[str]:
    """The years of the events in the events file (none if it is broken)."""
    try:
        events = parse_events(root / EVENTS_FILE)
    except EventsFileError:
        return set()
    years = set()
    for event in events:
        for when in (event.start, event.end):
            if when is not None:
                years.add(str(when.year))
    return years


def check_answers(
    texts: List[AnswerText], known: Dict[str, str], years: Set[str]
) -> List[Problem]:
    """An answer states only numbers, dates and addresses that a sourced fact has,
    says the same in both languages, and leaves the events' years to the events
    file, which staff change without touching the answers."""
    problems = []
    by_key: Dict[Tuple[str, str], Dict[str, AnswerText]] = {}
    for answer in texts:
        by_key.setdefault((answer.path, answer.key), {})[answer.language] = answer
        language = LANGUAGES[answer.language]
        for token, written in tokens(answer.text).items():
            if token not in known:
                problems.append(
                    Problem(
                        answer.path,
                        answer.line,
                        f"{answer.name} ({language}) states '{written}', which no "
                        f"fact in {FACTS_FILE} has — add the fact with its source "
                        f"to {FACTS_FILE}, or take '{written}' out of the answer",
                    )
                )
        text = _PLACEHOLDER.sub(" ", answer.text)
        for pattern in _YEAR_RANGES:
            for match in pattern.finditer(text):
                if match.group(1) in years and match.group(2) in years:
                    problems.append(
                        Problem(
                            answer.path,
                            answer.line,
                            f"{answer.name} ({language}) hard-codes the event years "
                            f"'{match.group(0)}', which change whenever staff edit "
                            f"{EVENTS_FILE} — compute them in the action and pass "
                            "them as a {placeholder}, or leave them out",
                        )
                    )
    for (path, _), languages in by_key.items():
        if len(languages) < 2:
            continue  # a missing language is check_response_languages' problem
        english, german = tokens(languages["en"].text), tokens(languages["de"].text)
        for token in sorted(set(english) ^ set(german)):
            has, lacks = ("en", "de") if token in english else ("de", "en")
            written = english.get(token) or german[token]
            problems.append(
                Problem(
                    path,
                    languages[lacks].line,
                    f"{languages[has].name} has '{written}' in {LANGUAGES[has]} but "
                    f"not in {LANGUAGES[lacks]} — say the same in both languages, or "
                    "take it out of both",
                )
            )
    return problems


# ------------------------------------------------------------------ main


def run(root: Path) -> Tuple[List[Problem], str]:
    """All checks on the project in ``root``: the problems and a summary line."""
    problems: List[Problem] = []
    domain = load_domain(root, problems)
    nlu = load_nlu(root, problems)
    references, dialogues = load_dialogue(root, problems)
    if domain is not None:
        problems += check_example_counts(domain, nlu)
        problems += check_response_languages(domain)
        problems += check_dialogue(domain, references)
        problems += check_rules_cover_intents(domain, references)
    problems += check_file_pairs(nlu)
    problems += check_duplicate_examples(nlu)
    event_problems, events = check_events(root)
    problems += event_problems
    known, facts = load_facts(root, problems)
    problems += check_answers(
        answer_texts(root, domain, problems), known, event_years(root)
    )
    languages = Counter(e.language for e in nlu.examples)
    summary = (
        f"Project checks passed: {len(domain.intents) if domain else 0} intents "
        f"({languages['en']} English and {languages['de']} German examples), "
        f"{len(domain.responses) if domain else 0} responses in both languages, "
        f"{dialogues} stories and rules, {events} events, {facts} facts with "
        "sources behind the answers."
    )
    return problems, summary


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "root",
        nargs="?",
        type=Path,
        default=REPO,
        help="the project folder (default: this repository)",
    )
    root = parser.parse_args(argv).root.resolve()
    problems, summary = run(root)
    for problem in problems:
        print(problem)
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        print(f"Project checks failed: {count}.", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
