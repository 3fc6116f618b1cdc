"""Read a typed message against its conversation before Rasa reads it on its own.

Every chat channel calls ``read_follow_up`` with the text and the conversation id.
It loads the conversation's events, builds the dialogue state (ofr/dialogue/state.py)
and asks the resolver what the text stands for. The channel then hands on those
messages in order, each the way a pressed button's payload would go: "ja" after
"Shall I pass it on?" reaches the handover desk, "the second" after "Did you mean …?"
is that topic's payload, "what time?" after one event is that event's details.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

from bot.storage.rasa_stores import unwrap
from ofr.dialogue.replies import yes_language
from ofr.dialogue.resolver import NAMES, FollowUp, resolve
from ofr.dialogue.state import FIRST_MESSAGE_KEY, DialogueState, from_events
from ofr.events.store import default_store

logger = logging.getLogger(__name__)

# What the user typed, kept in the message's metadata when a payload stands for it
# (the conversation's review shows the typed text).
TYPED_KEY = "ofr_typed"
# Events read per message: a question stays open 3 turns, and what was shown
# matters only while the last answers were about it; 40 events cover both.
WINDOW = 40
# How sure lingua must be of a first message's language that the NLU cannot see.
SURE = 0.9
REASON_KEY = "ofr_follow_up"


async def conversation_events(
    tracker_store: Any, conversation: str
) -> List[Dict[str, Any]]:
    """The conversation's recent events as dicts (the last ``WINDOW``: the state
    needs no more). The SQL store reads them with one indexed query, without
    building a tracker. On the event loop, as Rasa's own store calls are: handing
    about 2 ms of work to a thread cost more under load (GIL hand-overs) than it
    saved (bench/load.py, 10 conversations: p50 260 ms in a thread)."""
    store = unwrap(tracker_store)
    if hasattr(store, "recent_event_dicts"):
        return store.recent_event_dicts(conversation, WINDOW)
    tracker = await tracker_store.retrieve(conversation)
    return [event.as_dict() for event in tracker.events][-WINDOW:] if tracker else []


async def read_follow_up(
    text: str, conversation: str, tracker_store: Any
) -> Tuple[Optional[FollowUp], Optional[DialogueState]]:
    """What ``text`` stands for in ``conversation`` (None: read it on its own), and
    the state it was read against (None when it could not be read)."""
    if not text or text.startswith("/") or tracker_store is None:
        return None, None
    try:
        events = await conversation_events(tracker_store, conversation)
    except Exception:
        logger.exception("Reading the conversation for a follow-up failed.")
        return None, None
    state = from_events(events, time.time())
    try:
        index = default_store().index()
    except Exception:  # a broken events file is reported by the event actions
        index = None
    found = resolve(text, state, index, datetime.now(timezone.utc))
    if found is not None:
        logger.debug("Read a follow-up as %s.", found.reason)
    return found, state


def guess_language(text: str) -> Optional[str]:
    """'en' or 'de' when lingua is sure of the text without its names, or a short
    plain yes is in one language's words."""
    plain = text
    for pattern, _ in NAMES:
        plain = pattern.sub(" ", plain)
    if len(plain.split()) < 3:
        return yes_language(plain)  # "yes pls", "ja bitte": their words say
    from lingua import Language

    from bot.nlu.language_detector import lingua

    german = lingua().compute_language_confidence(plain, Language.GERMAN)
    if german >= SURE:
        return "de"
    if german <= 1 - SURE:
        return "en"
    return None


def typed_metadata(text: str, found: Optional[FollowUp]) -> Dict[str, Any]:
    """What the user typed and how it was read, for the message's metadata."""
    return {TYPED_KEY: text, REASON_KEY: found.reason} if found is not None else {}


async def each_message(
    text: str, conversation: str, tracker_store: Any, hint: Optional[str] = None
) -> AsyncIterator[Tuple[str, Dict[str, Any]]]:
    """The messages ``text`` stands for, one at a time, each with the metadata to
    add to it (how it was read; whether it opens the conversation).

    ``hint``: the channel's language for the conversation, if it gave one.
    The caller handles each before asking for the next, so a second request of
    one message ("what does OFR offer, and who is it for?") is read after the
    first was answered: its "it" then refers to that answer.
    """
    found, state = await read_follow_up(text, conversation, tracker_store)
    first: Dict[str, Any] = (
        {FIRST_MESSAGE_KEY: True} if state is not None and state.is_start else {}
    )
    if found is None:
        yield text, first
        return
    if first and not hint and found.messages[0].startswith("/"):
        # A payload carries no words to tell the language by: the typed text's
        # language starts the conversation, as a channel's hint would.
        language = guess_language(text)
        if language:
            first["language"] = language
    for number, part in enumerate(found.messages):
        if number > 0 and not part.startswith("/"):
            again, _ = await read_follow_up(part, conversation, tracker_store)
            if again is not None and again.reason != "two":
                for resolved in again.messages:
                    yield resolved, typed_metadata(text, again)
                continue
        yield part, {**typed_metadata(text, found), **(first if number == 0 else {})}


async def as_typed(text: str) -> AsyncIterator[Tuple[str, Dict[str, Any]]]:
    """``text`` unread (a pressed button's payload)."""
    yield text, {}
