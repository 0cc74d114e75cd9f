"""Shared state: webhook dedupe (SET NX with TTL) and which write steps are done per event.

With ``REDIS_URL`` everything lives in Redis, so any number of web and worker processes on
any number of machines agree. The embedded mode is one process by definition and keeps the
same state in a SQLite file under ``var/``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from adapters.base import StepLog

PREFIX = "sidecar"


class StateUnavailable(RuntimeError):
    """The state store cannot be reached (the webhook answers 503 so the helpdesk retries)."""


class StateStore(StepLog):
    """Dedupe claims and step markers."""

    def claim(self, key: str, ttl: int) -> bool:
        """Atomically claim ``key`` for ``ttl`` seconds; False if someone already holds it."""
        raise NotImplementedError

    def claim_for(self, key: str, owner: str, ttl: int) -> bool:
        """Claim ``key`` for ``owner``; True if newly claimed or already held by the same owner (a retry)."""
        raise NotImplementedError

    def release(self, key: str) -> None:
        """Give a claim back (e.g. the event could not be queued, so a retry must not be a duplicate)."""
        raise NotImplementedError

    def ping(self) -> bool:
        raise NotImplementedError

    def put_json(self, key: str, value: Any, ttl: int) -> None:
        """Store a small JSON value (e.g. the last draft of a ticket, for agent feedback)."""
        raise NotImplementedError

    def get_json(self, key: str) -> Any:
        raise NotImplementedError

    @staticmethod
    def step_key(platform: str, event_id: str, step: str) -> str:
        return f"{PREFIX}:step:{platform}:{event_id}:{step}"

    @staticmethod
    def dedupe_key(platform: str, event_id: str) -> str:
        return f"{PREFIX}:dedupe:{platform}:{event_id}"


STEP_TTL = 30 * 24 * 3600


class RedisState(StateStore):
    def __init__(self, redis):
        self.redis = redis

    def claim(self, key: str, ttl: int) -> bool:
        import redis as redis_lib

        try:
            return bool(self.redis.set(key, "1", nx=True, ex=ttl))
        except redis_lib.RedisError as exc:
            raise StateUnavailable(f"redis unavailable: {exc.__class__.__name__}") from exc

    def claim_for(self, key: str, owner: str, ttl: int) -> bool:
        if self.redis.set(key, owner, nx=True, ex=ttl):
            return True
        held = self.redis.get(key)
        return held is not None and held.decode() == owner

    def release(self, key: str) -> None:
        self.redis.delete(key)

    def is_done(self, platform: str, event_id: str, step: str) -> bool:
        return bool(self.redis.exists(self.step_key(platform, event_id, step)))

    def mark_done(self, platform: str, event_id: str, step: str) -> None:
        self.redis.set(self.step_key(platform, event_id, step), "1", ex=STEP_TTL)

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except Exception:
            return False

    def put_json(self, key: str, value: Any, ttl: int) -> None:
        self.redis.set(key, json.dumps(value), ex=ttl)

    def get_json(self, key: str) -> Any:
        raw = self.redis.get(key)
        return json.loads(raw) if raw else None


class SqliteState(StateStore):
    """Embedded-mode state (single process): claims and steps in ``var/state.sqlite3``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, expires REAL NOT NULL, owner TEXT)")

    def claim(self, key: str, ttl: int) -> bool:
        now = time.time()
        with self._lock:
            try:
                self._conn.execute("DELETE FROM kv WHERE key = ? AND expires < ?", (key, now))
                cur = self._conn.execute("INSERT OR IGNORE INTO kv (key, expires) VALUES (?, ?)", (key, now + ttl))
                return cur.rowcount == 1
            except sqlite3.Error as exc:
                raise StateUnavailable(f"state file unavailable: {exc}") from exc

    def claim_for(self, key: str, owner: str, ttl: int) -> bool:
        now = time.time()
        with self._lock:
            self._conn.execute("DELETE FROM kv WHERE key = ? AND expires < ?", (key, now))
            cur = self._conn.execute("INSERT OR IGNORE INTO kv (key, expires, owner) VALUES (?, ?, ?)",
                                     (key, now + ttl, owner))
            if cur.rowcount == 1:
                return True
            row = self._conn.execute("SELECT owner FROM kv WHERE key = ?", (key,)).fetchone()
        return bool(row and row[0] == owner)

    def release(self, key: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM kv WHERE key = ?", (key,))

    def is_done(self, platform: str, event_id: str, step: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT expires FROM kv WHERE key = ?", (self.step_key(platform, event_id, step),)).fetchone()
        return bool(row and row[0] >= time.time())

    def mark_done(self, platform: str, event_id: str, step: str) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO kv (key, expires) VALUES (?, ?)",
                               (self.step_key(platform, event_id, step), time.time() + STEP_TTL))

    def ping(self) -> bool:
        return True

    def put_json(self, key: str, value: Any, ttl: int) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO kv (key, expires, owner) VALUES (?, ?, ?)",
                               (key, time.time() + ttl, json.dumps(value)))

    def get_json(self, key: str) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT owner, expires FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row and row[0] and row[1] >= time.time() else None
