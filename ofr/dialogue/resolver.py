"""Read a follow-up against the conversation before reading it on its own.

``resolve`` looks at what the bot last showed and the question it waits for
(``DialogueState``) and returns what the message stands for, as the messages to
hand on in order: a button's payload ("ja" after "Shall I delete …?"), one event's
details ("what time?" after one event), a narrowed search ("only the in-person ones
of these"), a neighbour ("und die danach?", "the year before?") or two requests of
one message. ``None`` leaves the message to the NLU. docs/conversations.md has the
rules with examples.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ofr.dialogue.replies import (
    AFFIRMERS,
    FILLERS,
    THANKS,
    YES_WORDS,
    fold,
    read_option,
    read_ordinal,
    read_yes_no,
    words,
)
from ofr.dialogue.state import EVENT_ACTIONS, DialogueState
from ofr.events.event_filter import EventFilter, format_matches, place_and_format
from ofr.events.index import EventIndex
from ofr.events.model import Event
from ofr.events.query import find_format, find_free_topic, find_place, find_topic

# The entity that tells the rules a yes answers the still-open delete question.
PENDING_ENTITY = "pending"


@dataclass(frozen=True)
class FollowUp:
    messages: Tuple[str, ...]
    # Which rule read it ("yes", "no", "choice", "event", "narrow", ...): for logs,
    # the console's review and the tests.
    reason: str


def payload(intent: str, entities: Optional[Dict[str, Any]] = None) -> str:
    """A Rasa payload, as a button sends it."""
    return f"/{intent}" + (json.dumps(entities, ensure_ascii=False) if entities else "")


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


# Written against folded text (lower case, umlauts as ae/oe/ue, no punctuation).
NARROW = _rx(
    r"\b(only|just|of these|of those|of them|among them|among these|which of|"
    r"which ones|which are|which is|welche sind|welche ist|"
    r"any of (?:them|these|those)|nur|davon|von denen|von diesen|darunter|welche davon)\b"
)
AFTER = _rx(
    r"\b(after (?:that|it|this|the \w+)(?: one)?|the one after|next one|"
    r"the following one|the one following|afterwards|later one|"
    r"danach|darauf|drauf|naechste[nrs]?|nach (?:dem|der|diesem|dieser|ihm|ihr)|"
    r"spaetere[nrs]?|folgende[nrs]?)\b"
)
BEFORE = _rx(
    r"\b(before (?:that|it|this|the \w+)(?: one)?|the one before|previous(?: one)?|"
    r"the one prior|earlier one|prior one|"
    r"davor|vorherige[nrs]?|vor (?:dem|der|diesem|dieser|ihm|ihr)|"
    r"fruehere[nrs]?)\b"
)
YEAR_AFTER = _rx(
    r"\b((?:following|folgende[nms]?|darauffolgende[nms]?|the next) (?:year|jahr)|"
    r"(?:year|jahr) (?:after|later|danach|darauf|drauf|spaeter|weiter)|"
    r"(?:a|one|ein) (?:year|jahr) (?:later|after|spaeter|weiter|danach)|"
    r"folgejahr\w*)\b"
)
YEAR_BEFORE = _rx(
    r"\b((?:previous|prior|preceding|vorige[nms]?|vorherige[nms]?) (?:year|jahr)|"
    r"(?:year|jahr) (?:before|earlier|prior|davor|zuvor|vorher|frueher)|"
    r"(?:a|one|ein) (?:year|jahr) (?:earlier|before|frueher|zurueck|davor)|"
    r"vorjahr\w*)\b"
)
YEAR = re.compile(r"\b(20\d\d|19\d\d)\b")
# A follow-up in the past tense ("und welche waren online?", "and which were in
# Bayern?") asks about past events.
PAST_TENSE = _rx(
    r"\b(were|was there|had|did|happened|took place|have been|has been|"
    r"waren|war|gab|gabs|fanden|fand|stattgefunden|hatten|hatte|gewesen|"
    r"vergangene\w*|bisherige\w*|past|previous)\b"
)
SEARCH_WORDS = _rx(
    r"\b(events|meetings|workshops|webinars|sessions|other ones|others|"
    r"veranstaltungen|termine|treffen|workshops|andere[nm]?)\b"
)
REFERENCE = _rx(
    r"\b(one|that|this|it|the|die|der|das|den|dem|diese[rsnm]?|mehr|more|details?|"
    r"about|ueber|zu|zur|zum|info\w*|tell me|show me|zeig\w*)\b"
)
ASPECTS: Sequence[Tuple[str, re.Pattern[str]]] = (
    # What the event is about: its description, in the details.
    (
        "about",
        _rx(
            r"(\bwhat(?:'?s| is) (?:it|that|this)(?: one)? about\b|\bwhats (?:it|that) about\b|"
            r"\babout what\b|\bworum\b|\bum was geht|\bwas ist (?:da|dort) das thema\b|"
            r"\bum welche (?:laender|themen|staaten)\b|\bwhich countries\b|\binhalt\b)"
        ),
    ),
    (
        "fee",
        _rx(
            r"\b(fees?|costs?|cost anything|price|charge|pay|paid|free of charge|"
            r"for free|kost\w*|gebuehr\w*|preis|umsonst|bezahl\w*|gratis)\b"
        ),
    ),
    (
        "registration",
        _rx(
            r"\b(regist\w*|sign ?up|signup|enrol\w*|book\w*|anmeld\w*|meld\w*|"
            r"einschreib\w*|teilnehm\w*|mitmachen|join|attend|link|ticket\w*)\b"
        ),
    ),
    (
        "time",
        _rx(
            r"\b(what time|when|start\w*|begin\w*|ends?|finish\w*|how long|uhr|"
            r"wann|uhrzeit|beginn\w*|anfang|faengt|fangt|dauer\w*|bis wann|"
            r"los|zeit|time)\b"
        ),
    ),
    (
        "place",
        _rx(
            r"\b(where|venue|address|location|place|wo|ort|adresse|wohin|"
            r"raum|gebaeude|stattfinde\w*|findet)\b"
        ),
    ),
    (
        "format",
        _rx(
            r"\b(online|in person|on site|vor ort|hybrid|virtual\w*|virtuell\w*|"
            r"praesenz\w*|digital\w*|zoom)\b"
        ),
    ),
)
# Topics that, named alone ("afghanistan?"), ask for events on them: countries.
BARE_TOPICS = frozenset({"afghanistan", "pakistan", "iraq", "syria", "nigeria"})
# Words that may stand before a bare place: "in koeln", "und dresden?".
BARE_LEAD = frozenset({"in", "und", "and", "nach", "to", "fuer", "for", "zu"})
WHICH = _rx(r"^(?:which|what about|welche|welcher|was ist mit)\b")
FOLLOW_ON = _rx(
    r"^(?:and|what about|how about|und|und was ist mit|wie ist es mit|was ist mit|"
    r"wie siehts aus mit|what about in|und in|and in|auch in|also in)\b"
)
OBTAIN = _rx(
    r"\b(order|get (?:it|one|a copy|hold)|obtain|copy|copies|download|buy|"
    r"where can i (?:find|get)|bestell\w*|bekomm\w*|krieg\w*|herunterlad\w*|"
    r"runterlad\w*|exemplar|kopie|wo gibt|wo finde|erhalt\w*|erhaelt\w*)\b"
)
WHO_TO_ASK = _rx(
    r"\b(who (?:can|could|should|do) i (?:ask|contact|talk to|turn to|speak to|"
    r"write to|call)|whom (?:can|could|should) i|who do i ask|who to ask|"
    r"any contact|contact person|wen kann ich|an wen kann ich|an wen wende|"
    r"wen frage ich|wen soll ich|ansprechpartner\w*|ansprechperson\w*|"
    r"wer ist (?:da )?zustaendig|wer ist ansprech\w*)\b"
)
# Topics whose answer a short "since when?" or "who runs it?" asks about again.
TOPIC_INTENTS = frozenset(
    {
        "ask_reag_garp",
        "ask_starthilfeplus",
        "ask_perspektive_heimat",
        "ask_returning_portal",
        "ask_iom",
        "ask_bamf",
        "ask_giz",
        "ask_ministries",
        "ask_what_is_ofr",
        "ask_counselling",
        "ask_partners",
        "ask_handbook",
        "ask_offers",
    }
)
TOPIC_QUESTION = _rx(
    r"\b(since when|how long|who runs|who is behind|whos behind|who does|who funds|"
    r"who pays|who offers|who implements|who is responsible|who organi[sz]es|"
    r"who (?:handles|processes|decides|manages|is in charge|takes care)|"
    r"whos in charge|whos responsible|how (?:do|does|can) (?:i|we|you|someone|one|"
    r"people|they|clients?) (?:apply|get|register|sign)|"
    r"apply|application\w*|beantrag\w*|antr(?:a|ae)g\w*|wer bearbeitet|"
    r"wer entscheidet|wer kuemmert|wer ist verantwortlich|wie beantrag\w*|"
    r"seit wann|wie lange|wer macht|wer steckt|wer fuehrt|wer finanziert|"
    r"wer bezahlt|wer bietet|wer ist zustaendig|wer organisiert|wer betreibt|"
    r"wer traegt|wer leitet|wie alt|wer setzt|umgesetzt|durchgefuehrt|"
    r"who carries|who delivers)\b"
)
AUDIENCE = _rx(
    r"\b(who(?:s| is)? (?:it|this|that|ofr|they) (?:for|aimed at|meant for)|"
    r"for whom|fuer wen|an wen richte\w*|wer ist die zielgruppe|zielgruppe)\b"
)
CONTACT_ACTIONS = frozenset(
    {"utter_contact", "utter_contact_person", "action_offer_handover"}
)
ABOUT_OFR_ACTIONS = frozenset(
    {
        "utter_handbook",
        "utter_offers",
        "utter_what_is_ofr",
        "utter_core_messages",
        "utter_audience",
        "utter_partners",
    }
)
# Names that are a question of their own: two of them in one message are two
# requests ("what do BMI and BMZ stand for?" is one: both are ministries).
NAMES: Sequence[Tuple[re.Pattern[str], str]] = (
    (_rx(r"\biom\b|\binternational organi[sz]ation for migration\b"), "ask_iom"),
    (_rx(r"\bbamf\b|\bbundesamt\b|\bfederal office\b"), "ask_bamf"),
    (_rx(r"\bgiz\b"), "ask_giz"),
    (_rx(r"\bbmi\b|\bbmz\b|\bministr\w*|\bministeri\w*"), "ask_ministries"),
    (_rx(r"\breag\b|\bgarp\b"), "ask_reag_garp"),
    (_rx(r"\bstarthilfe ?plus\b|\bstarthilfe\b"), "ask_starthilfeplus"),
    (_rx(r"\bperspektive heimat\b"), "ask_perspektive_heimat"),
    (_rx(r"\breturning ?from ?germany\b|\bportal\b"), "ask_returning_portal"),
)
JOINED = _rx(
    r"\b(and|und|or|oder|vs|versus|same as|dasselbe wie|das gleiche wie|gleiche wie|"
    r"the same|difference|unterschied|compared|verglichen|as well as|sowie)\b|&|,"
)
SWITCH = _rx(
    r"^\s*(?:(?:bitte|please|pls)\s+)?(?:(?:auf|in)\s+)(deutsch|german|englisch|english)"
    r"(?:\s+(?:bitte|please|pls))?\s*(?:[-–—,;:.!]+\s*|\s+)(?:(?:und|and)\s+)?(.{3,})$"
)
SWITCH_AFTER = _rx(
    r"^(.{3,}?)\s*(?:[-–—,;:.!]+\s*|\s+)(?:(?:und|and)\s+)?(?:(?:bitte|please|pls)\s+)?"
    r"(?:auf|in)\s+(deutsch|german|englisch|english)(?:\s+(?:bitte|please|pls))?[.!]?\s*$"
)
MAX_FOLLOW_UP_WORDS = 12
# Words of a yes that ask for something, or thank ("ok danke"): with no question
# open, the NLU reads them.
_REQUEST_WORDS = """delete loeschen weg forget vergiss vergessen erase remove entfernen
    weiter weitergeben more mehr next naechste pass"""
YES_WITH_A_REQUEST = frozenset(_REQUEST_WORDS.split()) | THANKS


def resolve(
    text: str,
    state: DialogueState,
    events: Optional[EventIndex],
    now: datetime,
) -> Optional[FollowUp]:
    """What ``text`` stands for in this conversation; None: read it on its own."""
    text = text.strip()
    if not text or text.startswith("/"):
        return None
    for rule in (_pending, _events, _topic, _two_requests, _bare_search, _yes_alone):
        found = rule(text, state, events, now)
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------- the bot's question


def _pending(
    text: str, state: DialogueState, events: Optional[EventIndex], now: datetime
) -> Optional[FollowUp]:
    question = state.pending
    if question is None:
        return None
    answer = read_yes_no(text)
    if answer is True and question.yes:
        if question.kind == "delete":
            return FollowUp(
                (payload("confirm_delete", {PENDING_ENTITY: "delete"}),), "yes"
            )
        return FollowUp((question.yes,), "yes")
    if answer is False:
        return FollowUp((question.no,), "no")
    options = question.options
    if options:
        choice = read_ordinal(text, len(options)) or read_option(
            text, [b.title for b in options]
        )
        if choice:
            return FollowUp((options[choice - 1].payload,), "choice")
    return None


def _yes_alone(
    text: str, state: DialogueState, events: Optional[EventIndex], now: datetime
) -> Optional[FollowUp]:
    """ "yes pls" when the bot asked nothing: the plain acknowledgement, not the
    delete question (the NLU alone reads a bare yes as ``confirm_delete``). A yes
    that names what to do ("yes, delete it", "ja, weiter") is left to the NLU, and
    so is a late yes to a question no longer open (the delete question is asked
    again)."""
    if state.pending or state.expired:
        return None
    if read_yes_no(text) is not True:
        return None
    said = set(words(text))
    if not said & AFFIRMERS or said & YES_WITH_A_REQUEST:
        return None
    if any(w not in YES_WORDS and w not in FILLERS for w in said):
        return None  # "wo genau" asks where
    return FollowUp((payload("acknowledge"),), "yes_alone")


# ---------------------------------------------------------------- events in view


def _events(
    text: str, state: DialogueState, events: Optional[EventIndex], now: datetime
) -> Optional[FollowUp]:
    if events is None or state.topic_action not in EVENT_ACTIONS:
        return None
    folded = fold(text)
    if len(folded.split()) > MAX_FOLLOW_UP_WORDS:
        return None
    shown = state.shown
    in_view = [e for e in (events.get(i) for i in (shown.ids if shown else ())) if e]
    if (
        shown is not None
        and shown.year is not None
        and shown.kind in ("past", "latest")
    ):
        year = _relative_year(folded, shown.year)
        if year is not None:
            return FollowUp((payload("ask_past_events", {"date": str(year)}),), "year")
    if in_view and state.events_in_view:
        listed = (
            [e for e in (events.get(i) for i in shown.listed) if e] if shown else []
        )
        found = _about_shown(text, folded, in_view, listed or in_view,
                             shown.kind if shown else "list", events, now)  # fmt: skip
        if found is not None:
            return found
    found = _place_follow_on(text, folded)
    if found is not None and PAST_TENSE.search(folded):
        return _looking_back(text, folded, state) or found
    return found


def _looking_back(text: str, folded: str, state: DialogueState) -> Optional[FollowUp]:
    """ "und welche waren online?" after a search of upcoming events: the same
    search, changed as any follow-up changes it, over the past events."""
    previous = EventFilter.from_slot(state.event_filter)
    if previous.looks_back:
        return None  # the search already looks back, and a follow-up keeps that
    place = find_place(text)
    wanted = previous.changed(
        **place_and_format(
            previous,
            None if place is None else "state" if place.is_state else "city",
            None if place is None else place.name,
            find_format(text),
        )
    )
    entities: Dict[str, Any] = {
        name: value
        for name, value in (
            ("city", wanted.city),
            ("state", wanted.state),
            ("format", wanted.format),
            ("topic", wanted.topic),
        )
        if value
    }
    year = YEAR.search(folded)
    if year:
        entities["date"] = year.group(1)
    return FollowUp((payload("ask_past_events", entities),), "looking_back")


def _relative_year(folded: str, year: int) -> Optional[int]:
    if YEAR.search(folded):
        return None  # a year of its own is a new question
    if YEAR_AFTER.search(folded):
        return year + 1
    if YEAR_BEFORE.search(folded):
        return year - 1
    return None


def _details(event: Event, aspect: Optional[str] = None) -> str:
    entities = {"event_id": event.id}
    if aspect:
        entities["aspect"] = aspect
    return payload("ask_event_details", entities)


def _aspect(folded: str) -> Optional[str]:
    for name, pattern in ASPECTS:
        if pattern.search(folded):
            return name
    return None


def _about_shown(
    text: str,
    folded: str,
    in_view: List[Event],
    listed: List[Event],
    kind: str,
    events: EventIndex,
    now: datetime,
) -> Optional[FollowUp]:
    """``in_view``: the events shown so far; ``listed``: all the answer found."""
    single = len(in_view) == 1 or kind in ("details", "next")
    current = in_view[0]
    place = find_place(text)
    fmt = find_format(text)
    # "only the in-person ones of these", "welche davon sind in Bayern?"
    if not single and NARROW.search(folded):
        topic = find_topic(text) or find_free_topic(text)
        entities: Dict[str, Any] = {}
        if place:
            entities.update(_place_entity(place))
        if fmt:
            entities["format"] = fmt
        if topic:
            entities["topic"] = topic
        if entities:
            return FollowUp((payload("inform_event_filter", entities),), "narrow")
    # "und die danach?", "the one before it?"
    after = AFTER.search(folded) is not None
    if single and (after or BEFORE.search(folded)):
        # "and the in person one after that?": the next one of that format
        neighbour = _neighbour(events, current, after=after, fmt=fmt)
        if neighbour is None:
            return None
        return FollowUp((_details(neighbour),), "neighbour")
    # "the second one", "die letzte": numbered as listed ("3 of 4": the fourth too;
    # after "the next event is …", "the second" is the one after it)
    many = len(listed) > 1
    choice = read_ordinal(text, len(listed), MAX_FOLLOW_UP_WORDS) if many else None
    if choice:
        return FollowUp((_details(listed[choice - 1], _aspect(folded)),), "ordinal")
    named = _named(text, folded, listed)
    if named is not None and not single:
        return FollowUp((_details(named, _aspect(folded)),), "named")
    aspect = _aspect(folded)
    seen = {e.id for e in listed + in_view}
    if named is None and aspect is not None:
        # "what time is the afghanistan one?" while another event is in view: the
        # upcoming one it names, not the one in view.
        others = [
            e for e in events.events
            if e.kind == "event" and not e.cancelled and e.ends_at > now
            and e.id not in seen
        ]  # fmt: skip
        elsewhere = _named(text, folded, others, by_format=False)
        if elsewhere is not None:
            return FollowUp((_details(elsewhere, aspect),), "named")
    if FOLLOW_ON.search(folded) and (place or fmt):
        return None  # "what about online?": the same search, another format
    if aspect is None or SEARCH_WORDS.search(folded) and len(folded.split()) > 4:
        return None
    if place is not None and not _same_place(place.name, current):
        # "how do I sign up for Hamburg?" after another event: the one there, if
        # one is coming; else a new question.
        there = [
            e
            for e in events.events
            if e.kind == "event" and not e.cancelled and _same_place(place.name, e)
            and (e.id in seen or e.ends_at > now)
        ]  # fmt: skip
        if len(there) == 1:
            return FollowUp((_details(there[0], aspect),), "named")
        return None
    if single:
        return FollowUp((_details(current, aspect),), "aspect")
    return FollowUp((payload("ask_event_details", {"aspect": aspect}),), "which")


def _place_entity(place: Any) -> Dict[str, Any]:
    """The search entity of a place the text names: a Land or a city."""
    return {"state" if place.is_state else "city": place.name}


def _same_place(name: str, event: Event) -> bool:
    return fold(name) in {fold(event.city or ""), fold(event.state or "")}


def _named(
    text: str, folded: str, in_view: List[Event], by_format: bool = True
) -> Optional[Event]:
    """The one shown event the message names by its place or a word of its title
    (``by_format``: or, of the shown ones, the only one of the format it names)."""
    if len(folded.split()) > 14 or not REFERENCE.search(folded):
        return None
    place = find_place(text)
    if place is not None:
        there = [e for e in in_view if _same_place(place.name, e)]
        return there[0] if len(there) == 1 else None
    said = {w[:7] for w in folded.split() if len(w) > 3}
    scored = []
    for event in in_view:
        title = {w[:7] for w in fold(f"{event.title.en} {event.title.de}").split()}
        hits = len(said & {w for w in title if len(w) > 3} - _COMMON_TITLE)
        if hits:
            scored.append((hits, event))
    best = max((hits for hits, _ in scored), default=0)
    chosen = [event for hits, event in scored if hits == best]
    fmt = find_format(text)
    if len(chosen) > 1 and fmt:
        # "der Online-Dialog" of two dialogues: the online one
        chosen = [event for event in chosen if event.format == fmt] or chosen
    if not scored and fmt and by_format:
        # "the online one" of an online and a hybrid event: the one only online
        chosen = [event for event in in_view if event.format == fmt]
    return chosen[0] if len(chosen) == 1 else None


_COMMON_TITLE = frozenset(
    w[:7]
    for w in (
        "option freiwillige rueckkehr event events meeting treffen veranstaltung "
        "return reintegration voluntary network about with from online hybrid"
    ).split()
)


def _neighbour(
    events: EventIndex, current: Event, after: bool, fmt: Optional[str] = None
) -> Optional[Event]:
    """The event or series just after (or before) ``current`` in time, not cancelled
    (``fmt``: the nearest of that format; a hybrid one is both).

    Entries dated only by year or month (a year's dialogue series) are ordered by
    where their span starts, then ends; one whose span overlaps ``current`` while
    either is dated loosely (the 2018 series around its first meeting) is neither
    before nor after it and is passed over."""
    ordered = sorted(
        (e for e in events.events if not e.cancelled or e.id == current.id),
        key=lambda e: (e.starts_at, e.ends_at),
    )
    ids = [e.id for e in ordered]
    if current.id not in ids:
        return None
    step = 1 if after else -1
    at = ids.index(current.id) + step
    while 0 <= at < len(ordered):
        candidate = ordered[at]
        if not _around(candidate, current) and (
            fmt is None or format_matches(candidate.format, fmt)
        ):
            return candidate
        at += step
    return None


def _loose(event: Event) -> bool:
    return event.kind == "series" or event.date_precision != "day"


def _around(one: Event, other: Event) -> bool:
    """Whether two entries overlap in time and one of them is dated loosely."""
    overlap = one.starts_at < other.ends_at and other.starts_at < one.ends_at
    return overlap and (_loose(one) or _loose(other))


def _place_follow_on(text: str, folded: str) -> Optional[FollowUp]:
    """ "und Dresden?", "what about online?": the same search, another place or format."""
    if len(folded.split()) > 5 or _aspect(folded) not in (None, "format"):
        return None
    place = find_place(text)
    fmt = find_format(text)
    if place is None and fmt is None:
        return None
    bare = len(folded.split()) <= 3
    if not (FOLLOW_ON.search(folded) or NARROW.search(folded) or WHICH.search(folded)
            or bare):  # fmt: skip
        return None
    entities: Dict[str, Any] = {}
    if place is not None:
        entities.update(_place_entity(place))
    if fmt is not None:
        entities["format"] = fmt
    return FollowUp((payload("inform_event_filter", entities),), "place")


def _bare_search(
    text: str, state: DialogueState, events: Optional[EventIndex], now: datetime
) -> Optional[FollowUp]:
    """ "koeln", "Afghanistan?": a place or a country/topic alone, with no event in
    view, asks for the events there or on it (this bot's only use of a place)."""
    folded = fold(text).strip(" ?!.")
    words = folded.split()
    if not words or len(words) > 2 or (len(words) == 2 and words[0] not in BARE_LEAD):
        return None
    place = find_place(text)
    if place is not None:
        where = _place_entity(place)
        return FollowUp((payload("inform_event_filter", where),), "bare_place")
    topic = find_topic(text)
    if topic in BARE_TOPICS:  # a programme's name asks about the programme
        return FollowUp(
            (payload("inform_event_filter", {"topic": topic}),), "bare_topic"
        )
    return None


# ---------------------------------------------------------------- other topics


def _topic(
    text: str, state: DialogueState, events: Optional[EventIndex], now: datetime
) -> Optional[FollowUp]:
    folded = fold(text)
    if len(folded.split()) > MAX_FOLLOW_UP_WORDS or state.topic_action is None:
        return None
    if AUDIENCE.search(folded) and (
        state.topic_action in ABOUT_OFR_ACTIONS or state.topic_intent in TOPIC_INTENTS
    ):
        return FollowUp((payload("ask_audience"),), "topic")
    if state.topic_action == "utter_handbook" and OBTAIN.search(folded):
        return FollowUp((payload("ask_contact"),), "topic")
    if (
        WHO_TO_ASK.search(folded)
        and state.topic_action not in CONTACT_ACTIONS
        and (
            state.topic_action in EVENT_ACTIONS
            or state.topic_action in ABOUT_OFR_ACTIONS
        )
    ):
        return FollowUp((payload("ask_contact"),), "topic")
    intent = state.topic_intent
    if (
        intent in TOPIC_INTENTS
        and len(folded.split()) <= 7
        and TOPIC_QUESTION.search(folded)
        and not _names(folded)
    ):
        return FollowUp((payload(str(intent)),), "topic")
    return None


def _names(folded: str) -> List[str]:
    """The programmes and organisations named, in the order named, once each."""
    found: List[Tuple[int, str]] = []
    for pattern, intent in NAMES:
        match = pattern.search(folded)
        if match:
            found.append((match.start(), intent))
    ordered: List[str] = []
    for _, intent in sorted(found):
        if intent not in ordered:
            ordered.append(intent)
    return ordered


# ---------------------------------------------------------------- two in one


def _two_requests(
    text: str, state: DialogueState, events: Optional[EventIndex], now: datetime
) -> Optional[FollowUp]:
    switched = _language_and_question(text)
    if switched is not None:
        return switched
    clauses = _clauses(text)
    if len(clauses) > 1:
        return FollowUp(tuple(clauses), "two")
    folded = fold(text)
    values = _two_values(text, folded)
    if values is not None:
        return values
    if (
        len(folded.split()) > 14
        or SEARCH_WORDS.search(folded)
        or not JOINED.search(folded)
    ):
        return None
    names = _names(folded)
    if len(names) < 2:
        return None
    return FollowUp(tuple(payload(intent) for intent in names), "two")


QUESTION_START = (
    r"(?:what|whats|what's|who|whos|who's|whom|when|where|wheres|where's|how|hows|"
    r"is|are|do|does|did|can|could|will|which|was|wer|wen|wem|wann|wo|wie|gibt|"
    r"gibts|gibt's|ist|sind|kann|kannst|koennen|können|welche[rsnm]?|warum|why|seit|"
    # "was ist OFR und für wen ist das gedacht?": a question led by its preposition
    r"(?:für|fuer|for|an|mit|with)\s+(?:wen|wem|whom))"
)
CLAUSE_BREAK = re.compile(
    r"(?:(?:\s*,\s*|\s+)(?:and|und|&|also|außerdem|ausserdem)\s+|\s*[;+]\s*"
    r"(?:(?:and|und|also)\s+)?)(?="
    + QUESTION_START
    + r"\b)|(?<=\?)\s+(?=(?:(?:and|und|also|außerdem|ausserdem)\s+)?"
    + QUESTION_START
    + r"\b)",
    re.I,
)


def _clauses(text: str) -> List[str]:
    """Two questions joined by "and" or written one after the other; else one."""
    if len(words(text)) > 30:
        return [text]
    parts = [p.strip(" ,;") for p in CLAUSE_BREAK.split(text) if p and p.strip(" ,;")]
    if len(parts) < 2 or len(parts) > 3:
        return [text]
    if any(len(words(p)) < 2 for p in parts) or len(words(parts[0])) < 3:
        return [text]
    return parts


EVENT_QUESTION = _rx(
    r"\b(events?|meetings?|workshops?|veranstaltung\w*|termine?|treffen|"
    r"anything|something|irgendwas|was los|gibt es|gibts|did ofr|was war|"
    r"what happened|was lief|was gab)\b"
)
RANGE = _rx(r"\b(between|zwischen|from \d{4} to|von \d{4} bis|bis|until|through)\b")
SPLIT_VALUES = re.compile(r"\s+(?:and|or|und|oder|&)\s+|\s*,\s*", re.I)


def _two_values(text: str, folded: str) -> Optional[FollowUp]:
    """One event question about two years or two places: one answer each."""
    if len(folded.split()) > 14 or not EVENT_QUESTION.search(folded):
        return None
    if RANGE.search(folded) or not SPLIT_VALUES.search(text):
        return None
    years = list(dict.fromkeys(YEAR.findall(folded)))
    if len(years) >= 2:
        return FollowUp(
            tuple(payload("ask_past_events", {"date": y}) for y in years[:3]), "two"
        )
    places: List[Any] = []
    for part in SPLIT_VALUES.split(text):
        place = find_place(part)
        if place is not None and place.name not in [p.name for p in places]:
            places.append(place)
    if len(places) < 2:
        return None
    fmt = find_format(text)
    messages = []
    for place in places[:3]:
        entities: Dict[str, Any] = _place_entity(place)
        if fmt:
            entities["format"] = fmt
        messages.append(payload("ask_events", entities))
    return FollowUp(tuple(messages), "two")


_LANGUAGES = {"deutsch": "de", "german": "de", "englisch": "en", "english": "en"}


def _language_and_question(text: str) -> Optional[FollowUp]:
    """ "auf Deutsch bitte – und was gibt es online?": switch, then answer."""
    match = SWITCH.match(text)
    if match:
        language, rest = match.group(1), match.group(2)
    else:
        match = SWITCH_AFTER.match(text)
        if not match:
            return None
        rest, language = match.group(1), match.group(2)
    rest = rest.strip(" -–—,;:.!")
    if len(words(rest)) < 2:
        return None  # "auf Deutsch bitte" alone is the switch itself
    code = _LANGUAGES[language.lower()]
    return FollowUp(
        (payload("switch_language", {"language": code}), rest), "language_and_question"
    )
