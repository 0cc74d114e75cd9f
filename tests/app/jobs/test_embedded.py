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
    from app.runtime import intent_model
    from app.settings import get_settings
    from pipeline.config import get_config

    # The first model fit (tens of seconds on a busy machine) happens here, outside any wait: the
    # wait below is for the job alone, so a slow machine does not make this test fail.
    intent_model(get_settings(), get_config())
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


def _event(eid, tid="11"):
    from pipeline.models import TicketEvent

    return TicketEvent(platform="freshdesk", event_id=eid, ticket_id=tid, body_hint="Where is my order?")


def _status(q, jid):
    return q._conn.execute("SELECT status, owner FROM jobs WHERE id = ?", (jid,)).fetchone()


def test_opening_the_queue_never_touches_a_running_job(embedded_env):
    """The CLI (or a second process) opening the file must not hand a running job to another runner."""
    from app.jobs.embedded import EmbeddedQueue

    runner = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)
    jid = runner.enqueue(_event("lease-1"))
    assert runner._next()[0] == jid  # the runner took it and is working on it
    cli = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)  # `python -m app failed`
    assert _status(cli, jid) == ("running", runner.owner)
    other = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)
    assert other.run_pending() == 0, "a leased job is nobody else's"
    assert cli.running()[0]["id"] == jid and not cli.running()[0]["lease_lost"]


def test_a_job_whose_runner_died_is_taken_over_when_its_lease_runs_out(embedded_env):
    from app.jobs.embedded import EmbeddedQueue

    dead = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)
    jid = dead.enqueue(_event("lease-2"))
    dead._next()
    dead._conn.execute("UPDATE jobs SET lease_until = ? WHERE id = ?", (time.time() - 1, jid))  # it stopped renewing
    live = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)
    assert live.running()[0]["lease_lost"]
    assert live.run_pending() == 1
    assert _status(live, jid)[0] == "done"
    # The old runner coming back cannot overwrite the outcome.
    assert not dead._finish(jid, "UPDATE jobs SET status='failed'", ())
    assert _status(live, jid)[0] == "done"


def test_a_job_past_its_timeout_is_left_behind_and_the_queue_goes_on(embedded_env, monkeypatch):
    from app.jobs import process
    from app.jobs.embedded import EmbeddedQueue

    release = []

    def slow_or_fast(platform, event):
        if event["event_id"] == "stuck":
            while not release:  # a step that never ends (the reason jobs have timeouts)
                time.sleep(0.01)

    monkeypatch.setattr(process, "process_event", slow_or_fast)
    q = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False, job_timeout=0.5)
    stuck = q.enqueue(_event("stuck"))
    fast = q.enqueue(_event("fast", tid="12"))
    try:
        assert q.run_pending() == 2
        assert _status(q, fast)[0] == "done", "the next ticket is not held up"
        row = q._conn.execute("SELECT status, error, run_after FROM jobs WHERE id = ?", (stuck,)).fetchone()
        assert row[0] == "queued" and "timed out after" in row[1] and row[2] > time.time()
    finally:
        release.append(1)


def test_retry_after_from_the_helpdesk_sets_the_next_attempt(embedded_env, monkeypatch):
    from adapters.base import TransientError
    from app.jobs import process
    from app.jobs.embedded import EmbeddedQueue

    def limited(platform, event):
        raise TransientError("zendesk GET -> 429", retry_after=120)

    monkeypatch.setattr(process, "process_event", limited)
    q = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)
    jid = q.enqueue(_event("limited"))
    q.run_pending()
    run_after = q._conn.execute("SELECT run_after FROM jobs WHERE id = ?", (jid,)).fetchone()[0]
    assert 110 < run_after - time.time() <= 120


def test_dedupe_claim_and_job_are_one_transaction(embedded_env, monkeypatch):
    from app.jobs.embedded import EmbeddedQueue
    from pipeline.models import TicketEvent

    q = EmbeddedQueue(embedded_env / "jobs.sqlite3", autostart=False)
    assert q.enqueue(_event("tx-1"), claim=("k1", 60)) is not None
    assert q.enqueue(_event("tx-1"), claim=("k1", 60)) is None, "a duplicate"
    # A crash between the claim and the job (here: the job row cannot be written) leaves neither.
    monkeypatch.setattr(TicketEvent, "to_dict", lambda self: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        q.enqueue(_event("tx-2"), claim=("k2", 60))
    monkeypatch.undo()
    assert q._conn.execute("SELECT COUNT(*) FROM claims WHERE key = 'k2'").fetchone()[0] == 0
    assert q.enqueue(_event("tx-2"), claim=("k2", 60)) is not None, "the helpdesk's retry is accepted"


def test_a_second_server_on_the_same_var_refuses_to_start(embedded_env):
    from app.jobs.embedded import AlreadyServing, hold_var_dir

    held = hold_var_dir(embedded_env)
    try:
        with pytest.raises(AlreadyServing, match=r"already running on .*: stop it first"):
            hold_var_dir(embedded_env)
    finally:
        held.close()
    hold_var_dir(embedded_env).close()  # free again once the first one is gone
