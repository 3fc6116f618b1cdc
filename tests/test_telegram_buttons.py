"""Long Telegram button payloads work on every instance when Redis keeps them."""

from __future__ import annotations

import uuid

import pytest
import redis

from bot.channels.telegram.buttons import ButtonPayloads
from tests.stores import service_missing

REDIS_URL = "redis://127.0.0.1:6379/0"
LONG = '/ask_event_details{"event_id": "ofr-2027-hamburg-network-meeting-long"}'


@pytest.fixture
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        service_missing("Redis is not running at 127.0.0.1:6379")
    prefix = f"ofr-test-{uuid.uuid4().hex}:"
    yield REDIS_URL, prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)


def test_short_payloads_are_sent_as_they_are():
    payloads = ButtonPayloads()
    assert payloads.encode("/ask_contact") == "/ask_contact"
    assert payloads.decode("/ask_contact") == "/ask_contact"


def test_long_payloads_get_a_key_this_process_remembers():
    payloads = ButtonPayloads()
    key = payloads.encode(LONG)
    assert len(key.encode()) <= 64
    assert payloads.decode(key) == LONG
    assert ButtonPayloads().decode(key) is None  # another process without Redis


def test_with_redis_another_instance_decodes_the_key(redis_url, monkeypatch):
    url, prefix = redis_url
    monkeypatch.setattr(ButtonPayloads, "REDIS_PREFIX", prefix)
    key = ButtonPayloads(redis_url=url).encode(LONG)
    other_instance = ButtonPayloads(redis_url=url)
    assert other_instance.decode(key) == LONG
    ttl = redis.Redis.from_url(url).ttl(prefix + key)
    assert 0 < ttl <= ButtonPayloads.REDIS_SECONDS


def test_redis_down_falls_back_to_this_process():
    payloads = ButtonPayloads(redis_url="redis://127.0.0.1:1/0")
    key = payloads.encode(LONG)
    assert payloads.decode(key) == LONG
    assert ButtonPayloads(redis_url="redis://127.0.0.1:1/0").decode(key) is None
