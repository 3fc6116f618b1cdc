"""Telegram deep links: ``https://t.me/<bot>?start=<payload>`` opens the bot at a topic,
an event or an alert subscription (flyers at events carry them as QR codes:
``make share-links``).

Telegram allows 1-64 characters of ``A-Z a-z 0-9 _ -`` in the payload, so:

- ``events``: the upcoming events;
- ``e-<event id>``: one event's details (event ids are lower case, digits and ``-``);
- ``q-<intent>``: a question the bot answers, e.g. ``q-ask_perspektive_heimat``;
- ``s-<filter>``: subscribe to alerts; the filter key ("state=Bayern") in URL-safe
  base64 without padding.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Optional

_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EVENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_INTENT = re.compile(r"^ask_[a-z_]+$")


@dataclass(frozen=True)
class DeepLink:
    """What a deep link asks for: a Rasa payload to ask, or a subscription."""

    question: Optional[str] = None  # e.g. '/ask_event_details{"event_id": "x"}'
    subscription: Optional[str] = None  # a filter key, e.g. "state=Bayern"


def start_payload_for_events() -> str:
    return "events"


def start_payload_for_event(event_id: str) -> str:
    return f"e-{event_id}"


def start_payload_for_question(intent: str) -> str:
    return f"q-{intent}"


def start_payload_for_subscription(filter_key: str) -> str:
    encoded = base64.urlsafe_b64encode(filter_key.encode("utf-8")).decode("ascii")
    return "s-" + encoded.rstrip("=")


def read(payload: str) -> Optional[DeepLink]:
    """The link's meaning; None for anything this bot did not make."""
    if not _PAYLOAD.match(payload or ""):
        return None
    if payload == "events":
        return DeepLink(question="/ask_events")
    kind, _, rest = payload.partition("-")
    if kind == "e" and _EVENT_ID.match(rest):
        return DeepLink(question=f'/ask_event_details{{"event_id": "{rest}"}}')
    if kind == "q" and _INTENT.match(rest):
        return DeepLink(question=f"/{rest}")
    if kind == "s" and rest:
        try:
            key = base64.urlsafe_b64decode(rest + "=" * (-len(rest) % 4)).decode(
                "utf-8"
            )
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return DeepLink(subscription=key)
    return None


def link(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={payload}"
