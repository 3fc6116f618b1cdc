"""Actions that answer questions about OFR events from the events file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ReplyAction
from ofr import settings
from ofr.dialogue.state import SHOWN_SLOT, shown_from_slot, shown_to_slot
from ofr.events import formatting as event_format
from ofr.events.event_filter import EventFilter, filter_key, matches
from ofr.events.formatting import describe, topic_label
from ofr.events.index import EventIndex
from ofr.events.model import Event
from ofr.events.places import fold
from ofr.events.query import read_question
from ofr.events.reminders import can_remind
from ofr.events.search import search, today_in_berlin, upcoming
from ofr.events.store import default_store
from ofr.messages import message

PAST_LIMIT = 8
# At most this many found events are remembered for "the Cologne one".
MAX_LISTED = 50
# The Telegram channel's name, and the prefixes of the buttons its alert service
# answers itself (bot/channels/telegram/alerts.py; actions do not import bot/).
TELEGRAM = "telegram"
SUBSCRIBE_PREFIX = "sub:"
REMIND_PREFIX = "remind:"


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


def shown(
    events: List[Event],
    kind: str,
    year: Optional[int] = None,
    listed: Sequence[Event] = (),
) -> List[EventType]:
    """Remember what this answer showed, in order: follow-ups refer to it
    ("the second one", "what time?", "und die danach?"; ofr/dialogue)."""
    value = shown_to_slot(
        [e.id for e in events], kind, year, [e.id for e in listed[:MAX_LISTED]]
    )
    return [SlotSet(SHOWN_SLOT, value)]


def _one_year(events: List[Event], wanted: EventFilter) -> Optional[int]:
    """The year a history answer is about, when it is about one."""
    period = wanted.period
    if (
        period is not None
        and period.start.year == (period.end - timedelta(days=1)).year
    ):
        return period.start.year
    years = {e.start.year for e in events}
    return years.pop() if len(years) == 1 else None


def _past_button(language: str) -> Dict[str, str]:
    """The usual follow-up where upcoming events do not (or no longer) answer."""
    return _button(message("button_past", language), "ask_past_events")


def _details_button(event: Event, language: str) -> Dict[str, str]:
    title = event.title.get(language)
    if len(title) > 40:
        title = title[:39].rstrip() + "…"
    return _button(title, "ask_event_details", {"event_id": event.id})


# Topics that are also one of the partners' programmes: the bot can answer about them.
PROGRAMME_INTENTS = {
    "perspektive heimat": "ask_perspektive_heimat",
    "reag/garp": "ask_reag_garp",
    "starthilfeplus": "ask_starthilfeplus",
}


def wanted_filter(
    tracker: Tracker, language: str, intent: Optional[str] = None
) -> EventFilter:
    """The filter the latest message asks for, read from its whole text."""
    latest = tracker.latest_message or {}
    intent = intent or (latest.get("intent") or {}).get("name")
    return read_question(
        question_text(tracker),
        language,
        today_in_berlin(now()),
        previous=EventFilter.from_slot(tracker.get_slot("event_filter")),
        intent=intent,
        entities=latest.get("entities") or [],
    )


def full_text(latest: Dict[str, Any]) -> str:
    """The message as the user wrote it (a long one is classified by its question)."""
    return str(latest.get("full_text") or latest.get("text") or "")


def question_text(tracker: Tracker) -> str:
    """The question to read: for a topic button pressed after "did you mean …?",
    the question the user had typed before."""
    text = full_text(tracker.latest_message or {})
    if not text.startswith("/"):
        return text
    users = [e for e in tracker.events if e.get("event") == "user"]
    if len(users) >= 2:
        earlier = users[-2]
        parse_data = earlier.get("parse_data") or {}
        if (parse_data.get("intent") or {}).get("name") == "nlu_fallback":
            return full_text(parse_data) or str(earlier.get("text") or "")
    return text


def answer(
    dispatcher: CollectingDispatcher, wanted: EventFilter, language: str
) -> List[EventType]:
    """The answer for ``wanted``'s direction: a list, the next, the past, the latest."""
    if wanted.scope == "next":
        return answer_next(dispatcher, wanted, language)
    if wanted.scope == "latest":
        return answer_latest(dispatcher, wanted, language)
    if wanted.scope == "past":
        return answer_past(dispatcher, wanted, language)
    return list_upcoming(dispatcher, wanted, language, offset=0)


class ActionSearchEvents(ReplyAction):
    """List upcoming events matching the question, a few at a time."""

    action_name = "action_search_events"
    answers_questions = True
    # The intent the question is read as (None: the one NLU gave the message).
    read_as: Optional[str] = None

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> List[EventType]:
        wanted = wanted_filter(tracker, language, intent=self.read_as)
        return answer(dispatcher, wanted, language)


class ActionPastEvents(ActionSearchEvents):
    """Answer "what did OFR do in 2018?" from the events file."""

    action_name = "action_past_events"
    read_as = "ask_past_events"


class ActionMoreEvents(ReplyAction):
    """Show the next page of the current events search."""

    action_name = "action_more_events"

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> List[EventType]:
        wanted = EventFilter.from_slot(tracker.get_slot("event_filter"))
        offset = int(tracker.get_slot("event_offset") or 0)
        if wanted.looks_back:
            return answer_past(dispatcher, wanted, language)
        return list_upcoming(
            dispatcher, wanted.changed(scope="upcoming"), language, offset=offset
        )


def _find_upcoming(
    dispatcher: CollectingDispatcher, wanted: EventFilter, language: str
) -> Tuple[List[Event], List[EventType]]:
    """The upcoming events matching ``wanted``, and the slots that keep the search.

    With none found, the "nothing upcoming" answer is sent here and the slots reset the
    page, so that every listing of upcoming events only handles the found ones.
    """
    events = default_store().index()
    moment = now()
    found = search(events, wanted, moment)
    slots: List[EventType] = [SlotSet("event_filter", wanted.to_slot())]
    if not found:
        named = _nothing_upcoming(dispatcher, wanted, language, events, moment)
        slots += [SlotSet("event_offset", 0)]
        # The last event, when the answer names it, is in view: "wann genau war die
        # letzte?" asks about it.
        if named is not None:
            slots += shown([named], "latest", named.start.year)
        else:
            slots += shown([], "list")
    return found, slots


def list_upcoming(
    dispatcher: CollectingDispatcher, wanted: EventFilter, language: str, offset: int
) -> List[EventType]:
    found, slots = _find_upcoming(dispatcher, wanted, language)
    if not found:
        return slots
    where = describe(wanted, language)
    if offset >= len(found):
        dispatcher.utter_message(
            text=message("events_no_more", language, filter=where),
            buttons=[_past_button(language)],
        )
        return slots
    page = found[offset : offset + settings.current().events_page_size]
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
    if offset == 0:
        feed = settings.current().feed_url(wanted.feed_filters(), language)
        lines += ["", message("label_feed", language) + " " + feed]
    buttons = [_details_button(e, language) for e in page]
    if offset + len(page) < len(found):
        buttons.append(_button(message("button_more", language), "more_events"))
    dispatcher.utter_message(text="\n".join([header, *lines]), buttons=buttons)
    # Numbered as shown so far, so that "the fifth" on the second page is number 5.
    return (
        slots
        + [SlotSet("event_offset", offset + len(page))]
        + shown(found[: offset + len(page)], "list", listed=found)
    )


def _programme_buttons(wanted: EventFilter, language: str) -> List[Dict[str, str]]:
    """For a topic that is a programme: a button to the programme's own answer."""
    intent = PROGRAMME_INTENTS.get(wanted.topic or "")
    if not intent:
        return []
    name = topic_label(wanted.topic or "", language)
    return [_button(message("button_programme", language, programme=name), intent)]


def _nothing_upcoming(
    dispatcher: CollectingDispatcher,
    wanted: EventFilter,
    language: str,
    events: EventIndex,
    moment: datetime,
) -> Optional[Event]:
    """Say that nothing matching is coming up; the last event, if the answer names it."""
    coming = upcoming(events, moment)
    programme = _programme_buttons(wanted, language)
    if not coming:
        finished = events.events[::-1]
        if not finished:
            dispatcher.utter_message(text=message("events_none_at_all", language))
            return None
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
            buttons=programme
            + [
                _past_button(language),
                _button(message("button_contact", language), "ask_contact"),
            ],
        )
        return finished[0]
    buttons = programme + [
        _button(message("button_all_upcoming", language), "ask_events")
    ]
    if wanted.format != "online" and any(e.format == "online" for e in coming):
        buttons.append(
            _button(
                message("button_online", language), "ask_events", {"format": "online"}
            )
        )
    follow = "topic_programme_offer" if programme else "events_alternatives"
    dispatcher.utter_message(
        text=message(
            "events_none_matching", language, filter=describe(wanted, language)
        )
        + " "
        + message(follow, language),
        buttons=buttons,
    )
    return None


def answer_next(
    dispatcher: CollectingDispatcher, wanted: EventFilter, language: str
) -> List[EventType]:
    """The soonest matching event in full, with the later ones a tap away."""
    listing = wanted.changed(scope="upcoming")
    found, slots = _find_upcoming(dispatcher, listing, language)
    if not found:
        return slots
    event = found[0]
    header = message("next_found", language, filter=describe(listing, language))
    text = event_format.details(
        event, language, settings.current().calendar_url(event.id), registration=True
    )
    buttons = []
    if len(found) > 1:
        buttons.append(_button(message("button_next_events", language), "more_events"))
    dispatcher.utter_message(text=header + "\n\n" + text, buttons=buttons)
    _attach_ics(dispatcher, event, language)
    return slots + [SlotSet("event_offset", 1)] + shown([event], "next", listed=found)


@dataclass(frozen=True)
class _Past:
    """A question turned to the past, and what answers it."""

    index: EventIndex
    filter: EventFilter  # the question's filter with the scope "past"
    found: List[Event]  # newest first
    # Keep the filter; the page is reset, since past answers are not paged with "more".
    slots: List[EventType]
    where: str  # the filter in words

    def none_text(self, language: str) -> str:
        """No past event matches: say so, and which years the events file covers."""
        if not len(self.index):
            return message("events_none_at_all", language)
        return message(
            "past_none_matching",
            language,
            filter=self.where,
            years=known_years(self.index),
        )


def _find_past(wanted: EventFilter, language: str) -> _Past:
    index = default_store().index()
    past_filter = wanted.changed(scope="past")
    return _Past(
        index,
        past_filter,
        search(index, past_filter, now()),
        [SlotSet("event_filter", past_filter.to_slot()), SlotSet("event_offset", 0)],
        describe(past_filter, language),
    )


def known_years(index: EventIndex) -> str:
    """The years of the events in the file, e.g. "2018–2023" (never written into an
    answer text: staff add events, and the range changes with them)."""
    events = [event for event in index.events if not event.cancelled] or index.events
    if not events:
        return ""
    first = min(event.starts_at.year for event in events)
    last = max(event.ends_at.year for event in events)
    return str(first) if first == last else f"{first}–{last}"


def answer_latest(
    dispatcher: CollectingDispatcher, wanted: EventFilter, language: str
) -> List[EventType]:
    """The most recent matching past event."""
    past = _find_past(wanted, language)
    if not past.found:
        dispatcher.utter_message(
            text=past.none_text(language), buttons=[_past_button(language)]
        )
        return past.slots + shown([], "latest")
    event = past.found[0]
    text = (
        message("latest_found", language, filter=past.where)
        + "\n"
        + _past_block(event, language, with_description=True)
    )
    buttons = [_past_button(language)]
    dispatcher.utter_message(text=text, buttons=buttons)
    return past.slots + shown([event], "latest", event.start.year)


def _past_block(event: Event, language: str, with_description: bool) -> str:
    text = event_format.line(event, language)
    if event.description and with_description:
        text += "\n  " + event.description.get(language)
    return text


def answer_past(
    dispatcher: CollectingDispatcher, wanted: EventFilter, language: str
) -> List[EventType]:
    past = _find_past(wanted, language)
    past_filter = past.filter
    if not past.found:
        text = past.none_text(language)
        if past_filter.period is not None:
            # "Anything in Erfurt lately?" — say when the last one there was.
            earlier = search(past.index, past_filter.changed(period=None), now())
            if earlier:
                text += "\n\n" + message(
                    "past_latest_instead",
                    language,
                    filter=describe(past_filter.changed(period=None), language),
                )
                text += "\n" + _past_block(earlier[0], language, with_description=False)
        dispatcher.utter_message(
            text=text,
            buttons=_programme_buttons(past_filter, language)
            + [_past_button(language)],
        )
        return past.slots + shown([], "past", _one_year([], past_filter))
    listed = past.found[:PAST_LIMIT]
    blocks = [message("past_found", language, filter=past.where)]
    for event in listed:
        blocks.append(_past_block(event, language, with_description=len(listed) <= 3))
    dispatcher.utter_message(
        text="\n".join(blocks),
        buttons=[_details_button(e, language) for e in listed[:4]],
    )
    return past.slots + shown(listed, "past", _one_year(listed, past_filter))


# Words in almost every title: they name no particular event.
_COMMON_TITLE_WORDS = frozenset(
    fold(word)
    for word in (
        "option freiwillige rückkehr ofr event events meeting treffen veranstaltung "
        "return reintegration rückkehr voluntary freiwilliger freiwillige nachhaltiger "
        "sustainable network netzwerktreffen about with und and from for über"
    ).split()
)


@lru_cache(maxsize=4096)
def _title_words(text: str) -> frozenset:
    return (
        frozenset({fold(w)[:7] for w in re.findall(r"\w+", text) if len(w) > 3})
        - _COMMON_TITLE_WORDS
    )


def _by_title(text: str, events: List[Event]) -> List[Event]:
    """Events whose title shares two distinctive words (or word stems) with ``text``.

    One set intersection per event: the cost does not grow with the message's
    length times the title's, as a fuzzy match of every word pair would.
    """
    words = _title_words(text)
    if len(words) < 2:
        return []
    scored = []
    for event in events:
        hits = len(words & _title_words(f"{event.title.en} {event.title.de}"))
        if hits >= 2:
            scored.append((hits, event))
    best = max((hits for hits, _ in scored), default=0)
    return [event for hits, event in scored if hits == best]


class ActionEventDetails(ReplyAction):
    """Time, place, format, description and registration of one event."""

    action_name = "action_event_details"
    answers_questions = True

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> List[EventType]:
        store = default_store()
        index = store.index()
        moment = now()
        telegram = _on_telegram(tracker)
        aspect = _entity(tracker, "aspect")
        event_id = _entity(tracker, "event_id")
        if event_id:
            found = store.get(event_id)
            if found:
                return _tell_details(
                    dispatcher, found, language, moment, telegram, aspect
                )
        if aspect:
            # "What time?" with several events on screen: which of those.
            in_view = shown_from_slot(tracker.get_slot(SHOWN_SLOT))
            candidates = [
                e for e in (store.get(i) for i in (in_view.ids if in_view else ())) if e
            ]
            told = _tell_or_pick(
                dispatcher, candidates, language, moment, telegram, aspect
            )
            if told is not None:
                return told
        wanted = wanted_filter(tracker, language, intent="ask_event_details")
        text = question_text(tracker)
        coming = upcoming(index, moment)
        events = [e for e in index.events if e.kind == "event"] or index.events
        candidates = _by_title(text, events)
        if not candidates and not wanted.is_empty():
            candidates = [e for e in events if matches(e, wanted)]
        if not wanted.looks_back and (candidates or not wanted.is_empty()):
            ahead = [e for e in candidates if e.ends_at > moment]
            if not ahead:
                # Asked about an event to attend, and none is coming: say so.
                dispatcher.utter_message(
                    text=message(
                        "event_none_upcoming_named",
                        language,
                        filter=describe(wanted.changed(scope="upcoming"), language),
                    ),
                    buttons=[
                        _button(message("button_all_upcoming", language), "ask_events"),
                        _past_button(language),
                    ],
                )
                return []
            candidates = ahead
        told = _tell_or_pick(dispatcher, candidates, language, moment, telegram, aspect)
        if told is not None:
            return told
        if not coming:
            named = _nothing_upcoming(dispatcher, wanted, language, index, moment)
            return shown([named], "latest", named.start.year) if named else []
        dispatcher.utter_message(
            text=message("event_not_found", language),
            buttons=[_details_button(e, language) for e in coming[:6]],
        )
        return []


def _on_telegram(tracker: Tracker) -> bool:
    return tracker.get_latest_input_channel() == TELEGRAM


def _tell_or_pick(
    dispatcher: CollectingDispatcher,
    candidates: List[Event],
    language: str,
    moment: datetime,
    telegram: bool,
    aspect: Optional[str],
) -> Optional[List[EventType]]:
    """One event: its details; several: a button each (six at most) to pick one;
    none: None, and the caller looks further."""
    if len(candidates) == 1:
        return _tell_details(
            dispatcher, candidates[0], language, moment, telegram, aspect
        )
    if candidates:
        dispatcher.utter_message(
            text=message("event_pick_one", language),
            buttons=[_details_button(e, language) for e in candidates[:6]],
        )
        return []
    return None


def _tell_details(
    dispatcher: CollectingDispatcher,
    event: Event,
    language: str,
    moment: datetime,
    telegram: bool = False,
    aspect: Optional[str] = None,
) -> List[EventType]:
    """The details, led by the answer to the part asked about ("what time?"); on
    Telegram with "remind me the day before" while it can."""
    is_upcoming = event.ends_at > moment and not event.cancelled
    is_past = event.ends_at <= moment
    text = event_format.details(
        event,
        language,
        settings.current().calendar_url(event.id) if is_upcoming else None,
        registration=is_upcoming,
    )
    lead = (
        event_format.aspect_answer(event, aspect, language, past=is_past)
        if aspect
        else None
    )
    if lead:
        text = lead + "\n\n" + text
    if not is_upcoming and not event.cancelled:
        text += "\n\n" + message("event_past_note", language)
    buttons = []
    if telegram and can_remind(event, moment):
        buttons.append(
            {
                "title": message("button_remind", language),
                "payload": REMIND_PREFIX + event.id,
            }
        )
    dispatcher.utter_message(text=text, buttons=buttons)
    if is_upcoming:
        _attach_ics(dispatcher, event, language)
    year = None if is_upcoming else event.start.year
    return shown([event], "details", year)


def _attach_ics(dispatcher: CollectingDispatcher, event: Event, language: str) -> None:
    """Ask for the event's calendar file after its details.

    Channels that can send files (Telegram) attach the .ics itself.
    """
    dispatcher.utter_message(
        json_message={"ics_event_id": event.id, "language": language}
    )


class ActionSubscribeEvents(ReplyAction):
    """ "Tell me about new events in Bavaria": alerts on Telegram, a calendar feed
    everywhere else."""

    action_name = "action_subscribe_events"

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> List[EventType]:
        latest = tracker.latest_message or {}
        named = read_question(
            question_text(tracker),
            language,
            today_in_berlin(now()),
            intent="subscribe_events",
            entities=latest.get("entities") or [],
        ).feed_filters()
        options = [named]
        if not named:
            # "Tell me when there are new ones" after a search: that search, or all.
            before = EventFilter.from_slot(tracker.get_slot("event_filter"))
            if before is not None and before.feed_filters():
                options.insert(0, before.feed_filters())
        if _on_telegram(tracker):
            _offer_alerts(dispatcher, options, language)
        else:
            _offer_feed(dispatcher, options[0], language)
        return []


def _filter_label(wanted: Dict[str, str], language: str) -> str:
    return describe(EventFilter(**wanted), language)  # type: ignore[arg-type]


def _offer_alerts(
    dispatcher: CollectingDispatcher, options: List[Dict[str, str]], language: str
) -> None:
    """Ask first, with a button per choice: a misread message subscribes nobody."""
    buttons = [
        {
            "title": message(
                "button_subscribe_yes", language, filter=_filter_label(wanted, language)
            ),
            "payload": SUBSCRIBE_PREFIX + filter_key(wanted),
        }
        for wanted in options
    ]
    buttons.append(
        _button(message("button_events_now", language), "ask_events", options[0])
    )
    dispatcher.utter_message(
        text=message(
            "subscribe_offer", language, filter=_filter_label(options[0], language)
        ),
        buttons=buttons,
    )


def _offer_feed(
    dispatcher: CollectingDispatcher, wanted: Dict[str, str], language: str
) -> None:
    place = wanted.get("city") or wanted.get("state")
    dispatcher.utter_message(
        text=message(
            "subscribe_elsewhere",
            language,
            command="/subscribe" + (f" {place}" if place else ""),
            filter=_filter_label(wanted, language),
            feed_url=settings.current().feed_url(wanted, language),
        ),
        buttons=[_button(message("button_events_now", language), "ask_events", wanted)],
    )
