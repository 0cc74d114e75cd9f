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
    if key not in _cache:
        ps = settings.platform(platform)
        if ps.configured:
            cls = getattr(module(platform), _CLASSES[platform])
            _cache[key] = cls(ps, redis=redis, marker_key=getattr(settings, "marker_key", None))
        else:
            from adapters.dryrun import DryRunAdapter

            _cache[key] = DryRunAdapter(platform, settings.outbox_dir)
    return _cache[key]


def reset() -> None:
    """Drop cached adapters (tests, settings change)."""
    _cache.clear()
