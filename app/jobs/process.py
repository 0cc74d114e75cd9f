"""Jobs: ``process_event`` runs the whole pipeline for one webhook event; ``enqueue_event`` queues it.

Jobs are module-level functions with small JSON-safe arguments (rq pickles only names and
dicts). Transient failures are retried by rq's retry policy; permanent ones (bad credentials,
missing ticket) fail at once and land in the failed-job registry with their reason.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from adapters.base import MemoryStepLog, PermanentError, TransientError
from adapters.registry import get_adapter
from app.escalate import EscalationError, escalate
from app.jobs.feedback import remember_draft
from app.jobs.ids import job_id_for  # noqa: F401  (part of this module's API)
from app.jobs.sla import schedule_for
from app.observability import set_job_context
from app.runtime import capabilities, get_redis, get_state
from app.store.decisions import record
from pipeline.config import get_config
from pipeline.flow import decide_message
from pipeline.models import CUSTOMER, Message, Outcome, Ticket, TicketEvent, marker_for
from pipeline.note import render_note

log = logging.getLogger(__name__)

RETRY_INTERVALS = [10, 60, 300]  # seconds between attempts of a transient failure
MESSAGE_CLAIM_TTL = 30 * 24 * 3600
# How long after the webhook the job keeps looking for a message the API does not show yet
# (retried at 10 s and 60 s) before it works from the webhook's own text.
LAG_WINDOW = 60.0


class NotVisibleYet(TransientError):
    """The helpdesk's API does not show the event's message yet: try the job again shortly."""

    def __init__(self, message: str):
        super().__init__(message, retry_after=None)


def _settings():
    from app.settings import get_settings

    return get_settings()


def process_event(platform: str, event: dict[str, Any], *, claim_message: bool = True,
                  preview: bool = False) -> dict[str, Any]:
    """Fetch → normalize → classify → decide → retrieve → draft → write back → escalate → record.

    Jobs call it with the defaults. ``python -m app replay`` may pass ``claim_message=False``
    (``--fresh``: run even if another event already processed this customer message) and
    ``preview=True`` (a live platform without ``--write``: read the real ticket, write only to
    the outbox, and no Slack alert, SLA timer, feedback memory or decision-log row).
    """
    settings = _settings()
    ev = TicketEvent.from_dict(event)
    set_job_context(platform, ev.ticket_id, ev.event_id)
    cfg = get_config()
    state = get_state(settings)
    adapter = get_adapter(platform, settings, redis=get_redis(settings))
    if preview and not adapter.dry_run:
        from adapters.dryrun import PreviewAdapter

        adapter = PreviewAdapter(adapter, settings.outbox_dir)
    else:
        preview = False  # a dry-run platform's writes go to the outbox anyway: a normal run
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    outcome = Outcome(event=ev, ticket_id=ev.ticket_id, marker=marker_for(ev.event_id, settings.marker_key))
    try:
        ticket = adapter.fetch_ticket(ev.ticket_id, hint=ev)
        timings["fetch"] = time.monotonic() - t0
        outcome.ticket_url = ticket.url
        # A replay (preview / --fresh) never waits for the API: it works with what the thread shows.
        young = claim_message and not preview and time.time() - ev.received_at < LAG_WINDOW
        if ev.message_id is None and not ev.body_hint and ticket.messages \
                and ticket.messages[-1].author_role != CUSTOMER:
            # A trigger without a comment id or text, and the newest message is someone else's: the
            # API may not show the new comment yet (look again), or the trigger fired on our own
            # update or an agent's reply (nothing to do).
            if young:
                raise NotVisibleYet("the newest message is not the customer's yet")
            return _skip(outcome, "newest message is not the customer's")
        msg = _target_message(ticket, ev, young)
        if msg is None:
            return _skip(outcome, "no customer message in the thread")
        if ev.message_id is None and ticket.messages and ticket.messages[-1] is not msg \
                and ticket.messages[-1].author_role != CUSTOMER:
            # Named by its text only, and someone (an agent, our note) wrote after it: that message
            # was answered. Unless the customer just wrote the same words again and the API does
            # not show them yet: look again while the event is young.
            if young:
                raise NotVisibleYet("the newest message is not the customer's yet")
            return _skip(outcome, "newest message is not the customer's")
        # One pipeline run per customer message, whichever event carried it (event + trigger webhooks
        # for the same comment, or a trigger fired by our own update).
        claim = f"sidecar:msg:{platform}:{ticket.id}:{msg.id}"
        # A preview takes no claim: the real event for this message must still be processed.
        if claim_message and not preview and not state.claim_for(claim, ev.event_id, MESSAGE_CLAIM_TTL):
            if ev.message_id is None and young:
                # The same words as a message already processed: a late copy of that delivery, or the
                # customer wrote them again and the API does not show the new comment yet. Look again.
                raise NotVisibleYet(f"message {msg.id} is already processed; the new one may not be visible yet")
            return _skip(outcome, f"message {msg.id} already processed by another event")

        decision = decide_message(ticket, msg.id, cfg, platform, capabilities(settings, cfg))
        timings.update(decision.timings)
        text, triage, plan = decision.text, decision.triage, decision.plan
        outcome.triage, outcome.plan = triage, plan
        if not plan.enabled:
            return _skip(outcome, "; ".join(plan.reasons))
        outcome.draft, outcome.public_reply = decision.draft, decision.public_reply
        # Slack first, so the note can say who was alerted; a Slack failure never costs the note:
        # it is noted, the note is written, and the job is retried for the alert alone.
        escalation_error = None if preview else _escalate(outcome, ticket, state)
        outcome.note_html, outcome.note_text = render_note(outcome)

        t3 = time.monotonic()
        # A preview's steps are remembered apart, or the real job for this event would skip them.
        outcome.steps_done = adapter.write_back(ticket, outcome, MemoryStepLog() if preview else state)
        timings["write"] = time.monotonic() - t3
        timings["note_posted_at"] = time.time()
        if preview:
            # Nothing of a preview may act later on the live ticket (timers, feedback) or count as work done.
            return {"status": "preview", "intent": triage.intent, "confidence": triage.confidence,
                    "steps": outcome.steps_done, "dry_run": True, "escalate": plan.escalate,
                    "note": outcome.note_text}
        remember_draft(state, outcome, text)
        try:
            schedule_for(outcome, ticket)
        except Exception:  # timers are a safety net; the ticket's note is already there
            log.exception("%s ticket %s: could not schedule SLA checks", platform, ticket.id)
        timings["total"] = time.monotonic() - t0
        timings["since_webhook"] = max(0.0, time.time() - ev.received_at)
        outcome.timings = timings
        outcome.status = "processed"
        # Without Slack (dry-run) the plan's escalations are still recorded: the note names them.
        record(outcome, ticket=ticket, escalated=outcome.alerted if _slack_configured(settings, cfg) else None)
        if escalation_error is not None:
            raise escalation_error
        log.info("%s ticket %s event %s: intent=%s (%.2f) steps=%s", platform, ticket.id, ev.event_id,
                 triage.intent, triage.confidence, ",".join(outcome.steps_done) or "none")
        return {"status": "processed", "intent": triage.intent, "confidence": triage.confidence,
                "steps": outcome.steps_done, "dry_run": adapter.dry_run, "note": outcome.note_text}
    except EscalationError:
        raise
    except NotVisibleYet as exc:
        # Not a failure: the job is tried again shortly (rq's retry / the embedded queue's delay).
        log.info("%s ticket %s event %s: %s; trying again", platform, ev.ticket_id, ev.event_id, exc)
        raise
    except TransientError as exc:
        if exc.retry_after is not None and exc.retry_after > RETRY_INTERVALS[0]:
            # The helpdesk said when: the retry is scheduled for then, not slept out in this job.
            _retry_not_before(exc.retry_after)
        _failed(outcome, exc, timings, t0)
        raise
    except PermanentError as exc:
        _no_more_retries()
        _failed(outcome, exc, timings, t0)
        raise
    except Exception as exc:
        _failed(outcome, exc, timings, t0)
        raise


def _same_text(a: str | None, b: str | None) -> bool:
    """Loosely the same message (API text vs. the webhook's rendering of it)."""
    na, nb = " ".join((a or "").lower().split())[:300], " ".join((b or "").lower().split())[:300]
    if not na or not nb:
        return False
    short, long_ = sorted((na, nb), key=len)
    return short[:120] in long_


def _target_message(ticket: Ticket, ev: TicketEvent, young: bool = False) -> Message | None:
    """The customer message this event is about.

    The event's own message if the thread has it. A trigger without a comment id names its message
    by its text: the newest customer message when it says the same. When the thread does not show
    the message yet (the API lags behind the webhook), the job looks again shortly
    (:class:`NotVisibleYet`) while the event is young, then works from the webhook's own text,
    under an id of this event (two identical follow-ups are two messages). Without any text, the
    newest customer message of the thread.
    """
    if ev.message_id is not None:
        for m in ticket.messages:
            if str(m.id) == str(ev.message_id):
                return m
        if not ev.body_hint and young:
            raise NotVisibleYet(f"message {ev.message_id} is not in the thread yet")
    if ev.message_id is None:
        latest = ticket.latest_customer_message()
        if not ev.body_hint:
            return latest
        if latest is not None and _same_text(latest.body_text or latest.body_html, ev.body_hint):
            return latest
        if young:
            raise NotVisibleYet("the thread does not show the webhook's message yet")
    if ev.body_hint and ev.author_role == CUSTOMER:
        mid = ev.message_id or "hint-" + hashlib.sha256(ev.event_id.encode("utf-8")).hexdigest()[:16]
        msg = Message(id=mid, author_role=CUSTOMER, body_text=ev.body_hint, author_id=ev.author_id,
                      author_name=ev.requester_name, author_email=ev.requester_email)
        ticket.messages.append(msg)
        log.info("%s ticket %s: message %s taken from the webhook body", ev.platform, ticket.id, mid)
        return msg
    return ticket.latest_customer_message()


def _escalate(outcome: Outcome, ticket: Any, state: Any) -> EscalationError | None:
    """Alert Slack for the plan's reasons; remember per event what was alerted (a retry re-renders the note)."""
    key = f"sidecar:alerted:{outcome.event.platform}:{outcome.event.event_id}"
    before = state.get_json(key) or []
    error = None
    try:
        now = escalate(outcome, ticket)
    except EscalationError as exc:
        now, error = [], exc
        outcome.alert_error = str(exc)
    outcome.alerted = list(dict.fromkeys([*before, *now]))
    if now:
        state.put_json(key, outcome.alerted, 30 * 24 * 3600)
    return error


def _skip(outcome: Outcome, reason: str) -> dict[str, Any]:
    outcome.status = "skipped"
    outcome.error = reason
    log.info("%s ticket %s event %s skipped: %s", outcome.event.platform, outcome.ticket_id,
             outcome.event.event_id, reason)
    record(outcome)
    return {"status": "skipped", "reason": reason}


def _failed(outcome: Outcome, exc: Exception, timings: dict[str, float], t0: float) -> None:
    outcome.status = "failed"
    outcome.error = f"{exc.__class__.__name__}: {exc}"
    timings["total"] = time.monotonic() - t0
    outcome.timings = timings
    try:
        record(outcome)
    except Exception:  # recording must never hide the real failure
        log.exception("could not record the failed outcome")


def _slack_configured(settings: Any, cfg: Any) -> bool:
    """Slack can be posted to (a token and a channel somewhere); else escalations are dry-run."""
    esc = dict(getattr(cfg.rules, "escalation", {}) or {}) if cfg is not None else {}
    channel = getattr(settings, "slack_channel", None) or esc.get("channel") or esc.get("priority_channels")
    return bool(getattr(settings, "slack_bot_token", None) and channel)


def _retry_not_before(seconds: float) -> None:
    """Make the current rq job's next retry wait at least ``seconds`` (a helpdesk's Retry-After)."""
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:
        job = None
    if job is not None and job.retry_intervals:
        wait = int(math.ceil(seconds))
        job.retry_intervals = [max(wait, int(i)) for i in job.retry_intervals]


def _no_more_retries() -> None:
    """A permanent error will not heal by retrying: tell rq not to retry this job."""
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:
        job = None
    if job is not None:
        job.retries_left = 0


def enqueue_event(event: TicketEvent, settings: Any) -> str:
    """Queue ``process_event`` for ``event``: an rq job with ``REDIS_URL``, else the embedded queue.

    With Redis the webhook itself only appends to the inbox (``app.jobs.inbox``); worker
    pumps call this to create the rq job. Raises on failure.
    """
    if settings.redis_url:
        from rq import Queue, Retry

        q = Queue(settings.queue_name, connection=get_redis(settings))
        job = q.enqueue(process_event, event.platform, event.to_dict(),
                        job_id=job_id_for(event.platform, event.event_id),
                        retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                        job_timeout=settings.job_timeout, result_ttl=24 * 3600, failure_ttl=30 * 24 * 3600,
                        description=f"{event.platform} ticket {event.ticket_id} event {event.event_id}")
        return job.id
    from app.jobs.embedded import get_embedded_queue

    return get_embedded_queue(settings).enqueue(event)
