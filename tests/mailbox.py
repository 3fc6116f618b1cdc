"""A real SMTP server on this machine (aiosmtpd) for the e-mail tests."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, List

from tests.servers import free_port


class Mailbox:
    """Keeps every message it receives, as text."""

    def __init__(self) -> None:
        self.messages: List[str] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode("utf-8", errors="replace"))
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def running_mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()
