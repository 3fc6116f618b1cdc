"""What every channel checks before Rasa sees a message: sizes, JSON, text.

Two kinds of bad input, two kinds of answer:

- A request that is not a message (too big, not JSON, wrong types, missing fields)
  is refused: 4xx on REST and Telegram, dropped with a log line on socket.io.
- A message whose text cannot be answered (empty once cleaned, longer than
  ``MAX_MESSAGE_CHARS``) gets a polite note in the conversation's language instead
  of going to the assistant. Any other text, however odd, goes to the assistant
  after ``clean_text``.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Any, Optional

from ofr.language import language_code
from ofr.messages import message

logger = logging.getLogger(__name__)

# A REST request or a socket.io packet; Telegram updates may be bigger (replies quote
# a whole message), its channel allows up to MAX_UPDATE_BYTES.
MAX_BODY_BYTES = 64 * 1024
# The web chat's input field has maxlength 2000; Telegram allows up to 4096.
MAX_MESSAGE_CHARS = 2000
# Conversation ids: UUIDs, Telegram chat ids, socket.io session ids are far shorter.
MAX_SENDER_CHARS = 128
# Objects and lists inside objects and lists: metadata, a Telegram update's replies.
MAX_JSON_DEPTH = 16

# C0 and C1 control characters except tab and newline, and lone surrogates (which
# cannot be encoded as UTF-8 and would fail the tracker store).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?")


class BadRequest(Exception):
    """A request that is not a message; ``status`` is the HTTP answer (4xx)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: Optional[bytes], max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The JSON value of a request body, or BadRequest (413 too big, 400 not JSON)."""
    body = body or b""
    if len(body) > max_bytes:
        raise BadRequest(413, f"request body larger than {max_bytes} bytes")
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # includes UnicodeDecodeError
        raise BadRequest(400, "the body is not valid JSON (UTF-8)") from None
    check_json_value(data)
    return data


def check_json_value(data: Any) -> None:
    """BadRequest for nesting deeper than MAX_JSON_DEPTH or strings with lone
    surrogates ("\\ud800" is valid JSON but no valid text)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                raise BadRequest(400, "a string holds an invalid Unicode escape")
        elif isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise BadRequest(422, f"JSON nested deeper than {MAX_JSON_DEPTH}")
            if isinstance(value, dict):
                stack.extend((key, depth) for key in value)
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(text: str) -> str:
    """NFC-normalised, without NUL and control characters (newline and tab stay),
    line breaks as ``\\n``, trimmed."""
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    return unicodedata.normalize("NFC", text).strip()


def text_problem(text: str) -> Optional[str]:
    """'empty' or 'too_long' for a cleaned text the assistant should not get."""
    if not text:
        return "empty"
    if len(text) > MAX_MESSAGE_CHARS:
        return "too_long"
    return None


def note(problem: str, language: str) -> str:
    """The polite answer to a text with ``problem``, in ``language`` (en/de);
    the texts are ``input_empty``, ``input_too_long`` and ``input_too_fast`` (a rate
    limit, bot/services/rate_limits.py) in ofr/messages.yml."""
    return message(
        f"input_{problem}",
        language if language in ("en", "de") else "de",
        limit=f"{MAX_MESSAGE_CHARS:,}",
    )


def check_sender(value: Any) -> str:
    """A conversation id: a string (or integer) of 1-128 printable characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadRequest(422, "'sender' must be a string")
    value = value.strip()
    if not value or len(value) > MAX_SENDER_CHARS:
        raise BadRequest(422, f"'sender' must have 1 to {MAX_SENDER_CHARS} characters")
    if _CONTROL.search(value):
        raise BadRequest(422, "'sender' must not contain control characters")
    return value


async def stored_language(tracker_store: Any, sender: str, hint: Any = None) -> str:
    """The language of ``sender``'s conversation: its ``language`` slot, else the
    channel's hint ('en-GB', 'de'), else German."""
    if tracker_store is not None:
        try:
            tracker = await tracker_store.retrieve(sender)
        except Exception:  # a store failure must not cost the user the note
            logger.warning("Could not read a conversation's language.", exc_info=True)
            tracker = None
        if tracker is not None and tracker.events:
            language = language_code(tracker.get_slot("language"))
            if language:
                return language
    return language_code(hint) or "de"
