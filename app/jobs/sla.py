"""SLA timers: catch stalled tickets before they breach their first-response target.

When a customer message is processed, :func:`schedule_sla_checks` schedules two checks (see
below for where they live in each mode): a warning at 75% of the target and
a breach check at 100%. Each check (:func:`check_sla`) re-fetches the ticket and alerts Slack
(reasons ``sla_warning`` then ``sla_breach``, in the ticket's escalation thread) only if no agent
has replied publicly since the customer message; once an agent replied the checks do nothing, and
:func:`cancel_sla_checks` removes them early when the caller learns of a reply.

``rules.yaml``::

    sla:
      enabled: true                 # default true
      first_response_minutes: {urgent: 60, high: 240, normal: 1440, low: 2880}   # these are the defaults
      tiers: {vip: 0.5, enterprise: 0.5}   # factor on the target by customer tier
      warning_at: 0.75              # share of the target at which to warn
      tier_field: customer_tier     # optional: ticket custom field holding the tier
                                    # (else the first ticket tag that names a tier counts)

Both modes run them: with Redis they are rq scheduled jobs, and the worker must run rq's scheduler
(``Worker.work(with_scheduler=True)`` / ``rq worker --with-scheduler``) for them to be moved to the
queue on time; in embedded mode (no ``REDIS_URL``) they are rows of the durable SQLite queue under
``var/`` with a ``run_after`` time, run by the in-process worker thread. Either way they survive restarts.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pipeline.models import AGENT, CUSTOMER, Outcome, Plan, Ticket, TicketEvent

log = logging.getLogger(__name__)

DEFAULT_TARGETS = {"urgent": 60, "high": 240, "normal": 1440, "low": 2880}
STAGES = {"warning": "sla_warning", "breach": "sla_breach"}
CLOSED_STATUSES = {"solved", "closed", "resolved"}
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _sla_cfg(config: Any) -> dict[str, Any]:
    if config is None:
        try:
            from pipeline.config import get_config

            config = get_config()
        except Exception:  # no config folder: built-in defaults
            return {}
    return dict(getattr(config.rules, "sla", {}) or {})


def target_minutes(priority: str | None, tier: str | None = None, *, config: Any = None,
                   sla: dict[str, Any] | None = None) -> float | None:
    """First-response target in minutes for a priority and customer tier; ``None`` when SLA is off."""
    cfg = _sla_cfg(config) if sla is None else sla
    if cfg.get("enabled") is False:
        return None
    targets = {**DEFAULT_TARGETS, **(cfg.get("first_response_minutes") or {})}
    base = targets.get(priority or "normal", targets.get("normal"))
    if base is None:
        return None
    factor = float((cfg.get("tiers") or {}).get(tier, 1.0)) if tier else 1.0
    return float(base) * factor


def job_id(platform: str, ticket_id: str, stage: str) -> str:
    """Deterministic rq job id (letters, digits, ``_`` and ``-`` only) for a ticket's SLA check."""
    safe = _ID_UNSAFE.sub("_", str(ticket_id))[:60]
    if safe != str(ticket_id):  # keep ids distinct when unsafe characters were replaced
        safe += "-" + hashlib.sha1(str(ticket_id).encode()).hexdigest()[:8]
    return f"sla-{_ID_UNSAFE.sub('_', platform)}-{safe}-{stage}"


def customer_tier(ticket: Ticket, *, config: Any = None, sla: dict[str, Any] | None = None) -> str | None:
    """The customer's tier: the ``sla.tier_field`` custom field, else the first ticket tag naming a tier."""
    cfg = _sla_cfg(config) if sla is None else sla
    tiers = cfg.get("tiers") or {}
    field = cfg.get("tier_field")
    if field and ticket.custom_fields.get(field):
        return str(ticket.custom_fields[field])
    return next((t for t in ticket.tags if t in tiers), None)


def schedule_for(outcome: Outcome, ticket: Ticket, **kw: Any) -> list[str]:
    """Schedule the SLA checks of a processed outcome (what the job calls after writing the note).

    The clock starts at the customer message's ``created_at`` (else when the webhook arrived);
    nothing is scheduled when an agent already replied to it.
    """
    msg = ticket.latest_customer_message(outcome.event.message_id)
    since = _ts(msg.created_at if msg else None) or outcome.event.received_at
    if agent_replied(ticket, since):
        return []
    t, p = outcome.triage, outcome.plan
    priority = (p.priority if p and p.priority else None) or (t.priority if t else None) or ticket.priority
    sla = _sla_cfg(kw.get("config"))
    return schedule_sla_checks(outcome.event.platform, str(ticket.id), priority, customer_tier(ticket, sla=sla),
                               since=since, intent=t.intent if t else None, **kw)


def _queue(settings: Any) -> Any:
    from rq import Queue

    from app.runtime import get_redis

    # The process-wide client: no new connection per processed ticket.
    return Queue(settings.queue_name, connection=get_redis(settings))


def schedule_sla_checks(platform: str, ticket_id: str, priority: str | None, tier: str | None = None,
                        now: float | None = None, *, since: float | None = None, intent: str | None = None,
                        queue: Any = None, config: Any = None, settings: Any = None) -> list[str]:
    """Schedule the 75% warning and 100% breach checks; returns the job ids scheduled (``[]`` if none).

    ``since`` is when the customer's message arrived (default ``now``). Idempotent: while a
    ticket's checks are pending, calling again keeps them (the earlier clock wins).
    """
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    now = time.time() if now is None else now
    since = now if since is None else since
    sla = _sla_cfg(config)
    minutes = target_minutes(priority, tier, sla=sla)
    if minutes is None:
        return []
    if queue is None:
        if settings is None:
            from app.settings import get_settings

            settings = get_settings()
        if not settings.redis_url:
            return _schedule_embedded(settings, platform, str(ticket_id), priority, minutes, since, sla, intent)
        queue = _queue(settings)
    registry = ScheduledJobRegistry(queue=queue)
    warn_share = float(sla.get("warning_at", 0.75))
    deadline = since + minutes * 60
    scheduled = []
    for stage, at in (("warning", since + warn_share * minutes * 60), ("breach", deadline)):
        jid = job_id(platform, ticket_id, stage)
        if jid in registry:
            continue  # a pending check for an earlier message: its clock started first
        if Job.exists(jid, connection=queue.connection):
            Job.fetch(jid, connection=queue.connection).delete()  # finished check of an earlier, answered message
        queue.enqueue_at(datetime.fromtimestamp(at, UTC), check_sla, platform, str(ticket_id), stage, since,
                         deadline, intent, priority, job_id=jid, description=f"SLA {stage} {platform} {ticket_id}",
                         result_ttl=86400, failure_ttl=7 * 86400)
        scheduled.append(jid)
    if scheduled:
        log.info("SLA checks for %s ticket %s: target %.0f min (priority %s, tier %s)", platform, ticket_id, minutes,
                 priority, tier)
    return scheduled


def _schedule_embedded(settings: Any, platform: str, ticket_id: str, priority: str | None, minutes: float,
                       since: float, sla: dict[str, Any], intent: str | None) -> list[str]:
    """Embedded mode (no Redis): the same two checks in the durable SQLite queue."""
    from app.jobs.embedded import get_embedded_queue

    q = get_embedded_queue(settings)
    deadline = since + minutes * 60
    warn = since + float(sla.get("warning_at", 0.75)) * minutes * 60
    scheduled = []
    for stage, at in (("warning", warn), ("breach", deadline)):
        jid = job_id(platform, ticket_id, stage)
        if q.enqueue_call(jid, "app.jobs.sla.check_sla", [platform, ticket_id, stage, since, deadline, intent, priority],
                          run_after=at):
            scheduled.append(jid)
    return scheduled


def cancel_sla_checks(platform: str, ticket_id: str, *, queue: Any = None, settings: Any = None) -> int:
    """Remove a ticket's pending checks (e.g. when an agent reply is seen); returns how many were removed."""
    from rq.registry import ScheduledJobRegistry

    if queue is None:
        if settings is None:
            from app.settings import get_settings

            settings = get_settings()
        if not settings.redis_url:
            from app.jobs.embedded import get_embedded_queue

            q = get_embedded_queue(settings)
            return sum(q.cancel(job_id(platform, ticket_id, stage)) for stage in STAGES)
        queue = _queue(settings)
    registry = ScheduledJobRegistry(queue=queue)
    n = 0
    for stage in STAGES:
        jid = job_id(platform, ticket_id, stage)
        if jid in registry:
            registry.remove(jid, delete_job=True)
            n += 1
    return n


def _ts(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def agent_replied(ticket: Ticket, since: float) -> bool:
    """True when an agent replied publicly after the customer message that started the clock.

    Uses message timestamps when present; otherwise any public agent message after the last customer
    message counts. Internal notes and the sidecar's own messages are not replies.
    """
    seen_customer = False
    for m in ticket.messages:
        if m.author_role == CUSTOMER:
            seen_customer = True
            continue
        if m.author_role != AGENT or not m.public:
            continue
        at = _ts(m.created_at)
        if at is not None:
            if at >= since - 1:  # one second of clock skew between the helpdesk and us
                return True
        elif seen_customer and _after_last_customer(ticket, m):
            return True
    return False


def _after_last_customer(ticket: Ticket, msg: Any) -> bool:
    last_customer = max((i for i, m in enumerate(ticket.messages) if m.author_role == CUSTOMER), default=-1)
    return ticket.messages.index(msg) > last_customer


def _default_fetch(platform: str, ticket_id: str) -> Ticket:
    from adapters.registry import get_adapter  # provided by the adapters package
    from app.settings import get_settings

    return get_adapter(platform, get_settings()).fetch_ticket(ticket_id)


def _acknowledged(platform: str, ticket_id: str, settings: Any) -> dict[str, Any] | None:
    """The Slack acknowledgement of the ticket's escalation, if any (it stops further reminders)."""
    try:
        if settings is None:
            from app.settings import get_settings

            settings = get_settings()
        from app.runtime import get_state
        from app.store.slack import acknowledgement

        return acknowledgement(get_state(settings), platform, ticket_id)
    except Exception:  # the state store is down: a reminder too many beats a missed breach
        log.warning("SLA check for %s ticket %s: could not read the acknowledgement", platform, ticket_id)
        return None


def check_sla(platform: str, ticket_id: str, stage: str, since: float, deadline: float | None = None,
              intent: str | None = None, priority: str | None = None, *,
              fetch: Callable[[str, str], Ticket] | None = None, escalate_fn: Callable[..., list[str]] | None = None,
              settings: Any = None) -> str:
    """The scheduled check (an rq job): alert ``sla_warning`` / ``sla_breach`` unless an agent replied.

    Returns what happened: ``acknowledged`` (someone pressed Acknowledge on the Slack alert),
    ``answered``, ``closed``, ``alerted:<reason>`` or ``not-alerted`` (deduped or dry-run).
    A Slack failure raises (the job fails, visible in the failed registry, and can be retried).
    """
    if stage not in STAGES:
        raise ValueError(f"unknown SLA stage {stage!r}")
    reason = STAGES[stage]
    ack = _acknowledged(platform, str(ticket_id), settings)
    if ack:
        log.info("SLA %s for %s ticket %s: acknowledged in Slack by %s, no reminder", stage, platform, ticket_id,
                 ack.get("user"))
        return "acknowledged"
    ticket = (fetch or _default_fetch)(platform, ticket_id)
    if (ticket.status or "").lower() in CLOSED_STATUSES:
        log.info("SLA %s for %s ticket %s: ticket %s, nothing to do", stage, platform, ticket_id, ticket.status)
        return "closed"
    if agent_replied(ticket, since):
        log.info("SLA %s for %s ticket %s: an agent replied, nothing to do", stage, platform, ticket_id)
        return "answered"
    if escalate_fn is None:
        from app.escalate import escalate as escalate_fn
    outcome = Outcome(
        event=TicketEvent(platform=platform, event_id=f"sla-{stage}-{ticket_id}-{int(since)}", ticket_id=str(ticket_id),
                          kind="sla_check"),
        ticket_id=str(ticket_id), ticket_url=ticket.url,
        plan=Plan(intent=intent or "unknown", priority=priority or ticket.priority, escalate=[reason]),
    )
    alerted = escalate_fn(outcome, ticket, reasons=[reason], dedupe_scope=str(int(since)), settings=settings)
    if not alerted:
        return "not-alerted"  # deduped, or Slack in dry-run
    outcome.status = "alert"
    from app.store.decisions import record

    record(outcome, ticket=ticket, escalated=alerted)  # counted in "escalations by reason"
    overdue = f", {(time.time() - deadline) / 60:.0f} min past the deadline" if deadline and stage == "breach" else ""
    log.warning("SLA %s alerted for %s ticket %s%s", stage, platform, ticket_id, overdue)
    return f"alerted:{reason}"
