"""Editing the events file from forms, keeping what staff wrote by hand.

A change rewrites only the lines of the one entry (console/yaml_text.py), so the
file's header, comments, quotes and the other entries stay byte for byte; the entry
itself is written as ruamel.yaml's round trip writes it (the form's layout: titles
and descriptions on one line, double-quoted). Every change is checked with the
bot's own validation (``ofr.events.model.parse_events``) before the file is
replaced in one step; the running bot reloads it at its next question.
"""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from console.edits import version, write_atomically
from console.yaml_text import (
    appended,
    column_of,
    insert_after_line,
    insert_lines,
    item_span,
    last_leaf,
    line_of,
    lines,
    read,
    replace_lines,
    replace_spans,
)
from ofr.events.model import BERLIN, Event, EventsFileError, parse_events
from ofr_tools.check_project import child, items, pairs, scalar

FORMATS = ("in_person", "online", "hybrid")
ID = re.compile(r"[a-z0-9][a-z0-9-]{2,79}")


class EventFormError(ValueError):
    """What is wrong with a form, field by field (name → one sentence)."""

    def __init__(self, problems: Dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


@dataclass
class EventForm:
    """The fields of the event form, as text."""

    id: str = ""
    title_en: str = ""
    title_de: str = ""
    start_date: str = ""
    start_time: str = ""
    end_date: str = ""
    end_time: str = ""
    format: str = "in_person"
    city: str = ""
    state: str = ""
    venue: str = ""
    topics: str = ""
    description_en: str = ""
    description_de: str = ""
    registration_url: str = ""
    status: str = "scheduled"

    @classmethod
    def from_request(cls, form: Mapping[str, str]) -> EventForm:
        return cls(
            **{
                name: (form.get(name) or "").strip()
                for name in cls.__dataclass_fields__
            }
        )

    @classmethod
    def from_event(cls, event: Event) -> EventForm:
        def day_and_time(value: Any) -> tuple[str, str]:
            if value is None:
                return "", ""
            if isinstance(value, datetime):
                local = value.astimezone(BERLIN)
                return local.date().isoformat(), local.strftime("%H:%M")
            return value.isoformat(), ""

        start_date, start_time = day_and_time(event.start)
        end_date, end_time = day_and_time(event.end)
        venue = event.venue
        return cls(
            id=event.id,
            title_en=event.title.en,
            title_de=event.title.de,
            start_date=start_date,
            start_time=start_time,
            end_date=end_date,
            end_time=end_time,
            format=event.format or "",
            city=event.city or "",
            state=event.state or "",
            venue=venue if isinstance(venue, str) else (venue.de if venue else ""),
            topics=", ".join(event.topics),
            description_en=event.description.en if event.description else "",
            description_de=event.description.de if event.description else "",
            registration_url=str(event.registration_url or ""),
            status=event.status,
        )

    @property
    def version(self) -> str:
        """What the form shows, hashed: an edit form carries it, and a save whose
        event has another version now is refused (someone changed it meanwhile)."""
        return version(dataclasses.asdict(self))

    def entry(self) -> Dict[str, Any]:
        """The event as it goes into the file; EventFormError names bad fields."""
        problems: Dict[str, str] = {}
        if not ID.fullmatch(self.id):
            problems["id"] = (
                "Use 3 to 80 lower-case letters, digits and '-', e.g. ofr-2027-hamburg."
            )
        for name in ("title_en", "title_de"):
            if not getattr(self, name):
                problems[name] = "Write the title in both languages."
        start = _moment(self.start_date, self.start_time, "start", problems)
        end = (
            _moment(self.end_date or self.start_date, self.end_time, "end", problems)
            if self.end_date or self.end_time
            else None
        )
        if self.format not in FORMATS:
            problems["format"] = "Choose in person, online or hybrid."
        if bool(self.description_en) != bool(self.description_de):
            problems["description_de" if self.description_en else "description_en"] = (
                "Write the description in both languages, or in neither."
            )
        if problems:
            raise EventFormError(problems)
        entry: Dict[str, Any] = {
            "id": self.id,
            "title": _both(self.title_en, self.title_de),
            "start": start,
        }
        if end is not None:
            entry["end"] = end
        entry["format"] = self.format
        for name in ("city", "state"):
            if getattr(self, name):
                entry[name] = getattr(self, name)
        if self.venue:
            entry["venue"] = DoubleQuotedScalarString(self.venue)
        topics = CommentedSeq(t.strip() for t in self.topics.split(",") if t.strip())
        if topics:
            topics.fa.set_flow_style()
            entry["topics"] = topics
        if self.description_en:
            entry["description"] = _both(self.description_en, self.description_de)
        if self.registration_url:
            entry["registration_url"] = self.registration_url
        if self.status == "cancelled":
            entry["status"] = "cancelled"
        return entry


def _both(en: str, de: str) -> CommentedMap:
    """{en: "...", de: "..."} on one line, as the file's header shows it."""
    text = CommentedMap()
    text["en"], text["de"] = DoubleQuotedScalarString(en), DoubleQuotedScalarString(de)
    text.fa.set_flow_style()
    return text


def _moment(day: str, at: str, name: str, problems: Dict[str, str]) -> Any:
    try:
        when = date.fromisoformat(day)
    except ValueError:
        problems[f"{name}_date"] = "Give the day as YYYY-MM-DD, e.g. 2027-02-03."
        return None
    if not at:
        return when
    try:
        clock = time.fromisoformat(at)
    except ValueError:
        problems[f"{name}_time"] = (
            "Give the time as HH:MM, e.g. 10:00, or leave it empty."
        )
        return None
    return datetime.combine(when, clock, BERLIN).isoformat(timespec="minutes")


class EventsFile:
    """One events file, edited in place."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def _yaml() -> YAML:
        """A new round-trip reader and writer for each use: a ruamel ``YAML``
        object keeps state between calls and is not safe to share across threads."""
        reader = YAML()
        reader.preserve_quotes = True  # type: ignore[assignment]
        reader.width = 4096  # type: ignore[assignment]
        reader.indent(mapping=2, sequence=4, offset=2)
        return reader

    def events(self) -> List[Event]:
        return parse_events(self.path)

    def get(self, event_id: str) -> Optional[Event]:
        return next((e for e in self.events() if e.id == event_id), None)

    def add(self, form: EventForm) -> Event:
        entry = form.entry()
        source = read(self.path)
        document = yaml.compose(source)
        events = child(document, "events")
        if any(scalar(child(item, "id")) == entry["id"] for item in items(events)):
            raise EventFormError(
                {"id": "An event with this id exists: choose another."}
            )
        item, sequence = CommentedMap(entry), items(events)
        if sequence:  # after the last one, with a blank line between
            column = column_of(source, sequence[-1].start_mark.index) - 2
            _, end = item_span(source, document, "events", len(sequence) - 1)
            after = insert_lines(source, end, "\n" + self._dumped(item, column))
        elif events is not None:  # "events:" with nothing (or []) after it
            key = next(k for k, v in pairs(document) if v is events)
            line = line_of(source, key.start_mark.index)
            text = "events:\n\n" + self._dumped(item, 2)
            after = replace_lines(source, line, line + 1, text)
        else:
            after = appended(source, "events:\n\n" + self._dumped(item, 2))
        return self._save(after, entry["id"])

    def update(self, event_id: str, form: EventForm) -> Event:
        """Change an event; its id stays (subscribers and calendars know it by it).
        The entry is written anew as the form writes it, with the fields the form
        does not show (kind, date_precision, source) as they were."""
        form.id = event_id
        entry = form.entry()
        source = read(self.path)
        document = yaml.compose(source)
        number, node = self._entry(document, event_id)
        first, end = item_span(source, document, "events", number)
        own = "".join(lines(source)[first:end]).replace("\r\n", "\n")
        item = self._yaml().load("events:\n" + own)["events"][0]
        extra = {k: item[k] for k in item if k in ("kind", "date_precision", "source")}
        for key in list(item):
            del item[key]
        for key, value in {**entry, **extra}.items():
            item[key] = value
        column = column_of(source, node.start_mark.index) - 2
        after = replace_lines(source, first, end, self._dumped(item, column))
        return self._save(after, event_id)

    def cancel(self, event_id: str) -> Event:
        """``status: cancelled``: the value replaced, or a line after the entry's last."""
        source = read(self.path)
        _, node = self._entry(yaml.compose(source), event_id)
        status = child(node, "status")
        if status is not None:
            span = (status.start_mark.index, status.end_mark.index, "cancelled")
            after = replace_spans(source, [span])
        else:
            indent = " " * column_of(source, node.start_mark.index)
            line = f"\n{indent}status: cancelled"
            after = insert_after_line(source, last_leaf(node), line)
        return self._save(after, event_id)

    @staticmethod
    def _entry(document: Optional[yaml.Node], event_id: str) -> Tuple[int, yaml.Node]:
        """The entry's place in the list and its node; KeyError if there is none."""
        for number, node in enumerate(items(child(document, "events"))):
            if scalar(child(node, "id")) == event_id:
                return number, node
        raise KeyError(event_id)

    def _dumped(self, item: CommentedMap, column: int) -> str:
        """``item`` as an entry of the list, its dash at ``column``."""
        out = io.StringIO()
        self._yaml().dump({"events": [item]}, out)
        dumped = lines(out.getvalue())[1:]  # without "events:"
        return "".join(
            " " * column + line[2:] if line.startswith("  ") else line
            for line in dumped
        )

    def _save(self, text: str, event_id: str) -> Event:
        """Check the whole file as the bot will read it, then replace it."""
        events: List[Event] = []

        def check(written: Path) -> None:
            try:
                events.extend(parse_events(written))
            except EventsFileError as error:
                raise EventFormError(
                    {"file": "; ".join(p.message for p in error.problems)}
                ) from error

        write_atomically(self.path, text, check)
        return next(e for e in events if e.id == event_id)
