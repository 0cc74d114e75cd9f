"""Ops page and /metrics with the Flask test client: auth, figures, failed jobs, retry, metrics text."""

from __future__ import annotations

import base64
import re

import pytest
import redis
from rq import Queue, SimpleWorker

from app.store.decisions import decision_from_outcome, store_for
from tests.app.store.test_decisions import outcome

OPS_TOKEN = "ops-test-token-123"


def broken_job(platform: str, event: dict) -> None:
    """Stands for a pipeline run whose helpdesk is down."""
    raise ConnectionError(f"{platform} helpdesk unreachable (503) after 4 attempts")


@pytest.fixture
def ops_app(sidecar_env, monkeypatch):
    monkeypatch.setenv("OPS_TOKEN", OPS_TOKEN)
    from tests.conftest import reset_caches

    reset_caches()
    from app import create_app

    app = create_app()
    return app


@pytest.fixture
def seeded(ops_app):
    store = store_for(ops_app.config["SETTINGS"])
    import time

    now = time.time()
    rows = [outcome("a1", "101", "order_status", escalate=["urgent"], cost=0.01, tokens=(100, 20)),
            outcome("a2", "102", "return_refund", draft_kind=None, note_after=30.0),
            outcome("a3", "103", status="failed", draft_kind=None, note_after=None,
                    error="TransientError: zendesk 503")]
    for i, o in enumerate(rows):
        store.add_decision(decision_from_outcome(o, channel="email", now=now - 60 * (i + 1)))
    store.add_feedback("zendesk", "101", "a1", "sent_as_is", 1.0)
    return store


def _fail_one(redis_url: str) -> str:
    q = Queue("sidecar", connection=redis.Redis.from_url(redis_url))
    job = q.enqueue(broken_job, "zendesk", {"ticket_id": "7"}, job_id="evt-zendesk-e7")
    SimpleWorker([q], connection=q.connection).work(burst=True)
    assert job.get_status() == "failed"
    return job.id


def test_ops_disabled_without_token(sidecar_env):
    from app import create_app
    from app.ops import bp

    app = create_app()
    if "ops" not in app.blueprints:
        app.register_blueprint(bp)
    r = app.test_client().get("/ops")
    assert r.status_code == 404 and "set OPS_TOKEN" in r.get_json()["detail"]


@pytest.mark.parametrize("headers,query", [({}, ""), ({"Authorization": "Bearer nope"}, ""), ({}, "?token=nope"),
                                           ({"Authorization": "Basic " + base64.b64encode(b"ops:nope").decode()}, "")])
def test_missing_or_wrong_token_is_401(ops_app, headers, query):
    r = ops_app.test_client().get("/ops" + query, headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert OPS_TOKEN not in r.get_data(as_text=True)


@pytest.mark.parametrize("how", ["bearer", "basic", "query"])
def test_token_ways_show_the_page(ops_app, seeded, how):
    c = ops_app.test_client()
    if how == "bearer":
        r = c.get("/ops", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    elif how == "basic":
        r = c.get("/ops", headers={"Authorization": "Basic " + base64.b64encode(f"me:{OPS_TOKEN}".encode()).decode()})
    else:
        r = c.get(f"/ops?token={OPS_TOKEN}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<span class="n" id="fig-processed">2</span>' in html
    assert '<span class="n" id="fig-failed">1</span>' in html
    assert '<span class="n" id="fig-coverage">50.0%</span>' in html
    assert '<span class="n" id="fig-acceptance">100.0%</span>' in html
    assert 'href="https://acme.zendesk.com/agent/tickets/101"' in html
    assert "TransientError: zendesk 503" in html
    assert "<td>order_status</td>" in html  # rules table and volume table
    assert "human_request" in html and "rules.yaml" in html
    assert "parcel never arrived" not in html  # no customer text on the page
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_failed_job_listed_and_retried_once(ops_app, seeded, redis_url):
    jid = _fail_one(redis_url)
    c = ops_app.test_client()
    html = c.get(f"/ops?token={OPS_TOKEN}").get_data(as_text=True)
    assert f'data-job-id="{jid}"' in html
    assert "ConnectionError: zendesk helpdesk unreachable (503) after 4 attempts" in html
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert action == f"/ops/failed/{jid}/retry?token={OPS_TOKEN}"
    # a form without its CSRF token is refused, even with a valid login
    assert c.post(action, data={}).status_code == 403
    r = c.post(action, data={"csrf": csrf})
    # query-token login: the page itself, never a redirect whose Location would carry ?token=
    assert r.status_code == 200 and "Location" not in r.headers
    assert f"Job {jid} requeued." in r.get_data(as_text=True)
    q = Queue("sidecar", connection=redis.Redis.from_url(redis_url))
    assert q.job_ids == [jid] and q.failed_job_registry.count == 0
    r = c.post(action, data={"csrf": csrf})  # second click: not requeued again
    assert r.status_code == 200 and "is not a failed job" in r.get_data(as_text=True)
    assert q.job_ids == [jid]
    # bearer API form
    r = c.post(f"/ops/failed/{jid}/retry", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert r.status_code == 404 and r.get_json()["status"] == "not-found"


def test_retry_requires_auth(ops_app, redis_url):
    jid = _fail_one(redis_url)
    assert ops_app.test_client().post(f"/ops/failed/{jid}/retry").status_code == 401
    assert Queue("sidecar", connection=redis.Redis.from_url(redis_url)).failed_job_registry.count == 1


def test_stats_json(ops_app, seeded):
    r = ops_app.test_client().get("/ops/stats.json?since=1d", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    s = r.get_json()
    assert (s["processed"], s["failed"], s["escalations"]) == (2, 1, {"urgent": 1})


def test_metrics_text(ops_app, seeded, redis_url):
    _fail_one(redis_url)
    Queue("sidecar", connection=redis.Redis.from_url(redis_url)).enqueue(broken_job, "x", {})
    body = ops_app.test_client().get("/metrics").get_data(as_text=True)
    assert 'sidecar_events_total{status="processed"} 2.0' in body
    assert 'sidecar_events_total{status="failed"} 1.0' in body
    assert 'sidecar_intent_events_total{intent="order_status"} 1.0' in body
    assert 'sidecar_escalations_total{reason="urgent"} 1.0' in body
    assert 'sidecar_llm_tokens_total{direction="in"} 100.0' in body
    assert 'sidecar_queue_depth{queue="sidecar"} 1.0' in body
    assert 'sidecar_queue_registry_jobs{queue="sidecar",registry="failed"} 1.0' in body
    # webhook→note: 10 s and 30 s → bucket le=10 has 1, le=30 has 2
    assert 'sidecar_webhook_to_note_seconds_bucket{le="10.0"} 1.0' in body
    assert 'sidecar_webhook_to_note_seconds_bucket{le="30.0"} 2.0' in body
    assert 'sidecar_webhook_to_note_seconds_count 2.0' in body
    assert "sidecar_metrics_scrape_ok 1.0" in body


def test_embedded_mode_page_and_metrics(monkeypatch, tmp_path):
    from tests.conftest import ROOT, reset_caches

    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    monkeypatch.setenv("OPS_TOKEN", OPS_TOKEN)
    reset_caches()
    try:
        from app import create_app
        from app.ops import bp

        app = create_app()
        if "ops" not in app.blueprints:
            app.register_blueprint(bp)
        c = app.test_client()
        html = c.get("/ops", headers={"Authorization": f"Bearer {OPS_TOKEN}"}).get_data(as_text=True)
        assert "mode embedded" in html and "no failed jobs" in html
        body = c.get("/metrics").get_data(as_text=True)
        assert 'sidecar_queue_registry_jobs{queue="sidecar",registry="failed"} 0.0' in body
        assert "sidecar_metrics_scrape_ok 1.0" in body
        assert (tmp_path / "var" / "decisions.sqlite3").exists()
    finally:
        from app.jobs import embedded

        embedded.reset()
        reset_caches()


def test_ops_shows_the_webhook_inbox_and_unreadable_entries(ops_app, redis_url):
    from app.jobs.inbox import INBOX

    conn = redis.Redis.from_url(redis_url)
    conn.rpush(INBOX, b'{"platform": "zendesk", "event": {}}', b"{}")
    conn.rpush(INBOX + ":dead", b"not json")
    page = ops_app.test_client().get("/ops", headers={"Authorization": f"Bearer {OPS_TOKEN}"}).get_data(as_text=True)
    assert re.search(r'id="inbox-waiting">2<', page) and re.search(r'id="inbox-dead">1<', page)
