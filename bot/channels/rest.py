"""Rasa's REST channel with every request checked before Rasa sees it.

Registered in credentials.yml as ``bot.channels.rest.ValidatedRestInput`` under the
name "rest", so the route stays ``POST /webhooks/rest/webhook`` and the answer stays
Rasa's list of bot messages (``?stream=true`` streams them as before).

Rasa's own channel reads fields without checking them and answers 500 to some
bodies (a JSON list, a number as ``sender``). Here:

- a body over 64 KiB → 413; not JSON (or not UTF-8) → 400; not an object, a
  missing or mistyped ``sender``/``message``, ``metadata`` not an object → 422;
- an empty message (once cleaned) or one over 2,000 characters → 200 with a polite
  note in the conversation's language, Rasa is not asked;
- any other text is cleaned (``bot.services.input_limits.clean_text``) and answered by Rasa.

An optional ``message_id`` (1 to 100 letters, digits, ``.``, ``_``, ``:``, ``-``; 422
otherwise) makes the request safe to send again: a message whose turn is already
stored is answered from it, not run twice (``bot.services.answered_once``). Staff
answers waiting for the conversation are taken out after the turn, so a request
cut off by a dying instance leaves them for the retry.

With ``OFR_REST_TOKEN`` set, every request needs ``Authorization: Bearer <token>``
(401 otherwise): REST is for integrations, not for the public. Without it the route
is open, which only a local ``make run`` should be (it says so at start).

The conversation is stored as ``rest:<sender>`` (``bot.storage.conversation_ids``): a REST
request can never reach a Telegram or web chat conversation. Answers name the
sender as it was sent.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import CancelledError
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import QueueOutputChannel, RestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.answer_output import Answer, AnswerOutput
from bot.dialogue.fair_turns import fair
from bot.dialogue.follow_ups import as_typed, each_message
from bot.services.answered_once import (
    REPLAYED,
    IdentifiedMessage,
    answered_once,
    identified,
    message_id_problem,
    part_id,
    replay_later_turns,
)
from bot.services.bearer_token import bearer_token_ok
from bot.services.feedback import feedback_buttons
from bot.services.handover_desk import desk
from bot.services.input_limits import (
    BadRequest,
    check_sender,
    clean_text,
    note,
    parse_json,
    stored_language,
    text_problem,
)
from bot.services.rate_limits import (
    client_address,
    record_refusal,
    shared_limits,
)
from bot.services.side_answers import is_side_question, side_answer
from bot.storage.conversation_ids import conversation_id, external_id
from ofr import settings

logger = logging.getLogger(__name__)

CHANNEL_NAME = "rest"
TOKEN_VARIABLE = "OFR_REST_TOKEN"


@dataclass
class RestMessage:
    """A checked request: who sent what, with which metadata."""

    sender: str
    text: str
    metadata: Optional[Dict[str, Any]]
    input_channel: str  # always "rest": an "input_channel" in the body is ignored
    message_id: Optional[str] = None  # the client's: sent again, answered once


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
    message_id = data.get("message_id")
    if message_id is not None and (problem := message_id_problem(message_id)):
        raise BadRequest(422, problem)
    # The channel is the route's, never the body's: actions answer by channel
    # (handover, Telegram files), so a body must not pass for another one.
    return RestMessage(sender, clean_text(text), metadata, CHANNEL_NAME, message_id)


class _WithFeedback(AnswerOutput):
    """Rasa's REST messages, and on an answer to a question ``feedback``: the 👍 / 👎
    buttons, whose payload the client sends back as a message."""

    async def send_text_message(
        self, recipient_id: str, text: str, **kwargs: Any
    ) -> None:
        """Like Rasa's: a message per paragraph (the 👍 / 👎 on the last one)."""
        parts = text.strip().split("\n\n")
        for index, part in enumerate(parts):
            answer = self._message(recipient_id, text=part)  # type: ignore[attr-defined]
            if index == len(parts) - 1:
                _add_votes(answer, feedback_buttons({**kwargs, "buttons": []}))
            await self._persist_message(answer)  # type: ignore[attr-defined]

    async def send_answer(self, recipient_id: str, answer: Answer) -> None:
        """Like Rasa's: one message with all its buttons."""
        message = self._message(recipient_id, text=answer.text, buttons=answer.buttons)  # type: ignore[attr-defined]
        _add_votes(message, answer.votes)
        await self._persist_message(message)  # type: ignore[attr-defined]


def _add_votes(answer: Dict[str, Any], votes: List[Dict[str, str]]) -> None:
    if votes:
        answer["feedback"] = votes


class _Answers(_WithFeedback, CollectingOutputChannel):
    """Rasa's collected answers, addressed to the sender the client sent."""

    @staticmethod
    def _message(recipient_id: str, **parts: Any) -> Dict[str, Any]:
        return CollectingOutputChannel._message(
            external_id(CHANNEL_NAME, recipient_id), **parts
        )


class _StreamedAnswers(_WithFeedback, QueueOutputChannel):
    """Rasa's streamed answers (``?stream=true``), addressed like ``_Answers``."""

    @staticmethod
    def _message(recipient_id: str, **parts: Any) -> Dict[str, Any]:
        return _Answers._message(recipient_id, **parts)


async def _waiting_answers(conversation: str, sender: str) -> List[Dict[str, Any]]:
    """Staff answers that came since the client's last request, taken out once."""
    if not settings.current().handover_available:
        return []
    store = desk().store()
    shown = []
    for answer in await asyncio.to_thread(store.waiting, conversation):
        if await asyncio.to_thread(store.take, answer.id):
            shown.append(
                {
                    "recipient_id": sender,
                    "text": answer.text,
                    "staff_answer": answer.ticket_id,
                }
            )
    return shown


async def _turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage
) -> Any:
    """One Rasa turn; a failure is logged (never the text) and answers nothing."""
    try:
        return await on_new_message(message)
    except CancelledError:
        logger.error("Rasa did not answer a REST message in time.")
    except Exception:
        # Logged without the message text (personal data).
        logger.exception("Rasa failed to handle a REST message.")
    return None


def _with_id(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], message_id: Optional[str]
) -> Callable[[UserMessage], Awaitable[Any]]:
    """``on_new_message`` giving its message the client's id, if there is one."""
    if message_id is None:
        return on_new_message

    async def handle(message: UserMessage) -> Any:
        return await on_new_message(identified(message, message_id))

    return handle


def _tracker_store(request: Request) -> Any:
    agent = getattr(request.app.ctx, "agent", None)
    return getattr(agent, "tracker_store", None)


class ValidatedRestInput(RestInput):
    """``POST /webhooks/rest/webhook`` with checked input (see the module docstring)."""

    _app: Any = None  # the server, once started: its agent answers identified messages

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def _agent(self) -> Any:
        return getattr(getattr(self._app, "ctx", None), "agent", None)

    @staticmethod
    async def on_message_wrapper(
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        queue: Any,
        sender_id: str,
        input_channel: str,
        metadata: Optional[Dict[str, Any]],
    ) -> None:
        collector = _StreamedAnswers(queue)
        message = UserMessage(
            text, collector, sender_id, input_channel=input_channel, metadata=metadata
        )
        await on_new_message(message)
        await queue.put("DONE")

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        rest = Blueprint("validated_rest_webhook", __name__)
        on_new_message = fair(answered_once(on_new_message, self._agent))

        @rest.listener("after_server_start")
        async def started(app: Any, _: Any) -> None:
            self._app = app
            desk().attach(getattr(app.ctx, "agent", None))

        @rest.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        token = settings.current().rest_token

        @rest.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            if token and not bearer_token_ok(request, token):
                return response.json(
                    {"error": "send the REST token as 'Authorization: Bearer <token>'"},
                    status=401,
                )
            try:
                msg = read_message(request.body)
            except BadRequest as error:
                return response.json({"error": error.reason}, status=error.status)
            conversation = conversation_id(CHANNEL_NAME, msg.sender)
            problem = text_problem(msg.text)
            address = client_address(request.ip, request.headers.get("X-Real-IP"))
            if not problem and not shared_limits().allow(conversation, address):
                problem = "too_fast"
                await record_refusal(_tracker_store(request), conversation)
            if problem:
                language = await stored_language(
                    _tracker_store(request),
                    conversation,
                    (msg.metadata or {}).get("language"),
                )
                return response.json(
                    [{"recipient_id": msg.sender, "text": note(problem, language)}]
                )
            confirmed = await desk().confirm_email(conversation, msg.text)
            if confirmed is not None:  # a code for the answer by e-mail: not Rasa's
                waiting = await _waiting_answers(conversation, msg.sender)
                return response.json(
                    [*waiting, {"recipient_id": msg.sender, "text": confirmed}]
                )
            side = is_side_question(msg.text)
            if not side and bool_arg(request, "stream", default=False):
                return response.stream(
                    self.stream_response(
                        _with_id(on_new_message, msg.message_id),
                        msg.text,
                        conversation,
                        msg.input_channel,
                        msg.metadata,
                    ),
                    content_type="text/event-stream",
                )
            collector = _Answers()
            parts = (
                each_message(
                    msg.text,
                    conversation,
                    _tracker_store(request),
                    (msg.metadata or {}).get("language"),
                )
                if not side
                else as_typed(msg.text)
            )
            turns = 0  # Rasa turns so far: each has its own id
            async for part, extra in parts:
                metadata = {**(msg.metadata or {}), **extra}
                if is_side_question(part):
                    reply = await side_answer(
                        part, conversation, CHANNEL_NAME, metadata or {}
                    )
                    answer: Dict[str, Any] = {
                        "recipient_id": msg.sender,
                        "text": reply.text,
                    }
                    if reply.buttons:
                        answer["buttons"] = reply.buttons
                    collector.messages.append(answer)
                    continue
                message_id = part_id(msg.message_id, turns) if msg.message_id else None
                turns += 1
                done = await _turn(
                    on_new_message,
                    (UserMessage if message_id is None else IdentifiedMessage)(
                        part,
                        collector,
                        conversation,
                        input_channel=msg.input_channel,
                        message_id=message_id,
                        metadata=metadata,
                    ),
                )
                if done == REPLAYED and msg.message_id:
                    # Sent before: its other stored turns answer too, as they
                    # were; this read of the text (against a conversation that
                    # has moved on) runs nothing new.
                    await replay_later_turns(
                        on_new_message,
                        collector,
                        conversation,
                        msg.message_id,
                        turns,
                        msg.input_channel,
                    )
                    break
            # Taken out only now: a request cut off during the turn leaves them.
            waiting = await _waiting_answers(conversation, msg.sender)
            return response.json([*waiting, *collector.messages])

        return rest
