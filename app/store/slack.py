"""Slack escalation state: which ticket an alert's thread is about, who acknowledged, what was done.

In the state store (Redis with ``REDIS_URL``, else ``var/state.sqlite3``), so it is shared by every
process and survives restarts. Written when an alert is posted (:mod:`app.escalate`) and when
people act in Slack (:mod:`app.jobs.slack`); read by the SLA checks (:mod:`app.jobs.sla`).
"""

from __future__ import annotations

import re
import time
from typing import Any

ESCALATION_TTL = 30 * 24 * 3600
_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.#-]")


def _safe(x: Any) -> str:
    return _KEY_SAFE.sub("_", str(x))[:120]


def escalation_key(channel: str, ts: str) -> str:
    return f"sidecar:slack-escalation:{_safe(channel)}:{_safe(ts)}"


def remember_escalation(state: Any, *, channel: str, ts: str, platform: str, ticket_id: str,
                        ticket_url: str | None = None, ttl: int = ESCALATION_TTL, now: float | None = None) -> None:
    """Store which ticket the alert ``channel``/``ts`` (the thread's first message) is about."""
    state.put_json(escalation_key(channel, ts), {
        "platform": platform, "ticket_id": str(ticket_id), "ticket_url": ticket_url, "channel": channel, "ts": ts,
        "alerted_at": time.time() if now is None else now}, ttl)


def escalation_for(state: Any, channel: str, ts: str) -> dict[str, Any] | None:
    """The escalation whose thread starts at ``channel``/``ts``; None for threads we did not start."""
    d = state.get_json(escalation_key(channel, ts))
    return d if isinstance(d, dict) and d.get("platform") and d.get("ticket_id") else None


def ack_key(platform: str, ticket_id: str) -> str:
    return f"sidecar:slack-ack:{_safe(platform)}:{_safe(ticket_id)}"


def acknowledgement(state: Any, platform: str, ticket_id: str) -> dict[str, Any] | None:
    """Who acknowledged the ticket's escalation in Slack, and when (None if nobody did)."""
    d = state.get_json(ack_key(platform, ticket_id))
    return d if isinstance(d, dict) else None


def actions_key(platform: str, ticket_id: str) -> str:
    return f"sidecar:slack-actions:{_safe(platform)}:{_safe(ticket_id)}"
