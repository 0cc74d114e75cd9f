"""Client-side rate limit per helpdesk connection, shared by every worker through Redis.

A sliding-window log: each request takes a slot stamped with the time; a slot is free when
fewer than ``limit`` requests were made in the last ``period`` seconds. With Redis the log is
a sorted set updated by one Lua script (atomic across processes and machines), so four workers
on two machines together stay inside the account's budget. Without Redis (embedded mode, one
process by definition) the same window lives in memory behind a lock.

The helpdesk's own answer still wins: a 429 with ``Retry-After`` pauses the whole connection
(:meth:`RateLimiter.pause`), not only the request that got it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from adapters.base import TransientError

log = logging.getLogger(__name__)

# (requests, seconds) when the connection does not set its own budget. Zendesk plans allow
# 200-2,500/min; Gorgias API keys get a leaky bucket of 40 per 20 s; Freshdesk trial accounts
# 50/min (paid plans 200-700/min). The defaults are the smallest plan so nobody starts at 429.
DEFAULT_BUDGETS: dict[str, tuple[int, float]] = {
    "zendesk": (200, 60.0),
    "gorgias": (40, 20.0),
    "freshdesk": (50, 60.0),
}

# Time comes from the Redis server (TIME), never from the worker: one worker with a clock two
# minutes fast would otherwise stamp slots in the future and make every other worker wait.
# ARGV[1] overrides it only when a test injects a clock.
_NOW_LUA = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
"""

# KEYS[1] = window (sorted set), KEYS[2] = pause-until key
# ARGV = now (s, float, or '' for server time), period (s), limit, unique member
# Returns 0 when a slot was taken, else the seconds to wait (as a string, Lua numbers truncate).
_ACQUIRE_LUA = _NOW_LUA + """
local period = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then
  return tostring(paused - now)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local used = redis.call('ZCARD', KEYS[1])
if used < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(period) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + period - now
if wait < 0.001 then wait = 0.001 end
return tostring(wait)
"""

# KEYS[1] = pause-until key; ARGV = now (or '' for server time), seconds. Only ever extends a pause.
_PAUSE_LUA = _NOW_LUA + """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local seconds = tonumber(ARGV[2])
local until_ = now + seconds
if until_ > current then
  redis.call('SET', KEYS[1], tostring(until_), 'EX', math.ceil(seconds) + 1)
end
return 1
"""


def connection_key(platform: str, base_url: str | None) -> str:
    """Redis key prefix of one helpdesk connection (platform + host): budgets are per account."""
    host = (urlparse(base_url).netloc if base_url else "") or "default"
    return f"sidecar:ratelimit:{platform}:{host}"


def budget_for(platform: str, rate_per_minute: int = 0) -> tuple[int, float]:
    """(limit, period) for a platform; ``rate_per_minute`` > 0 overrides the default.

    The override keeps the platform's window length so a Gorgias budget of 120/min still
    means 40 per 20 s (its bucket), not a burst of 120 in one second.
    """
    limit, period = DEFAULT_BUDGETS.get(platform, (60, 60.0))
    if rate_per_minute and rate_per_minute > 0:
        limit = max(1, round(rate_per_minute * period / 60.0))
    return limit, period


class RateLimiter:
    """At most ``limit`` requests per ``period`` seconds for one connection key.

    ``acquire()`` blocks (via the injectable ``sleep``) until a slot is free and returns the
    seconds it waited. The shared window runs on the Redis server's clock, so workers with
    skewed clocks still agree; ``clock`` (tests) replaces it, and is the clock of the
    in-process window (default ``time.time``).
    """

    def __init__(self, key: str, limit: int, period: float, redis: Any = None, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] | None = None,
                 max_wait: float = 300.0):
        if limit < 1 or period <= 0:
            raise ValueError("rate limit needs limit >= 1 and period > 0")
        self.key = key
        self.limit = limit
        self.period = float(period)
        self.sleep = sleep
        self._server_time = clock is None
        self._clock = clock or time.time
        self.max_wait = max_wait
        self._redis = _redis_client(redis)
        self._acquire_script = self._redis.register_script(_ACQUIRE_LUA) if self._redis is not None else None
        self._pause_script = self._redis.register_script(_PAUSE_LUA) if self._redis is not None else None
        self._lock = threading.Lock()
        self._local: deque[float] = deque()
        self._local_paused_until = 0.0
        self._warned = False

    @classmethod
    def for_platform(cls, platform: str, base_url: str | None, rate_per_minute: int = 0, redis: Any = None,
                     **kw: Any) -> RateLimiter:
        """The limiter of one helpdesk connection, with the platform's default budget."""
        limit, period = budget_for(platform, rate_per_minute)
        return cls(connection_key(platform, base_url), limit, period, redis, **kw)

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @clock.setter
    def clock(self, fn: Callable[[], float]) -> None:
        """Injecting a clock (tests) replaces the server's clock too."""
        self._clock = fn
        self._server_time = False

    @property
    def shared(self) -> bool:
        """True when the budget is shared through Redis."""
        return self._redis is not None

    def acquire(self) -> float:
        """Take a slot, sleeping until one is free; returns the total seconds waited."""
        waited = 0.0
        while True:
            wait = self._try_acquire()
            if wait <= 0:
                if waited:
                    log.info("rate limit %s: waited %.2fs for a slot", self.key, waited)
                return waited
            if waited + wait > self.max_wait:
                # A budget this exhausted means something else is wrong; fail rather than hang the job.
                raise TransientError(f"rate limit {self.key}: no slot within {self.max_wait:.0f}s", retry_after=wait)
            self.sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Hold every request of this connection for ``seconds`` (the helpdesk said 429)."""
        if seconds <= 0:
            return
        if self._pause_script is not None:
            try:
                self._pause_script(keys=[self.key + ":pause"], args=[self._now_arg(), repr(float(seconds))])
                return
            except Exception as exc:  # Redis trouble must not fail the write; fall back locally
                self._warn(exc)
        with self._lock:
            self._local_paused_until = max(self._local_paused_until, self.clock() + seconds)

    def _now_arg(self) -> str:
        return "" if self._server_time else repr(self.clock())

    def _try_acquire(self) -> float:
        if self._acquire_script is not None:
            try:
                res = self._acquire_script(keys=[self.key, self.key + ":pause"],
                                           args=[self._now_arg(), repr(self.period), self.limit, uuid.uuid4().hex])
                return float(res.decode() if isinstance(res, bytes) else res)
            except Exception as exc:
                self._warn(exc)
        now = self.clock()
        with self._lock:
            if self._local_paused_until > now:
                return self._local_paused_until - now
            while self._local and self._local[0] <= now - self.period:
                self._local.popleft()
            if len(self._local) < self.limit:
                self._local.append(now)
                return 0.0
            return max(self._local[0] + self.period - now, 0.001)

    def _warn(self, exc: Exception) -> None:
        if not self._warned:
            log.warning("rate limit %s: Redis unavailable (%s), limiting in-process only", self.key,
                        type(exc).__name__)
            self._warned = True


def _redis_client(redis: Any) -> Any:
    """Accept a redis client, a URL, or None."""
    if redis is None:
        return None
    if isinstance(redis, str):
        import redis as redis_lib

        return redis_lib.Redis.from_url(redis)
    return redis
