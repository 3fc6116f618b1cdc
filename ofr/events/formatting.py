"""Write events for a person: dates in Berlin time and in the conversation's language."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import List, Optional

from babel.dates import format_date, format_datetime

from ofr.events.event_filter import EventFilter
from ofr.events.model import BERLIN, Event, localized
from ofr.events.query import RECENT_LABEL
from ofr.messages import message

_DAY = {"en": "EEEE, d MMMM y", "de": "EEEE, d. MMMM y"}
_MONTH = "LLLL y"


def _time(moment: datetime, language: str) -> str:
    return format_datetime(moment.astimezone(BERLIN), "HH:mm", locale=language)


def format_moment(moment: datetime, language: str) -> str:
    """'Tuesday, 2 February 2027, 10:00' / 'Dienstag, 2. Februar 2027, 10:00 Uhr'."""
    local = moment.astimezone(BERLIN)
    day = format_date(local.date(), _DAY[language], locale=language)
    suffix = " Uhr" if language == "de" else ""
    return f"{day}, {_time(local, language)}{suffix}"


def when(event: Event, language: str) -> str:
    """'Wednesday, 3 February 2027, 10:00–16:00' / 'Mittwoch, 3. Februar 2027, 10:00–16:00 Uhr'."""
    if event.date_precision == "year":
        return str(event.start.year)
    if event.date_precision == "month":
        return format_date(event.start, _MONTH, locale=language)
    start = event.starts_at
    if event.all_day:
        last_day = (event.ends_at - timedelta(days=1)).date()
        first = format_date(start.date(), _DAY[language], locale=language)
        if last_day == start.date():
            return first
        return f"{first} – {format_date(last_day, _DAY[language], locale=language)}"
    end = event.ends_at
    first = format_date(start.date(), _DAY[language], locale=language)
    suffix = " Uhr" if language == "de" else ""
    if event.end is None:
        return f"{first}, {_time(start, language)}{suffix}"
    if end.date() == start.date():
        return f"{first}, {_time(start, language)}–{_time(end, language)}{suffix}"
    last = format_date(end.date(), _DAY[language], locale=language)
    return (
        f"{first}, {_time(start, language)}{suffix} – "
        f"{last}, {_time(end, language)}{suffix}"
    )


def where(event: Event, language: str) -> str:
    """Place and format, e.g. 'Hamburg, Rathaus (in person)' or 'online'."""
    fmt = message(f"format_{event.format}", language) if event.format else ""
    venue = localized(event.venue, language)
    place = ", ".join(part for part in (event.city, venue) if part)
    if event.format == "online" or not place:
        return fmt
    return f"{place} ({fmt})" if fmt else place


def line(event: Event, language: str, number: Optional[int] = None) -> str:
    """One event in a list."""
    prefix = f"{number}. " if number is not None else "• "
    place = where(event, language)
    parts = [event.title.get(language), when(event, language)] + (
        [place] if place else []
    )
    return prefix + " — ".join(parts)


def details(
    event: Event,
    language: str,
    calendar_url: Optional[str] = None,
    registration: bool = False,
) -> str:
    """All we know about one event; ``registration`` says how to register when the
    event has no registration link (through the IOM contact)."""
    lines: List[str] = [event.title.get(language), ""]
    if event.cancelled:
        lines += [message("event_cancelled", language), ""]
    lines.append(message("label_when", language) + " " + when(event, language))
    place = where(event, language)
    if place:
        lines.append(message("label_where", language) + " " + place)
    if event.description:
        lines += ["", event.description.get(language)]
    if event.registration_url:
        lines += [
            "",
            message("label_registration", language) + " " + str(event.registration_url),
        ]
    elif registration:
        lines += ["", message("registration_by_contact", language)]
    if calendar_url:
        lines.append(message("label_calendar", language) + " " + calendar_url)
    return "\n".join(lines)


def topic_label(topic: str, language: str) -> str:
    """A topic key as a reader sees it ("women" → "Frauen")."""
    name = "topic_" + re.sub(r"\W+", "_", topic).strip("_")
    try:
        return message(name, language)
    except KeyError:
        return topic


def describe(wanted: EventFilter, language: str) -> str:
    """' in München (im Dezember) (online)' — the filter as part of a sentence."""
    parts = []
    if wanted.city or wanted.state:
        parts.append(message("filter_in", language, place=wanted.city or wanted.state))
    if wanted.topic:
        parts.append(
            message("filter_about", language, topic=topic_label(wanted.topic, language))
        )
    if wanted.period:
        label = wanted.period.label
        if label == RECENT_LABEL:
            label = message("period_recent", language)
        parts.append(message("filter_period", language, period=label))
    if wanted.format:
        fmt = message(f"format_{wanted.format}", language)
        parts.append(message("filter_format", language, format=fmt))
    return "".join(parts)


def aspect_answer(
    event: Event, aspect: str, language: str, past: bool = False
) -> Optional[str]:
    """One line that answers the part of the event asked about ("what time?");
    ``past``: the event is over ("took place", "fand statt")."""
    title = event.title.get(language)
    tense = "_past" if past else ""
    if aspect == "time":
        return message("aspect_time", language, title=title, when=when(event, language))
    if aspect == "place":
        place = where(event, language)
        return (
            message(f"aspect_place{tense}", language, title=title, where=place)
            if place
            else None
        )
    if aspect == "format" and event.format:
        fmt = message(f"format_{event.format}", language)
        return message(f"aspect_format{tense}", language, title=title, format=fmt)
    if aspect == "fee":
        return message("aspect_fee", language, title=title)
    if aspect == "registration":
        if event.registration_url:
            url = str(event.registration_url)
            return message("aspect_registration", language, title=title, url=url)
        return message("aspect_no_registration", language, title=title)
    return None
