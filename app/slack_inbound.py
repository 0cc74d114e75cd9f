"""Slack → sidecar: ``POST /slack/events`` (Events API) and ``POST /slack/interactions`` (buttons).

Registered by ``create_app`` only when ``SLACK_SIGNING_SECRET`` is set. Both routes do the same
few cheap things and answer well inside Slack's 3-second budget:

1. read the raw body (413 past ``SIDECAR_MAX_BODY_BYTES``) and verify Slack's ``v0`` signature on
   it — HMAC-SHA256 of ``v0:<X-Slack-Request-Timestamp>:<raw body>`` with the signing secret
   (and the previous one during a rotation), constant-time, timestamp within five minutes —
   before anything is parsed (401 otherwise);
2. parse and reduce the payload to the few fields a job needs (:mod:`app.slack_payloads`; 400 when
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
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from app.slack_payloads import BadSlackPayload, SlackIgnored, parse_event, parse_interaction

log = logging.getLogger(__name__)

bp = Blueprint("slack", __name__)

SIG_HEADER = "X-Slack-Signature"
TS_HEADER = "X-Slack-Request-Timestamp"
RETRY_HEADER = "X-Slack-Retry-Num"
EVENT_DEDUPE_TTL = 7 * 24 * 3600
RETRY_INTERVALS = [10, 60, 300]  # seconds between attempts of a job that failed transiently


class SlackAuthError(Exception):
    """The request is not signed by Slack (answered 401)."""


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
    except RecursionError:  # past json's nesting limit: not a ValueError, and a 500 Slack would retry
        return _error(400, "malformed JSON", "JSON nested too deeply")
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
