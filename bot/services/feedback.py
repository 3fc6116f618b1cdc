"""👍 / 👎 on the bot's answers, the same on every channel.

A channel puts the two buttons under each answer that ``ofr.feedback.answer_of``
picks, with payloads naming the bot message by its timestamp. When one is pressed
the channel hands the payload here instead of to Rasa:

- the vote is counted (bot/storage/feedback.py: intent, answer, language; nobody's
  identity) once per answer, however often it is pressed;
- the conversation records it in the ``feedback`` slot (it does not influence the
  dialogue), so ``make unanswered`` lists 👎 turns and deleting the conversation
  deletes the vote's link to it;
- the user gets a short thanks; after 👎 also "ask in other words" and "ask IOM
  staff" buttons.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.storage.conversation_updates import update_conversation
from bot.storage.feedback import feedback_store_for
from ofr import settings
from ofr.feedback import (
    ANSWER_KEY,
    MATCH_SECONDS,
    REPHRASE,
    Vote,
    answer_of,
    payload,
    read_vote,
)
from ofr.messages import message

logger = logging.getLogger(__name__)

SLOT = "feedback"


@dataclass
class Reply:
    text: str
    buttons: List[Dict[str, str]] = field(default_factory=list)


def buttons(answer_timestamp: float) -> List[Dict[str, str]]:
    """The 👍 / 👎 pair under an answer (the same in every language)."""
    return [
        {"title": "👍", "payload": payload(True, answer_timestamp)},
        {"title": "👎", "payload": payload(False, answer_timestamp)},
    ]


def feedback_buttons(message_parts: Dict[str, Any]) -> List[Dict[str, str]]:
    """The pair for a bot message as Rasa hands it to an output channel (its
    metadata included), or none if the message should not ask."""
    timestamp = message_parts.get("timestamp")
    if answer_of(message_parts) is None or not isinstance(timestamp, int | float):
        return []
    return buttons(float(timestamp))


def voted_answer(
    tracker: DialogueStateTracker, vote: Vote
) -> Optional[Tuple[str, str, bool, float]]:
    """The answer voted on, the intent of the question it answered, whether this
    answer was voted on before, and its exact timestamp; None if the conversation
    does not hold it."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if not isinstance(event, BotUttered):
            continue
        if abs((event.timestamp or 0) - vote.timestamp) > MATCH_SECONDS:
            continue
        metadata = event.metadata or {}
        answer = metadata.get(ANSWER_KEY) or metadata.get("utter_action")
        if not answer:
            return None
        intent = next(
            (
                str((e.intent or {}).get("name") or "")
                for e in reversed(events[:index])
                if isinstance(e, UserUttered)
            ),
            "",
        )
        before = any(
            isinstance(e, SlotSet)
            and e.key == SLOT
            and isinstance(e.value, dict)
            and abs(float(e.value.get("at") or 0) - vote.timestamp) <= MATCH_SECONDS
            for e in events[index:]
        )
        return str(answer), intent, before, float(event.timestamp)
    return None


async def handle(
    text: str,
    conversation: str,
    channel: str,
    language: str,
    tracker_store: Any,
    lock_store: Any,
) -> Reply:
    """What to answer a pressed feedback button (``fb:…``)."""
    found: Dict[str, Any] = {}
    vote = read_vote(text)

    def record(tracker: DialogueStateTracker) -> bool:
        found["language"] = tracker.get_slot("language")
        answered = voted_answer(tracker, vote) if vote is not None else None
        if vote is None or answered is None:
            return False
        answer, intent, before, at = answered
        found.update(answer=answer, intent=intent)
        if before:
            return False  # counted once: a second tap only gets the thanks
        found["new"] = True
        tracker.update(
            SlotSet(
                SLOT,
                {
                    "helpful": vote.helpful,
                    "answer": answer,
                    "intent": intent,
                    "at": at,
                },
            )
        )
        return True

    if text == REPHRASE:
        tracker = await tracker_store.retrieve(conversation) if tracker_store else None
        language = (tracker.get_slot("language") if tracker else None) or language
        return Reply(message("feedback_rephrase", language))
    await update_conversation(tracker_store, lock_store, conversation, record)
    language = found.get("language") or language
    if vote is not None and found.get("new"):
        store = feedback_store_for(tracker_store, settings.current().var_dir)
        await asyncio.to_thread(
            store.add, channel, language, found["intent"], found["answer"], vote.helpful
        )
    if vote is None or vote.helpful:
        return Reply(message("feedback_thanks", language))
    return Reply(
        message("feedback_sorry", language),
        [
            {"title": message("button_rephrase", language), "payload": REPHRASE},
            {"title": message("button_ask_staff", language), "payload": "/ask_human"},
        ],
    )
