"""Escalation inside the job: Slack is alerted before the note, the note says so, and a Slack outage never costs the note."""

from __future__ import annotations

import json

import pytest
import redis
from rq import Queue
from werkzeug import Response

from tests.conftest import auth_headers, load_fixture, outbox, reset_caches, run_worker
from tests.fakes.slack import SlackStub

ANGRY = "I want to speak to a manager right now. This is the third time I write, I will call my lawyer."


@pytest.fixture
def slack_env(sidecar_env, httpserver, monkeypatch):
    stub = SlackStub(httpserver)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_CHANNEL", "#support-esc")
    monkeypatch.setenv("SLACK_API_URL", stub.url)
    reset_caches()
    from app import create_app

    return create_app().test_client(), stub, sidecar_env


def _angry_body() -> bytes:
    b = json.loads(load_fixture("zendesk", "webhook_comment_added.json"))
    b["event"]["comment"]["body"] = ANGRY
    return json.dumps(b).encode()


def test_human_request_alerts_slack_once_and_the_note_records_it(slack_env, redis_url):
    client, slack, var = slack_env
    raw = _angry_body()
    assert client.post("/webhooks/zendesk", data=raw, headers=auth_headers("zendesk", raw)).status_code == 202
    run_worker(redis_url)
    assert len(slack.calls) == 1
    assert slack.calls[0]["channel"] == "#support-esc"
    assert "1042" in json.dumps(slack.calls[0]["blocks"])  # link to the ticket
    notes = [e for e in outbox(var, "zendesk") if e["action"] == "note"]
    assert len(notes) == 1 and "Slack was alerted" in notes[0]["text"]


def test_slack_down_keeps_the_note_and_retries_the_alert(slack_env, redis_url, monkeypatch):
    from app import escalate

    client, slack, var = slack_env
    # The job's retries between Slack attempts are recorded, not slept (1 + 2 + 4 + 8 s of wall time otherwise).
    waits: list[float] = []
    monkeypatch.setattr(escalate, "retry_sleep", waits.append)
    slack.script = [Response(json.dumps({"ok": False, "error": "internal_error"}), status=500,
                             content_type="application/json") for _ in range(5)]
    raw = _angry_body()
    assert client.post("/webhooks/zendesk", data=raw, headers=auth_headers("zendesk", raw)).status_code == 202
    run_worker(redis_url)
    notes = [e for e in outbox(var, "zendesk") if e["action"] == "note"]
    assert len(notes) == 1 and "Slack alert failed" in notes[0]["text"]
    q = Queue("sidecar", connection=redis.Redis.from_url(redis_url))
    retries = [j for j in q.scheduled_job_registry.get_job_ids() if j.startswith("evt-")]
    assert len(retries) == 1  # the job is retried for the alert
    assert waits == [1.0, 2.0, 4.0, 8.0]  # five attempts, backing off between them
    job = q.fetch_job(retries[0])
    q.scheduled_job_registry.remove(job)
    q.enqueue_job(job)
    run_worker(redis_url)
    assert sum(1 for c in slack.calls) == 6 and len(notes) == 1
    assert len([e for e in outbox(var, "zendesk") if e["action"] == "note"]) == 1  # still one note
