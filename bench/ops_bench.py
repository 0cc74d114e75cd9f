"""Decision-log throughput and read cost: insert rate, ``stats``, ``/metrics`` and ``/ops`` render times.

Usage: ``python bench/ops_bench.py [--rows 20000] [--pg postgresql://postgres@127.0.0.1:5432/test]``
Prints figures; asserts nothing. Uses a temporary SQLite file and (with --pg) a uniquely prefixed set
of PostgreSQL tables that is dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.store.decisions import DecisionStore, decision_from_outcome  # noqa: E402
from app.store.queries import compute_stats  # noqa: E402
from pipeline.models import Action, Draft, Outcome, Plan, TicketEvent, Triage  # noqa: E402

INTENTS = ["order_status", "return_refund", "delivery_problem", "billing", "product_question", "other"]
REASONS = ["urgent", "asks_for_human", "very_negative", "legal_threat", "churn_risk"]


def fake_outcome(i: int, now: float, rng: random.Random) -> tuple[Outcome, float]:
    at = now - rng.random() * 30 * 86400
    intent = rng.choice(INTENTS)
    ev = TicketEvent(platform=rng.choice(["zendesk", "gorgias", "freshdesk"]), event_id=f"e{i}",
                     ticket_id=str(i // 2), received_at=at - rng.uniform(1, 30))
    esc = [rng.choice(REASONS)] if rng.random() < 0.1 else []
    o = Outcome(event=ev, ticket_id=ev.ticket_id, ticket_url=f"https://acme.zendesk.com/agent/tickets/{i // 2}",
                triage=Triage(intent=intent, confidence=rng.random(), usage={"prompt_tokens": 500, "cost_usd": 0.0004}),
                plan=Plan(intent=intent, escalate=esc, actions=[Action(kind="tag", value=f"ai-intent-{intent}")]),
                draft=Draft(text="x", kind="llm") if rng.random() < 0.7 else None,
                timings={"note_posted_at": at, "total": rng.uniform(0.5, 5)},
                status="failed" if rng.random() < 0.02 else "processed")
    return o, at


def run(store: DecisionStore, rows: int) -> None:
    from app.metrics import render_metrics
    from app.settings import load_settings

    rng = random.Random(7)
    now = time.time()
    t0 = time.perf_counter()
    for i in range(rows):
        o, at = fake_outcome(i, now, rng)
        store.add_decision(decision_from_outcome(o, channel="email", now=at))
    ins = time.perf_counter() - t0
    for i in range(rows // 10):
        store.add_feedback("zendesk", str(i), f"e{2 * i}", rng.choice(["sent_as_is", "edited", "rejected"]), 0.5)
    print(f"[{store.kind}] insert {rows} decisions: {ins:.2f} s ({rows / ins:.0f} rows/s, one commit per row, connection reused)")
    for label, since in (("7d", now - 7 * 86400), ("30d", now - 30 * 86400)):
        t0 = time.perf_counter()
        s = compute_stats(store, since, now=now)
        print(f"[{store.kind}] stats --since {label}: {time.perf_counter() - t0:.3f} s over {s['events']} events")
    settings = load_settings({"SIDECAR_VAR": tempfile.mkdtemp()})
    t0 = time.perf_counter()
    body = render_metrics(settings, store)
    print(f"[{store.kind}] /metrics render: {time.perf_counter() - t0:.3f} s ({len(body)} bytes)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--pg", help="PostgreSQL DSN to benchmark too")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        run(DecisionStore(path=Path(d) / "bench.sqlite3"), a.rows)
    if a.pg:
        store = DecisionStore(dsn=a.pg, prefix=f"bench{uuid.uuid4().hex[:8]}_")
        try:
            run(store, a.rows)
        finally:
            store.drop()


if __name__ == "__main__":
    main()
