"""A new question for the bot: an intent with its answer in English and German, its
rule, its training examples and its held-out test questions, written into the
project's files as a developer would write them.

What `make validate` and the test suite ask of every intent is asked here too:

- at least 10 training examples per language (ofr_tools/check_project.py), and at
  least 10 held-out questions per language in ``tests/nlu`` that are not (near)
  copies of any training example (tests/test_heldout_independent.py). Staff write
  at least 20 ways of asking in each language; the console keeps 10 of them aside
  as test questions, choosing ones that differ from every training example.
- an answer in both languages, a rule that gives it, a row in docs/intents.md
  (the console's search over intents reads it), and the short label of its button
  when the bot asks "Did you mean …?" (ofr/messages.yml).

Each file gets text added at the end of its part, so the rest of every file stays
byte for byte; the whole change is undone when `make validate`'s rules fail on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import yaml

from console.answers import MAX_ANSWER, quoted
from console.training_data import LANGUAGES, TrainingDataError, one_line, plain
from console.yaml_text import (
    FileChange,
    appended,
    insert_after_line,
    insert_lines,
    item_indent,
    last_leaf,
    lines,
)
from ofr_tools import check_project
from ofr_tools.check_project import child
from ofr_tools.held_out import held_out_texts, near_copy, normalise_example

HELD_OUT_PER_LANGUAGE = 10
TRAINING_PER_LANGUAGE = check_project.MIN_EXAMPLES
NEEDED = HELD_OUT_PER_LANGUAGE + TRAINING_PER_LANGUAGE
NAME = re.compile(r"ask_[a-z][a-z0-9_]{2,40}")
LANGUAGE_NAMES = {"en": "English", "de": "German"}
MAX_LABEL = 40
MESSAGES = Path("ofr") / "messages.yml"


class QuestionError(ValueError):
    """Why the new question was refused (one or more sentences)."""


@dataclass(frozen=True)
class NewQuestion:
    intent: str  # ask_<something>
    topic: str  # an existing topic file, e.g. contact.yml
    description: str  # what the user wants, for docs/intents.md
    answers: Dict[str, str]  # language → answer text
    examples: Dict[str, List[str]]  # language → ways of asking, one per line
    labels: Dict[str, str]  # language → its button under "Did you mean …?"

    @property
    def response(self) -> str:
        return "utter_" + self.intent.removeprefix("ask_")


@dataclass(frozen=True)
class Split:
    training: List[str]
    held_out: List[str]


def split(language: str, examples: List[str], taken: List[str]) -> Split:
    """Keep ``HELD_OUT_PER_LANGUAGE`` ways of asking aside as test questions: ones
    that are not near copies of another way of asking or of ``taken`` (the
    language's training examples), chosen from the end of the list (the first,
    e.g. the inbox question, stays a training example)."""
    normal = {text: normalise_example(plain(text)) for text in examples}
    training, held_out = list(examples), []  # type: List[str], List[str]
    others = [normalise_example(plain(text)) for text in taken]
    for text in reversed(examples):
        if len(held_out) == HELD_OUT_PER_LANGUAGE:
            break
        rest = [normal[t] for t in training if t != text]
        if any(near_copy(normal[text], other) for other in rest + others):
            continue
        training.remove(text)
        held_out.insert(0, text)
    if len(held_out) < HELD_OUT_PER_LANGUAGE:
        missing = HELD_OUT_PER_LANGUAGE - len(held_out)
        raise QuestionError(
            f"Only {len(held_out)} of the {LANGUAGE_NAMES[language]} ways of asking "
            "differ enough from the others (and from the bot's examples) to test the "
            f"bot with: add {missing} more, worded differently."
        )
    return Split(training, held_out)


class Questions:
    def __init__(self, root: Path) -> None:
        self.root = root

    def topics(self) -> List[str]:
        return sorted(p.name for p in (self.root / "data" / "nlu" / "en").glob("*.yml"))

    def add(self, question: NewQuestion) -> List[Path]:
        """Write the question into the project; the paths changed."""
        splits = self._checked(question)
        change = FileChange()

        def write(path: Path, block: str) -> None:
            change.write(path, appended(change.before(path), block))

        with change:
            self._write_domain(question, change)
            for language in LANGUAGES:
                block = _nlu_block(question.intent, splits[language].training)
                write(self.root / "data" / "nlu" / language / question.topic, block)
                tests = self.root / "tests" / "nlu" / language / question.topic
                if not tests.exists():
                    change.write(tests, 'version: "3.1"\nnlu:\n')
                write(tests, _nlu_block(question.intent, splits[language].held_out))
            rules = self.root / "data" / "rules" / question.topic
            if not rules.exists():
                change.write(rules, 'version: "3.1"\n\nrules:\n')
            indent = item_indent(change.before(rules), "rule")
            write(rules, _rule(question.intent, question.response, indent))
            self._write_description(question, change)
            self._write_label(question, change)
            change.check(self.root, QuestionError)
        return change.paths

    # ------------------------------------------------------------ checks

    def _checked(self, question: NewQuestion) -> Dict[str, Split]:
        from console.training_data import TrainingData

        if not NAME.fullmatch(question.intent):
            raise QuestionError(
                "Name the intent ask_ and a few words in lower case with _, e.g. "
                "ask_travel_costs."
            )
        if question.topic not in self.topics():
            raise QuestionError("Choose one of the topic files.")
        domain = yaml.safe_load((self.root / "domain.yml").read_text("utf-8")) or {}
        intents = [
            i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]
        ]
        if question.intent in intents:
            raise QuestionError(f"There is an intent {question.intent} already.")
        if question.response in (domain.get("responses") or {}):
            raise QuestionError(f"There is an answer {question.response} already.")
        if not question.description.strip() or "|" in question.description:
            raise QuestionError(
                "Say in a few words what users want with this question (without |)."
            )
        for language in LANGUAGES:
            name = LANGUAGE_NAMES[language]
            label = " ".join(question.labels.get(language, "").split())
            if not label or len(label) > MAX_LABEL:
                raise QuestionError(
                    f"Write the {name} button label, at most {MAX_LABEL} characters."
                )
            text = question.answers.get(language, "").strip()
            if not text:
                raise QuestionError(f"Write the {name} answer.")
            if len(text) > MAX_ANSWER:
                raise QuestionError(
                    f"Keep the {name} answer under {MAX_ANSWER} characters."
                )
        every_intent = TrainingData(self.root).intents()
        splits = {}
        for language in LANGUAGES:
            name = LANGUAGE_NAMES[language]
            try:
                examples = [one_line(e) for e in question.examples.get(language, [])]
            except TrainingDataError as error:
                raise QuestionError(str(error)) from error
            if len(examples) < NEEDED:
                raise QuestionError(
                    f"Write at least {NEEDED} {name} ways of asking ({len(examples)} "
                    f"so far): {TRAINING_PER_LANGUAGE} teach the bot, "
                    f"{HELD_OUT_PER_LANGUAGE} are kept aside to test it."
                )
            taken = [e for i in every_intent for e in i.examples[language]]
            known = {normalise_example(plain(e)): e for e in taken}
            held = [
                normalise_example(q)
                for q in held_out_texts(
                    language,
                    self.root / "tests" / "nlu",
                    self.root / "tests" / "event_questions",
                )
            ]
            seen = set()
            for example in examples:
                wanted = normalise_example(plain(example))
                if not wanted:
                    raise QuestionError("Write each way of asking as a user would.")
                if wanted in seen:
                    raise QuestionError(f"“{example}” is there twice.")
                seen.add(wanted)
                if wanted in known:
                    raise QuestionError(
                        f"The bot already has “{known[wanted]}” as an example of "
                        "another question: leave it out or word it differently."
                    )
            chosen = split(language, examples, taken)
            for example in chosen.training:
                wanted = normalise_example(plain(example))
                if any(near_copy(wanted, question) for question in held):
                    raise QuestionError(
                        f"“{example}” (nearly) copies a held-out test question of "
                        "another intent: write it in other words."
                    )
            splits[language] = chosen
        return splits

    # ------------------------------------------------------------ writing

    def _write_domain(self, question: NewQuestion, change: FileChange) -> None:
        path = self.root / "domain.yml"
        before = change.before(path)
        document = yaml.compose(before)
        intents = child(document, "intents")
        responses = child(document, "responses")
        if not isinstance(intents, yaml.SequenceNode) or not isinstance(
            responses, yaml.MappingNode
        ):
            raise QuestionError("domain.yml has no intents or responses to add to.")
        last_intent = intents.value[-1]
        dash = " " * max(last_intent.start_mark.column - 2, 0)
        key = " " * responses.value[-1][0].start_mark.column
        response = f"\n\n{key}{question.response}:\n" + "".join(
            f"{key}- condition:\n"
            f"{key}  - type: slot\n"
            f"{key}    name: language\n"
            f"{key}    value: {language}\n"
            f"{key}  text: {quoted(question.answers[language].strip())}\n"
            for language in LANGUAGES
        ).rstrip("\n")
        # From the end of the file, so the earlier offset stays right.
        after = insert_after_line(before, last_leaf(responses), response)
        after = insert_after_line(
            after, last_leaf(last_intent), f"\n{dash}- {question.intent}"
        )
        change.write(path, after)

    def _write_description(self, question: NewQuestion, change: FileChange) -> None:
        path = self.root / "docs" / "intents.md"
        before = change.before(path)
        rows = [
            i
            for i, line in enumerate(lines(before))
            if re.match(r"^\| \w+\.yml \|", line)
        ]
        if not rows:
            raise QuestionError("docs/intents.md has no table of intents to add to.")
        row = f"| {question.topic} | {question.intent} | {' '.join(question.description.split())} |\n"
        change.write(path, insert_lines(before, rows[-1] + 1, row))

    def _write_label(self, question: NewQuestion, change: FileChange) -> None:
        path = self.root / MESSAGES
        before = change.before(path)
        text_lines = lines(before)
        labels = [i for i, line in enumerate(text_lines) if line.startswith("intent_")]
        where = labels[-1] + 1 if labels else len(text_lines)
        en, de = (_flow(question.labels[language]) for language in LANGUAGES)
        label = f"intent_{question.intent}: {{en: {en}, de: {de}}}\n"
        after = insert_lines(before, where, label)
        if not isinstance(yaml.safe_load(after), dict):
            raise QuestionError(f"{MESSAGES} would not read any more.")
        # The running action server reads this file: never half of it (atomic).
        change.write(path, after)


def _flow(text: str) -> str:
    return json.dumps(" ".join(text.split()), ensure_ascii=False)


def _nlu_block(intent: str, examples: List[str]) -> str:
    lines = "".join(f"    - {example}\n" for example in examples)
    return f"- intent: {intent}\n  examples: |\n{lines}"


def _rule(intent: str, response: str, indent: str) -> str:
    return (
        f"\n{indent}- rule: Answer {intent.replace('_', ' ')}\n"
        f"{indent}  steps:\n"
        f"{indent}    - intent: {intent}\n"
        f"{indent}    - action: {response}\n"
    )
