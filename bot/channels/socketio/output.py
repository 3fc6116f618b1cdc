"""The socket.io channel's output: Rasa's answers as the web chat reads them."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.core.channels.socketio import SocketIOOutput

from bot.channels.answer_output import Answer, AnswerOutput
from ofr.handover import HANDOVER_KEY


class WidgetOutput(AnswerOutput, SocketIOOutput):
    """Rasa's socket.io output, as the web chat (web/ofr-chat.js) reads it.

    - Custom JSON is sent as the event's data: Rasa 3.6 passes it to ``emit`` as
      keyword arguments, which fails for any key emit does not know
      ({"conversation_deleted": true}).
    - An answer to a question carries ``feedback``: the 👍 / 👎 buttons' payloads.
    - A handover offer carries ``handover`` ({"email": true} when the answer can
      also go by e-mail, so the widget offers a field for the address).
    - The answers to a message the widget sent with a ``message_id`` carry it as
      ``in_reply_to``, numbered from 0 in ``answer_index``: when the widget sends
      the message again (its connection dropped before the turn's
      acknowledgement), the answers it showed already are not shown twice.
    """

    def __init__(
        self, sio: Any, bot_message_evt: str, reply_to: Optional[str] = None
    ) -> None:
        super().__init__(sio, bot_message_evt)
        self.reply_to = reply_to
        self.sent = 0

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if self.reply_to is not None and isinstance(response, dict):
            response = {
                **response,
                "in_reply_to": self.reply_to,
                "answer_index": self.sent,
            }
            self.sent += 1
        await super()._send_message(socket_id, response)

    async def send_custom_json(
        self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any
    ) -> None:
        await self._send_message(recipient_id, json_message)

    async def send_answer(self, recipient_id: str, answer: Answer) -> None:
        """Like Rasa's: a message per paragraph, the buttons on the last one."""
        parts: List[Dict[str, Any]] = [
            {"text": part}
            for part in (answer.text.strip().split("\n\n") or [answer.text])
        ]
        last = parts[-1]
        if answer.buttons:
            last["quick_replies"] = [
                {
                    "content_type": "text",
                    "title": button["title"],
                    "payload": button["payload"],
                }
                for button in answer.buttons
            ]
        if answer.votes:
            last["feedback"] = answer.votes
        handover = answer.metadata.get(HANDOVER_KEY)
        if isinstance(handover, dict):
            last["handover"] = {"email": bool(handover.get("email"))}
        for part in parts:
            await self._send_message(recipient_id, part)
