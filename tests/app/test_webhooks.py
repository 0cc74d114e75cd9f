"""Webhook intake end to end: HTTP → verify → parse → dedupe → rq → worker → one note (dry-run outbox)."""

from __future__ import annotations

import json
import threading

import pytest
import redis
from rq import Queue

from tests.conftest import auth_headers, load_fixture, outbox, run_worker

CUSTOMER_EVENTS = {
    "zendesk": "webhook_comment_added.json",
    "gorgias": "webhook_message_created.json",
    "freshdesk": "webhook_ticket_created.json",
}
IGNORED_EVENTS = [
    ("zendesk", "webhook_internal_note.json", "internal note"),
    ("zendesk", "webhook_agent_reply.json", "agent"),
    ("gorgias", "webhook_internal_note.json", "internal note"),
    ("gorgias", "webhook_agent_reply.json", "agent"),
    ("gorgias", "webhook_ticket_created_by_agent.json", "agent"),
    ("freshdesk", "webhook_private_note.json", "note"),
    ("freshdesk", "webhook_status_changed.json", "status"),
]


def _queue_len(redis_url: str) -> int:
    """Events accepted and waiting: in the webhook inbox or already in the rq queue."""
    conn = redis.Redis.from_url(redis_url)
    return conn.llen("sidecar:inbox") + len(Queue("sidecar", connection=conn))


def _notes(var_dir, platform):
    return [e for e in outbox(var_dir, platform) if e["action"] == "note"]


@pytest.mark.parametrize("platform", list(CUSTOMER_EVENTS))
def test_customer_message_is_queued_and_produces_exactly_one_note(platform, app_client, sidecar_env, redis_url):
    body = load_fixture(platform, CUSTOMER_EVENTS[platform])
    r = app_client.post(f"/webhooks/{platform}", data=body, headers=auth_headers(platform, body))
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["status"] == "queued" and r.get_json()["event_id"]
    assert _queue_len(redis_url) == 1
    run_worker(redis_url)
    notes = _notes(sidecar_env, platform)
    assert len(notes) == 1
    assert f"sidecar-event:{r.get_json()['event_id']}" in notes[0]["html"]
    assert "Intent:" in notes[0]["text"]


@pytest.mark.parametrize("platform", list(CUSTOMER_EVENTS))
def test_duplicate_delivery_is_answered_duplicate_and_not_queued_again(platform, app_client, sidecar_env, redis_url):
    body = load_fixture(platform, CUSTOMER_EVENTS[platform])
    first = app_client.post(f"/webhooks/{platform}", data=body, headers=auth_headers(platform, body))
    second = app_client.post(f"/webhooks/{platform}", data=body, headers=auth_headers(platform, body))
    assert first.status_code == 202
    assert second.status_code == 200 and second.get_json()["status"] == "duplicate"
    assert _queue_len(redis_url) == 1
    run_worker(redis_url)
    assert len(_notes(sidecar_env, platform)) == 1


@pytest.mark.parametrize("platform", list(CUSTOMER_EVENTS))
def test_ten_concurrent_copies_make_one_note(platform, sidecar_env, redis_url):
    from app import create_app

    app = create_app()
    body = load_fixture(platform, CUSTOMER_EVENTS[platform])
    statuses: list[int] = []
    barrier = threading.Barrier(10)

    def send():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post(f"/webhooks/{platform}", data=body, headers=auth_headers(platform, body)).status_code)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 9 + [202]
    run_worker(redis_url)
    assert len(_notes(sidecar_env, platform)) == 1


def test_the_same_message_by_two_deliveries_is_processed_once(app_client, sidecar_env, redis_url):
    # Zendesk may deliver one comment through an event webhook and a trigger: one note per message.
    body = json.loads(load_fixture("zendesk", "webhook_comment_added.json"))
    for i in range(2):
        body["id"] = f"01JDEMO00000000000000000X{i}"
        raw = json.dumps(body).encode()
        assert app_client.post("/webhooks/zendesk", data=raw, headers=auth_headers("zendesk", raw)).status_code == 202
    run_worker(redis_url)
    assert len(_notes(sidecar_env, "zendesk")) == 1


@pytest.mark.parametrize("platform,headers", [
    ("zendesk", {}),
    ("zendesk", {"X-Zendesk-Webhook-Signature": "AAAA", "X-Zendesk-Webhook-Signature-Timestamp": "2026-01-01T00:00:00Z"}),
    ("gorgias", {}),
    ("gorgias", {"X-Sidecar-Token": "wrong"}),
    ("freshdesk", {"X-Sidecar-Token": "wrong"}),
])
def test_bad_or_missing_signature_is_401_and_nothing_queued(platform, headers, app_client, redis_url):
    body = load_fixture(platform, CUSTOMER_EVENTS[platform])
    r = app_client.post(f"/webhooks/{platform}", data=body, headers={"Content-Type": "application/json", **headers})
    assert r.status_code == 401
    assert r.get_json()["error"] == "unauthorized"
    assert _queue_len(redis_url) == 0


def test_zendesk_signature_over_other_body_is_401(app_client, redis_url):
    body = load_fixture("zendesk", CUSTOMER_EVENTS["zendesk"])
    headers = auth_headers("zendesk", body + b" ")
    assert app_client.post("/webhooks/zendesk", data=body, headers=headers).status_code == 401


def test_zendesk_stale_timestamp_is_401(app_client):
    from tests.conftest import signed_headers

    body = load_fixture("zendesk", CUSTOMER_EVENTS["zendesk"])
    r = app_client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, timestamp="2020-01-01T00:00:00Z"))
    assert r.status_code == 401 and "tolerance" in r.get_json()["detail"]


def test_token_in_query_parameter_is_accepted(app_client, redis_url):
    body = load_fixture("gorgias", CUSTOMER_EVENTS["gorgias"])
    r = app_client.post("/webhooks/gorgias?token=test-gorgias-token", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 202


@pytest.mark.parametrize("platform,fixture,reason", IGNORED_EVENTS)
def test_agent_and_internal_note_events_are_ignored(platform, fixture, reason, app_client, redis_url):
    body = load_fixture(platform, fixture)
    r = app_client.post(f"/webhooks/{platform}", data=body, headers=auth_headers(platform, body))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "ignored" and reason in r.get_json()["reason"]
    assert _queue_len(redis_url) == 0


def test_sidecar_own_note_event_is_ignored(app_client, redis_url):
    body = json.loads(load_fixture("zendesk", CUSTOMER_EVENTS["zendesk"]))
    from app.settings import get_settings
    from pipeline.models import marker_for

    body["event"]["comment"]["body"] = "AI triage (sidecar) ... ref " + marker_for("01JDEMO", get_settings().marker_key)
    raw = json.dumps(body).encode()
    r = app_client.post("/webhooks/zendesk", data=raw, headers=auth_headers("zendesk", raw))
    assert r.get_json()["status"] == "ignored"


@pytest.mark.parametrize("platform", list(CUSTOMER_EVENTS))
def test_malformed_json_is_400_with_reason(platform, app_client, redis_url):
    body = b'{"ticket": '
    r = app_client.post(f"/webhooks/{platform}", data=body, headers=auth_headers(platform, body))
    assert r.status_code == 400
    assert r.get_json()["error"] == "malformed JSON"
    assert _queue_len(redis_url) == 0


@pytest.mark.parametrize("platform,body", [
    ("zendesk", b'{"hello": "world"}'),
    ("gorgias", b'{"message": {"body_text": "hi"}}'),
    ("freshdesk", b'{"freshdesk_webhook": {"ticket_subject": "x"}}'),
    ("zendesk", b'[1, 2]'),
])
def test_missing_ticket_id_is_400_saying_so(platform, body, app_client):
    r = app_client.post(f"/webhooks/{platform}", data=body, headers=auth_headers(platform, body))
    assert r.status_code == 400
    assert r.get_json()["error"] == "bad payload"
    assert "ticket" in r.get_json()["detail"] or "object" in r.get_json()["detail"]


def test_oversize_body_is_413(app_client):
    body = b'{"ticket_id": "1", "pad": "' + b"x" * 1_100_000 + b'"}'
    r = app_client.post("/webhooks/zendesk", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.get_json()["status"] == "error"


def test_unknown_platform_is_404(app_client):
    r = app_client.post("/webhooks/helpscout", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 404 and "zendesk" in r.get_json()["detail"]


def test_redis_down_is_503_never_silent_2xx(monkeypatch, tmp_path, dead_redis_url):
    from app import create_app
    from tests.conftest import reset_caches

    monkeypatch.setenv("REDIS_URL", dead_redis_url)
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path))
    monkeypatch.setenv("GORGIAS_WEBHOOK_TOKEN", "test-gorgias-token")
    reset_caches()
    try:
        client = create_app().test_client()
        body = load_fixture("gorgias", CUSTOMER_EVENTS["gorgias"])
        r = client.post("/webhooks/gorgias", data=body, headers=auth_headers("gorgias", body))
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "30"
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
    finally:
        reset_caches()


def test_store_failure_is_503_and_the_retry_is_accepted(app_client, redis_url, monkeypatch):
    from app.jobs.inbox import Inbox

    def boom(self, event, ttl):
        raise redis.ConnectionError("connection reset")

    body = load_fixture("gorgias", CUSTOMER_EVENTS["gorgias"])
    real = Inbox.accept
    monkeypatch.setattr(Inbox, "accept", boom)
    r = app_client.post("/webhooks/gorgias", data=body, headers=auth_headers("gorgias", body))
    assert r.status_code == 503 and r.get_json()["error"] == "cannot store event"
    monkeypatch.setattr(Inbox, "accept", real)
    # The helpdesk's retry must be accepted, not called a duplicate.
    assert app_client.post("/webhooks/gorgias", data=body, headers=auth_headers("gorgias", body)).status_code == 202


def test_inbox_entries_of_a_dead_pump_are_recovered(app_client, sidecar_env, redis_url):
    from app.jobs.inbox import INBOX, PROCESSING, Inbox

    body = load_fixture("freshdesk", CUSTOMER_EVENTS["freshdesk"])
    assert app_client.post("/webhooks/freshdesk", data=body, headers=auth_headers("freshdesk", body)).status_code == 202
    conn = redis.Redis.from_url(redis_url)
    # A pump took the entry and died before rq had the job.
    assert conn.lmove(INBOX, PROCESSING + "deadpump", "LEFT", "RIGHT") is not None
    assert Inbox(conn).recover() == 1
    run_worker(redis_url)
    assert len(_notes(sidecar_env, "freshdesk")) == 1


def test_readyz_ok_with_redis(app_client):
    r = app_client.get("/readyz")
    assert r.status_code == 200 and r.get_json()["checks"]["store"] == "ok"


def test_an_unreadable_inbox_entry_is_kept_aside_not_lost(app_client, sidecar_env, redis_url):
    from app.jobs.inbox import INBOX

    conn = redis.Redis.from_url(redis_url)
    conn.rpush(INBOX, b"{broken")
    body = load_fixture("gorgias", CUSTOMER_EVENTS["gorgias"])
    assert app_client.post("/webhooks/gorgias", data=body, headers=auth_headers("gorgias", body)).status_code == 202
    run_worker(redis_url)
    assert conn.lrange(INBOX + ":dead", 0, -1) == [b"{broken"]
    assert conn.llen(INBOX) == 0
    assert len(_notes(sidecar_env, "gorgias")) == 1  # the good event behind it was processed
