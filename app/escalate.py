"""Escalation to Slack: the right people hear about the right tickets, once per ticket and reason.

The rules engine fills ``outcome.plan.escalate`` with reasons (``asks_for_human``, ``very_negative``,
``legal_threat``, ``churn_risk``, ``urgent``, ``low_confidence``, ``sensitive_amount``, ``sla_warning``,
``sla_breach``, ...). :func:`escalate` posts one Block Kit message per outcome for the reasons not
alerted before, and later alerts about the same ticket go in the thread of the first one.

Configuration:

* env: ``SLACK_BOT_TOKEN`` (required to post), ``SLACK_CHANNEL`` (default channel), ``SLACK_API_URL``
  (tests / proxies). Without a token or a channel: dry-run, "would alert" is logged, ``[]`` returned.
* ``rules.yaml``: per intent ``escalate.channel`` (the rules engine copies it to
  ``plan.escalation_channel``) and a global ``escalation:`` section; keys read here::

      escalation:
        channel: "#support-escalations"     # overrides SLACK_CHANNEL
        priority_channels: {urgent: "#support-urgent"}   # by the ticket's priority
        dedupe_days: 30                     # one alert per ticket and reason within this window
        max_attempts: 5                     # Slack calls, including the first
        max_retry_wait: 60                  # seconds; caps Retry-After
        summary_chars: 280                  # how much of the customer's message is quoted

  Channel order: ``plan.escalation_channel`` > ``priority_channels[priority]`` > ``channel`` > ``SLACK_CHANNEL``.

State (dedupe keys and thread ``ts`` per ticket and channel) lives in Redis when ``REDIS_URL`` is
set (``SET NX`` with a TTL, safe across machines) and in SQLite under ``var/`` in embedded mode.

Failure contract: Slack errors and rate limits are retried (tenacity, honouring ``Retry-After``).
If Slack still fails, the reasons' dedupe claims are released and :class:`EscalationError` is
raised (``.reasons`` = what was not alerted). The caller has already written the ticket's note,
so nothing about the ticket is lost; a job that lets the error propagate is retried by rq and the
note's marker keeps the note single while the alert is attempted again.
"""

from __future__ import annotations

import logging
import re
import socket
import time
import urllib.error
from collections.abc import Callable, Iterable
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from pipeline.escalation import (  # noqa: F401  (re-exported: the message is part of this module's API)
    REASON_LABELS,
    alerted_note_line,
    build_blocks,
    reason_label,
    slack_escape,
)
from pipeline.models import Outcome, Ticket

log = logging.getLogger(__name__)

_RETRYABLE_ERRORS = {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                     "request_timeout"}
_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.#-]")


class EscalationError(RuntimeError):
    """Slack could not be alerted (after retries). ``reasons``: the reasons not alerted."""

    def __init__(self, message: str, reasons: list[str]):
        super().__init__(message)
        self.reasons = reasons


# ---------------------------------------------------------------- state (dedupe + threads)


def state_for(settings: Any) -> Any:
    """The shared state store (Redis with ``REDIS_URL``, else SQLite under ``var/``): dedupe claims and threads."""
    from app.runtime import get_state

    return get_state(settings)


def _get_thread(state: Any, key: str) -> tuple[str, str] | None:
    d = state.get_json(key)
    return (d["channel"], d["ts"]) if d else None


def _set_thread(state: Any, key: str, channel: str, ts: str, ttl: int) -> None:
    state.put_json(key, {"channel": channel, "ts": ts}, ttl)


# ---------------------------------------------------------------- Slack calls


def _retryable(exc: BaseException) -> bool:
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, SlackApiError):
        resp = exc.response
        status = getattr(resp, "status_code", 200)
        err = (resp.get("error") if hasattr(resp, "get") else None) or ""
        return status == 429 or status >= 500 or err in _RETRYABLE_ERRORS
    return isinstance(exc, urllib.error.URLError | ConnectionError | TimeoutError | socket.timeout)


def _retry_after(exc: BaseException | None) -> float | None:
    resp = getattr(exc, "response", None)
    headers = getattr(resp, "headers", None) or {}
    for k, v in dict(headers).items():
        if k.lower() == "retry-after":
            try:
                return float(v[0] if isinstance(v, list) else v)
            except (TypeError, ValueError):
                return None
    return None


def _waiter(max_wait: float) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        ra = _retry_after(state.outcome.exception() if state.outcome else None)
        if ra is not None:
            return min(ra, max_wait)
        return min(2.0 ** (state.attempt_number - 1), max_wait)  # 1, 2, 4, ... s

    return wait


def make_client(settings: Any) -> Any:
    """A ``slack_sdk`` WebClient for the settings (``SLACK_API_URL`` as base URL when set)."""
    from slack_sdk import WebClient

    kw: dict[str, Any] = {"token": settings.slack_bot_token.get_secret_value(), "timeout": 15,
                          "retry_handlers": []}  # tenacity below owns the retries
    if settings.slack_api_url:
        kw["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    return WebClient(**kw)


# Looked up at call time (not bound as a default argument) so an end-to-end test running the real worker can
# record the waits between Slack attempts instead of sleeping them.
retry_sleep: Callable[[float], None] = time.sleep


def post_message(client: Any, *, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None,
                 attempts: int = 5, max_wait: float = 60.0, sleep: Callable[[float], None] | None = None) -> Any:
    """``chat.postMessage`` with retries on rate limits, 5xx and connection errors (honours ``Retry-After``)."""
    # The fallback text is escaped like the blocks; no name or link parsing of what is left either.
    kw: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks, "unfurl_links": False,
                          "unfurl_media": False, "parse": "none", "link_names": False}
    if thread_ts:
        kw["thread_ts"] = thread_ts

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("Slack call failed (%s), retry %d of %d", _describe(exc), state.attempt_number, attempts - 1)

    retrying = Retrying(stop=stop_after_attempt(attempts), wait=_waiter(max_wait), retry=retry_if_exception(_retryable),
                        reraise=True, sleep=sleep or retry_sleep, before_sleep=before_sleep)
    return retrying(client.chat_postMessage, **kw)


def _describe(exc: BaseException | None) -> str:
    resp = getattr(exc, "response", None)
    if resp is not None and hasattr(resp, "get"):
        return f"HTTP {getattr(resp, 'status_code', '?')} {resp.get('error') or ''}".strip()
    return exc.__class__.__name__ if exc else "unknown"


# ---------------------------------------------------------------- entry point


def _escalation_cfg(config: Any) -> dict[str, Any]:
    if config is None:
        try:
            from pipeline.config import get_config

            config = get_config()
        except Exception:  # no config folder (tests, first run): built-in defaults
            return {}
    return dict(getattr(config.rules, "escalation", {}) or {})


def _channel(outcome: Outcome, ticket: Ticket, cfg: dict[str, Any], settings: Any) -> str | None:
    p, t = outcome.plan, outcome.triage
    if p and p.escalation_channel:
        return p.escalation_channel
    priority = (p.priority if p and p.priority else None) or (t.priority if t else None) or ticket.priority
    by_prio = cfg.get("priority_channels") or {}
    if priority and by_prio.get(priority):
        return by_prio[priority]
    return cfg.get("channel") or settings.slack_channel


def _safe(x: str) -> str:
    return _KEY_SAFE.sub("_", str(x))[:120]


def escalate(outcome: Outcome, ticket: Ticket, *, reasons: Iterable[str] | None = None, dedupe_scope: str | None = None,
             settings: Any = None, config: Any = None, client: Any = None, state: Any = None,
             sleep: Callable[[float], None] | None = None) -> list[str]:
    """Alert Slack for each reason in ``outcome.plan.escalate`` (or ``reasons``) not alerted before.

    Returns the reasons alerted now (``[]`` when there is nothing new, or in dry-run). Raises
    :class:`EscalationError` when Slack keeps failing (the claims are released so a retry alerts).
    ``dedupe_scope`` narrows the dedupe key (SLA timers pass their clock start, so a new customer
    message after an agent reply gets its own warning).
    """
    if settings is None:
        from app.settings import get_settings

        settings = get_settings()
    wanted = list(dict.fromkeys(reasons if reasons is not None else (outcome.plan.escalate if outcome.plan else [])))
    if not wanted:
        return []
    platform = outcome.event.platform
    cfg = _escalation_cfg(config)
    channel = _channel(outcome, ticket, cfg, settings)
    if not settings.slack_bot_token or not channel:
        why = "SLACK_BOT_TOKEN is not set" if not settings.slack_bot_token else "no Slack channel configured"
        log.info("would alert Slack (dry-run, %s) for %s ticket %s: %s", why, platform, ticket.id, ", ".join(wanted))
        return []
    state = state or state_for(settings)
    ttl = int(float(cfg.get("dedupe_days", 30)) * 86400)
    base = f"sidecar:escalation:{_safe(platform)}:{_safe(ticket.id)}"
    scope = f":{_safe(dedupe_scope)}" if dedupe_scope else ""
    new = [r for r in wanted if state.claim(f"{base}:{_safe(r)}{scope}", ttl)]
    if not new:
        log.info("Slack already alerted for %s ticket %s: %s", platform, ticket.id, ", ".join(wanted))
        return []
    thread_key = f"sidecar:slack-thread:{_safe(platform)}:{_safe(ticket.id)}:{_safe(channel)}"
    thread = _get_thread(state, thread_key)
    text, blocks = build_blocks(outcome, ticket, new, summary_chars=int(cfg.get("summary_chars", 280)),
                                update=thread is not None, buttons=thread is None and settings.slack_inbound)
    try:
        resp = post_message(client or make_client(settings), channel=thread[0] if thread else channel, text=text,
                            blocks=blocks, thread_ts=thread[1] if thread else None,
                            attempts=int(cfg.get("max_attempts", 5)), max_wait=float(cfg.get("max_retry_wait", 60)),
                            sleep=sleep)
    except Exception as exc:
        for r in new:
            state.release(f"{base}:{_safe(r)}{scope}")
        log.error("Slack alert failed for %s ticket %s (%s): %s", platform, ticket.id, ", ".join(new), _describe(exc))
        raise EscalationError(f"Slack alert failed ({_describe(exc)}) for reasons {', '.join(new)}", new) from exc
    if thread is None and resp.get("ts"):
        _set_thread(state, thread_key, resp.get("channel") or channel, resp["ts"], ttl)
        # The other direction, for replies and button clicks coming back from Slack (app.jobs.slack).
        from app.store.slack import remember_escalation

        remember_escalation(state, channel=resp.get("channel") or channel, ts=resp["ts"], platform=platform,
                            ticket_id=str(ticket.id), ticket_url=outcome.ticket_url or ticket.url, ttl=ttl)
    log.info("Slack alerted for %s ticket %s: %s%s", platform, ticket.id, ", ".join(new),
             " (in thread)" if thread else "")
    return new
