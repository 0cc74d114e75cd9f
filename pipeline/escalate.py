"""Escalation to Slack (placeholder until the escalation issue lands)."""

from __future__ import annotations

import logging

from pipeline.models import Outcome, Ticket

log = logging.getLogger(__name__)


def escalate(outcome: Outcome, ticket: Ticket) -> list[str]:
    """Alert on-call for each reason in ``outcome.plan.escalate``; returns the reasons alerted."""
    reasons = list(outcome.plan.escalate) if outcome.plan else []
    for r in reasons:
        log.info("escalation wanted for %s ticket %s: %s (Slack not wired yet)", outcome.event.platform, ticket.id, r)
    return []
