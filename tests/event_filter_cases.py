"""Event questions with the filter they must give (tests/event_questions/*.yml).

``heldout_*.yml`` were written by people who never saw the training data or the
parser; ``table.yml`` is the parser's own table of phrasings. Each case gives the
text, its language, the intent, the previous question's filter for a follow-up, and
the expected filter in the notation of docs/event-questions.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from ofr.events.event_filter import EventFilter
from ofr.events.periods import Period
from ofr.events.query import read_question

FOLDER = Path(__file__).parent / "event_questions"


@dataclass(frozen=True)
class Case:
    source: str
    kind: str
    text: str
    language: str
    intent: str
    today: date
    previous: Optional[Dict[str, Any]]
    expect: Optional[Dict[str, Any]]

    @property
    def is_event_question(self) -> bool:
        return self.expect is not None


def _language(path: Path, data: Dict[str, Any], case: Dict[str, Any]) -> str:
    if case.get("language"):
        return str(case["language"])
    return "de" if path.stem.endswith("_de") else "en"


EVENT_INTENTS = frozenset(
    {"ask_events", "inform_event_filter", "ask_event_details", "ask_past_events"}
)


def _expect(case: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The expected filter; None for a question the parser is not asked about."""
    if str(case.get("intent") or "ask_events") not in EVENT_INTENTS:
        return None
    return case.get("expect") or {}


def load_cases(pattern: str = "*.yml") -> List[Case]:
    cases = []
    for path in sorted(FOLDER.glob(pattern)):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        today = data["today"]
        for case in data["cases"]:
            cases.append(
                Case(
                    source=path.name,
                    kind=str(case.get("kind", "")),
                    text=str(case["text"]),
                    language=_language(path, data, case),
                    intent=str(case.get("intent") or "ask_events"),
                    today=case.get("today") or today,
                    previous=case.get("previous"),
                    expect=_expect(case),
                )
            )
    return cases


def notation(wanted: EventFilter) -> Dict[str, Any]:
    """A filter in the test files' notation: only non-empty fields."""
    out: Dict[str, Any] = {}
    if wanted.scope != "upcoming":
        out["direction"] = wanted.scope
    for field in ("city", "state", "format", "topic"):
        value = getattr(wanted, field)
        if value:
            out[field] = value
    if wanted.period:
        out["period"] = {"start": wanted.period.start, "end": wanted.period.end}
    return out


def from_notation(data: Optional[Dict[str, Any]]) -> Optional[EventFilter]:
    if data is None:
        return None
    period = data.get("period")
    return EventFilter(
        city=data.get("city"),
        state=data.get("state"),
        format=data.get("format"),
        topic=data.get("topic"),
        period=Period(period["start"], period["end"], "") if period else None,
        scope=data.get("direction") or "upcoming",
    )


def expected(case: Case) -> Dict[str, Any]:
    return notation(from_notation(case.expect) or EventFilter())


def parsed(
    case: Case,
    intent: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """The parser's filter for ``case`` (with the expected intent unless given)."""
    return notation(
        read_question(
            case.text,
            case.language,
            case.today,
            previous=from_notation(case.previous),
            intent=intent or case.intent,
            entities=entities or [],
        )
    )
