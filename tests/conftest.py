"""Shared fixtures. Redis is real: a separate DB index (``SIDECAR_TEST_REDIS_DB``, default 15), flushed."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Never let a developer's real credentials leak into a test run.
_ENV_PREFIXES = ("ZENDESK_", "GORGIAS_", "FRESHDESK_", "OPENAI_", "SLACK_", "SENTRY_", "CHROMA_", "REDIS_URL",
                 "SIDECAR_", "DATABASE_URL", "OPS_TOKEN")
for _k in list(os.environ):
    if _k.startswith(_ENV_PREFIXES) and _k not in ("SIDECAR_TEST_REDIS_DB", "SIDECAR_TEST_REDIS_HOST"):
        del os.environ[_k]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def redis_test_url() -> str:
    host = os.environ.get("SIDECAR_TEST_REDIS_HOST", "127.0.0.1:6379")
    return f"redis://{host}/{int(os.environ.get('SIDECAR_TEST_REDIS_DB', '15'))}"


@pytest.fixture
def redis_url() -> str:
    """URL of the test Redis DB, flushed before the test."""
    import redis

    url = redis_test_url()
    r = redis.Redis.from_url(url)
    try:
        r.flushdb()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not reachable at {url}: run the README's test command, which starts one")
    yield url
    r.flushdb()


@pytest.fixture
def dead_redis_url() -> str:
    """A Redis URL where nothing listens (a closed loopback port)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"redis://127.0.0.1:{port}/0"


def load_fixture(*parts: str) -> bytes:
    return FIXTURES.joinpath(*parts).read_bytes()
