"""Process-wide handles built from settings once: the Redis connection, the state store, and the
capabilities handed to the pipeline (knowledge base, LLM, local intent model)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from app.store.state import RedisState, SqliteState, StateStore
from pipeline.flow import Capabilities

log = logging.getLogger(__name__)

_lock = threading.RLock()
_redis: dict[str, Any] = {}
_state: dict[tuple[str, str], StateStore] = {}


def get_redis(settings: Any):
    """A Redis client for ``settings.redis_url`` (None in embedded mode). Short timeouts: fail fast → 503."""
    if not settings.redis_url:
        return None
    with _lock:
        if settings.redis_url not in _redis:
            import redis

            _redis[settings.redis_url] = redis.Redis.from_url(
                settings.redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
        return _redis[settings.redis_url]


def get_state(settings: Any) -> StateStore:
    """Redis-backed state with ``REDIS_URL``, else a SQLite file under ``var/``."""
    key = (settings.redis_url or "", settings.var_dir)
    with _lock:
        if key not in _state:
            if settings.redis_url:
                _state[key] = RedisState(get_redis(settings))
            else:
                _state[key] = SqliteState(Path(settings.var_dir) / "state.sqlite3")
        return _state[key]


def reset() -> None:
    """Forget cached handles (tests)."""
    with _lock:
        _redis.clear()
        _state.clear()


def knowledge_base(settings: Any) -> Any:
    """The knowledge base for the pipeline, or None when it cannot be opened (drafts then say so)."""
    try:
        from knowledge.retrieve import retriever_for

        return retriever_for(settings)
    except Exception as exc:  # the KB is optional: never fail the ticket over it
        log.warning("knowledge retrieval unavailable: %s", exc)
        return None


def intent_model(settings: Any, cfg: Any) -> Any:
    """The process's local intent model for ``cfg`` plus the store's learned examples (fitted once, cached)."""
    from pipeline.local_classifier import get_local_model, learned_path

    try:
        return get_local_model(cfg, learned_path(settings.var_dir))
    except Exception:  # classify() falls back to the keyword baseline and says why
        log.exception("local intent model unavailable")
        return None


def capabilities(settings: Any, cfg: Any) -> Capabilities:
    """What the pipeline may use for one job: built from the process's settings, never by the pipeline."""
    llm = settings.llm()
    return Capabilities(kb=knowledge_base(settings), llm=llm, intent_model=intent_model(settings, cfg))


# A made-up customer message for :func:`warm_pipeline`: HTML with a quoted reply, an order number,
# a phone number and two questions, so the warm-up takes the paths real messages take.
_WARM_UP_HTML = (
    "<div><p>Hello,</p><p>The parcel for order #10234 arrived today and the mug inside is broken. "
    "Can I get a replacement? You can call me on +44 20 7946 0958.</p><p>Thanks, Dana</p>"
    "<div class=\"gmail_quote\"><blockquote>On Monday the shop wrote: your order has shipped.</blockquote></div></div>"
)


def warm_pipeline(settings: Any, cfg: Any) -> Any:
    """Run one made-up message through the pipeline once, before a worker takes its first job.

    A process's first job paid ~0.2 s of CPU more than the next ones (0.5-1 s of wall time at
    load 3-4, bench/e2e_latency.py): the first HTML parse compiles soupsieve's selectors, the
    guards and PII redaction compile their patterns and import phonenumbers, the note template
    and sentry_sdk are imported on first use — and every ticket behind that job waited for it.
    Nothing leaves the process: no ticket is read or written, no LLM is called (the template
    draft is what warms here). Returns the decision (None on failure: logged, never fatal).
    """
    import time

    from pipeline.flow import decide_message
    from pipeline.models import CUSTOMER, Message, Outcome, Person, Ticket, TicketEvent
    from pipeline.note import render_note

    t0 = time.monotonic()
    try:
        import sentry_sdk  # noqa: F401 - each job tags its scope (app.observability.set_job_context)

        from knowledge import warm_cross_encoder

        warm_cross_encoder()  # loaded once per process, before the first job (a missing file is logged here)

        caps = capabilities(settings, cfg)
        caps.llm = None
        msg = Message(id="warm-up", author_role=CUSTOMER, body_text="", body_html=_WARM_UP_HTML,
                      author_name="Dana Customer")
        ticket = Ticket(platform="warm-up", id="warm-up", subject="Broken mug, order #10234",
                        requester=Person(name="Dana Customer"), messages=[msg], channel="email")
        decision = decide_message(ticket, msg.id, cfg, None, caps)
        outcome = Outcome(event=TicketEvent(platform="warm-up", event_id="warm-up", ticket_id="warm-up"),
                          ticket_id="warm-up", triage=decision.triage, plan=decision.plan, draft=decision.draft)
        render_note(outcome)
    except Exception:  # the first real job pays the warm-up instead
        log.exception("pipeline warm-up failed")
        return None
    log.info("pipeline warmed up in %.2f s", time.monotonic() - t0)
    return decision
