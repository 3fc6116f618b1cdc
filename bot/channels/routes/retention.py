"""Not a chat channel: runs the daily deletion of idle conversations in the Rasa
server (``bot/storage/retention.py``) from its start to its stop.

Registered in credentials.yml like a channel so that every Rasa server of the
project starts it (``make run``, ``make run-cluster``, the tests' servers). It has
no route of its own; ``OFR_RETENTION_DAYS`` (default 90) says after how many idle
days a conversation is deleted.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint

from bot.channels.routes.no_chat import NoChatChannel
from bot.storage.retention import Retention
from ofr import settings


class RetentionChannel(NoChatChannel):
    """Starts and stops the retention loop with the Rasa server."""

    channel_name = "retention"

    def __init__(self) -> None:
        self.retention: Optional[Retention] = None

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        retention = Blueprint("retention_webhook", __name__)

        @retention.listener("after_server_start")
        async def started(app: Any, _: Any) -> None:
            def tracker_store() -> Any:
                return getattr(getattr(app.ctx, "agent", None), "tracker_store", None)

            self.retention = Retention(tracker_store, settings.current().retention_days)
            self.retention.start()

        @retention.listener("before_server_stop")
        async def stopping(app: Any, _: Any) -> None:
            if self.retention is not None:
                await self.retention.stop()

        return retention
