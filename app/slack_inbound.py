"""Slack → sidecar: ``POST /slack/events`` (Events API) and ``POST /slack/interactions`` (buttons).

Registered by ``create_app`` only when ``SLACK_SIGNING_SECRET`` is set. Both routes do the same
few cheap things and answer well inside Slack's 3-second budget:

1. read the raw body (413 past ``SIDECAR_MAX_BODY_BYTES``) and verify Slack's ``v0`` signature on
   it — HMAC-SHA256 of ``v0:<X-Slack-Request-Timestamp>:<raw body>`` with the signing secret
   (and the previous one during a rotation), constant-time, timestamp within five minutes —
   before anything is parsed (401 otherwise);
2. parse and reduce the payload to the few fields a job needs (pure functions below; 400 when
   it is not what Slack sends, 200 ``ignored`` with the reason for what we do not act on:
   bot messages including our own, edits, deletions, joins, top-level messages);
3. claim the event's dedupe key (Slack's ``event_id``; for a click, who clicked what and when)
   so a retry (``X-Slack-Retry-Num``) or a double click is answered ``duplicate`` and queued once;
4. queue a job (rq with ``REDIS_URL``, else the embedded SQLite queue) — 503 when it cannot be
   stored, with the claim given back so Slack's retry is not mistaken for a duplicate.

The jobs (:mod:`app.jobs.slack`) do the slow parts: finding the ticket of the thread, writing the
note, assigning, updating the alert.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint, current_app, jsonify, request

log = logging.getLogger(__name__)

bp = Blueprint("slack", __name__)

SIG_HEADER = "X-Slack-Signature"
TS_HEADER = "X-Slack-Request-Timestamp"
RETRY_HEADER = "X-Slack-Retry-Num"
EVENT_DEDUPE_TTL = 7 * 24 * 3600
TAKE, ACK = "sidecar_take", "sidecar_ack"
ACTIONS = {TAKE: "take", ACK: "acknowledge"}
MAX_TEXT = 8000  # characters of a Slack reply carried into a note (Slack allows 40k; a note should not)
MAX_FILES = 20
RETRY_INTERVALS = [10, 60, 300]  # seconds between attempts of a job that failed transiently
# Subtypes that are still a person writing in the thread; every other subtype (message_changed,
# message_deleted, channel_join, bot_message, ...) is not a new human reply.
HUMAN_SUBTYPES = (None, "file_share", "thread_broadcast")

_TS = re.compile(r"\d{1,12}(?:\.\d{1,9})?")
_ID = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,39}", re.I)


class SlackAuthError(Exception):
    """The request is not signed by Slack (answered 401)."""


class BadSlackPayload(ValueError):
    """Signed, but not a payload we can read (answered 400)."""


class SlackIgnored(Exception):
    """Signed and valid, but nothing for us to do (answered 200 ``ignored`` with the reason)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------- signature


def slack_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """Slack's request signature: ``v0=`` + hex HMAC-SHA256(secret, ``v0:<timestamp>:<raw body>``)."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + raw_body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def verify_slack(headers: Mapping[str, str], raw_body: bytes, secrets: tuple[Any, ...], *, tolerance: int = 300,
                 now: float | None = None) -> None:
    """Raise :class:`SlackAuthError` unless ``raw_body`` carries a valid, fresh Slack signature.

    The HMAC runs over the raw bytes (never a re-serialised body) and is compared in constant
    time against every configured secret (no early exit, so timing does not tell which one
    matched). slack_sdk's ``SignatureVerifier`` does the same arithmetic but decodes the body as
    UTF-8 and ``int()``s the timestamp, which raise on junk instead of answering 401.
    """
    if not secrets:
        raise SlackAuthError("SLACK_SIGNING_SECRET is not set")
    sig = headers.get(SIG_HEADER)
    ts = headers.get(TS_HEADER)
    if not sig or not ts:
        raise SlackAuthError(f"missing {SIG_HEADER} or {TS_HEADER} header")
    ts = ts.strip()
    if not ts.isascii() or not ts.isdigit() or len(ts) > 12:
        raise SlackAuthError(f"{TS_HEADER} is not a Unix timestamp")
    now = time.time() if now is None else now
    if abs(now - int(ts)) > tolerance:
        # A replayed (or badly delayed) request: Slack's retries are signed afresh.
        raise SlackAuthError(f"request timestamp outside the {tolerance}s window")
    given = sig.strip().encode("utf-8", "replace")
    ok = False
    for secret in secrets:
        value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)
        ok |= hmac.compare_digest(slack_signature(value, ts, raw_body).encode("ascii"), given)
    if not ok:
        raise SlackAuthError("invalid signature")


# --------------------------------------------------------------------------------- payloads


@dataclass
class ThreadReply:
    """A person's reply in a thread, reduced to what the note needs (JSON-safe for the queue)."""

    event_id: str
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    team: str | None = None
    files: list[dict[str, str]] = field(default_factory=list)
    received_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ButtonClick:
    """A click on one of the alert's buttons (``take`` or ``acknowledge``)."""

    action: str
    user: str
    channel: str
    message_ts: str
    thread_ts: str  # the alert's thread (the message itself when it is the thread's first message)
    action_ts: str
    value: str = ""
    user_name: str | None = None
    team: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    received_at: float = 0.0

    @property
    def dedupe_id(self) -> str:
        raw = "\x1f".join((self.user, self.action, self.channel, self.message_ts, self.action_ts))
        return "c" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _str(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) and v else None


def _ts(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _TS.fullmatch(value):
        raise BadSlackPayload(f"{what} is not a Slack timestamp")
    return value


def _slack_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BadSlackPayload(f"{what} is not a Slack id")
    return value


def _own_bot_users(body: Mapping[str, Any]) -> set[str]:
    """The bot users this event was delivered for (our own app's bot user among them)."""
    out = set()
    for a in body.get("authorizations") or []:
        if isinstance(a, dict) and a.get("is_bot") and isinstance(a.get("user_id"), str):
            out.add(a["user_id"])
    return out


def _files(event: Mapping[str, Any]) -> list[dict[str, str]]:
    """Name and permalink of each uploaded file: linked from the note, never copied."""
    out = []
    for f in event.get("files") or []:
        if not isinstance(f, dict):
            continue
        link = _str(f, "permalink") or _str(f, "url_private")
        if not link or not link.startswith("https://"):
            continue
        name = _str(f, "title") or _str(f, "name") or "file"
        out.append({"name": name[:200], "permalink": link[:1000]})
        if len(out) >= MAX_FILES:
            break
    return out


def parse_event(body: Any) -> ThreadReply:
    """Pure: an Events API ``event_callback`` body → :class:`ThreadReply`.

    Raises :class:`SlackIgnored` for everything that is not a person's new reply inside a thread
    and :class:`BadSlackPayload` for bodies Slack does not send.
    """
    if not isinstance(body, dict):
        raise BadSlackPayload("body must be a JSON object")
    kind = body.get("type")
    if kind != "event_callback":
        raise SlackIgnored(f"payload type {kind if isinstance(kind, str) else type(kind).__name__} is not handled")
    event_id = _slack_id(body.get("event_id"), "event_id")
    event = body.get("event")
    if not isinstance(event, dict):
        raise BadSlackPayload("event_callback without an event object")
    etype = event.get("type")
    if etype != "message":
        raise SlackIgnored(f"event type {etype if isinstance(etype, str) else '?'} is not handled")
    subtype = event.get("subtype")
    if subtype not in HUMAN_SUBTYPES:
        raise SlackIgnored(f"message subtype {subtype if isinstance(subtype, str) else '?'} is not a new reply")
    if event.get("bot_id") or event.get("bot_profile") or event.get("app_id"):
        raise SlackIgnored("message written by a bot")
    if event.get("hidden"):
        raise SlackIgnored("hidden message")
    user = event.get("user")
    if not isinstance(user, str) or not user:
        raise SlackIgnored("message without a user")
    user = _slack_id(user, "event.user")
    if user in _own_bot_users(body):
        raise SlackIgnored("message written by the sidecar's own bot user")
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if thread_ts is None:
        raise SlackIgnored("not a reply in a thread")
    thread_ts, ts = _ts(thread_ts, "event.thread_ts"), _ts(ts, "event.ts")
    if thread_ts == ts:
        raise SlackIgnored("the thread's first message, not a reply")
    channel = _slack_id(event.get("channel"), "event.channel")
    text = event.get("text") if isinstance(event.get("text"), str) else ""
    files = _files(event)
    if not text.strip() and not files:
        raise SlackIgnored("empty message")
    team = body.get("team_id") if isinstance(body.get("team_id"), str) else None
    return ThreadReply(event_id=event_id, channel=channel, thread_ts=thread_ts, ts=ts, user=user,
                       text=text[:MAX_TEXT], team=team, files=files)


def parse_interaction(raw_body: bytes) -> ButtonClick:
    """Pure: the form body of an interactivity request → :class:`ButtonClick`.

    Slack posts ``application/x-www-form-urlencoded`` with one field, ``payload`` (JSON). Only
    our two buttons are acted on; the "Open ticket" link button and everything else is ignored.
    """
    try:
        form = parse_qs(raw_body.decode("utf-8"), strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadSlackPayload(f"form body unreadable: {exc.__class__.__name__}") from None
    values = form.get("payload") or []
    if len(values) != 1:
        raise BadSlackPayload("expected exactly one payload field")
    try:
        p = json.loads(values[0])
    except ValueError:
        raise BadSlackPayload("payload is not JSON") from None
    if not isinstance(p, dict):
        raise BadSlackPayload("payload must be a JSON object")
    if p.get("type") != "block_actions":
        kind = p.get("type")
        raise SlackIgnored(f"interaction type {kind if isinstance(kind, str) else '?'} is not handled")
    actions = p.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadSlackPayload("block_actions without actions")
    action_id = actions[0].get("action_id")
    if not isinstance(action_id, str) or action_id not in ACTIONS:
        raise SlackIgnored(f"action {action_id if isinstance(action_id, str) else '?'} is not handled")
    user = p.get("user") if isinstance(p.get("user"), dict) else {}
    container = p.get("container") if isinstance(p.get("container"), dict) else {}
    message = p.get("message") if isinstance(p.get("message"), dict) else {}
    chan = p.get("channel") if isinstance(p.get("channel"), dict) else {}
    channel = container.get("channel_id") or chan.get("id")
    message_ts = _ts(container.get("message_ts") or message.get("ts"), "container.message_ts")
    thread_ts = message.get("thread_ts") or message_ts
    blocks = message.get("blocks") if isinstance(message.get("blocks"), list) else []
    value = actions[0].get("value")
    team = p.get("team") if isinstance(p.get("team"), dict) else {}
    return ButtonClick(
        action=ACTIONS[action_id], user=_slack_id(user.get("id"), "user.id"),
        channel=_slack_id(channel, "container.channel_id"), message_ts=message_ts,
        thread_ts=_ts(thread_ts, "message.thread_ts"),
        action_ts=_ts(actions[0].get("action_ts"), "actions[0].action_ts"),
        value=value[:300] if isinstance(value, str) else "",
        user_name=(_str(user, "name") or _str(user, "username") or "")[:100] or None,
        team=_str(team, "id"), blocks=[b for b in blocks[:50] if isinstance(b, dict)])


# --------------------------------------------------------------------------------- queueing


def _job_id(kind: str, dedupe_id: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", dedupe_id)[:80]
    return f"slack-{kind}-{clean}"


def queue_job(settings: Any, func: str, job_id: str, payload: dict[str, Any]) -> None:
    """Queue ``func(payload)``: an rq job with ``REDIS_URL`` (retried 3×), else the embedded SQLite queue."""
    if settings.redis_url:
        from rq import Queue, Retry

        from app.runtime import get_redis

        q = Queue(settings.queue_name, connection=get_redis(settings))
        q.enqueue(func, payload, job_id=job_id, retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                  job_timeout=settings.job_timeout, result_ttl=24 * 3600, failure_ttl=30 * 24 * 3600,
                  description=f"{func.rsplit('.', 1)[-1]} {job_id}")
        return
    from app.jobs.embedded import get_embedded_queue

    get_embedded_queue(settings).enqueue_call(job_id, func, [payload])


def _accept(settings: Any, kind: str, dedupe_id: str, func: str, payload: dict[str, Any]):
    """Claim the dedupe key and queue the job: (body or error response, status)."""
    from app.runtime import get_state

    key = f"sidecar:slack:{kind}:{dedupe_id}"
    try:
        state = get_state(settings)
        if not state.claim(key, EVENT_DEDUPE_TTL):
            return {"status": "duplicate", "event_id": dedupe_id}, 200
    except Exception as exc:
        log.error("slack %s not stored: %s", kind, exc.__class__.__name__)
        return _error(503, "cannot store event", "state store unavailable, retry later"), 503
    try:
        queue_job(settings, func, _job_id(kind, dedupe_id), payload)
    except Exception as exc:
        try:
            state.release(key)  # so Slack's retry is queued instead of being taken for a duplicate
        except Exception:
            log.warning("slack %s %s: claim could not be released", kind, dedupe_id)
        log.error("slack %s not queued: %s", kind, exc.__class__.__name__)
        return _error(503, "cannot store event", "queue unavailable, retry later"), 503
    return {"status": "queued", "event_id": dedupe_id}, 202


def _error(status: int, error: str, detail: str | None = None):
    body = {"status": "error", "error": error}
    if detail:
        body["detail"] = detail
    resp = jsonify(body)
    resp.status_code = status
    if status == 503:
        resp.headers["Retry-After"] = "30"
    return resp


def _verified_body():
    """The raw body when the request is Slack's; else an error response."""
    settings = current_app.config["SETTINGS"]
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH, before any parsing
    try:
        verify_slack(request.headers, raw, settings.slack_signing_secrets,
                     tolerance=settings.slack_signature_tolerance)
    except SlackAuthError as exc:
        log.warning("slack request rejected: %s", exc)
        return None, _error(401, "unauthorized", str(exc))
    return raw, None


@bp.post("/slack/events")
def slack_events():
    settings = current_app.config["SETTINGS"]
    raw, err = _verified_body()
    if err is not None:
        return err
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "malformed JSON")
    if isinstance(body, dict) and body.get("type") == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str) or not challenge or len(challenge) > 500:
            return _error(400, "bad payload", "url_verification without a challenge")
        return jsonify({"challenge": challenge}), 200
    try:
        reply = parse_event(body)
    except BadSlackPayload as exc:
        return _error(400, "bad payload", str(exc))
    except SlackIgnored as exc:
        return jsonify({"status": "ignored", "reason": exc.reason}), 200
    reply.received_at = time.time()
    retry = request.headers.get(RETRY_HEADER)
    out, status = _accept(settings, "event", reply.event_id, "app.jobs.slack.handle_thread_reply", reply.to_dict())
    if status == 503:
        return out
    log.info("slack event %s (channel %s thread %s)%s: %s", reply.event_id, reply.channel, reply.thread_ts,
             f" retry {retry[:3]}" if retry else "", out["status"])
    return jsonify(out), status


@bp.post("/slack/interactions")
def slack_interactions():
    settings = current_app.config["SETTINGS"]
    raw, err = _verified_body()
    if err is not None:
        return err
    try:
        click = parse_interaction(raw)
    except BadSlackPayload as exc:
        return _error(400, "bad payload", str(exc))
    except SlackIgnored as exc:
        return jsonify({"status": "ignored", "reason": exc.reason}), 200
    click.received_at = time.time()
    out, status = _accept(settings, "click", click.dedupe_id, "app.jobs.slack.handle_button", click.to_dict())
    if status == 503:
        return out
    log.info("slack %s by %s on %s/%s: %s", click.action, click.user, click.channel, click.message_ts, out["status"])
    # Slack only needs a 2xx within 3 s; the alert message is updated by the job.
    return jsonify(out), 200
