"""Which adapter serves a platform: the real REST adapter when configured, else dry-run."""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

from adapters.base import Adapter

log = logging.getLogger(__name__)

PLATFORMS = ("zendesk", "gorgias", "freshdesk")
_CLASSES = {"zendesk": "ZendeskAdapter", "gorgias": "GorgiasAdapter", "freshdesk": "FreshdeskAdapter"}
_cache: dict[tuple[str, int], Adapter] = {}


def module(platform: str) -> ModuleType:
    """The adapter module (``verify``, ``parse_webhook``, the adapter class). KeyError if unknown."""
    if platform not in PLATFORMS:
        raise KeyError(platform)
    return importlib.import_module(f"adapters.{platform}")


def get_adapter(platform: str, settings: Any, redis: Any = None) -> Adapter:
    """One adapter per platform per settings object and process (sessions are reused)."""
    key = (platform, id(settings))
    cached = _cache.get(key)
    if cached is not None and getattr(settings, "redis_url", None) and hasattr(cached, "http") and not _shared(cached):
        cached = None  # built before Redis was known: never hand out a limiter that is not shared
    if cached is None:
        ps = settings.platform(platform)
        if ps.configured:
            cls = getattr(module(platform), _CLASSES[platform])
            # With REDIS_URL the account's budget is shared by every worker: whoever asks first
            # (web process, CLI, worker) must not get an adapter with a process-local limiter.
            redis_url = getattr(settings, "redis_url", None)
            _cache[key] = cls(ps, redis=redis if redis is not None else redis_url,
                              marker_key=getattr(settings, "marker_key", None))
        else:
            from adapters.dryrun import DryRunAdapter

            _cache[key] = DryRunAdapter(platform, settings.outbox_dir)
    return _cache[key]


def _shared(adapter: Adapter) -> bool:
    http = getattr(adapter, "http", None)
    limiter = getattr(http, "limiter", None)
    return bool(limiter is not None and limiter.shared)


def reset() -> None:
    """Drop cached adapters (tests, settings change)."""
    _cache.clear()
