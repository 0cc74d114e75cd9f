"""Decision log (placeholder until the analytics issue lands): logs one line per outcome."""

from __future__ import annotations

import logging

from pipeline.models import Outcome

log = logging.getLogger(__name__)


def record(outcome: Outcome) -> None:
    """Record a processed (or failed) event."""
    intent = outcome.triage.intent if outcome.triage else None
    log.info("decision %s/%s ticket=%s intent=%s status=%s steps=%s", outcome.event.platform,
             outcome.event.event_id, outcome.ticket_id, intent, outcome.status, ",".join(outcome.steps_done))
