"""Decision log: the same store tests on SQLite and PostgreSQL, stats figures checked exactly."""

from __future__ import annotations

import argparse
import io
import json
import os
import uuid

import pytest

from app.store.decisions import (
    DecisionStore,
    decision_from_outcome,
    record,
    record_feedback,
)
from app.store.queries import DAY, compute_stats, parse_since
from pipeline.models import Action, Draft, Outcome, Plan, TicketEvent, Triage

PG_DSN = os.environ.get("SIDECAR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = 1_800_000_000.0  # fixed clock: 2027-01-15 08:00 UTC


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL not reachable at {PG_DSN}: {exc.__class__.__name__}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A fresh decision store on each backend; PostgreSQL tables get a unique prefix and are dropped."""
    if request.param == "sqlite":
        s = DecisionStore(path=tmp_path / "decisions.sqlite3")
        yield s
        return
    why = _pg_available()
    if why:
        pytest.skip(why)
    s = DecisionStore(dsn=PG_DSN, prefix=f"t{uuid.uuid4().hex[:10]}_")
    try:
        yield s
    finally:
        s.drop()


def outcome(event_id: str, ticket_id: str, intent: str = "order_status", *, platform: str = "zendesk",
            status: str = "processed", draft_kind: str | None = "llm", escalate: list[str] | None = None,
            priority: str = "normal", received: float = NOW - 100, note_after: float | None = 10.0,
            cost: float = 0.0, tokens: tuple[int, int] = (0, 0), error: str | None = None) -> Outcome:
    ev = TicketEvent(platform=platform, event_id=event_id, ticket_id=ticket_id, received_at=received,
                     body_hint="my parcel never arrived, card 4242")
    tri = Triage(intent=intent, confidence=0.8, priority=priority, sentiment="negative", language="en",
                 usage={"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "cost_usd": cost / 2})
    plan = Plan(intent=intent, escalate=list(escalate or []), actions=[Action(kind="tag", value="ai-wismo"),
                                                                       Action(kind="draft")])
    draft = Draft(text="Hello, your parcel ...", kind=draft_kind, usage={"cost_usd": cost / 2}) if draft_kind else None
    timings = {"note_posted_at": received + note_after} if note_after is not None else {}
    return Outcome(event=ev, ticket_id=ticket_id, ticket_url=f"https://acme.zendesk.com/agent/tickets/{ticket_id}",
                   triage=tri, plan=plan, draft=draft, note_text="secret customer words", timings=timings,
                   status=status, error=error)


def add(store: DecisionStore, o: Outcome, at: float, channel: str | None = "email") -> None:
    store.add_decision(decision_from_outcome(o, channel=channel, now=at))


def test_roundtrip_keeps_labels_and_no_customer_text(store):
    o = outcome("e1", "101", escalate=["urgent"], cost=0.002, tokens=(300, 50))
    add(store, o, NOW)
    [d] = store.decisions()
    assert (d.platform, d.event_id, d.ticket_id, d.intent, d.status) == ("zendesk", "e1", "101", "order_status",
                                                                         "processed")
    assert d.actions == ["tag:ai-wismo", "draft"]
    assert d.escalations == ["urgent"]
    assert d.has_draft is True and d.draft_kind == "llm"
    assert d.webhook_to_note == pytest.approx(10.0)
    assert (d.tokens_in, d.tokens_out) == (300, 50)
    assert d.cost_usd == pytest.approx(0.002)
    assert d.ticket_url.endswith("/tickets/101")
    assert "parcel" not in json.dumps(d.__dict__) and "secret customer" not in json.dumps(d.__dict__)


def test_failed_then_retried_event_is_one_row_with_two_attempts(store):
    add(store, outcome("e9", "9", status="failed", error="TransientError: zendesk 503 after 5 tries",
                       draft_kind=None, note_after=None), NOW - 50)
    [d] = store.decisions(status="failed")
    assert d.error == "TransientError: zendesk 503 after 5 tries" and d.attempts == 1
    add(store, outcome("e9", "9"), NOW)
    assert store.decisions(status="failed") == []
    [d] = store.decisions()
    assert (d.status, d.attempts, d.error) == ("processed", 2, None)


def test_feedback_upsert_and_validation(store):
    store.add_feedback("zendesk", "1", "e1", "edited", 0.8, now=NOW)
    store.add_feedback("zendesk", "1", "e1", "sent_as_is", 1.0, now=NOW)  # agent's final action wins
    store.add_feedback("zendesk", "2", None, "rejected", 0.1, now=NOW)
    # tag verdicts sit beside the reply verdict of the same draft
    store.add_feedback("zendesk", "1", "e1", "wrong_intent", details={"corrected_intent": "billing"}, now=NOW)
    fb = store.feedback()
    assert sorted((f["ticket_id"], f["verdict"]) for f in fb) == [("1", "sent_as_is"), ("1", "wrong_intent"),
                                                                   ("2", "rejected")]
    assert next(f for f in fb if f["verdict"] == "wrong_intent")["details"] == {"corrected_intent": "billing"}
    with pytest.raises(ValueError, match="verdict must be one of"):
        store.add_feedback("zendesk", "3", "e3", "liked")


def test_record_feedback_accepts_the_feedback_modules_keywords(store):
    record_feedback("gorgias", "86", "ev1", "rewritten", 0.2, intent="return_refund", store=store)
    record_feedback("gorgias", "86", "ev1", "wrong_intent", None, intent="return_refund",
                    corrected_intent="delivery_problem", store=store)
    fb = {f["verdict"]: f for f in store.feedback()}
    assert set(fb) == {"rewritten", "wrong_intent"}
    assert fb["wrong_intent"]["details"] == {"corrected_intent": "delivery_problem"}
    assert fb["rewritten"]["similarity"] == pytest.approx(0.2) and fb["rewritten"]["intent"] == "return_refund"


def seed(store: DecisionStore) -> None:
    """A small log whose figures are worked out by hand in the assertions below."""
    # ticket 1: two events (both drafted), email; ticket 2: drafted, chat, escalated urgent+legal;
    # ticket 3: no draft (human_request), escalated asks_for_human; ticket 4: failed (helpdesk down);
    # ticket 5: processed 10 days ago (outside a 7d window).
    add(store, outcome("a1", "1", "order_status", note_after=4.0, cost=0.010, tokens=(1000, 200)), NOW - 3600)
    add(store, outcome("a2", "1", "order_status", note_after=6.0, cost=0.006, tokens=(600, 100)), NOW - 1800)
    add(store, outcome("b1", "2", "return_refund", escalate=["urgent", "legal_threat"], note_after=12.0,
                       cost=0.014, tokens=(1400, 300)), NOW - 2 * DAY, channel="chat")
    add(store, outcome("c1", "3", "human_request", draft_kind=None, escalate=["asks_for_human"], note_after=2.0),
        NOW - 3 * DAY)
    add(store, outcome("d1", "4", status="failed", draft_kind=None, note_after=None,
                       error="TransientError: helpdesk down (503) after 5 attempts"), NOW - 600)
    add(store, outcome("z1", "5", "billing", note_after=100.0, cost=1.0), NOW - 10 * DAY)
    # an SLA alert on ticket 1: an escalation, not an event
    add(store, outcome("sla-breach-1-0", "1", status="alert", draft_kind=None, note_after=None,
                       escalate=["sla_breach"]), NOW - 900)
    for t, ev, verdict in (("1", "a1", "sent_as_is"), ("1", "a2", "edited"), ("2", "b1", "rejected")):
        store.add_feedback("zendesk", t, ev, verdict, 0.5, now=NOW - 100)
    store.add_feedback("zendesk", "2", "b1", "wrong_intent", now=NOW - 100)  # not a verdict on the draft itself
    store.add_feedback("zendesk", "5", "z1", "sent_as_is", 1.0, now=NOW - 10 * DAY)


def test_stats_figures_exact(store):
    seed(store)
    s = compute_stats(store, parse_since("7d", now=NOW), now=NOW)
    assert (s["events"], s["processed"], s["failed"], s["tickets"]) == (5, 4, 1, 3)
    assert s["by_intent"] == {"order_status": 2, "return_refund": 1, "human_request": 1}
    assert s["by_channel"] == {"email": 3, "chat": 1}
    assert s["coverage"] == {"tickets_with_draft": 2, "tickets": 3, "share": round(2 / 3, 4)}
    assert s["feedback"]["counts"] == {"sent_as_is": 1, "edited": 1, "rewritten": 0, "rejected": 1, "handoff": 0,
                                       "wrong_intent": 1}
    assert s["feedback"]["total"] == 3
    assert s["feedback"]["acceptance"] == round(2 / 3, 4)
    assert s["feedback"]["sent_as_is_share"] == round(1 / 3, 4)
    assert s["escalations"] == {"urgent": 1, "legal_threat": 1, "asks_for_human": 1, "sla_breach": 1}
    assert s["median_webhook_to_note"] == 5.0  # median of 4, 6, 12, 2
    assert s["llm"]["tokens_in"] == 3000 and s["llm"]["tokens_out"] == 600
    assert s["llm"]["cost_usd"] == pytest.approx(0.030)
    assert s["llm"]["cost_per_ticket"] == pytest.approx(0.010)
    assert [(f["ticket_id"], f["error"]) for f in s["failures"]] == [
        ("4", "TransientError: helpdesk down (503) after 5 attempts")]
    daily = s["daily"]
    assert len(daily) == 30 and daily[-1]["day"] == "2027-01-15"
    assert (daily[-1]["processed"], daily[-1]["failed"], daily[-1]["drafted"], daily[-1]["escalated"]) == (2, 1, 2, 1)
    assert daily[-3]["escalated"] == 1 and daily[-11]["processed"] == 1
    assert sum(d["processed"] for d in daily) == 5


def test_stats_cli_prints_figures(store, monkeypatch, tmp_path):
    import app.commands.ops as ops
    from app.store import decisions as rec

    seed(store)
    monkeypatch.setattr(rec, "store_for", lambda settings: store)
    monkeypatch.setattr(rec.time, "time", lambda: NOW)
    parser = argparse.ArgumentParser()
    ops.register(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["stats", "--since", "7d"])
    buf = io.StringIO()
    assert args.func(args, out=buf) == 0
    text = buf.getvalue()
    assert "order_status   2" in text and "return_refund  1" in text
    assert "Automation coverage: 66.7% (2 of 3 tickets have a draft)" in text
    assert "Draft acceptance: 66.7% of 3 drafts" in text
    assert "legal_threat    1" in text
    assert "Median webhook → note: 5.0 s" in text
    assert "$0.0100 per ticket" in text
    assert "helpdesk down (503)" in text
    buf = io.StringIO()
    args = parser.parse_args(["stats", "--since", "30d", "--json"])
    assert args.func(args, out=buf) == 0
    assert json.loads(buf.getvalue())["tickets"] == 4
    assert parser.parse_args(["stats", "--since", "soon"]).func(parser.parse_args(["stats", "--since", "soon"])) == 2


def test_record_uses_settings_store_and_never_raises(tmp_path, monkeypatch, caplog):
    from app.settings import reset_settings
    from app.store.decisions import get_store, reset_store

    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path))
    reset_settings()
    reset_store()
    try:
        assert record(outcome("r1", "77")) is True
        assert (tmp_path / "decisions.sqlite3").exists()
        assert [d.event_id for d in get_store().decisions()] == ["r1"]
        record_feedback("zendesk", "77", "r1", "handoff")
        assert get_store().feedback()[0]["verdict"] == "handoff"
        broken = DecisionStore(path=tmp_path / "dir-not-file")
        (tmp_path / "dir-not-file").mkdir()
        assert record(outcome("r2", "78"), store=broken) is False
        assert "could not record decision zendesk/r2" in caplog.text
    finally:
        reset_settings()
        reset_store()


def test_parse_since():
    assert parse_since("7d", now=NOW) == NOW - 7 * DAY
    assert parse_since("12h", now=NOW) == NOW - 12 * 3600
    assert parse_since("2027-01-01") == 1798761600.0
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday")
