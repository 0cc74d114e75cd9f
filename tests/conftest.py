"""Shared fixtures. Redis is real: a separate DB index (``SIDECAR_TEST_REDIS_DB``, default 15), flushed."""

from __future__ import annotations

import os
import socket
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Never let a developer's real credentials leak into a test run.
_ENV_PREFIXES = ("ZENDESK_", "GORGIAS_", "FRESHDESK_", "OPENAI_", "SLACK_", "SENTRY_", "CHROMA_", "REDIS_URL",
                 "SIDECAR_", "DATABASE_URL", "OPS_TOKEN", "METRICS_TOKEN", "KB_")
for _k in list(os.environ):
    if _k.startswith(_ENV_PREFIXES) and _k not in ("SIDECAR_TEST_REDIS_DB", "SIDECAR_TEST_REDIS_HOST",
                                                    "SIDECAR_SCREENSHOT_DIR"):
        del os.environ[_k]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One BLAS thread, as every process the sidecar starts has (app/__main__.py; numpy's and scipy's OpenBLAS read
# this when first loaded, i.e. after this file): idle BLAS threads spin-wait, and a test run that left them on
# until the first test to call pipeline.classify.warm_up (which then holds BLAS to one thread for the rest of
# the process) spent several times the CPU in each small scikit-learn fit before it. Worker processes that
# tests start inherit it, as they would from `python -m app`.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Tests never write into the developer's var/: anything that does not set its own SIDECAR_VAR
# (a CLI test, a helper reading settings) gets this throw-away folder instead of ./var.
os.environ["SIDECAR_VAR"] = tempfile.mkdtemp(prefix="sidecar-test-var-")


# Prepended to the worker scripts tests start as processes: the worker exits when the test run
# that started it is gone. In a session of its own (for killpg), a worker outlived a killed run and
# pumped the webhook inbox of the same test DB: an entry of the next run could sit in its
# processing list when that run's burst worker looked, and tests/app/jobs/test_feedback.py then
# found no draft (KeyError: 'feedback_reply'). See also _no_foreign_worker below.
DIE_WITH_PARENT = textwrap.dedent("""
    import os, threading, time
    def _die_with_parent(parent=os.getppid()):
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=_die_with_parent, daemon=True).start()
""")


def _var_snapshot() -> dict[str, float]:
    var = ROOT / "var"
    return {str(p): p.stat().st_mtime for p in var.rglob("*") if p.is_file()} if var.is_dir() else {}


@pytest.fixture(scope="session", autouse=True)
def _developer_var_untouched():
    """Fails the run if any test wrote into the repository's var/ (the developer's data)."""
    before = _var_snapshot()
    yield
    after = _var_snapshot()
    changed = sorted(p for p in after if before.get(p) != after[p])
    assert not changed, f"tests wrote into the developer's var/: {changed[:5]}"


def redis_test_url() -> str:
    host = os.environ.get("SIDECAR_TEST_REDIS_HOST", "127.0.0.1:6379")
    return f"redis://{host}/{int(os.environ.get('SIDECAR_TEST_REDIS_DB', '15'))}"


_foreign_workers: str | None = None


@pytest.fixture(scope="session", autouse=True)
def _no_foreign_worker():
    """Before any test: is an rq worker of another process connected to the test DB?

    Such a worker (an orphan of a killed run, or a second run on the same DB) pumps the webhook
    inbox and takes this run's jobs: its tests then fail at random, far from the cause. rq names
    its worker connections, and nothing of this run is connected yet. Tests using ``redis_url``
    fail with the finding; tests without Redis run (and a Redis that is down is their business).
    """
    global _foreign_workers
    import redis

    url = redis_test_url()
    r = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        db = str(r.connection_pool.connection_kwargs.get("db", 0))
        workers = [c for c in r.client_list() if str(c.get("db")) == db and c.get("name")]
    except redis.RedisError:
        workers = []
    finally:
        r.close()
    if workers:
        found = ", ".join(f"{c['name']} from {c.get('addr')}" for c in workers[:5])
        _foreign_workers = (f"rq workers of another process are connected to the test DB {url}: {found}. Stop "
                            "them (an orphan of a killed run?) or set SIDECAR_TEST_REDIS_DB to a DB of your own.")
    yield


@pytest.fixture
def redis_url() -> str:
    """URL of the test Redis DB, flushed before the test."""
    import redis

    url = redis_test_url()
    r = redis.Redis.from_url(url)
    if _foreign_workers:
        pytest.fail(_foreign_workers)
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


ZENDESK_SECRET = "test-zendesk-signing-secret"
GORGIAS_TOKEN = "test-gorgias-token"
FRESHDESK_TOKEN = "test-freshdesk-token"


def reset_caches() -> None:
    """Forget every process-wide cache that depends on env (settings, adapters, state, config)."""
    from adapters import registry
    from app import runtime
    from app.jobs import embedded
    from app.settings import reset_settings
    from pipeline.config import reset_config

    embedded.reset()
    reset_settings()
    registry.reset()
    runtime.reset()
    reset_config()


@pytest.fixture
def sidecar_env(monkeypatch, tmp_path, redis_url):
    """Redis mode, dry-run adapters, webhook secrets set; var/ in a temp folder."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    monkeypatch.setenv("ZENDESK_WEBHOOK_SECRET", ZENDESK_SECRET)
    monkeypatch.setenv("GORGIAS_WEBHOOK_TOKEN", GORGIAS_TOKEN)
    monkeypatch.setenv("FRESHDESK_WEBHOOK_TOKEN", FRESHDESK_TOKEN)
    reset_caches()
    yield tmp_path / "var"
    reset_caches()


@pytest.fixture
def app_client(sidecar_env):
    from app import create_app

    app = create_app()
    return app.test_client()


def signed_headers(body: bytes, secret: str = ZENDESK_SECRET, timestamp: str | None = None) -> dict[str, str]:
    from datetime import UTC, datetime

    from adapters.zendesk import sign

    ts = timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sign(secret, ts, body),
            "X-Zendesk-Webhook-Signature-Timestamp": ts}


def auth_headers(platform: str, body: bytes) -> dict[str, str]:
    """Headers that authenticate ``body`` for ``platform``."""
    if platform == "zendesk":
        return signed_headers(body)
    token = GORGIAS_TOKEN if platform == "gorgias" else FRESHDESK_TOKEN
    return {"Content-Type": "application/json", "X-Sidecar-Token": token}


def run_worker(redis_url: str, queue: str = "sidecar") -> None:
    """Pump the webhook inbox and run every queued job in the sidecar's real rq worker (burst)."""
    import redis
    from rq import Queue

    from app.jobs.worker import SidecarWorker
    from app.settings import get_settings

    conn = redis.Redis.from_url(redis_url)
    SidecarWorker([Queue(queue, connection=conn)], connection=conn, settings=get_settings()).work(burst=True)


def outbox(var_dir, platform: str) -> list[dict]:
    import json

    p = var_dir / "outbox" / f"{platform}.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


@pytest.fixture(scope="module")
def isolated_var(tmp_path_factory):
    """A fresh SIDECAR_VAR for a whole module: learned examples and caches are never the developer's."""
    from app.settings import reset_settings

    old = os.environ.get("SIDECAR_VAR")
    os.environ["SIDECAR_VAR"] = str(tmp_path_factory.mktemp("var"))
    reset_settings()
    yield
    if old is None:
        os.environ.pop("SIDECAR_VAR", None)
    else:
        os.environ["SIDECAR_VAR"] = old
    reset_settings()
