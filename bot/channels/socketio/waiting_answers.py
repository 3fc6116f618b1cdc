"""Staff answers from the handover desk, shown to the web chats connected to this
server until the widget acknowledges them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any, Dict, List, Optional

from bot.channels.socketio.rooms import CHANNEL_NAME
from bot.services.handover_desk import desk
from bot.storage.conversation_ids import channel_of
from bot.storage.tickets import WaitingAnswer
from ofr import settings

logger = logging.getLogger(__name__)


class WaitingAnswers:
    """Shows staff answers waiting for a web chat (bot/services/handover_desk.py)
    to the chats connected to this server: at once when woken (an answer came, a
    user came back), and every few seconds for answers that reached another server
    of the cluster.

    Each answer is offered to the conversation's sockets, one at a time in the
    order staff wrote them, and the widget acknowledges it once shown; then it is
    delivered and no longer waits. Without an acknowledgement within
    ``OFR_STAFF_ANSWER_ACK_SECONDS`` (the chat closed, the connection dropped) it is
    offered again, and later answers of that conversation wait behind it. The
    widget shows an answer it already showed only once (it knows the ``answer_id``).
    """

    POLL_SECONDS = 2.0
    # A server that dies while it offers an answer holds it this much longer than
    # the acknowledgement may take; then another server offers it.
    OFFER_MARGIN_SECONDS = 5.0

    def __init__(self, sio: Any, event: str, namespace: str) -> None:
        self.sio, self.event, self.namespace = sio, event, namespace
        self.ack_seconds = settings.current().staff_answer_ack_seconds
        self._woken = asyncio.Event()
        self._task: Optional[asyncio.Task] = None
        # Conversations whose answers are being offered now: one offer at a time.
        self._offering: Dict[str, asyncio.Task] = {}

    def start(self) -> None:
        if not settings.current().handover_available:
            return  # nothing can wait: no database round every few seconds
        desk().on_waiting.append(self.wake)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.wake in desk().on_waiting:
            desk().on_waiting.remove(self.wake)
        tasks = [t for t in (self._task, *self._offering.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        self._woken.set()

    def _sockets(self, room: str) -> List[str]:
        try:
            return [
                sid
                for sid, _ in self.sio.manager.get_participants(self.namespace, room)
            ]
        except KeyError:  # nobody connected to this namespace yet
            return []

    async def show(self) -> None:
        """Start offering the waiting answers of the chats connected here (a
        conversation already being offered its answers goes on as it is)."""
        store = desk().store()
        by_conversation: Dict[str, List[WaitingAnswer]] = {}
        for answer in await asyncio.to_thread(store.waiting):
            if channel_of(answer.conversation) == CHANNEL_NAME:
                by_conversation.setdefault(answer.conversation, []).append(answer)
        for conversation, answers in by_conversation.items():
            if conversation in self._offering or not self._sockets(conversation):
                continue
            task = asyncio.create_task(self.deliver(conversation, answers))
            self._offering[conversation] = task
            task.add_done_callback(functools.partial(self._ended, conversation))

    def _ended(self, conversation: str, task: asyncio.Task) -> None:
        self._offering.pop(conversation, None)
        if task.cancelled():
            return
        if task.exception() is not None:
            logger.error("Offering staff answers failed.", exc_info=task.exception())
        elif task.result():
            self.wake()  # all delivered: one that came meanwhile goes next

    async def deliver(self, conversation: str, answers: List[WaitingAnswer]) -> bool:
        """Offer ``answers`` in order until one is not acknowledged; whether all
        were delivered."""
        store = desk().store()
        for answer in answers:
            sockets = self._sockets(conversation)
            if not sockets or not await asyncio.to_thread(
                store.offer, answer.id, self.ack_seconds + self.OFFER_MARGIN_SECONDS
            ):
                return False  # nobody to show it to, or another server offers it
            data = {
                "text": answer.text,
                "staff_answer": answer.ticket_id,
                "answer_id": answer.id,
            }
            acks = await asyncio.gather(*(self._send(sid, data) for sid in sockets))
            if not any(acks):
                await asyncio.to_thread(store.offer_again, answer.id)
                return False
            await asyncio.to_thread(store.delivered, answer.id)
        return True

    async def _send(self, sid: str, data: Dict[str, Any]) -> bool:
        try:
            await self.sio.call(
                self.event,
                data,
                to=sid,
                namespace=self.namespace,
                timeout=self.ack_seconds,
            )
        except Exception:  # no acknowledgement in time, or the socket is gone
            return False
        return True

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.POLL_SECONDS)
            self._woken.clear()
            try:
                await self.show()
            except Exception:  # a database hiccup: try again at the next round
                logger.exception("Showing waiting staff answers failed.")
