"""The events file staff edit: its schema and validation.

Plain Python (no Rasa imports): the action server, the Rasa server's calendar route
and ``make validate`` share it. A file that cannot be used raises EventsFileError,
whose ``problems`` say where (file, line or entry, field) and what to do; its text
is those problems joined, for logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional, Sequence, Union
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    Extra,
    HttpUrl,
    PydanticValueError,
    ValidationError,
    constr,
    root_validator,
    validator,
)

BERLIN = ZoneInfo("Europe/Berlin")

if TYPE_CHECKING:  # pydantic's constrained types are not types to mypy
    NonEmpty = str
    EventId = str
else:
    NonEmpty = constr(strip_whitespace=True, min_length=1)
    EventId = constr(regex=r"^[a-z0-9][a-z0-9-]*$")


class LocalizedText(BaseModel):
    """A text in both languages; neither may be empty."""

    en: NonEmpty
    de: NonEmpty

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
    """One entry of ``events:``; see docs/staff.md, "Add an event"."""

    id: EventId
    title: LocalizedText
    start: Union[datetime, date]
    end: Optional[Union[datetime, date]] = None
    # "event" (one date) or "series" (several meetings, e.g. one year's dialogue series)
    kind: Literal["event", "series"] = "event"
    # How precisely the dates are known: "day", "month" or "year".
    date_precision: Literal["day", "month", "year"] = "day"
    format: Optional[Literal["in_person", "online", "hybrid"]] = None
    city: Optional[NonEmpty] = None
    state: Optional[NonEmpty] = None
    # One text for both languages, or {en: ..., de: ...} like the title.
    venue: Optional[Union[LocalizedText, NonEmpty]] = None
    topics: List[NonEmpty] = []
    description: Optional[LocalizedText] = None
    registration_url: Optional[HttpUrl] = None
    # "cancelled" keeps a called-off event in the file: subscribers get a notice,
    # calendar feeds mark it cancelled, and the bot lists it no more.
    status: Literal["scheduled", "cancelled"] = "scheduled"
    source: Optional[str] = None

    class Config:
        extra = Extra.forbid

    @validator("registration_url", pre=True)
    def _web_address(cls, value: Any) -> Any:
        if value is None:
            return value
        problem = web_address_problem(value)
        if problem:
            raise ValueError(problem)
        return value

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
    def cancelled(self) -> bool:
        return self.status == "cancelled"

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


# Characters no link means: they end an HTML attribute, a Markdown link or a line.
_NOT_IN_URLS = frozenset("\"'<>`\\{}|^")


def web_address_problem(value: Any) -> Optional[str]:
    """Why ``value`` is no usable web address (http/https, a host with a domain,
    nothing that could end an attribute or a line), or None when it is one."""
    usage = "write it like https://example.org/anmeldung"
    if not isinstance(value, str):
        return f"must be a web address: {usage}"
    if any(c.isspace() or ord(c) < 32 or c in _NOT_IN_URLS for c in value):
        return (
            "must be a web address without spaces, quotes, < > or backslashes: "
            f"{usage} (encode such characters, e.g. %20 for a space)"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        has_user = parts.username is not None or parts.password is not None
        if parts.port == 0:  # ValueError for a port that is no number
            return f"must name a web site such as example.org: {usage}"
    except ValueError:
        return f"is not a web address: {usage}"
    if parts.scheme not in ("http", "https"):
        return f"must start with https:// (or http://): {usage}"
    if "." not in host.strip(".") or has_user:
        return f"must name a web site such as example.org: {usage}"
    return None


class EventsFile(BaseModel):
    events: List[Event] = []

    class Config:
        extra = Extra.forbid

    @validator("events")
    def _unique_ids(cls, events: List[Event]) -> List[Event]:
        seen: Dict[str, int] = {}
        for index, event in enumerate(events):
            if event.id in seen:
                raise DuplicateIdError(
                    event_id=event.id, first=seen[event.id] + 1, entry=index + 1
                )
            seen[event.id] = index
        return events


class DuplicateIdError(PydanticValueError):
    code = "duplicate_id"
    msg_template = "duplicate id '{event_id}' (also entry {first})"


@dataclass(frozen=True)
class EventsFileProblem:
    """One problem of the events file, where it is and what it is."""

    path: str
    message: str  # what is wrong and, where it helps, what to do
    line: Optional[int] = None  # for YAML syntax errors
    entry: Optional[int] = None  # 1-based position in ``events:``
    event_id: Optional[str] = None
    field: str = ""  # e.g. "title.de"; "events" for the list itself
    duplicate_id: Optional[str] = None  # an id used twice ...
    duplicate_entries: Sequence[int] = ()  # ... by these entries (1-based)

    def __str__(self) -> str:
        where = self.path
        if self.line:
            where += f", line {self.line}"
        if self.entry is not None:
            where += f", entry {self.entry}"
            where += f" (id {self.event_id})" if self.event_id else ""
        return (
            f"{where}: {self.field + ' ' if self.field else ''}{self.message}".strip()
        )


class EventsFileError(Exception):
    """The events file cannot be used; ``problems`` say where and how to fix it."""

    def __init__(self, problems: Sequence[EventsFileProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))


def _problems(
    path: Path, raw: Dict[str, Any], error: ValidationError
) -> List[EventsFileProblem]:
    problems = []
    entries = raw.get("events") if isinstance(raw, dict) else None
    for item in error.errors():
        location = list(item["loc"])
        entry = ident = None
        if (
            len(location) >= 2
            and location[0] == "events"
            and isinstance(location[1], int)
        ):
            index = location[1]
            raw_entry = entries[index] if isinstance(entries, list) else None
            ident = raw_entry.get("id") if isinstance(raw_entry, dict) else None
            entry = index + 1
            location = location[2:]
        field = ".".join(str(part) for part in location if part != "__root__")
        message = item["msg"]
        if message == "field required":
            message = "is missing"
        elif message.startswith("unexpected value; permitted"):
            message = "must be one of " + message.split("permitted: ", 1)[1]
        elif message == "extra fields not permitted":
            message = "is not a known field (check the spelling)"
        duplicate: Dict[str, Any] = {}
        if item["type"] == "value_error.duplicate_id":
            context = item["ctx"]
            duplicate = {
                "duplicate_id": context["event_id"],
                "duplicate_entries": (context["first"], context["entry"]),
            }
        problems.append(
            EventsFileProblem(
                str(path),
                message,
                entry=entry,
                event_id=ident,
                field=field,
                **duplicate,
            )
        )
    return problems


def parse_events(path: Path) -> List[Event]:
    """Read and validate ``path``; raise EventsFileError with a readable message."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise _one_problem(
            path, "the events file does not exist; create it or set OFR_EVENTS_FILE."
        ) from error
    except OSError as error:
        raise _one_problem(path, f"cannot be read ({error.strerror}).") from error
    try:
        # libyaml's C loader when available: 10x faster on large files, same safety.
        raw = (
            yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        )
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise _one_problem(
            path,
            f"{problem} (check indentation and quotes).",
            line=mark.line + 1 if mark else None,
        ) from error
    if not isinstance(raw, dict):
        raise _one_problem(path, "must start with 'events:' followed by a list.")
    try:
        return EventsFile.parse_obj(raw).events
    except ValidationError as error:
        raise EventsFileError(_problems(path, raw, error)) from error


def _one_problem(
    path: Path, message: str, line: Optional[int] = None
) -> EventsFileError:
    return EventsFileError([EventsFileProblem(str(path), message, line=line)])
