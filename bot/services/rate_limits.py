"""How many messages one conversation, and one client address, may send.

A few senders writing as fast as they can would take the Rasa server's and the
action server's time from everybody else. Each channel asks ``RateLimits.allow``
before a message goes to the assistant; a message over the limit gets a polite
"please slow down" in the conversation's language (``input_too_fast``), never an
error status. Limits are token buckets: a burst of half a minute's messages
(at least 5), then ``per_minute`` a minute. They hold per Rasa instance; in the cluster nginx limits
each address across instances too (``limit_req``, deploy/nginx.conf.template).

Settings (messages per minute, 0 turns a limit off):
``OFR_RATE_PER_CONVERSATION`` (default 20) and ``OFR_RATE_PER_ADDRESS`` (default 60;
REST and the web chat, not Telegram, whose updates all come from Telegram's servers).
The client address is the peer's, or the ``X-Real-IP`` header of a request from the
proxy named in ``OFR_TRUSTED_PROXY`` (``make run-cluster`` names its nginx).

A refused message is counted for the console's review (``record_refusal``,
bot/storage/rate_limited.py): the conversation then needs review for "rate limit".
Under a flood that must stay cheap: the first refusal of a conversation is written
at once, later ones are added up here and written at most once every
``REFUSAL_WRITE_SECONDS`` per conversation (so a flood's last few seconds may be
missing from the count, never the flood itself).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Tuple

from ofr import settings
from ofr.settings import SettingsError

logger = logging.getLogger(__name__)

# Buckets of senders not seen for a while are dropped first; this caps memory.
MAX_BUCKETS = 50_000
REFUSAL_WRITE_SECONDS = 10.0


# A limit in the environment that is not a whole number (ofr/settings.py says which).
RateLimitSettingError = SettingsError


@dataclass
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``per_minute`` messages a minute per key, after a burst of ``burst``."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def allow(self, key: str) -> bool:
        now = self.clock()
        bucket = self.buckets.pop(key, None) or Bucket(self.burst, now)
        bucket.tokens = min(
            self.burst, bucket.tokens + (now - bucket.updated) * self.rate
        )
        bucket.updated = now
        self.buckets[key] = bucket
        while len(self.buckets) > MAX_BUCKETS:
            self.buckets.popitem(last=False)
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True


class RateLimits:
    """The per-conversation and per-address limits every channel checks."""

    def __init__(
        self,
        per_conversation: Optional[int] = None,
        per_address: Optional[int] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_conversation is None or per_address is None:
            configured = settings.current()
            if per_conversation is None:
                per_conversation = configured.rate_per_conversation
            if per_address is None:
                per_address = configured.rate_per_address
        self.conversations = self._buckets(per_conversation, clock)
        self.addresses = self._buckets(per_address, clock)

    @staticmethod
    def _buckets(per_minute: int, clock: Callable[[], float]) -> Optional[TokenBuckets]:
        # A burst of half a minute's messages: quick button presses are fine.
        return (
            TokenBuckets(per_minute, max(5, per_minute // 2), clock)
            if per_minute
            else None
        )

    def allow(self, conversation: str, address: Optional[str] = None) -> bool:
        """True when both the conversation and its client address may send now."""
        if address and self.addresses and not self.addresses.allow(address):
            return False
        return not self.conversations or self.conversations.allow(conversation)


class RefusalCounts:
    """Refused messages per conversation not written yet; says when one is due: the
    first refusal after a quiet ``every`` seconds at once, then at most one write
    per ``every`` seconds."""

    def __init__(
        self,
        every: float = REFUSAL_WRITE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every = every
        self.clock = clock
        self.pending: OrderedDict[str, Tuple[float, int]] = OrderedDict()

    def refused(self, conversation: str) -> int:
        """Count one refusal; the number of messages to write now (0: later)."""
        now = self.clock()
        written, count = self.pending.pop(conversation, (now - self.every, 0))
        count += 1
        if now - written >= self.every:
            written, due = now, count
            count = 0
        else:
            due = 0
        self.pending[conversation] = (written, count)
        while len(self.pending) > MAX_BUCKETS:
            self.pending.popitem(last=False)
        return due


_SHARED: dict = {}


async def record_refusal(tracker_store: Any, conversation: str) -> None:
    """Count a message the limits refused, for the review (see above); a store
    failure is logged and costs the user nothing."""
    from bot.storage.rate_limited import refusal_store_for

    counts = _SHARED.setdefault("refusals", RefusalCounts())
    due = counts.refused(conversation)
    if not due:
        return
    try:
        store = refusal_store_for(tracker_store, settings.current().var_dir)
        await asyncio.to_thread(store.note, conversation, due)
    except Exception:  # noqa: BLE001 - the note to slow down goes out regardless
        logger.warning("Could not count a rate-limited message.", exc_info=True)


def shared_limits() -> RateLimits:
    """One set of limits for all channels of this Rasa server."""
    if "limits" not in _SHARED:
        _SHARED["limits"] = RateLimits()
    return _SHARED["limits"]


def trusted_proxies() -> Tuple[str, ...]:
    """``OFR_TRUSTED_PROXY``: the proxy addresses whose ``X-Real-IP`` counts (read once)."""
    if "proxies" not in _SHARED:
        _SHARED["proxies"] = settings.current().trusted_proxies
    return _SHARED["proxies"]


def client_address(
    peer: Optional[str],
    forwarded: Optional[str],
    proxies: Optional[Iterable[str]] = None,
) -> Optional[str]:
    """The client's address: the proxy's ``X-Real-IP`` when the request came from
    the configured proxy (``OFR_TRUSTED_PROXY``, default none), else the peer
    address. Any other peer, on this machine or not, could set the header to a new
    value for every message and so never meet the limit."""
    trusted = trusted_proxies() if proxies is None else tuple(proxies)
    if peer and forwarded and _same_address(peer, trusted):
        return forwarded.strip() or peer
    return peer


def _same_address(peer: str, addresses: Tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 on a dual-stack socket
    return any(address == ipaddress.ip_address(trusted) for trusted in addresses)
