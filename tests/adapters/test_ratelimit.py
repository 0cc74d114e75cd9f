"""The client-side rate limiter: sliding window in memory or shared through real Redis."""

from __future__ import annotations

import threading

import pytest
import redis as redis_lib

from adapters.base import TransientError
from adapters.ratelimit import RateLimiter, budget_for, connection_key
from tests.fakes.clock import FakeClock


class OutOfBudget(Exception):
    pass


def _refuse(_: float) -> None:
    raise OutOfBudget


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
def test_window_allows_limit_then_waits_for_the_oldest_slot(shared, redis_url):
    clock = FakeClock()
    r = redis_lib.Redis.from_url(redis_url) if shared else None
    lim = RateLimiter("t:window", 3, 10.0, r, sleep=clock.sleep, clock=clock.time)
    assert [lim.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 4.0
    waited = lim.acquire()
    assert waited == pytest.approx(6.0, abs=0.01), "the first slot frees 10 s after it was taken"
    assert clock.slept == [pytest.approx(6.0, abs=0.01)]
    clock.now += 10.0
    assert lim.acquire() == 0.0


def test_two_limiters_on_one_key_share_the_budget_and_other_keys_do_not(redis_url):
    r = redis_lib.Redis.from_url(redis_url)
    clock = FakeClock()
    a = RateLimiter("t:shared", 2, 60.0, r, sleep=clock.sleep, clock=clock.time)
    b = RateLimiter("t:shared", 2, 60.0, redis_url, sleep=clock.sleep, clock=clock.time)  # a URL works too
    other = RateLimiter("t:other", 2, 60.0, r, sleep=clock.sleep, clock=clock.time)
    a.acquire()
    a.acquire()
    assert other.acquire() == 0.0
    assert b.acquire() == pytest.approx(60.0, abs=0.01)


def test_concurrent_workers_never_exceed_the_budget(redis_url):
    """Eight threads (separate clients, like separate workers) race for 25 slots: exactly 25 win."""
    wins: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        lim = RateLimiter("t:race", 25, 60.0, redis_lib.Redis.from_url(redis_url), sleep=_refuse)
        for _ in range(10):
            try:
                lim.acquire()
            except OutOfBudget:
                return
            with lock:
                wins.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 25


def test_pause_after_a_429_holds_every_instance(redis_url):
    r = redis_lib.Redis.from_url(redis_url)
    clock = FakeClock()
    a = RateLimiter("t:pause", 100, 60.0, r, sleep=clock.sleep, clock=clock.time)
    b = RateLimiter("t:pause", 100, 60.0, r, sleep=clock.sleep, clock=clock.time)
    a.pause(5.0)
    assert b.acquire() == pytest.approx(5.0, abs=0.01)
    assert a.acquire() == 0.0, "the pause is over for everyone"


def test_a_pause_is_never_shortened(redis_url):
    clock = FakeClock()
    lim = RateLimiter("t:pause2", 100, 60.0, redis_lib.Redis.from_url(redis_url), sleep=clock.sleep, clock=clock.time)
    lim.pause(8.0)
    lim.pause(2.0)
    assert lim.acquire() == pytest.approx(8.0, abs=0.01)


def test_redis_down_falls_back_to_an_in_process_window(dead_redis_url, caplog):
    clock = FakeClock()
    lim = RateLimiter("t:down", 2, 30.0, redis_lib.Redis.from_url(dead_redis_url, socket_connect_timeout=0.2),
                      sleep=clock.sleep, clock=clock.time)
    assert lim.acquire() == 0.0 and lim.acquire() == 0.0
    assert lim.acquire() == pytest.approx(30.0, abs=0.01)
    assert "in-process" in caplog.text


def test_a_hopeless_wait_fails_instead_of_hanging():
    clock = FakeClock()
    lim = RateLimiter("t:hopeless", 1, 600.0, None, sleep=clock.sleep, clock=clock.time, max_wait=60.0)
    lim.acquire()
    with pytest.raises(TransientError, match="no slot"):
        lim.acquire()
    assert clock.slept == []


def test_budgets_per_platform_and_override():
    assert budget_for("zendesk") == (200, 60.0)
    assert budget_for("gorgias") == (40, 20.0)
    assert budget_for("freshdesk") == (50, 60.0)
    assert budget_for("gorgias", 120) == (40, 20.0), "the override keeps Gorgias's 20 s bucket"
    assert budget_for("zendesk", 700) == (700, 60.0)
    assert budget_for("freshdesk", 1) == (1, 60.0)


def test_keys_are_per_platform_and_account():
    assert connection_key("zendesk", "https://acme.zendesk.com") == "sidecar:ratelimit:zendesk:acme.zendesk.com"
    assert connection_key("zendesk", "https://acme.zendesk.com") != connection_key("zendesk", "https://beta.zendesk.com")
    assert RateLimiter.for_platform("gorgias", "https://acme.gorgias.com", 0).limit == 40


def test_invalid_budget_is_refused():
    with pytest.raises(ValueError):
        RateLimiter("t:bad", 0, 60.0)
