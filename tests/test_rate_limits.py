"""bot/services/rate_limits.py: token buckets per conversation and per client address."""

from __future__ import annotations

import pytest

from bot.services.rate_limits import (
    MAX_BUCKETS,
    RateLimits,
    RateLimitSettingError,
    TokenBuckets,
    client_address,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate():
    clock = Clock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)
    assert [buckets.allow("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.allow("b")  # another key has its own bucket
    clock.now += 1.0  # one message a second
    assert buckets.allow("a") and not buckets.allow("a")
    clock.now += 60.0  # never more than the burst saved up
    assert sum(buckets.allow("a") for _ in range(10)) == 3


def test_memory_is_capped():
    buckets = TokenBuckets(per_minute=60, burst=3, clock=Clock())
    for number in range(MAX_BUCKETS + 10):
        buckets.allow(str(number))
    assert len(buckets.buckets) == MAX_BUCKETS


def test_conversation_and_address_limits_both_apply():
    clock = Clock()
    limits = RateLimits(per_conversation=9, per_address=30, clock=clock)
    # Bursts of 5 per conversation and 15 per address.
    assert sum(limits.allow("rest:a", "10.0.0.1") for _ in range(7)) == 5
    # Every message counts for its address, answered or not: of the address's
    # burst of 15, eight are left for other conversations.
    allowed = sum(limits.allow(f"rest:{n}", "10.0.0.1") for n in range(20))
    assert allowed == 8
    assert limits.allow("rest:z", "10.0.0.2")


def test_zero_turns_a_limit_off(monkeypatch):
    monkeypatch.setenv("OFR_RATE_PER_CONVERSATION", "0")
    monkeypatch.setenv("OFR_RATE_PER_ADDRESS", "0")
    limits = RateLimits()
    assert all(limits.allow("rest:a", "10.0.0.1") for _ in range(1000))


@pytest.mark.parametrize("value", ["fast", "-1", "1.5"])
def test_a_bad_setting_is_one_sentence(monkeypatch, value):
    monkeypatch.setenv("OFR_RATE_PER_ADDRESS", value)
    with pytest.raises(RateLimitSettingError, match="OFR_RATE_PER_ADDRESS"):
        RateLimits()


def test_the_proxys_header_counts_only_from_the_configured_proxy(monkeypatch):
    """Issue 29: X-Real-IP counted from any peer on this machine, so 200 messages
    from 127.0.0.1, each naming another address, were all answered."""
    from bot.services import rate_limits

    # By default no proxy is trusted: the peer's address counts, whatever the header.
    monkeypatch.delenv("OFR_TRUSTED_PROXY", raising=False)
    monkeypatch.delitem(rate_limits._SHARED, "proxies", raising=False)
    assert client_address("127.0.0.1", "203.0.113.7") == "127.0.0.1"
    assert client_address("::1", "203.0.113.7") == "::1"
    # The proxy named in OFR_TRUSTED_PROXY (make run-cluster: its nginx) is trusted.
    monkeypatch.setenv("OFR_TRUSTED_PROXY", "127.0.0.1")
    monkeypatch.delitem(rate_limits._SHARED, "proxies", raising=False)
    assert client_address("127.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert client_address("::ffff:127.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert client_address("127.0.0.2", "203.0.113.7") == "127.0.0.2"
    assert client_address("198.51.100.2", "203.0.113.7") == "198.51.100.2"
    assert client_address("198.51.100.2", None) == "198.51.100.2"
    monkeypatch.delitem(rate_limits._SHARED, "proxies", raising=False)
    proxy = ["10.0.0.5"]
    assert client_address("10.0.0.5", " 203.0.113.7 ", proxy) == "203.0.113.7"
    assert client_address("10.0.0.5", "", proxy) == "10.0.0.5"
    assert client_address("127.0.0.1", "203.0.113.7", proxy) == "127.0.0.1"


def test_forged_headers_do_not_dodge_the_address_limit():
    """The attack of issue 29 against the limits as the channels apply them."""
    limits = RateLimits(per_conversation=0, per_address=60, clock=Clock())
    answered = sum(
        limits.allow(
            f"rest:{n}", client_address("127.0.0.1", f"10.1.{n // 250}.{n % 250}", [])
        )
        for n in range(200)
    )
    assert answered == 30  # the burst of one address, then nothing


@pytest.mark.parametrize("value", ["nginx", "127.0.0.1:80", "10.0.0.0/8"])
def test_a_trusted_proxy_must_be_an_address(monkeypatch, value):
    from ofr import settings

    problems = settings.read({"OFR_TRUSTED_PROXY": value}).problems
    assert len(problems) == 1 and "OFR_TRUSTED_PROXY" in problems[0]


def test_refusals_are_written_at_most_once_per_window_per_conversation():
    """Under a flood the count stays cheap: the first refusal at once, then one
    write per window with what was added up meanwhile."""
    from bot.services.rate_limits import RefusalCounts

    clock = Clock()
    counts = RefusalCounts(every=10.0, clock=clock)
    assert counts.refused("rest:a") == 1  # written at once: the review sees it
    assert [counts.refused("rest:a") for _ in range(5)] == [0] * 5
    assert counts.refused("rest:b") == 1  # each conversation its own
    clock.now += 10.0
    assert counts.refused("rest:a") == 6  # the five waiting and this one
    clock.now += 3.0
    assert counts.refused("rest:a") == 0


def test_a_refusal_episode_grows_until_a_quiet_minute(tmp_path):
    import sqlalchemy as sa

    from bot.storage.rate_limited import RefusalStore

    store = RefusalStore(sa.create_engine(f"sqlite:///{tmp_path / 'r.db'}"))
    store.note("rest:a", 1, 1000.0)
    store.note("rest:a", 6, 1050.0)
    store.note("rest:a", 1, 1200.0)  # after a quiet minute: a new episode
    assert [(e.first_at, e.messages) for e in store.episodes()["rest:a"]] == [
        (1000.0, 7),
        (1200.0, 1),
    ]
