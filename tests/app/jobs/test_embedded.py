"""Embedded mode (no REDIS_URL): the webhook is stored in SQLite and processed in-process."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ROOT, load_fixture, outbox, reset_caches


@pytest.fixture
def embedded_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    reset_caches()
    yield tmp_path / "var"
    reset_caches()


def _wait_for(pred, timeout=120.0):  # the first job includes the model fit: slow on a busy machine
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_embedded_defaults_process_in_process_into_the_dry_run_outbox(embedded_env):
    from app import create_app

    client = create_app().test_client()
    body = load_fixture("zendesk", "webhook_comment_added.json")
    # No secret configured and the platform is dry-run: unsigned webhooks are accepted.
    r = client.post("/webhooks/zendesk", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 202
    assert _wait_for(lambda: any(e["action"] == "note" for e in outbox(embedded_env, "zendesk")))
    again = client.post("/webhooks/zendesk", data=body, headers={"Content-Type": "application/json"})
    assert again.get_json()["status"] == "duplicate"
    assert client.get("/readyz").get_json()["checks"]["mode"] == "embedded"
    notes = [e for e in outbox(embedded_env, "zendesk") if e["action"] == "note"]
    assert len(notes) == 1 and notes[0]["dry_run"] is True


def test_embedded_queue_survives_a_restart(embedded_env):
    from app.jobs.embedded import EmbeddedQueue
    from app.settings import get_settings
    from pipeline.models import TicketEvent

    settings = get_settings()
    q = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)
    q.enqueue(TicketEvent(platform="freshdesk", event_id="e1", ticket_id="11", body_hint="Where is my order?"))
    del q  # "crash" before processing
    q2 = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)
    assert q2.run_pending() == 1
    assert q2.counts()["done"] == 1  # (plus the SLA timers it scheduled, still pending)
    assert settings.embedded


def test_embedded_failed_job_is_visible_and_retryable(embedded_env, monkeypatch):
    from adapters.base import AuthError
    from adapters.dryrun import DryRunAdapter
    from app.jobs.embedded import EmbeddedQueue
    from pipeline.models import TicketEvent

    calls = []

    def bad_fetch(self, ticket_id, hint=None):
        calls.append(ticket_id)
        raise AuthError("zendesk: 401 Unauthorized on GET /api/v2/tickets/5.json")

    monkeypatch.setattr(DryRunAdapter, "fetch_ticket", bad_fetch)
    q = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)
    jid = q.enqueue(TicketEvent(platform="zendesk", event_id="e2", ticket_id="5", body_hint="hi"))
    q.run_pending()
    failed = q.failed()
    assert [f["id"] for f in failed] == [jid] and "401 Unauthorized" in failed[0]["error"]
    assert len(calls) == 1  # permanent: not retried
    monkeypatch.undo()
    assert q.retry(jid)
    q.run_pending()
    assert q.counts().get("done") == 1 and not q.failed()
