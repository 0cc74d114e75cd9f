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


def test_an_entry_given_back_while_its_job_waits_is_not_queued_twice(app_client, sidecar_env, redis_url):
    # A pump stalled by a Redis pause longer than its heartbeat: another pump gives its entry back,
    # then the stalled one queues the job after all. The entry must not become a second job.
    from rq import Queue

    from app.jobs.inbox import INBOX, PROCESSING, Inbox
    from app.settings import get_settings

    body = load_fixture("freshdesk", CUSTOMER_EVENTS["freshdesk"])
    assert app_client.post("/webhooks/freshdesk", data=body, headers=auth_headers("freshdesk", body)).status_code == 202
    conn = redis.Redis.from_url(redis_url)
    raw = conn.lindex(INBOX, 0)
    inbox = Inbox(conn)
    assert inbox.pump(get_settings(), "stalled") == 1  # queued by the stalled pump...
    conn.rpush(PROCESSING + "stalled-dead", raw)  # ...and its entry handed back meanwhile
    assert inbox.recover() == 1
    assert inbox.pump(get_settings(), "other") == 1
    q = Queue(get_settings().queue_name, connection=conn)
    assert q.count == 1 and conn.llen(INBOX) == 0
    run_worker(redis_url)
    assert len(_notes(sidecar_env, "freshdesk")) == 1
    # Once the job is done, a late copy of the entry is queued again (its steps are remembered).
    conn.rpush(INBOX, raw)
    assert inbox.pump(get_settings(), "late") == 1 and q.count == 1


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


def test_readyz_reports_a_config_change_rejected_on_disk(sidecar_env, tmp_path, monkeypatch):
    import os
    import shutil

    from app import create_app
    from pipeline.config import reset_config
    from tests.conftest import ROOT

    cfg = tmp_path / "config"
    shutil.copytree(ROOT / "config", cfg, ignore=shutil.ignore_patterns("knowledge"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(cfg))
    reset_config()
    client = create_app().test_client()
    assert "config_on_disk" not in client.get("/readyz").get_json()["checks"]
    path = cfg / "drafting.yaml"
    path.write_text(path.read_text().replace("max_sources: 4", "max_sources: lots"))
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 2))
    r = client.get("/readyz")
    checks = r.get_json()["checks"]
    assert r.status_code == 200 and checks["config"].startswith("ok"), "the last good config still serves"
    assert checks["config_on_disk"].startswith("rejected: drafting.yaml: max_sources")
    reset_config()


def test_identical_trigger_follow_ups_are_each_queued_and_a_retry_is_a_duplicate(app_client, redis_url):
    from tests.conftest import signed_headers

    body = json.dumps({"ticket_id": "7", "latest_comment": "Any update?", "current_user_role": "end-user"}).encode()

    def send(invocation):
        return app_client.post("/webhooks/zendesk", data=body,
                               headers={**signed_headers(body), "X-Zendesk-Webhook-Invocation-Id": invocation})

    assert send("inv-a").status_code == 202
    assert send("inv-a").get_json()["status"] == "duplicate", "Zendesk's retry of one invocation"
    assert send("inv-b").status_code == 202, "the customer wrote the same words again"
    assert redis.Redis.from_url(redis_url).llen("sidecar:inbox") == 2


def test_a_body_hash_id_is_deduped_only_for_a_short_window(app_client, redis_url):
    from app.webhooks import WEAK_DEDUPE_TTL

    body = json.dumps({"freshdesk_webhook": {"ticket_id": "11", "ticket_latest_public_comment": "Any update?"}}).encode()
    first = app_client.post("/webhooks/freshdesk", data=body, headers=auth_headers("freshdesk", body))
    assert first.status_code == 202
    second = app_client.post("/webhooks/freshdesk", data=body, headers=auth_headers("freshdesk", body))
    assert second.get_json()["status"] == "duplicate", "a delivery storm or a quick retry"
    r = redis.Redis.from_url(redis_url)
    key = f"sidecar:dedupe:freshdesk:{first.get_json()['event_id']}"
    assert 0 < r.ttl(key) <= WEAK_DEDUPE_TTL
    r.delete(key)  # the window has passed
    third = app_client.post("/webhooks/freshdesk", data=body, headers=auth_headers("freshdesk", body))
    assert third.status_code == 202, "the same words written again later are a new message"


def test_a_transient_error_while_queueing_puts_the_entry_back_and_shows_it(app_client, sidecar_env, redis_url,
                                                                            monkeypatch):
    """A live pump must not sit on an entry it failed to turn into an rq job (it was invisible)."""
    from app.jobs import process
    from app.jobs.inbox import INBOX, PROCESSING, Inbox
    from app.settings import get_settings

    body = load_fixture("zendesk", CUSTOMER_EVENTS["zendesk"])
    assert app_client.post("/webhooks/zendesk", data=body, headers=auth_headers("zendesk", body)).status_code == 202
    conn = redis.Redis.from_url(redis_url)
    inbox = Inbox(conn)
    real = process.enqueue_event

    def flaky(event, settings):
        raise redis.ConnectionError("Redis restarting")

    monkeypatch.setattr(process, "enqueue_event", flaky)
    with pytest.raises(redis.ConnectionError):
        inbox.pump(get_settings(), "livepump")
    assert conn.llen(INBOX) == 1 and conn.llen(PROCESSING + "livepump") == 0, "put back at once"

    # Redis refuses even the put-back: the entry waits in the live pump's list, visible, and goes
    # back at the pump's next round.
    real_pipeline = conn.pipeline
    monkeypatch.setattr(conn, "pipeline", lambda *a, **k: (_ for _ in ()).throw(redis.ConnectionError("down")))
    with pytest.raises(redis.ConnectionError):
        inbox.pump(get_settings(), "livepump")
    monkeypatch.setattr(conn, "pipeline", real_pipeline)
    assert conn.llen(PROCESSING + "livepump") == 1
    checks = app_client.get("/readyz").get_json()["checks"]
    assert checks["inbox_processing"] == "1" and checks["inbox"] == "0"
    monkeypatch.setattr(process, "enqueue_event", real)
    assert Inbox(conn).pump(get_settings(), "livepump") == 1
    assert conn.llen(PROCESSING + "livepump") == 0 and conn.llen(INBOX) == 0
    run_worker(redis_url)
    assert len(_notes(sidecar_env, "zendesk")) == 1
