"""The frame every custom action shares, written once.

rasa_sdk asks each action for ``name()`` and an async ``run()``, and nearly every
action of this bot starts by looking up the language to answer in. Written out per
action, that frame was most of each class; here an action states only its name and
what it does.

Both classes are abstract on purpose: rasa_sdk's executor registers every concrete
``Action`` subclass it finds in the package, and must skip these two.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from ofr.feedback import ANSWER_KEY
from ofr.language import answer_language


class NamedAction(Action, ABC):
    """An action whose name (as the domain lists it) is the attribute ``action_name``."""

    action_name: ClassVar[str]

    def name(self) -> str:
        return self.action_name

    @abstractmethod
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        """The events of this turn; messages for the user go to ``dispatcher``."""


class ReplyAction(NamedAction):
    """An action that answers in the conversation's language.

    ``run`` looks the language up once, so that ``reply`` starts from it. With
    ``answers_questions``, the last text it sends is marked as the answer that asks
    for 👍 / 👎 (ofr/feedback.py).
    """

    answers_questions: ClassVar[bool] = False

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        events = self.reply(dispatcher, tracker, answer_language(tracker))
        if self.answers_questions:
            texts = [m for m in dispatcher.messages if m.get("text")]
            if texts:
                texts[-1][ANSWER_KEY] = self.action_name
        return events

    @abstractmethod
    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> List[EventType]:
        """Send the answer in ``language`` and return the events of this turn."""
