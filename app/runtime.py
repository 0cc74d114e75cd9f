"""Process-wide handles built from settings once: the Redis connection, the state store, and the
capabilities handed to the pipeline (knowledge base, LLM, local intent model)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from app.store.state import RedisState, SqliteState, StateStore
from pipeline.flow import Capabilities

log = logging.getLogger(__name__)

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


def knowledge_base(settings: Any) -> Any:
    """The knowledge base for the pipeline, or None when it cannot be opened (drafts then say so)."""
    try:
        from knowledge.retrieve import retriever_for

        return retriever_for(settings)
    except Exception as exc:  # the KB is optional: never fail the ticket over it
        log.warning("knowledge retrieval unavailable: %s", exc)
        return None


def intent_model(settings: Any, cfg: Any) -> Any:
    """The process's local intent model for ``cfg`` plus the store's learned examples (fitted once, cached)."""
    from pipeline.local_classifier import get_local_model, learned_path

    try:
        return get_local_model(cfg, learned_path(settings.var_dir))
    except Exception:  # classify() falls back to the keyword baseline and says why
        log.exception("local intent model unavailable")
        return None


def capabilities(settings: Any, cfg: Any) -> Capabilities:
    """What the pipeline may use for one job: built from the process's settings, never by the pipeline."""
    llm = settings.llm()
    return Capabilities(kb=knowledge_base(settings), llm=llm, intent_model=intent_model(settings, cfg))
