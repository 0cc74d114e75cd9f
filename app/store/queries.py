"""Queries over the decision log for ``stats``, ``/ops`` and ``/metrics``: shares, per-intent figures,
daily series, and ``--since`` parsing. Reads only; the schema and writes are ``app.store.decisions``."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from typing import Any

from app.store.decisions import ACCEPTED_VERDICTS, DRAFT_VERDICTS, FEEDBACK_VERDICTS, DecisionStore

DAY = 86400.0


def _share(n: float, d: float) -> float | None:
    return round(n / d, 4) if d else None


def compute_stats(store: DecisionStore, since: float, until: float | None = None, *,
                  days: int = 30, now: float | None = None) -> dict[str, Any]:
    """The figures of ``python -m app stats`` and the ops page, for events recorded in ``[since, until)``.

    Also returns ``daily``: per-UTC-day series over the last ``days`` days (for the charts).
    """
    now = time.time() if now is None else now
    until = now if until is None else until
    everything = store.decisions(since, until)
    # "alert" rows are SLA alerts (no event of their own): they count as escalations only.
    alerts = [r for r in everything if r.status == "alert"]
    rows = [r for r in everything if r.status != "alert"]
    done = [r for r in rows if r.status == "processed"]
    failed = [r for r in rows if r.status == "failed"]
    tickets = {(r.platform, r.ticket_id) for r in done}
    drafted = {(r.platform, r.ticket_id) for r in done if r.has_draft}
    fb = store.feedback(since, until)
    verdicts = Counter(f["verdict"] for f in fb)
    # Drafts with feedback: distinct drafts with at least one verdict about the draft itself.
    judged = {(f["platform"], f["ticket_id"], f["event_id"]) for f in fb if f["verdict"] in DRAFT_VERDICTS}
    accepted = {(f["platform"], f["ticket_id"], f["event_id"]) for f in fb if f["verdict"] in ACCEPTED_VERDICTS}
    as_is = {(f["platform"], f["ticket_id"], f["event_id"]) for f in fb if f["verdict"] == "sent_as_is"}
    esc: Counter[str] = Counter()
    for r in done + alerts:
        esc.update(r.escalations)
    w2n = [r.webhook_to_note for r in done if r.webhook_to_note is not None]
    cost = sum(r.cost_usd for r in rows)
    stats: dict[str, Any] = {
        "since": since,
        "until": until,
        "events": len(rows),
        "processed": len(done),
        "failed": len(failed),
        "skipped": sum(1 for r in rows if r.status == "skipped"),
        "tickets": len(tickets),
        "by_intent": dict(Counter(r.intent or "unknown" for r in done).most_common()),
        "by_channel": dict(Counter(r.channel or "unknown" for r in done).most_common()),
        "by_platform": dict(Counter(r.platform for r in done).most_common()),
        "coverage": {"tickets_with_draft": len(drafted), "tickets": len(tickets),
                     "share": _share(len(drafted), len(tickets))},
        "feedback": {
            "total": len(judged),
            "counts": {v: verdicts.get(v, 0) for v in FEEDBACK_VERDICTS},
            "acceptance": _share(len(accepted & judged), len(judged)),
            "sent_as_is_share": _share(len(as_is & judged), len(judged)),
        },
        "escalations": dict(esc.most_common()),
        "escalated_events": sum(1 for r in done if r.escalations),
        "median_webhook_to_note": round(statistics.median(w2n), 3) if w2n else None,
        "llm": {"tokens_in": sum(r.tokens_in for r in rows), "tokens_out": sum(r.tokens_out for r in rows),
                "cost_usd": round(cost, 6), "cost_per_ticket": round(cost / len(tickets), 6) if tickets else None},
        "failures": [{"platform": r.platform, "ticket_id": r.ticket_id, "event_id": r.event_id,
                      "error": r.error, "attempts": r.attempts, "recorded_at": r.recorded_at} for r in failed],
    }
    stats["slack"] = slack_figures(store.slack_actions(since, until))
    stats["daily"] = daily_series(store, now=now, days=days)
    return stats


def slack_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What people did from Slack: notes written from thread replies, takes, acknowledgements and
    the median time from the alert to the first acknowledgement of each ticket."""
    counts = Counter(r["action"] for r in rows)
    first_ack: dict[tuple[str, str], float] = {}
    for r in rows:
        if r["action"] == "acknowledge" and r.get("escalated_at") is not None:
            k = (r["platform"], r["ticket_id"])
            first_ack.setdefault(k, max(0.0, float(r["recorded_at"]) - float(r["escalated_at"])))
    waits = list(first_ack.values())
    return {
        "notes": counts.get("note", 0),
        "taken": counts.get("take", 0),
        "take_failed": counts.get("take_failed", 0),
        "acknowledged": counts.get("acknowledge", 0),
        "median_time_to_acknowledge": round(statistics.median(waits), 3) if waits else None,
    }


def daily_series(store: DecisionStore, *, now: float | None = None, days: int = 30) -> list[dict[str, Any]]:
    """Per-UTC-day counts for the last ``days`` days, oldest first (days without events included)."""
    now = time.time() if now is None else now
    today = int(now // DAY) * DAY
    start = today - (days - 1) * DAY
    series = {start + i * DAY: {"processed": 0, "failed": 0, "drafted": 0, "escalated": 0, "cost_usd": 0.0}
              for i in range(days)}
    for r in store.decisions(start, today + DAY):
        b = series[int(r.recorded_at // DAY) * DAY]
        if r.status == "processed":
            b["processed"] += 1
            b["drafted"] += int(r.has_draft)
            b["escalated"] += int(bool(r.escalations))
        elif r.status == "failed":
            b["failed"] += 1
        elif r.status == "alert":
            b["escalated"] += 1
        b["cost_usd"] = round(b["cost_usd"] + r.cost_usd, 6)
    return [{"day": time.strftime("%Y-%m-%d", time.gmtime(d)), **v} for d, v in series.items()]


_SINCE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}


def parse_since(text: str, now: float | None = None) -> float:
    """``7d``, ``12h``, ``30m``, ``2w`` → epoch seconds that long before ``now``; or an ISO date ``2026-01-31``."""
    now = time.time() if now is None else now
    m = _SINCE_RE.match(text or "")
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    from datetime import UTC, datetime

    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since: expected a duration like 7d, 12h, 30m, 2w or an ISO date, got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
