"""The bot's answers (the responses in ``domain.yml``), read and changed per language.

domain.yml mixes indentation styles and carries many comments, which no YAML dumper
keeps; so a change replaces only the characters of the one ``text:`` value, found
through the YAML parser's positions (console/yaml_text.py), and leaves every other
byte of the file as it was. The changed file must then pass ``make validate``'s rules, or it is put back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from console.edits import version
from console.yaml_text import FileChange, replace_spans
from ofr_tools.check_project import child

LANGUAGES = ("en", "de")
MAX_ANSWER = 4000


class AnswerError(ValueError):
    """Why an answer was not saved (one or more sentences)."""


@dataclass(frozen=True)
class Answer:
    name: str
    texts: Dict[str, str]  # language → text
    has_buttons: bool

    @property
    def version(self) -> str:
        """The texts, hashed: the answer form carries it, and a save made from
        another version is refused (someone changed the answer meanwhile)."""
        return version({"name": self.name, "texts": self.texts})


def _language(variation: yaml.Node) -> Optional[str]:
    condition = child(variation, "condition")
    if not isinstance(condition, yaml.SequenceNode):
        return None
    for item in condition.value:
        name, value = child(item, "name"), child(item, "value")
        if getattr(name, "value", None) == "language":
            return getattr(value, "value", None)
    return None


def quoted(text: str) -> str:
    """``text`` as one double-quoted YAML scalar on one line, like the file's own."""
    dumped = yaml.dump(text, default_style='"', allow_unicode=True, width=float("inf"))
    return dumped.strip().removesuffix("...").strip()


class Answers:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "domain.yml"

    def _responses(
        self, source: str
    ) -> Dict[str, List[Tuple[str, yaml.Node, yaml.Node]]]:
        """response → [(language, variation node, text node)]."""
        document = yaml.compose(source)
        responses = child(document, "responses") if document is not None else None
        found: Dict[str, List[Tuple[str, yaml.Node, yaml.Node]]] = {}
        if not isinstance(responses, yaml.MappingNode):
            return found
        for key, variations in responses.value:
            entries: List[Tuple[str, yaml.Node, yaml.Node]] = []
            for variation in getattr(variations, "value", []):
                language, text = _language(variation), child(variation, "text")
                if language in LANGUAGES and isinstance(text, yaml.ScalarNode):
                    entries.append((language, variation, text))
            found[key.value] = entries
        return found

    def all(self) -> List[Answer]:
        source = self.path.read_text(encoding="utf-8")
        answers = []
        for name, entries in self._responses(source).items():
            texts = {language: text.value for language, _, text in entries}
            buttons = any(child(variation, "buttons") for _, variation, _ in entries)
            answers.append(Answer(name, texts, buttons))
        return answers

    def get(self, name: str) -> Optional[Answer]:
        return next((a for a in self.all() if a.name == name), None)

    def change(self, name: str, texts: Dict[str, str]) -> Path:
        """Give ``name`` these texts (language → text); the other bytes stay."""
        for language, text in texts.items():
            if not text.strip():
                raise AnswerError(
                    f"Write the {language.upper()} answer; it cannot be empty."
                )
            if len(text) > MAX_ANSWER:
                raise AnswerError(f"Keep an answer under {MAX_ANSWER} characters.")
        change = FileChange()
        before = change.before(self.path)
        entries = self._responses(before).get(name)
        if not entries:
            raise AnswerError(
                f"There is no answer {name!r} with English and German texts."
            )
        spans = [
            (text.start_mark.index, text.end_mark.index, quoted(texts[language]))
            for language, _, text in entries
            if language in texts
        ]
        with change:
            change.write(self.path, replace_spans(before, spans))
            change.check(self.root, AnswerError)
        return self.path
