"""Queue depth in both modes: queued, scheduled, running (with age) and failed, in /metrics and /ops."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import redis
from rq import Queue

from pipeline.models import TicketEvent
from tests.conftest import DIE_WITH_PARENT, ROOT, reset_caches

OPS = "ops-token-queue"


def _metric(body: str, name: str, **labels: str) -> float:
    lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{re.escape(name)}{re.escape('{' + lab + '}') if lab else ''} ([0-9.e+-]+)$", body, re.M)
    assert m, f"{name}{labels} not in /metrics"
    return float(m.group(1))


@pytest.fixture
def embedded_app(monkeypatch, tmp_path):
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    monkeypatch.setenv("OPS_TOKEN", OPS)
    reset_caches()
    from app import create_app
    from app.jobs.embedded import get_embedded_queue
    from app.settings import get_settings

    app = create_app()
    q = get_embedded_queue(get_settings())
    q.stop()  # the figures are what is looked at: nothing may run them away meanwhile
    yield app, q
    reset_caches()


def test_embedded_mode_shows_queued_scheduled_running_with_age_and_failed(embedded_app):
    app, q = embedded_app
    now = time.time()
    for i in range(3):
        q.enqueue(TicketEvent(platform="zendesk", event_id=f"q{i}", ticket_id=str(100 + i)))
    q.enqueue_call("sla-later", "app.jobs.sla.check_sla", [], run_after=now + 3600)
    q.enqueue(TicketEvent(platform="gorgias", event_id="run1", ticket_id="7"))
    q.enqueue(TicketEvent(platform="freshdesk", event_id="bad1", ticket_id="8"))
    with q._lock:  # a job the worker took 42 s ago, and one that failed for good
        q._conn.execute("UPDATE jobs SET status='running', updated=? WHERE id LIKE '%run1'", (now - 42,))
        q._conn.execute("UPDATE jobs SET status='failed', error='PermanentError: 404' WHERE id LIKE '%bad1'")

    from app.commands.jobs import queue_status
    from app.settings import get_settings

    st = queue_status(get_settings(), now=now)
    assert (st["mode"], st["queued"], st["scheduled"], st["running_count"], st["failed"]) == ("embedded", 3, 1, 1, 1)
    assert st["running"][0]["platform"] == "gorgias" and st["running"][0]["age_seconds"] == pytest.approx(42, abs=1)

    c = app.test_client()
    body = c.get("/metrics").get_data(as_text=True)
    assert _metric(body, "sidecar_queue_depth", queue="sidecar") == 3
    assert _metric(body, "sidecar_queue_registry_jobs", queue="sidecar", registry="scheduled") == 1
    assert _metric(body, "sidecar_queue_registry_jobs", queue="sidecar", registry="started") == 1
    assert _metric(body, "sidecar_queue_registry_jobs", queue="sidecar", registry="failed") == 1
    assert _metric(body, "sidecar_queue_oldest_running_seconds", queue="sidecar") >= 42

    html = c.get("/ops", headers={"Authorization": f"Bearer {OPS}"}).get_data(as_text=True)
    section = html[html.index('id="queue"'):html.index("<h2>Failed jobs</h2>")]
    assert re.search(r'id="queue-queued">3\b', section) and 'id="queue-scheduled">1<' in section
    assert 'id="queue-running">1<' in section and 'id="queue-failed">1<' in section
    assert re.search(r"evt-gorgias-run1</code></td><td>gorgias</td><td class=\"num\">4\d s", section)


def test_embedded_queue_empty_is_zero_not_missing(embedded_app):
    app, _ = embedded_app
    body = app.test_client().get("/metrics").get_data(as_text=True)
    assert _metric(body, "sidecar_queue_depth", queue="sidecar") == 0
    assert _metric(body, "sidecar_queue_oldest_running_seconds", queue="sidecar") == 0
    assert "sidecar_metrics_scrape_ok 1.0" in body


def _noop(*args):
    return None


def _hold(redis_url: str, key: str) -> None:
    """A job that runs until the test lets it go (bounded: 60 s)."""
    conn = redis.Redis.from_url(redis_url)
    end = time.monotonic() + 60
    while time.monotonic() < end and not conn.exists(key):
        time.sleep(0.05)


def test_redis_mode_shows_the_same_figures(sidecar_env, redis_url, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("OPS_TOKEN", OPS)
    reset_caches()
    from app import create_app

    app = create_app()
    conn = redis.Redis.from_url(redis_url)
    q = Queue("sidecar", connection=conn)
    q.enqueue(_hold, redis_url, "release", job_id="evt-gorgias-run", job_timeout=120)
    # A real worker process (rq's signal handling needs a main thread of its own).
    worker = subprocess.Popen(
        [sys.executable, "-c", DIE_WITH_PARENT + "import sys, redis; from rq import Queue, SimpleWorker; "
         "c = redis.Redis.from_url(sys.argv[1]); SimpleWorker([Queue('sidecar', connection=c)], connection=c).work(burst=True)",
         redis_url],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not q.started_job_registry.count:
            time.sleep(0.05)
        time.sleep(1.2)  # so the running job has an age to show
        # Enqueued now, behind the running one: the burst worker is busy, so these wait.
        q.enqueue(_noop, "zendesk", {}, job_id="evt-zendesk-a")
        q.enqueue(_noop, "zendesk", {}, job_id="evt-zendesk-b")
        q.enqueue_in(timedelta(hours=1), _noop, "zendesk", {}, job_id="sla-x")

        from app.commands.jobs import queue_status
        from app.settings import get_settings

        st = queue_status(get_settings())
        assert (st["mode"], st["queued"], st["scheduled"], st["running_count"]) == ("redis", 2, 1, 1)
        assert st["running"][0]["id"] == "evt-gorgias-run" and st["running"][0]["age_seconds"] >= 1
        assert st["running"][0]["platform"] == redis_url  # the job's first argument (a platform, for real jobs)
        assert st["inbox"] == 0

        c = app.test_client()
        body = c.get("/metrics").get_data(as_text=True)
        assert _metric(body, "sidecar_queue_depth", queue="sidecar") == 2
        assert _metric(body, "sidecar_queue_registry_jobs", queue="sidecar", registry="started") == 1
        assert _metric(body, "sidecar_queue_registry_jobs", queue="sidecar", registry="scheduled") == 1
        assert _metric(body, "sidecar_queue_oldest_running_seconds", queue="sidecar") >= 1
        assert _metric(body, "sidecar_inbox_depth") == 0
        html = c.get("/ops", headers={"Authorization": f"Bearer {OPS}"}).get_data(as_text=True)
        assert 'id="queue-running">1<' in html and "evt-gorgias-run" in html
    finally:
        conn.set("release", 1)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
