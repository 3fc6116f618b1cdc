"""The events file staff edit: schema, validation and reload on change.

Plain Python (no Rasa imports) so the action server, the Rasa server's calendar
route and ``make validate`` share it. The store re-reads the file only when its
modification time or size changed; a broken file is reported once and the last good
version keeps serving.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional, Tuple, Union
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    Extra,
    HttpUrl,
    ValidationError,
    constr,
    root_validator,
    validator,
)

if TYPE_CHECKING:
    from actions.event_index import EventIndex

logger = logging.getLogger(__name__)

BERLIN = ZoneInfo("Europe/Berlin")
DEFAULT_EVENTS_FILE = "data/events.yml"


class LocalizedText(BaseModel):
    """A text in both languages; neither may be empty."""

    en: constr(strip_whitespace=True, min_length=1)  # type: ignore[valid-type]
    de: constr(strip_whitespace=True, min_length=1)  # type: ignore[valid-type]

    class Config:
        extra = Extra.forbid

    def get(self, language: str) -> str:
        return self.de if language == "de" else self.en


def localized(value: Union[LocalizedText, str, None], language: str) -> Optional[str]:
    """A field that may be written once for both languages or once per language."""
    if value is None or isinstance(value, str):
        return value
    return value.get(language)


class Event(BaseModel):
    """One entry of ``events:``; see README "Add an event"."""

    id: constr(regex=r"^[a-z0-9][a-z0-9-]*$")  # type: ignore[valid-type]
    title: LocalizedText
    start: Union[datetime, date]
    end: Optional[Union[datetime, date]] = None
    # "event" (one date) or "series" (several meetings, e.g. one year's dialogue series)
    kind: Literal["event", "series"] = "event"
    # How precisely the dates are known: "day", "month" or "year".
    date_precision: Literal["day", "month", "year"] = "day"
    format: Optional[Literal["in_person", "online", "hybrid"]] = None
    city: Optional[constr(strip_whitespace=True, min_length=1)] = None  # type: ignore[valid-type]
    state: Optional[constr(strip_whitespace=True, min_length=1)] = None  # type: ignore[valid-type]
    # One text for both languages, or {en: ..., de: ...} like the title.
    venue: Optional[
        Union[LocalizedText, constr(strip_whitespace=True, min_length=1)]
    ] = None  # type: ignore[valid-type]
    topics: List[constr(strip_whitespace=True, min_length=1)] = []  # type: ignore[valid-type]
    description: Optional[LocalizedText] = None
    registration_url: Optional[HttpUrl] = None
    source: Optional[str] = None

    class Config:
        extra = Extra.forbid

    @validator("start", "end")
    def _timezone_aware(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=BERLIN)
        return value

    @root_validator(skip_on_failure=True)
    def _consistent(cls, values: Dict[str, Any]) -> Dict[str, Any]:
        start, end = values.get("start"), values.get("end")
        if end is not None:
            if isinstance(start, datetime) != isinstance(end, datetime):
                raise ValueError(
                    "start and end must both be dates or both be date-times"
                )
            if end < start:
                raise ValueError("end is before start")
        if values.get("kind") == "event" and values.get("format") is None:
            raise ValueError("format is required: in_person, online or hybrid")
        if (
            values.get("kind") == "event"
            and values.get("format") != "online"
            and not values.get("city")
        ):
            raise ValueError("city is required unless the event is online")
        return values

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    @property
    def starts_at(self) -> datetime:
        """Start as an aware date-time in Berlin (midnight for all-day events)."""
        if isinstance(self.start, datetime):
            return self.start.astimezone(BERLIN)
        return datetime.combine(self.start, time.min, BERLIN)

    @property
    def ends_at(self) -> datetime:
        """End as an aware date-time (end of the last day for all-day events)."""
        end = self.end or self.start
        if isinstance(end, datetime):
            return end.astimezone(BERLIN)
        return datetime.combine(end + timedelta(days=1), time.min, BERLIN)


class EventsFile(BaseModel):
    events: List[Event] = []

    class Config:
        extra = Extra.forbid

    @validator("events")
    def _unique_ids(cls, events: List[Event]) -> List[Event]:
        seen: Dict[str, int] = {}
        for index, event in enumerate(events):
            if event.id in seen:
                raise ValueError(
                    f"duplicate id '{event.id}' (also entry {seen[event.id] + 1})"
                )
            seen[event.id] = index
        return events


class EventsFileError(Exception):
    """The events file cannot be used; the message says where and how to fix it."""


def _describe(path: Path, raw: Dict[str, Any], error: ValidationError) -> str:
    problems = []
    entries = raw.get("events") if isinstance(raw, dict) else None
    for item in error.errors():
        location = list(item["loc"])
        where = str(path)
        if (
            len(location) >= 2
            and location[0] == "events"
            and isinstance(location[1], int)
        ):
            index = location[1]
            entry = entries[index] if isinstance(entries, list) else None
            ident = entry.get("id") if isinstance(entry, dict) else None
            where += f", entry {index + 1}" + (f" (id {ident})" if ident else "")
            location = location[2:]
        field = ".".join(str(part) for part in location if part != "__root__")
        message = item["msg"]
        if message == "field required":
            message = "is missing"
        elif message.startswith("unexpected value; permitted"):
            message = "must be one of " + message.split("permitted: ", 1)[1]
        elif message == "extra fields not permitted":
            message = "is not a known field (check the spelling)"
        problems.append(f"{where}: {field + ' ' if field else ''}{message}".strip())
    return "; ".join(problems)


def parse_events(path: Path) -> List[Event]:
    """Read and validate ``path``; raise EventsFileError with a readable message."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise EventsFileError(
            f"{path}: the events file does not exist; create it or set OFR_EVENTS_FILE."
        ) from error
    except OSError as error:
        raise EventsFileError(f"{path}: cannot be read ({error.strerror}).") from error
    try:
        # libyaml's C loader when available: 10x faster on large files, same safety.
        raw = (
            yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        )
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise EventsFileError(
            f"{path}{line}: {problem} (check indentation and quotes)."
        ) from error
    if not isinstance(raw, dict):
        raise EventsFileError(f"{path}: must start with 'events:' followed by a list.")
    try:
        return EventsFile.parse_obj(raw).events
    except ValidationError as error:
        raise EventsFileError(_describe(path, raw, error)) from error


@dataclass(frozen=True)
class _Signature:
    mtime_ns: int
    size: int


_MISSING = _Signature(-1, -1)


class EventsStore:
    """Serves the events of one file, reloading it when it changes."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self._events: List[Event] = []
        self._index: Optional[EventIndex] = None
        self._signature: Optional[_Signature] = None
        self._failed: Optional[_Signature] = None
        self._error: Optional[str] = None
        self._lock = threading.Lock()

    @property
    def error(self) -> Optional[str]:
        """The problem with the current file, if it could not be loaded."""
        return self._error

    def _current_signature(self) -> _Signature:
        try:
            stat = self.path.stat()
        except OSError:
            return _MISSING
        return _Signature(stat.st_mtime_ns, stat.st_size)

    def events(self) -> List[Event]:
        """All events of the last good version of the file."""
        signature = self._current_signature()
        if signature in (self._signature, self._failed):
            return self._events
        with self._lock:
            if signature not in (self._signature, self._failed):
                self._reload(signature)
        return self._events

    def index(self) -> EventIndex:
        """The last good version, indexed for fast filtered queries.

        Each reload builds its index; a file never loaded has an empty one.
        """
        self.events()
        if self._index is None:
            from actions.event_index import EventIndex  # it imports this module

            self._index = EventIndex([])
        return self._index

    def _reload(self, signature: _Signature) -> None:
        try:
            events = parse_events(self.path)
        except EventsFileError as error:
            self._failed = signature
            self._error = str(error)
            keeping = " Keeping the last good version." if self._signature else ""
            logger.error("Events file not loaded: %s%s", error, keeping)
            return
        from actions.event_index import EventIndex  # it imports this module

        index = EventIndex(events)
        self._index, self._events = index, index.events
        self._signature = signature
        self._failed = None
        self._error = None
        logger.info("Loaded %d events from %s.", len(self._events), self.path)

    def get(self, event_id: str) -> Optional[Event]:
        return self.index().get(event_id)


_stores: Dict[Tuple[str, str], EventsStore] = {}


def default_store() -> EventsStore:
    """The store for OFR_EVENTS_FILE (default data/events.yml), one per process."""
    path = os.environ.get("OFR_EVENTS_FILE") or DEFAULT_EVENTS_FILE
    key = (path, os.getcwd())
    if key not in _stores:
        _stores[key] = EventsStore(path)
    return _stores[key]
