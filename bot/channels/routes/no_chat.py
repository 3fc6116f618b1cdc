"""The base of the channels that carry no chat (calendar, model, retention, web chat
assets): Rasa loads them from credentials.yml by name for their routes (or their
start and stop), and they take no credentials."""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional, Type, TypeVar

from rasa.core.channels.channel import InputChannel

Channel = TypeVar("Channel", bound="NoChatChannel")


class NoChatChannel(InputChannel):
    """``channel_name`` is the credentials.yml key and the routes' prefix
    (``/webhooks/<channel_name>/``)."""

    channel_name: ClassVar[str]

    @classmethod
    def name(cls) -> str:
        return cls.channel_name

    @classmethod
    def from_credentials(
        cls: Type[Channel], credentials: Optional[Dict[str, Any]]
    ) -> Channel:
        return cls()
