"""Actions that answer questions about OFR events from the events file."""

from __future__ import annotations

import difflib
import json
import re
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import event_format, settings
from actions.event_index import EventIndex
from actions.event_search import (
    EventFilter,
    matches,
    normalise_format,
    search,
    today_in_berlin,
    upcoming,
)
from actions.events_store import Event, default_store
from actions.language import conversation_language
from actions.messages import message
from actions.periods import parse_period
from actions.places import canonical as place
from actions.places import fold

PAST_LIMIT = 8


def now() -> datetime:
    """The current time; tests replace it to fix "today"."""
    return datetime.now(timezone.utc)


def _entity(tracker: Tracker, name: str) -> Optional[str]:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value not in (None, "") else None


def _button(
    title: str, intent: str, entities: Optional[Dict[str, Any]] = None
) -> Dict[str, str]:
    payload = f"/{intent}" + (
        json.dumps(entities, ensure_ascii=False) if entities else ""
    )
    return {"title": title, "payload": payload}


def _details_button(event: Event, language: str) -> Dict[str, str]:
    title = event.title.get(language)
    if len(title) > 40:
        title = title[:39].rstrip() + "…"
    return _button(title, "ask_event_details", {"event_id": event.id})


def describe(wanted: EventFilter, language: str) -> str:
    """' in München (im Dezember) (online)' — the filter as part of a sentence."""
    parts = []
    if wanted.city or wanted.state:
        parts.append(message("filter_in", language, place=wanted.city or wanted.state))
    if wanted.topic:
        parts.append(message("filter_about", language, topic=wanted.topic))
    if wanted.period:
        parts.append(message("filter_period", language, period=wanted.period.label))
    if wanted.format:
        fmt = message(f"format_{wanted.format}", language)
        parts.append(message("filter_format", language, format=fmt))
    return "".join(parts)


def filter_from_message(
    tracker: Tracker, base: EventFilter, language: str
) -> EventFilter:
    """Apply the entities of the latest message to ``base``."""
    changes: Dict[str, Any] = {}
    city, state = place(_entity(tracker, "city")), place(_entity(tracker, "state"))
    if city:
        changes["city"] = city
    if state:
        changes["state"] = state
    fmt = normalise_format(_entity(tracker, "format"))
    if fmt:
        changes["format"] = fmt
    topic = _entity(tracker, "topic")
    if topic:
        changes["topic"] = topic
    phrase = _entity(tracker, "date")
    if phrase:
        today = today_in_berlin(now())
        prefer = "past" if base.scope == "past" else "future"
        period = parse_period(phrase, language, today, prefer)
        if period:
            changes["period"] = period
            if period.end <= today:
                changes["scope"] = "past"
    return base.changed(**changes)


class ActionSearchEvents(Action):
    """List upcoming events matching the question, a few at a time."""

    def name(self) -> str:
        return "action_search_events"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[EventType]:
        language = conversation_language(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        previous = EventFilter.from_slot(tracker.get_slot("event_filter"))
        base = previous if intent == "inform_event_filter" else EventFilter()
        wanted = filter_from_message(tracker, base, language)
        if wanted.scope == "past":
            return answer_past(dispatcher, wanted, language)
        return list_upcoming(dispatcher, wanted, language, offset=0)


class ActionMoreEvents(Action):
    """Show the next page of the current events search."""

    def name(self) -> str:
        return "action_more_events"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[EventType]:
        language = conversation_language(tracker)
        wanted = EventFilter.from_slot(tracker.get_slot("event_filter"))
        offset = int(tracker.get_slot("event_offset") or 0)
        if wanted.scope == "past":
            return answer_past(dispatcher, wanted, language)
        return list_upcoming(dispatcher, wanted, language, offset=offset)


def list_upcoming(
    dispatcher: CollectingDispatcher, wanted: EventFilter, language: str, offset: int
) -> List[EventType]:
    events = default_store().index()
    moment = now()
    found = search(events, wanted, moment)
    slots = [SlotSet("event_filter", wanted.to_slot())]
    where = describe(wanted, language)
    if not found:
        return (
            slots
            + [SlotSet("event_offset", 0)]
            + _nothing_upcoming(dispatcher, wanted, language, events, moment)
        )
    if offset >= len(found):
        dispatcher.utter_message(
            text=message("events_no_more", language, filter=where),
            buttons=[_button(message("button_past", language), "ask_past_events")],
        )
        return slots
    page = found[offset : offset + settings.EVENTS_PAGE_SIZE]
    header = (
        message(
            "events_found", language, filter=where, shown=len(page), total=len(found)
        )
        if offset == 0
        else message(
            "events_more_header",
            language,
            filter=where,
            first=offset + 1,
            last=offset + len(page),
            total=len(found),
        )
    )
    lines = [event_format.line(e, language, offset + i + 1) for i, e in enumerate(page)]
    buttons = [_details_button(e, language) for e in page]
    if offset + len(page) < len(found):
        buttons.append(_button(message("button_more", language), "more_events"))
    dispatcher.utter_message(text="\n".join([header, *lines]), buttons=buttons)
    return slots + [SlotSet("event_offset", offset + len(page))]


def _nothing_upcoming(
    dispatcher: CollectingDispatcher,
    wanted: EventFilter,
    language: str,
    events: EventIndex,
    moment: datetime,
) -> List[EventType]:
    coming = upcoming(events, moment)
    if not coming:
        finished = events.events[::-1]
        if not finished:
            dispatcher.utter_message(text=message("events_none_at_all", language))
            return []
        text = message(
            "events_none_upcoming",
            language,
            latest=event_format.line(finished[0], language),
        )
        if not wanted.is_empty():
            text = (
                message(
                    "events_none_matching", language, filter=describe(wanted, language)
                )
                + " "
                + text
            )
        dispatcher.utter_message(
            text=text,
            buttons=[
                _button(message("button_past", language), "ask_past_events"),
                _button(message("button_contact", language), "ask_contact"),
            ],
        )
        return []
    buttons = [_button(message("button_all_upcoming", language), "ask_events")]
    if wanted.format != "online" and any(e.format == "online" for e in coming):
        buttons.append(
            _button(
                message("button_online", language), "ask_events", {"format": "online"}
            )
        )
    dispatcher.utter_message(
        text=message(
            "events_none_matching", language, filter=describe(wanted, language)
        )
        + " "
        + message("events_alternatives", language),
        buttons=buttons,
    )
    return []


def answer_past(
    dispatcher: CollectingDispatcher, wanted: EventFilter, language: str
) -> List[EventType]:
    past_filter = wanted.changed(scope="past")
    found = search(default_store().index(), past_filter, now())
    slots = [SlotSet("event_filter", past_filter.to_slot()), SlotSet("event_offset", 0)]
    where = describe(past_filter, language)
    if not found:
        dispatcher.utter_message(
            text=message("past_none_matching", language, filter=where),
            buttons=[_button(message("button_past", language), "ask_past_events")],
        )
        return slots
    shown = found[:PAST_LIMIT]
    blocks = [message("past_found", language, filter=where)]
    for event in shown:
        text = event_format.line(event, language)
        if event.description and len(shown) <= 3:
            text += "\n  " + event.description.get(language)
        blocks.append(text)
    dispatcher.utter_message(
        text="\n".join(blocks),
        buttons=[_details_button(e, language) for e in shown[:4]],
    )
    return slots


class ActionPastEvents(Action):
    """Answer "what did OFR do in 2018?" from the events file."""

    def name(self) -> str:
        return "action_past_events"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[EventType]:
        language = conversation_language(tracker)
        wanted = filter_from_message(tracker, EventFilter(scope="past"), language)
        return answer_past(dispatcher, wanted, language)


def _title_words(text: str) -> set:
    return {fold(w) for w in re.findall(r"\w+", text) if len(w) > 3}


def _by_title(text: str, events: List[Event]) -> List[Event]:
    """Events whose title shares distinctive words with ``text``."""
    words = _title_words(text)
    scored = []
    for event in events:
        title_words = _title_words(f"{event.title.en} {event.title.de}")
        hits = sum(
            1
            for w in words
            if any(
                difflib.SequenceMatcher(None, w, t).ratio() > 0.85 for t in title_words
            )
        )
        if hits >= 2:
            scored.append((hits, event))
    best = max((hits for hits, _ in scored), default=0)
    return [event for hits, event in scored if hits == best]


class ActionEventDetails(Action):
    """Time, place, format, description and links of one event."""

    def name(self) -> str:
        return "action_event_details"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[EventType]:
        language = conversation_language(tracker)
        store = default_store()
        index = store.index()
        events = index.events
        moment = now()
        event_id = _entity(tracker, "event_id")
        candidates: List[Event] = []
        if event_id:
            found = store.get(event_id)
            candidates = [found] if found else []
        else:
            text = tracker.latest_message.get("text") or ""
            candidates = _by_title(text, events)
            wanted = filter_from_message(tracker, EventFilter(scope="past"), language)
            if not candidates and not wanted.is_empty():
                pool = [e for e in events if e.kind == "event"] or events
                # Past or upcoming alike: the user names one event.
                candidates = [e for e in pool if matches(e, wanted)]
        if len(candidates) == 1:
            event = candidates[0]
            is_upcoming = event.ends_at > moment
            text = event_format.details(
                event,
                language,
                settings.calendar_url(event.id) if is_upcoming else None,
            )
            if not is_upcoming:
                text += "\n\n" + message("event_past_note", language)
            dispatcher.utter_message(text=text)
            if is_upcoming:
                # Channels that can send files (Telegram) attach the .ics itself.
                dispatcher.utter_message(
                    json_message={"ics_event_id": event.id, "language": language}
                )
            return []
        if candidates:
            dispatcher.utter_message(
                text=message("event_pick_one", language),
                buttons=[_details_button(e, language) for e in candidates[:6]],
            )
            return []
        listed = upcoming(index, moment) or events[::-1]
        dispatcher.utter_message(
            text=message("event_not_found", language),
            buttons=[_details_button(e, language) for e in listed[:6]],
        )
        return []
