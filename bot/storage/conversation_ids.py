"""Conversation ids that carry their channel.

Every channel used to key conversations by the id its client sent: a Telegram chat
id, a REST ``sender``, a web session id. Anyone who knew or guessed a Telegram chat
id could then change or delete that person's conversation with one REST request.
Now each channel stores its conversations under ``<channel>:<id>`` ("telegram:42",
"rest:crm-7", "socketio:4f2c…") and only ever builds ids with its own prefix, so no
request on one channel can address another channel's conversation.

Conversations stored under bare ids before this change are moved by
``make migrate-ids`` (ofr_tools/migrate_ids.py; docs/storage.md).
"""

from __future__ import annotations

from typing import Optional

SEPARATOR = ":"
CHANNELS = ("telegram", "socketio", "rest")


def conversation_id(channel: str, external_id: str) -> str:
    """The id under which ``channel`` stores the conversation of ``external_id``."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return f"{channel}{SEPARATOR}{external_id}"


def channel_of(conversation: str) -> Optional[str]:
    """The channel a conversation id belongs to (None for a bare, old id)."""
    channel, separator, _ = conversation.partition(SEPARATOR)
    return channel if separator and channel in CHANNELS else None


def external_id(channel: str, conversation: str) -> str:
    """The channel's own id (chat id, sender, session id) inside ``conversation``.

    Raises ValueError for another channel's conversation: an output channel must
    never deliver to it.
    """
    prefix = f"{channel}{SEPARATOR}"
    if not conversation.startswith(prefix):
        raise ValueError(f"not a {channel} conversation")
    return conversation[len(prefix) :]
