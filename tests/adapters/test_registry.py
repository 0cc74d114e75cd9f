"""The adapter cache: with Redis configured, every adapter it hands out shares the account's budget."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from adapters import registry
from app.settings import PlatformSettings


@pytest.fixture(autouse=True)
def _fresh_cache():
    registry.reset()
    yield
    registry.reset()


def _settings(redis_url):
    ps = PlatformSettings(name="zendesk", url="https://acme.zendesk.com", api_token=SecretStr("t"),
                          email="bot@acme.example")
    return SimpleNamespace(redis_url=redis_url, platform=lambda name: ps, outbox_dir="unused")


def test_first_caller_without_a_redis_client_still_gets_the_shared_limiter(redis_url):
    settings = _settings(redis_url)
    first = registry.get_adapter("zendesk", settings)  # e.g. the CLI or an SLA check: no client passed
    assert first.http.limiter.shared
    assert registry.get_adapter("zendesk", settings, redis=object()) is first, "cached and shared"


def test_a_cached_adapter_with_a_local_limiter_is_replaced_once_redis_is_known(redis_url):
    settings = _settings(None)
    local = registry.get_adapter("zendesk", settings)
    assert not local.http.limiter.shared, "embedded mode: one process, an in-memory window"
    settings.redis_url = redis_url
    shared = registry.get_adapter("zendesk", settings)
    assert shared is not local and shared.http.limiter.shared
