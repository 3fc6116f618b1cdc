"""The held-out test sets as text: which questions the bot is judged on.

Plain YAML reading, no Rasa: the checks that keep training data apart from the
test questions (ofr-drop-heldout-copies, the staff console) use it without loading
a model; ofr_tools/evaluation.py scores a model on the same sets.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import FrozenSet, List, Tuple

import yaml

_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def normalise_example(text: str) -> str:
    """Words only, case-folded, umlauts spelled out: for comparing examples."""
    text = text.casefold()
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, spelled)
    return " ".join(re.findall(r"\w+", text))


def near_copy(a: str, b: str) -> bool:
    """Two normalised examples that differ by a typo or a word (ratio ≥ 0.9)."""
    matcher = difflib.SequenceMatcher(None, a, b)
    return (
        matcher.real_quick_ratio() >= 0.9
        and matcher.quick_ratio() >= 0.9
        and matcher.ratio() >= 0.9
    )


def nlu_files(folder: Path) -> List[Path]:
    """The NLU files of ``folder`` (or ``folder`` itself if it is a file), sorted."""
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml"))


def _example_lines(path: Path) -> List[str]:
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    lines: List[str] = []
    for block in content.get("nlu") or []:
        examples = block.get("examples") if isinstance(block, dict) else None
        if isinstance(examples, str):
            lines += [
                line.strip()[2:]
                for line in examples.splitlines()
                if line.strip().startswith("- ")
            ]
    return lines


def event_question_files(folder: Path, language: str) -> List[Path]:
    """The held-out event-question files of one language (heldout*_<language>.yml)."""
    return sorted(folder.glob(f"heldout*_{language}.yml"))


def event_questions(path: Path) -> List[Tuple[str, str, FrozenSet]]:
    """(text, intent, no entities) of a held-out event-questions file."""
    if not path.is_file():
        return []
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [
        (str(case["text"]), str(case.get("intent") or "ask_events"), frozenset())
        for case in content.get("cases") or []
        if case.get("text")
    ]


def held_out_texts(
    language: str,
    test_root: Path = Path("tests/nlu"),
    events_root: Path = Path("tests/event_questions"),
) -> List[str]:
    """Every held-out question of one language: no training example may copy one."""
    texts = [
        _MARKUP.sub(r"\1", text)
        for path in nlu_files(test_root / language)
        for text in _example_lines(path)
    ]
    texts += [
        text
        for path in event_question_files(events_root, language)
        for text, _, _ in event_questions(path)
    ]
    return texts
