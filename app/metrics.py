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
        depth = GaugeMetricFamily("sidecar_queue_depth", "Jobs waiting in the queue", labels=["queue"])
        reg = GaugeMetricFamily("sidecar_queue_registry_jobs", "Jobs in rq registries", labels=["queue", "registry"])
        name = self.settings.queue_name
        if self.settings.redis_url:
            from rq import Queue

            from app.runtime import get_redis

            q = Queue(name, connection=get_redis(self.settings))
            depth.add_metric([name], q.count)
            for label, r in (("failed", q.failed_job_registry), ("scheduled", q.scheduled_job_registry),
                             ("started", q.started_job_registry), ("deferred", q.deferred_job_registry)):
                reg.add_metric([name, label], r.count)
        else:
            from app.commands.jobs import failed_jobs

            reg.add_metric([name, "failed"], len(failed_jobs(self.settings)))
        yield depth
        yield reg


def render_metrics(settings: Any, store: Any = None) -> bytes:
    """The Prometheus text exposition of the sidecar's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SidecarCollector(settings, store))
    return generate_latest(registry)
