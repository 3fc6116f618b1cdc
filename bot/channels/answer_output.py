"""What the chat channels' outputs share: Rasa hands an answer to one of two methods
(text alone, text with buttons); each channel lays out one answer, with the 👍 / 👎
votes an answer to a question carries (``bot.services.feedback``)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Dict, List

from bot.services.feedback import feedback_buttons


@dataclass(frozen=True)
class Answer:
    """One bot message as Rasa hands it to a channel's output."""

    text: str
    buttons: List[Dict[str, Any]]
    votes: List[Dict[str, str]]  # the 👍 / 👎 (none unless it answers a question)
    metadata: Dict[str, Any]  # the rest Rasa passed (handover, utter_action, …)


class AnswerOutput:
    """Put before Rasa's output channel class: both of its text methods lead to
    ``send_answer``, which a channel writes once."""

    async def send_text_message(
        self, recipient_id: str, text: str, **kwargs: Any
    ) -> None:
        kwargs.pop("buttons", None)  # Rasa passes the empty part too
        await self.send_text_with_buttons(recipient_id, text, [], **kwargs)

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: List[Dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        votes = feedback_buttons({**kwargs, "buttons": buttons})
        await self.send_answer(recipient_id, Answer(text, buttons, votes, kwargs))

    @abstractmethod
    async def send_answer(self, recipient_id: str, answer: Answer) -> None:
        """One answer as the channel shows it."""
