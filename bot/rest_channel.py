"""Rasa's REST channel with every request checked before Rasa sees it.

Registered in credentials.yml as ``bot.rest_channel.ValidatedRestInput`` under the
name "rest", so the route stays ``POST /webhooks/rest/webhook`` and the answer stays
Rasa's list of bot messages (``?stream=true`` streams them as before).

Rasa's own channel reads fields without checking them and answers 500 to some
bodies (a JSON list, a number as ``sender``). Here:

- a body over 64 KiB → 413; not JSON (or not UTF-8) → 400; not an object, a
  missing or mistyped ``sender``/``message``, ``metadata`` not an object → 422;
- an empty message (once cleaned) or one over 2,000 characters → 200 with a polite
  note in the conversation's language, Rasa is not asked;
- any other text is cleaned (``bot.input_limits.clean_text``) and answered by Rasa.
"""

from __future__ import annotations

import logging
import re
from asyncio import CancelledError
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.input_limits import (
    BadRequest,
    check_sender,
    clean_text,
    conversation_language,
    note,
    parse_json,
    text_problem,
)

logger = logging.getLogger(__name__)

CHANNEL_NAME = "rest"
_INPUT_CHANNEL = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass
class RestMessage:
    """A checked request: who sent what, with which metadata."""

    sender: str
    text: str
    metadata: Optional[Dict[str, Any]]
    input_channel: str


def read_message(body: Optional[bytes]) -> RestMessage:
    """The message in a request body, or BadRequest saying what is wrong."""
    data = parse_json(body)
    if not isinstance(data, dict):
        raise BadRequest(422, 'the body must be a JSON object {"sender", "message"}')
    if "sender" not in data:
        raise BadRequest(422, "'sender' is missing")
    sender = check_sender(data["sender"])
    if "message" not in data:
        raise BadRequest(422, "'message' is missing")
    text = data["message"]
    if not isinstance(text, str):
        raise BadRequest(422, "'message' must be a string")
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest(422, "'metadata' must be an object")
    input_channel = data.get("input_channel") or CHANNEL_NAME
    if not isinstance(input_channel, str) or not _INPUT_CHANNEL.fullmatch(
        input_channel
    ):
        raise BadRequest(422, "'input_channel' must be a short name")
    return RestMessage(sender, clean_text(text), metadata, input_channel)


def _tracker_store(request: Request) -> Any:
    agent = getattr(request.app.ctx, "agent", None)
    return getattr(agent, "tracker_store", None)


class ValidatedRestInput(RestInput):
    """``POST /webhooks/rest/webhook`` with checked input (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        rest = Blueprint("validated_rest_webhook", __name__)

        @rest.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            try:
                msg = read_message(request.body)
            except BadRequest as error:
                return response.json({"error": error.reason}, status=error.status)
            problem = text_problem(msg.text)
            if problem:
                language = await conversation_language(
                    _tracker_store(request),
                    msg.sender,
                    (msg.metadata or {}).get("language"),
                )
                return response.json(
                    [{"recipient_id": msg.sender, "text": note(problem, language)}]
                )
            if bool_arg(request, "stream", default=False):
                return response.stream(
                    self.stream_response(
                        on_new_message,
                        msg.text,
                        msg.sender,
                        msg.input_channel,
                        msg.metadata,
                    ),
                    content_type="text/event-stream",
                )
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        msg.text,
                        collector,
                        msg.sender,
                        input_channel=msg.input_channel,
                        metadata=msg.metadata,
                    )
                )
            except CancelledError:
                logger.error("Rasa did not answer a REST message in time.")
            except Exception:
                # Logged without the message text (personal data).
                logger.exception("Rasa failed to handle a REST message.")
            return response.json(collector.messages)

        return rest
