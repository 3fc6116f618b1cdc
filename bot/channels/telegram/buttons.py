"""Button payloads longer than Telegram's 64-byte callback_data, kept under a key."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Optional

import redis

logger = logging.getLogger(__name__)


class ButtonPayloads:
    """Telegram's callback_data holds at most 64 bytes; longer payloads get a key.

    The keys live in this process and, when ``OFR_REDIS_URL`` is set, in Redis for 30
    days, so that a button pressed later works on any instance of a cluster.
    """

    REDIS_PREFIX = "ofr:telegram-button:"
    REDIS_SECONDS = 30 * 24 * 3600

    def __init__(self, capacity: int = 10_000, redis_url: Optional[str] = None) -> None:
        self._payloads: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None

    def encode(self, payload: str) -> str:
        if len(payload.encode("utf-8")) <= 64 and not payload.startswith("k:"):
            return payload
        key = "k:" + hashlib.sha1(payload.encode("utf-8")).hexdigest()[:20]
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        while len(self._payloads) > self._capacity:
            self._payloads.popitem(last=False)
        if self._redis is not None:
            try:
                self._redis.set(self.REDIS_PREFIX + key, payload, ex=self.REDIS_SECONDS)
            except redis.RedisError as error:
                logger.error("Could not keep a button in Redis: %s", error)
        return key

    def decode(self, data: str) -> Optional[str]:
        if not data.startswith("k:"):
            return data
        payload = self._payloads.get(data)
        if payload is None and self._redis is not None:
            try:
                stored = self._redis.get(self.REDIS_PREFIX + data)
            except redis.RedisError as error:
                logger.error("Could not read a button from Redis: %s", error)
                return None
            payload = stored.decode("utf-8") if stored is not None else None
        return payload
