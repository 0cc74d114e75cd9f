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

import json
import logging
import re
import socket
import sqlite3
import threading
import time
import urllib.error
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from pipeline.models import CUSTOMER, Outcome, Ticket

log = logging.getLogger(__name__)

REASON_LABELS = {
    "asks_for_human": "Customer asks for a human",
    "very_negative": "Very negative sentiment",
    "legal_threat": "Legal threat",
    "churn_risk": "Churn risk",
    "urgent": "Urgent priority",
    "low_confidence": "Confidence too low to draft",
    "sensitive_amount": "Sensitive request above the configured amount",
    "sla_warning": "SLA warning: 75% of the first-response target passed",
    "sla_breach": "SLA breached: no agent reply within the target",
    "always": "Escalated by rule for this intent",
    "rule": "Escalated by rule for this intent",
    "high": "High priority",
}
_RETRYABLE_ERRORS = {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                     "request_timeout"}
_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.#-]")


class EscalationError(RuntimeError):
    """Slack could not be alerted (after retries). ``reasons``: the reasons not alerted."""

    def __init__(self, message: str, reasons: list[str]):
        super().__init__(message)
        self.reasons = reasons


def reason_label(reason: str) -> str:
    """Human label of a reason code (unknown codes are shown as they are)."""
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def alerted_note_line(reasons: Iterable[str]) -> str:
    """The one line for the ticket's note, e.g. ``Slack was alerted: Legal threat, Urgent priority``; ``""`` if none."""
    rs = [reason_label(r) for r in reasons]
    return f"Slack was alerted: {', '.join(rs)}" if rs else ""


# ---------------------------------------------------------------- state (dedupe + threads)


class RedisState:
    """Dedupe claims and thread ids in Redis (shared by every worker)."""

    def __init__(self, redis_client: Any):
        self.r = redis_client

    def claim(self, key: str, ttl: int) -> bool:
        return bool(self.r.set(key, "1", nx=True, ex=ttl))

    def release(self, key: str) -> None:
        self.r.delete(key)

    def get_thread(self, key: str) -> tuple[str, str] | None:
        v = self.r.get(key)
        if not v:
            return None
        d = json.loads(v)
        return d["channel"], d["ts"]

    def set_thread(self, key: str, channel: str, ts: str, ttl: int) -> None:
        self.r.set(key, json.dumps({"channel": channel, "ts": ts}), ex=ttl)


class SQLiteState:
    """The same in a local SQLite file, for the embedded (single-process) mode."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._conn() as c:
            c.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT, expires_at REAL)")

    def _conn(self) -> sqlite3.Connection:
        return sqlite3.connect(str(self.path), timeout=30, isolation_level=None)

    def _put(self, key: str, value: str, ttl: int, nx: bool) -> bool:
        now = time.time()
        with self._lock:
            c = self._conn()
            try:
                c.execute("BEGIN IMMEDIATE")
                c.execute("DELETE FROM kv WHERE key = ? AND expires_at <= ?", (key, now))
                verb = "INSERT OR IGNORE" if nx else "INSERT OR REPLACE"
                cur = c.execute(f"{verb} INTO kv (key, value, expires_at) VALUES (?, ?, ?)", (key, value, now + ttl))
                c.execute("COMMIT")
                return cur.rowcount == 1
            finally:
                c.close()

    def claim(self, key: str, ttl: int) -> bool:
        return self._put(key, "1", ttl, nx=True)

    def release(self, key: str) -> None:
        c = self._conn()
        try:
            c.execute("DELETE FROM kv WHERE key = ?", (key,))
        finally:
            c.close()

    def get_thread(self, key: str) -> tuple[str, str] | None:
        c = self._conn()
        try:
            row = c.execute("SELECT value FROM kv WHERE key = ? AND expires_at > ?", (key, time.time())).fetchone()
        finally:
            c.close()
        if not row:
            return None
        d = json.loads(row[0])
        return d["channel"], d["ts"]

    def set_thread(self, key: str, channel: str, ts: str, ttl: int) -> None:
        self._put(key, json.dumps({"channel": channel, "ts": ts}), ttl, nx=False)


_states: dict[str, Any] = {}


def state_for(settings: Any) -> RedisState | SQLiteState:
    """Redis state with ``REDIS_URL``, else a SQLite file ``<var_dir>/escalations.sqlite3`` (cached per process)."""
    key = settings.redis_url or f"sqlite:{settings.var_dir}"
    if key not in _states:
        if settings.redis_url:
            import redis

            _states[key] = RedisState(redis.Redis.from_url(settings.redis_url))
        else:
            _states[key] = SQLiteState(Path(settings.var_dir) / "escalations.sqlite3")
    return _states[key]


# ---------------------------------------------------------------- message


def slack_escape(text: str) -> str:
    """Escape Slack's control characters so customer text cannot ping ``@channel`` or forge links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _message_text(msg: Any) -> str:
    """The new text of a message (quoted history and signature removed), falling back to the raw text."""
    try:
        from pipeline.normalize import message_text

        return message_text(msg) or msg.body_text or ""
    except Exception:  # normalisation is heuristic; an alert must still go out
        return msg.body_text or ""


def _customer(ticket: Ticket) -> str:
    r = ticket.requester
    if r.name and r.email:
        return f"{r.name} <{r.email}>"
    return r.name or r.email or "unknown"


def _tried(outcome: Outcome, ticket: Ticket) -> list[str]:
    """What the sidecar (and agents) already did, in a few words each."""
    out = []
    p, d = outcome.plan, outcome.draft
    if d and d.kind != "none" and d.text:
        out.append(f"draft reply prepared ({d.kind}, {len(d.used_source_ids or d.sources)} source(s)) as internal note")
    elif p and not p.draft:
        out.append("no draft (rule routes this intent to a human)")
    elif p:
        out.append("no draft (confidence too low or no grounded answer)")
    if p and p.macro:
        out.append(f"macro {p.macro} {'applied' if p.macro_mode == 'apply' else 'suggested'}")
    if outcome.public_reply:
        out.append("auto-reply sent")
    if p and p.tags:
        out.append("tags " + ", ".join(p.tags[:6]))
    agent_replies = sum(1 for m in ticket.messages if m.author_role == "agent" and m.public)
    out.append(f"{agent_replies} agent repl{'y' if agent_replies == 1 else 'ies'} so far")
    return out


def build_blocks(outcome: Outcome, ticket: Ticket, reasons: list[str], *, summary_chars: int = 280,
                 update: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """The notification text and Block Kit blocks of an alert (customer text escaped and shortened)."""
    t, p = outcome.triage, outcome.plan
    intent = (t.intent if t else None) or (p.intent if p else None) or "unknown"
    priority = (p.priority if p and p.priority else None) or (t.priority if t else None) or ticket.priority or "normal"
    labels = ", ".join(reason_label(r) for r in reasons)
    platform = outcome.event.platform
    title = f"{'Update' if update else 'Escalation'}: {labels}"
    text = f"{title} — {platform} ticket {ticket.id} ({intent}, {priority})"
    msg = ticket.latest_customer_message(outcome.event.message_id)
    wants = _short(_message_text(msg) if msg and msg.author_role == CUSTOMER else "", summary_chars)
    subject = _short(ticket.subject, 120)
    fields = [
        f"*Reason*\n{slack_escape(labels)}",
        f"*Intent*\n{slack_escape(intent)}" + (f" ({t.confidence:.0%})" if t else ""),
        f"*Priority*\n{slack_escape(priority)}",
        f"*Customer*\n{slack_escape(_customer(ticket))}",
    ]
    if t:
        fields.append(f"*Sentiment*\n{slack_escape(t.sentiment)}")
    fields.append(f"*Helpdesk*\n{slack_escape(platform)} #{slack_escape(str(ticket.id))}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _short(title, 150), "emoji": True}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    wants_txt = f"*{slack_escape(subject)}*\n" if subject else ""
    wants_txt += f">{slack_escape(wants)}" if wants else "_(no customer text)_"
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*What the customer wants*\n{wants_txt}"}})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*What was tried*\n" + "\n".join(
        f"• {slack_escape(x)}" for x in _tried(outcome, ticket))}})
    url = outcome.ticket_url or ticket.url
    if url and url.startswith(("https://", "http://")):
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open ticket"}, "url": url,
             "action_id": "open_ticket"}]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"event {slack_escape(outcome.event.event_id)} · reasons {', '.join(reasons)}"}]})
    return text, blocks


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


def post_message(client: Any, *, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None,
                 attempts: int = 5, max_wait: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> Any:
    """``chat.postMessage`` with retries on rate limits, 5xx and connection errors (honours ``Retry-After``)."""
    kw: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks, "unfurl_links": False}
    if thread_ts:
        kw["thread_ts"] = thread_ts

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("Slack call failed (%s), retry %d of %d", _describe(exc), state.attempt_number, attempts - 1)

    retrying = Retrying(stop=stop_after_attempt(attempts), wait=_waiter(max_wait), retry=retry_if_exception(_retryable),
                        reraise=True, sleep=sleep, before_sleep=before_sleep)
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
             sleep: Callable[[float], None] = time.sleep) -> list[str]:
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
    thread = state.get_thread(thread_key)
    text, blocks = build_blocks(outcome, ticket, new, summary_chars=int(cfg.get("summary_chars", 280)),
                                update=thread is not None)
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
        state.set_thread(thread_key, resp.get("channel") or channel, resp["ts"], ttl)
    log.info("Slack alerted for %s ticket %s: %s%s", platform, ticket.id, ", ".join(new),
             " (in thread)" if thread else "")
    return new
