"""Conversations planted in a real tracker store through Rasa's own store, as the
server writes them, for the console's conversation, story and insights tests."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Tuple

# (text, intent, confidence, language, bot action, bot text, extras)
Step = Tuple[str, str, float, str, str, str, Dict[str, Any]]


def step(
    text: str,
    intent: str,
    language: str = "en",
    confidence: float = 0.95,
    action: str = "utter_partners",
    answer: str = "OFR is run by IOM.",
    **extras: Any,
) -> Step:
    return (text, intent, confidence, language, action, answer, extras)


def save(store: Any, domain: Any, sender: str, steps: List[Step], at: float) -> None:
    """One conversation, stored through Rasa's tracker store as the server does."""
    from rasa.shared.core.events import (
        ActionExecuted,
        BotUttered,
        SlotSet,
        UserUttered,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(sender, domain.slots)
    tracker.update(ActionExecuted("action_listen", timestamp=at))
    for number, (
        text,
        intent,
        confidence,
        language,
        action,
        answer,
        extras,
    ) in enumerate(steps):
        stamp = at + 60 * number
        ranking = [
            {"name": intent, "confidence": confidence},
            {"name": "ask_iom", "confidence": round(1 - confidence, 2)},
        ]
        parse = {
            "text": text,
            "intent": ranking[0],
            "intent_ranking": ranking,
            "entities": extras.get("entities", []),
        }
        tracker.update(
            UserUttered(
                text,
                ranking[0],
                extras.get("entities", []),
                parse_data=parse,
                timestamp=stamp,
                input_channel=sender.split(":")[0],
                metadata=extras.get("metadata") or {},
            )
        )
        tracker.update(ActionExecuted("action_extract_slots", timestamp=stamp))
        tracker.update(SlotSet("language", language, timestamp=stamp))
        if "event_filter" in extras:
            tracker.update(
                SlotSet("event_filter", extras["event_filter"], timestamp=stamp)
            )
        tracker.update(ActionExecuted(action, timestamp=stamp + 1))
        tracker.update(
            BotUttered(
                answer,
                data={"buttons": extras.get("buttons", [])},
                metadata={"utter_action": action},
                timestamp=stamp + 1.5,
            )
        )
        tracker.update(ActionExecuted("action_listen", timestamp=stamp + 1))
        if "vote" in extras:
            tracker.update(
                SlotSet(
                    "feedback",
                    {
                        "helpful": extras["vote"],
                        "answer": action,
                        "intent": intent,
                        "at": stamp + 1.5,
                    },
                    timestamp=stamp + 5,
                )
            )
    asyncio.run(store.save(tracker))
