"""Play the held-out conversations (tests/conversations) over REST and score them.

Used by tests/test_conversations.py against the bot it starts, and on its own
against any running bot, to compare two versions side by side:

    .venv/bin/python -m tests.conversation_runner --url http://127.0.0.1:5005
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import requests
import yaml

HERE = Path(__file__).resolve().parent / "conversations"
LANGUAGES = ("en", "de")


@dataclass
class Result:
    language: str
    kind: str
    name: str
    failures: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def load(language: str, root: Path = HERE) -> List[Tuple[str, Dict[str, Any]]]:
    """(kind, conversation) of every file of ``language`` under ``root``, its
    sub-folders' batches (``fresh/<language>``) included."""
    found = []
    paths = sorted(root.glob(f"{language}/*.yml")) + sorted(
        root.glob(f"*/{language}/*.yml")
    )
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for conversation in data["conversations"]:
            found.append((data["kind"], conversation))
    return found


def answer_text(messages: List[Dict[str, Any]]) -> str:
    """The texts of one answer and the titles of its buttons, joined."""
    parts = []
    for item in messages:
        if item.get("text"):
            parts.append(str(item["text"]))
        for button in item.get("buttons") or []:
            parts.append(str(button.get("title") or ""))
    return "\n".join(parts)


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(
        Language.ENGLISH, Language.GERMAN
    ).build()


# Function words: names in an answer ("Bundesamt für Migration und Flüchtlinge" in
# an English answer) do not decide its language, its grammar does.
_FUNCTION_WORDS = {
    "en": frozenset(
        "the and is are of to for you your with this that it on can an be by at or "
        "not what which there here has have was were will would about i we they".split()
    ),
    "de": frozenset(
        "der die das und ist sind von zu im für sie ihr ihre mit dieses diese es auf "
        "kann ich ein eine einen nicht oder was gibt den dem des wir bei am zum zur "
        "sich wird wurde hat haben noch auch".split()
    ),
}


def language_of(text: str) -> Optional[str]:
    """The language of an answer: by its function words, lingua when undecided."""
    from lingua import Language

    tokens = re.findall(r"[a-zäöüß]+", text.casefold())
    counts = {
        lang: sum(t in found for t in tokens) for lang, found in _FUNCTION_WORDS.items()
    }
    if counts["en"] != counts["de"]:
        return max(counts, key=lambda lang: counts[lang])
    found = _detector().detect_language_of(text)
    return {Language.ENGLISH: "en", Language.GERMAN: "de"}.get(found)


def check(expect: Dict[str, Any], text: str) -> List[str]:
    """What in ``expect`` the answer ``text`` does not meet."""
    folded = text.casefold()
    problems = []
    for wanted in expect.get("contains_all") or []:
        if str(wanted).casefold() not in folded:
            problems.append(f"lacks {wanted!r}")
    anyof = expect.get("contains_any") or []
    if anyof and not any(str(w).casefold() in folded for w in anyof):
        problems.append(f"has none of {anyof!r}")
    for unwanted in expect.get("not_contains") or []:
        if str(unwanted).casefold() in folded:
            problems.append(f"has {unwanted!r}")
    language = expect.get("language")
    if language and text.strip():
        seen = language_of(text)
        if seen != language:
            problems.append(f"answered in {seen}, not {language}")
    if not text.strip():
        problems.append("no answer")
    return problems


def play(url: str, kind: str, conversation: Dict[str, Any], language: str) -> Result:
    sender = f"heldout-{uuid.uuid4().hex[:10]}"
    result = Result(language, kind, str(conversation.get("name")))
    hint = conversation.get("hint")
    for number, turn in enumerate(conversation["turns"], start=1):
        body: Dict[str, Any] = {"sender": sender, "message": turn["user"]}
        if hint:
            body["metadata"] = {"language": hint}
        reply = requests.post(f"{url}/webhooks/rest/webhook", json=body, timeout=60)
        reply.raise_for_status()
        text = answer_text(reply.json())
        if turn.get("expect"):
            for problem in check(turn["expect"], text):
                said = text.replace("\n", " ")[:240]
                result.failures.append(
                    f"turn {number} {turn['user']!r}: {problem} — bot: {said!r}"
                )
    return result


def play_all(url: str, languages=LANGUAGES, root: Path = HERE) -> List[Result]:
    results = []
    for language in languages:
        for kind, conversation in load(language, root):
            results.append(play(url, kind, conversation, language))
    return results


def table(results: List[Result]) -> str:
    """Right / all per kind and language."""
    kinds = sorted({r.kind for r in results})
    lines = [f"{'kind':24} {'en':>9} {'de':>9}"]
    for kind in kinds + ["all"]:
        cells = []
        for language in LANGUAGES:
            chosen = [
                r
                for r in results
                if r.language == language and (kind == "all" or r.kind == kind)
            ]
            right = sum(r.ok for r in chosen)
            cells.append(f"{right:>4}/{len(chosen):<4}")
        lines.append(f"{kind:24} {cells[0]:>9} {cells[1]:>9}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--failures", action="store_true", help="list what failed")
    parser.add_argument("--language", choices=LANGUAGES, action="append")
    parser.add_argument("--dir", type=Path, default=HERE, help="one batch only")
    args = parser.parse_args(argv)
    results = play_all(args.url, tuple(args.language or LANGUAGES), args.dir)
    if args.failures:
        for r in results:
            for failure in r.failures:
                print(f"[{r.language} {r.kind}] {r.name}: {failure}")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
