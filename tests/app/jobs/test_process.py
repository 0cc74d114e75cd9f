"""The worker job: retries, permanent failures, loop guards and hot reload, with a real rq worker."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import redis
from rq import Queue

from adapters.base import AuthError, TransientError
from adapters.dryrun import DryRunAdapter
from tests.conftest import ROOT, auth_headers, load_fixture, outbox, reset_caches, run_worker


def _post(client, platform, body):
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    return client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw))


def test_permanent_error_fails_at_once_with_its_reason(app_client, redis_url, monkeypatch):
    calls = []

    def fetch(self, ticket_id, hint=None):
        calls.append(ticket_id)
        raise AuthError("zendesk: GET /api/v2/tickets/1042.json → 401 Unauthorized (check ZENDESK_API_TOKEN)")

    monkeypatch.setattr(DryRunAdapter, "fetch_ticket", fetch)
    assert _post(app_client, "zendesk", load_fixture("zendesk", "webhook_comment_added.json")).status_code == 202
    run_worker(redis_url)
    from app.commands.jobs import failed_jobs
    from app.settings import get_settings

    failed = failed_jobs(get_settings())
    assert len(failed) == 1 and "401 Unauthorized" in failed[0]["error"]
    assert calls == ["1042"]  # not retried


def test_transient_error_is_scheduled_for_retry_then_processed(app_client, redis_url, monkeypatch, sidecar_env):
    real = DryRunAdapter.fetch_ticket
    calls = []

    def flaky(self, ticket_id, hint=None):
        calls.append(ticket_id)
        if len(calls) == 1:
            raise TransientError("zendesk: 503 Service Unavailable", retry_after=5)
        return real(self, ticket_id, hint)

    monkeypatch.setattr(DryRunAdapter, "fetch_ticket", flaky)
    assert _post(app_client, "zendesk", load_fixture("zendesk", "webhook_comment_added.json")).status_code == 202
    run_worker(redis_url)
    conn = redis.Redis.from_url(redis_url)
    q = Queue("sidecar", connection=conn)
    scheduled = q.scheduled_job_registry.get_job_ids()
    assert len(scheduled) == 1 and not q.failed_job_registry.get_job_ids()
    # Move the retry forward in time instead of sleeping.
    job = q.fetch_job(scheduled[0])
    q.scheduled_job_registry.remove(job)
    q.enqueue_job(job)
    run_worker(redis_url)
    assert len(calls) == 2
    assert len([e for e in outbox(sidecar_env, "zendesk") if e["action"] == "note"]) == 1


def test_trigger_fired_by_our_own_note_is_skipped(app_client, redis_url, sidecar_env):
    # First the customer's message is processed...
    assert _post(app_client, "zendesk", load_fixture("zendesk", "webhook_comment_added.json")).status_code == 202
    run_worker(redis_url)
    # ...then a trigger without a comment id fires for the same ticket (e.g. on our own update).
    from app.jobs.process import process_event
    from pipeline.models import TicketEvent

    ev = TicketEvent(platform="zendesk", event_id="trigger-after-note", ticket_id="1042",
                     body_hint="Hi, where is my order?", kind="ticket_updated")
    result = process_event("zendesk", ev.to_dict())
    assert result["status"] == "skipped"
    assert len([e for e in outbox(sidecar_env, "zendesk") if e["action"] == "note"]) == 1


def test_hot_reload_applies_to_the_next_job_and_rejects_invalid_changes(monkeypatch, tmp_path, redis_url, caplog):
    cfg = tmp_path / "config"
    shutil.copytree(ROOT / "config", cfg, ignore=shutil.ignore_patterns("knowledge"))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(cfg))
    reset_caches()
    from app.jobs.process import process_event
    from pipeline.models import TicketEvent

    def run(n):
        ev = TicketEvent(platform="freshdesk", event_id=f"e{n}", ticket_id=str(100 + n), message_id=f"m{n}",
                         body_hint="Where is my order? Please send the tracking number.")
        process_event("freshdesk", ev.to_dict())
        return [e for e in outbox(tmp_path / "var", "freshdesk") if e["ticket_id"] == str(100 + n)]

    def edit(old, new):
        p = cfg / "rules.yaml"
        p.write_text(p.read_text().replace(old, new))
        st = p.stat()
        os.utime(p, (st.st_atime, st.st_mtime + 5))

    try:
        assert not any(e["action"] == "priority" and e["priority"] == "urgent" for e in run(1))
        edit("  order_status:\n    tags: [ai-wismo]", "  order_status:\n    tags: [ai-wismo]\n    priority: urgent")
        assert any(e["action"] == "priority" and e["priority"] == "urgent" for e in run(2))
        edit("    priority: urgent", "    priority: whenever")
        entries = run(3)
        assert any(e["action"] == "priority" and e["priority"] == "urgent" for e in entries)  # last good rules
        assert "rules.yaml: intent 'order_status': priority" in caplog.text
    finally:
        reset_caches()


@pytest.mark.parametrize("platform,fixture", [("gorgias", "webhook_message_created.json")])
def test_job_ids_are_rq_safe(platform, fixture):
    from app.jobs.process import job_id_for

    for eid in ("01JDEMO0000000000000000001", "h" + "a" * 32, "weird id/with:chars", "x" * 300):
        jid = job_id_for(platform, eid)
        assert all(c.isalnum() or c in "-_" for c in jid) and len(jid) <= 100


def test_target_message_prefers_the_events_own_comment_then_the_webhook_text():
    from app.jobs.process import _target_message
    from pipeline.models import Message, Ticket, TicketEvent

    old = Message(id="1", author_role="customer", body_text="Where is my order?")
    ticket = Ticket(platform="zendesk", id="9", messages=[old, Message(id="2", author_role="agent", body_text="Soon")])
    # The event's comment is in the thread.
    assert _target_message(ticket, TicketEvent("zendesk", "e1", "9", message_id="1")) is old
    # A brand-new comment the API does not show yet: its text comes from the webhook, never the old message.
    fresh = _target_message(ticket, TicketEvent("zendesk", "e2", "9", message_id="3", body_hint="I want a refund"))
    assert fresh.id == "3" and fresh.body_text == "I want a refund" and ticket.messages[-1] is fresh
    # A thread whose authors cannot be told apart (no requester, no users): the webhook's text is used.
    bare = Ticket(platform="zendesk", id="10", messages=[Message(id="5", author_role="agent", body_text="x")])
    got = _target_message(bare, TicketEvent("zendesk", "e3", "10", body_hint="Cancel my order"))
    assert got.body_text == "Cancel my order" and got.id.startswith("hint-")
    # Nothing to go on: nothing is processed.
    assert _target_message(Ticket(platform="zendesk", id="11"), TicketEvent("zendesk", "e4", "11")) is None
