"""Training examples, read and changed the way staff would edit the files by hand.

Examples live in ``data/nlu/<en|de>/<topic>.yml`` (one block per intent); a change
rewrites only the lines of the one ``examples: |`` block (console/yaml_text.py), so
every other byte of the file stays. A change is
refused, with the check's own words, when it would

- repeat an example the language already has (under any intent),
- copy or nearly copy a held-out test question (``tests/nlu``, the bot is judged on
  those: a copy would only flatter the numbers),
- or break any rule of ``make validate`` (ofr_tools/check_project.py), which runs on
  the changed project before the change is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import yaml

from console.yaml_text import FileChange, item_span, literal_block
from ofr_tools.check_project import child, items, scalar
from ofr_tools.held_out import held_out_texts, near_copy, normalise_example

LANGUAGES = ("en", "de")
MAX_EXAMPLE = 300
_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_ROW = re.compile(r"^\|\s*([\w.]+\.yml)\s*\|\s*(\w+)\s*\|\s*(.+?)\s*\|\s*$")


class TrainingDataError(ValueError):
    """Why a change was refused (one or more sentences)."""


class StaleExample(TrainingDataError):
    """The example a form changes or removes is no longer there: someone changed
    it meanwhile (the example's own text is the version its form was made from)."""

    def __init__(self, intent: str, language: str, old: str, yours: str) -> None:
        self.intent, self.language, self.old, self.yours = intent, language, old, yours
        wanted = f" Yours was “{yours}”." if yours and yours != old else ""
        super().__init__(
            f"Someone changed the {language.upper()} examples of {intent} meanwhile: "
            f"“{old}” is no longer one of them, so nothing was saved. The page shows "
            f"them as they are now.{wanted}"
        )


@dataclass(frozen=True)
class Intent:
    name: str
    topic: str  # the file name, e.g. partners.yml
    description: str
    examples: Dict[str, List[str]]  # language → examples as written


def plain(text: str) -> str:
    """An example without entity markup: "[Kiel](city)" → "Kiel"."""
    return _MARKUP.sub(r"\1", text)


class TrainingData:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, language: str, topic: str) -> Path:
        if language not in LANGUAGES or not re.fullmatch(r"[a-z_]+\.yml", topic):
            raise TrainingDataError(f"{language}/{topic} is no training data file.")
        return self.root / "data" / "nlu" / language / topic

    # ------------------------------------------------------------ reading

    def descriptions(self) -> Dict[str, Tuple[str, str]]:
        """intent → (topic file, what the user wants), from docs/intents.md."""
        found: Dict[str, Tuple[str, str]] = {}
        path = self.root / "docs" / "intents.md"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                match = _ROW.match(line)
                if match:
                    found[match.group(2)] = (match.group(1), match.group(3))
        return found

    def intents(self) -> List[Intent]:
        described = self.descriptions()
        examples: Dict[str, Dict[str, List[str]]] = {}
        topics: Dict[str, str] = {}
        for language in LANGUAGES:
            for path in sorted((self.root / "data" / "nlu" / language).glob("*.yml")):
                document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                for block in document.get("nlu") or []:
                    name = block.get("intent")
                    if not name:
                        continue
                    topics.setdefault(name, path.name)
                    examples.setdefault(name, {lang: [] for lang in LANGUAGES})[
                        language
                    ] += _lines(block.get("examples") or "")
        return [
            Intent(
                name,
                topics[name],
                described.get(name, ("", ""))[1],
                examples[name],
            )
            for name in sorted(examples)
        ]

    def intent(self, name: str) -> Optional[Intent]:
        return next((i for i in self.intents() if i.name == name), None)

    # ------------------------------------------------------------ changing

    def add(self, intent: str, language: str, text: str) -> Path:
        text = one_line(text)
        self._refuse_copies(intent, language, text)
        return self._change(intent, language, lambda lines: lines + [text])

    def remove(self, intent: str, language: str, text: str) -> Path:
        def without(lines: List[str]) -> List[str]:
            if text not in lines:
                raise StaleExample(intent, language, text, "")
            return [line for line in lines if line != text]

        return self._change(intent, language, without)

    def replace(self, intent: str, language: str, old: str, new: str) -> Path:
        new = one_line(new)
        self._refuse_copies(intent, language, new, ignore=old)

        def swapped(lines: List[str]) -> List[str]:
            if old not in lines:
                raise StaleExample(intent, language, old, new)
            return [new if line == old else line for line in lines]

        return self._change(intent, language, swapped)

    def _refuse_copies(
        self, intent: str, language: str, text: str, ignore: Optional[str] = None
    ) -> None:
        wanted = normalise_example(plain(text))
        if not wanted:
            raise TrainingDataError("Write the example as a user would ask it.")
        for other in self.intents():
            for example in other.examples[language]:
                if example == ignore:
                    continue
                if normalise_example(plain(example)) == wanted:
                    where = "this intent" if other.name == intent else other.name
                    raise TrainingDataError(
                        f"This example is already there, under {where}: “{example}”."
                    )
        for question in held_out_texts(
            language,
            self.root / "tests" / "nlu",
            self.root / "tests" / "event_questions",
        ):
            if near_copy(wanted, normalise_example(question)):
                raise TrainingDataError(
                    "This example (nearly) copies a held-out test question, which the "
                    "bot must answer without having seen it: write it in other words."
                )

    def _change(
        self, intent: str, language: str, edit: Callable[[List[str]], List[str]]
    ) -> Path:
        topic = next((i.topic for i in self.intents() if i.name == intent), None)
        if topic is None:
            raise TrainingDataError(f"There is no intent {intent!r}.")
        path = self.path(language, topic)
        change = FileChange()
        source = change.before(path)
        document = yaml.compose(source)
        number, block = next(
            (
                (number, block)
                for number, block in enumerate(items(child(document, "nlu")))
                if scalar(child(block, "intent")) == intent
            ),
            (-1, None),
        )
        examples = child(block, "examples")
        if not isinstance(block, yaml.MappingNode) or examples is None:
            raise TrainingDataError(
                f"{path.name} has no block for {intent} in {language}."
            )
        wanted = [f"- {line}" for line in edit(_lines(scalar(examples) or ""))]
        _, block_end = item_span(source, document, "nlu", number)
        after = literal_block(source, block, "examples", block_end, wanted)
        with change:
            change.write(path, after)
            change.check(self.root, TrainingDataError)
        return path


def _lines(block: str) -> List[str]:
    return [
        line.strip()[2:].strip()
        for line in block.splitlines()
        if line.strip().startswith("- ")
    ]


def one_line(text: str) -> str:
    """An example as it is kept: one line, spaces collapsed, within the limits."""
    text = " ".join(text.split())
    if len(text) > MAX_EXAMPLE:
        raise TrainingDataError(f"Keep an example under {MAX_EXAMPLE} characters.")
    if text.startswith(("/", "#")):
        raise TrainingDataError("An example cannot start with '/' or '#'.")
    return text
