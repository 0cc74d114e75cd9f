"""Prometheus metrics, computed at scrape time from the decision log and rq's registries.

Nothing is counted in process memory, so the figures are the same whichever gunicorn worker (or
machine) answers the scrape, and they survive restarts: counters come from the durable decision
log, gauges from Redis. Exposed as ``GET /metrics`` by :mod:`app.ops`.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)


def _histogram(name: str, doc: str, values: list[float], buckets: tuple[float, ...] = LATENCY_BUCKETS):
    counts, acc = [], 0
    ordered = sorted(values)
    i = 0
    for b in buckets:
        while i < len(ordered) and ordered[i] <= b:
            i += 1
        acc = i
        counts.append((str(float(b)), acc))
    counts.append(("+Inf", len(ordered)))
    h = HistogramMetricFamily(name, doc)
    h.add_metric([], counts, sum_value=float(sum(ordered)))
    return h


class SidecarCollector:
    """Collects the sidecar's figures on each scrape."""

    def __init__(self, settings: Any, store: Any = None):
        self.settings = settings
        self.store = store

    def collect(self):
        ok = 1
        try:
            yield from self._from_log()
        except Exception:
            ok = 0
            log.exception("metrics: decision log unavailable")
        try:
            yield from self._from_queue()
        except Exception:
            ok = 0
            log.exception("metrics: queue unavailable")
        g = GaugeMetricFamily("sidecar_metrics_scrape_ok", "1 when every source of metrics answered")
        g.add_metric([], ok)
        yield g

    def _from_log(self):
        from app.store.decisions import store_for

        t = (self.store or store_for(self.settings)).totals()
        c = CounterMetricFamily("sidecar_events", "Events recorded in the decision log, by status", labels=["status"])
        for status in ("processed", "failed", "skipped"):
            c.add_metric([status], t["by_status"].get(status, 0))
        yield c
        c = CounterMetricFamily("sidecar_intent_events", "Processed events by intent", labels=["intent"])
        for intent, n in sorted(t["by_intent"].items()):
            c.add_metric([intent], n)
        yield c
        c = CounterMetricFamily("sidecar_drafts", "Drafts written into notes, by kind", labels=["kind"])
        for kind, n in sorted(t["drafts"].items()):
            c.add_metric([kind], n)
        yield c
        c = CounterMetricFamily("sidecar_escalations", "Escalations by reason", labels=["reason"])
        for reason, n in sorted(t["escalations"].items()):
            c.add_metric([reason], n)
        yield c
        c = CounterMetricFamily("sidecar_llm_tokens", "LLM tokens used", labels=["direction"])
        c.add_metric(["in"], t["tokens_in"])
        c.add_metric(["out"], t["tokens_out"])
        yield c
        c = CounterMetricFamily("sidecar_llm_cost_usd", "Estimated LLM cost in US dollars")
        c.add_metric([], t["cost_usd"])
        yield c
        yield _histogram("sidecar_webhook_to_note_seconds", "Time from webhook received to note posted",
                         t["webhook_to_note"])
        yield _histogram("sidecar_job_duration_seconds", "Pipeline run time per event", t["job_durations"])

    def _from_queue(self):
        """Queue figures, the same names in both modes (rq with Redis, the SQLite queue embedded)."""
        from app.commands.jobs import queue_status

        st = queue_status(self.settings)
        name = st["queue"]
        depth = GaugeMetricFamily("sidecar_queue_depth", "Jobs due and waiting for a worker", labels=["queue"])
        depth.add_metric([name], st["queued"])
        yield depth
        reg = GaugeMetricFamily("sidecar_queue_registry_jobs", "Jobs by state: scheduled (timers, retries "
                                "backing off), started (running), failed", labels=["queue", "registry"])
        reg.add_metric([name, "scheduled"], st["scheduled"])
        reg.add_metric([name, "started"], st["running_count"])
        reg.add_metric([name, "failed"], st["failed"])
        yield reg
        oldest = GaugeMetricFamily("sidecar_queue_oldest_running_seconds",
                                   "Age of the longest-running job (0 when none runs)", labels=["queue"])
        oldest.add_metric([name], max((r["age_seconds"] for r in st["running"]), default=0.0))
        yield oldest
        wait = GaugeMetricFamily("sidecar_queue_oldest_queued_seconds",
                                 "How long the oldest due job has waited (0 when none waits)", labels=["queue"])
        wait.add_metric([name], st["oldest_queued_seconds"] or 0.0)
        yield wait
        if st["inbox"] is not None:
            inbox = GaugeMetricFamily("sidecar_inbox_depth", "Webhooks accepted, not yet turned into jobs (Redis)")
            inbox.add_metric([], st["inbox"])
            yield inbox


def render_metrics(settings: Any, store: Any = None) -> bytes:
    """The Prometheus text exposition of the sidecar's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SidecarCollector(settings, store))
    return generate_latest(registry)
