"""SLA timers: scheduled in rq's registry (real Redis), moved by rq's scheduler at a controlled time."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import redis
import rq.scheduler
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler
from werkzeug import Response

from app.jobs import sla
from app.settings import load_settings
from pipeline.models import Message, Person, Ticket

T0 = 1_800_000_000.0  # customer message arrives


class Cfg:
    class rules:  # noqa: N801 - mimics Config.rules
        escalation: dict = {}
        sla = {"first_response_minutes": {"urgent": 60, "high": 240}, "tiers": {"vip": 0.5}}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def make_ticket(replies: list[float] = (), status: str = "open") -> Ticket:
    msgs = [Message(id="c1", author_role="customer", body_text="Where is my order?", created_at=iso(T0))]
    msgs += [Message(id="n1", author_role="agent", body_text="internal", public=False, created_at=iso(T0 + 60))]
    msgs += [Message(id=f"a{i}", author_role="agent", body_text="Hi!", created_at=iso(t)) for i, t in enumerate(replies)]
    return Ticket(platform="zendesk", id="55", subject="Order", status=status, priority="urgent",
                  requester=Person(name="Bo"), messages=msgs, url="https://acme.zendesk.com/agent/tickets/55")


def test_targets_by_priority_and_tier():
    s = Cfg.rules.sla
    assert sla.target_minutes("urgent", sla=s) == 60
    assert sla.target_minutes("urgent", "vip", sla=s) == 30
    assert sla.target_minutes("normal", "unknown-tier", sla=s) == 1440  # built-in default
    assert sla.target_minutes("low", sla={"enabled": False}) is None


def test_job_ids_are_deterministic_and_safe():
    assert sla.job_id("zendesk", "55", "warning") == "sla-zendesk-55-warning"
    weird = sla.job_id("gorgias", "a/b:c", "breach")
    assert weird.startswith("sla-gorgias-a_b_c-") and weird.endswith("-breach")
    assert sla.job_id("gorgias", "a/b:c", "breach") == weird != sla.job_id("gorgias", "a_b_c", "breach")


@pytest.fixture
def queue(redis_url):
    return Queue("sidecar", connection=redis.Redis.from_url(redis_url))


def test_schedule_at_75_and_100_percent_idempotent(queue):
    ids = sla.schedule_sla_checks("zendesk", "55", "urgent", "vip", now=T0, queue=queue, config=Cfg)
    assert ids == ["sla-zendesk-55-warning", "sla-zendesk-55-breach"]
    reg = ScheduledJobRegistry(queue=queue)
    assert reg.get_scheduled_time(ids[0]).timestamp() == T0 + 0.75 * 30 * 60
    assert reg.get_scheduled_time(ids[1]).timestamp() == T0 + 30 * 60
    job = Job.fetch(ids[0], connection=queue.connection)
    assert job.func_name == "app.jobs.sla.check_sla"
    assert json.dumps(job.args) and job.args[:3] == ("zendesk", "55", "warning")  # small JSON args
    # processing a second message of the same ticket keeps the first clock
    assert sla.schedule_sla_checks("zendesk", "55", "urgent", "vip", now=T0 + 300, queue=queue, config=Cfg) == []
    assert reg.get_scheduled_time(ids[0]).timestamp() == T0 + 0.75 * 30 * 60
    assert sla.cancel_sla_checks("zendesk", "55", queue=queue) == 2 and reg.count == 0


@pytest.fixture
def slack(httpserver):
    calls = []

    def handler(request):
        calls.append(request.get_json())
        return Response(json.dumps({"ok": True, "channel": "C1", "ts": f"17.{len(calls)}"}),
                        content_type="application/json")

    httpserver.expect_request("/api/chat.postMessage").respond_with_handler(handler)
    return httpserver.url_for("/api"), calls


def run_scheduler_at(queue, monkeypatch, ts: float) -> list[str]:
    """Let rq's own scheduler move due jobs at a controlled time, then run them in a burst worker."""
    monkeypatch.setattr(rq.scheduler, "current_timestamp", lambda: int(ts))
    scheduler = RQScheduler([queue], connection=queue.connection)
    scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    ran = list(queue.job_ids)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    return ran


def scenario(queue, monkeypatch, slack, redis_url, tmp_path, ticket_at):
    """Schedule at T0 and run the scheduler at given times; ``ticket_at(ts)`` is what the helpdesk returns."""
    url, calls = slack
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-t", "SLACK_CHANNEL": "#sla", "SLACK_API_URL": url,
                              "REDIS_URL": redis_url, "SIDECAR_VAR": str(tmp_path)})
    clock = {"now": T0}
    monkeypatch.setattr(sla, "_default_fetch", lambda platform, tid: ticket_at(clock["now"]))
    monkeypatch.setattr("app.settings.get_settings", lambda: settings)
    monkeypatch.setattr("app.escalate._escalation_cfg", lambda config: {})
    sla.schedule_sla_checks("zendesk", "55", "urgent", None, now=T0, intent="order_status", queue=queue, config=Cfg)
    results = {}
    for minutes in (30, 44, 46, 59, 61, 120):
        clock["now"] = T0 + minutes * 60
        for jid in run_scheduler_at(queue, monkeypatch, clock["now"]):
            results[minutes] = (jid, Job.fetch(jid, connection=queue.connection).return_value())
    return results, calls


def test_warning_then_breach_fire_at_the_right_times(queue, monkeypatch, slack, redis_url, tmp_path):
    results, calls = scenario(queue, monkeypatch, slack, redis_url, tmp_path, lambda now: make_ticket())
    assert results == {46: ("sla-zendesk-55-warning", "alerted:sla_warning"),
                       61: ("sla-zendesk-55-breach", "alerted:sla_breach")}
    assert [c["blocks"][0]["text"]["text"] for c in calls] == [
        "Escalation: SLA warning: 75% of the first-response target passed",
        "Update: SLA breached: no agent reply within the target"]
    assert "thread_ts" not in calls[0] and calls[1]["thread_ts"] == "17.1"
    assert "order_status" in json.dumps(calls[0]["blocks"][1])
    from app.settings import get_settings
    from app.store.decisions import store_for

    alerts = store_for(get_settings()).decisions(status="alert")
    assert sorted(a.escalations[0] for a in alerts) == ["sla_breach", "sla_warning"]


def test_no_alert_after_agent_reply(queue, monkeypatch, slack, redis_url, tmp_path):
    # the agent answers at minute 50: the warning fires (46), the breach check finds the reply
    results, calls = scenario(queue, monkeypatch, slack, redis_url, tmp_path,
                              lambda now: make_ticket([T0 + 50 * 60] if now >= T0 + 50 * 60 else []))
    assert results[46][1] == "alerted:sla_warning" and results[61][1] == "answered"
    assert len(calls) == 1


def test_reply_before_warning_and_closed_ticket_alert_nothing():
    seen = []
    fake_escalate = lambda *a, **k: seen.append(k) or ["x"]  # noqa: E731
    assert sla.check_sla("zendesk", "55", "warning", T0, fetch=lambda p, t: make_ticket([T0 + 5]),
                         escalate_fn=fake_escalate) == "answered"
    assert sla.check_sla("zendesk", "55", "breach", T0, fetch=lambda p, t: make_ticket(status="solved"),
                         escalate_fn=fake_escalate) == "closed"
    # an agent reply older than the customer message does not count
    assert sla.check_sla("zendesk", "55", "breach", T0, fetch=lambda p, t: make_ticket([T0 - 3600]),
                         escalate_fn=fake_escalate) == "alerted:sla_breach"
    assert seen[0]["reasons"] == ["sla_breach"] and seen[0]["dedupe_scope"] == str(int(T0))


def test_agent_replied_without_timestamps_uses_order():
    t = Ticket(platform="x", id="1", messages=[Message(id="1", author_role="customer"),
                                               Message(id="2", author_role="agent")])
    assert sla.agent_replied(t, T0) is True
    t.messages.append(Message(id="3", author_role="customer"))
    assert sla.agent_replied(t, T0) is False


def test_schedule_for_outcome_uses_tier_tag_and_message_time(queue):
    from pipeline.models import Outcome, Plan, TicketEvent, Triage

    t = make_ticket()
    t.tags = ["ai-processed", "vip"]
    o = Outcome(event=TicketEvent(platform="zendesk", event_id="e1", ticket_id="55", message_id="c1",
                                  received_at=T0 + 20),
                ticket_id="55", triage=Triage(intent="order_status", confidence=0.9, priority="urgent"),
                plan=Plan(intent="order_status"))
    assert sla.customer_tier(t, sla=Cfg.rules.sla) == "vip"
    ids = sla.schedule_for(o, t, queue=queue, config=Cfg)
    reg = ScheduledJobRegistry(queue=queue)
    assert reg.get_scheduled_time(ids[1]).timestamp() == T0 + 30 * 60  # vip: half of 60 min, from the message time
    assert Job.fetch(ids[0], connection=queue.connection).args[5] == "order_status"
    sla.cancel_sla_checks("zendesk", "55", queue=queue)
    assert sla.schedule_for(o, make_ticket([T0 + 10]), queue=queue, config=Cfg) == []  # already answered


def test_embedded_mode_keeps_timers_in_the_sqlite_queue(tmp_path, slack, monkeypatch):
    """No Redis: the checks live in the durable embedded queue, run when due, alert once, and can be cancelled."""
    from app.jobs.embedded import get_embedded_queue
    from tests.conftest import reset_caches

    url, calls = slack
    for k, v in {"SIDECAR_VAR": str(tmp_path), "SLACK_BOT_TOKEN": "xoxb-t", "SLACK_CHANNEL": "#sla",
                 "SLACK_API_URL": url}.items():
        monkeypatch.setenv(k, v)
    reset_caches()
    try:
        from app.settings import get_settings

        s = get_settings()
        q = get_embedded_queue(s, autostart=False)
        # A message from three hours ago: both checks of an urgent (60 min) ticket are due.
        past = time.time() - 3 * 3600
        ids = sla.schedule_sla_checks("zendesk", "77", "urgent", now=past, settings=s, config=Cfg)
        assert ids == ["sla-zendesk-77-warning", "sla-zendesk-77-breach"]
        assert sla.schedule_sla_checks("zendesk", "77", "urgent", now=past + 60, settings=s, config=Cfg) == []
        # A future one stays pending and can be cancelled.
        assert len(sla.schedule_sla_checks("zendesk", "78", "low", settings=s, config=Cfg)) == 2
        assert q.run_pending() == 2
        assert q.counts() == {"done": 2, "queued": 2}
        assert [c["text"] for c in calls] and len(calls) == 2  # warning, then breach
        assert sla.cancel_sla_checks("zendesk", "78", settings=s) == 2
        assert q.counts() == {"done": 2}
    finally:
        reset_caches()
