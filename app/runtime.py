"""Process-wide handles: the Redis connection and the state store, built from settings once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from app.store.state import RedisState, SqliteState, StateStore

_lock = threading.RLock()
_redis: dict[str, Any] = {}
_state: dict[tuple[str, str], StateStore] = {}


def get_redis(settings: Any):
    """A Redis client for ``settings.redis_url`` (None in embedded mode). Short timeouts: fail fast → 503."""
    if not settings.redis_url:
        return None
    with _lock:
        if settings.redis_url not in _redis:
            import redis

            _redis[settings.redis_url] = redis.Redis.from_url(
                settings.redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
        return _redis[settings.redis_url]


def get_state(settings: Any) -> StateStore:
    """Redis-backed state with ``REDIS_URL``, else a SQLite file under ``var/``."""
    key = (settings.redis_url or "", settings.var_dir)
    with _lock:
        if key not in _state:
            if settings.redis_url:
                _state[key] = RedisState(get_redis(settings))
            else:
                _state[key] = SqliteState(Path(settings.var_dir) / "state.sqlite3")
        return _state[key]


def reset() -> None:
    """Forget cached handles (tests)."""
    with _lock:
        _redis.clear()
        _state.clear()
