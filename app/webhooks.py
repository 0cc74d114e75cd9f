"""Webhook intake: verify → parse → dedupe → enqueue → answer. Nothing slow happens here."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request

from adapters import registry
from adapters.base import AuthError, BadPayload, Ignored
from app.jobs.process import enqueue_event
from app.runtime import get_state
from app.store.state import StateStore, StateUnavailable

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)


def _error(status: int, error: str, detail: str | None = None, **headers: str):
    body = {"status": "error", "error": error}
    if detail:
        body["detail"] = detail
    resp = jsonify(body)
    resp.status_code = status
    for k, v in headers.items():
        resp.headers[k.replace("_", "-")] = v
    return resp


def get_inbox(settings):
    from app.jobs.inbox import Inbox
    from app.runtime import get_redis

    global _inbox
    if _inbox is None or _inbox.redis is not get_redis(settings):
        _inbox = Inbox(get_redis(settings))
    return _inbox


_inbox = None


def _embedded_enqueue(platform: str, event, settings) -> str | None:
    """Embedded mode: SQLite claim + durable SQLite queue. None = duplicate, "" = cannot store."""
    key = StateStore.dedupe_key(platform, event.event_id)
    try:
        state = get_state(settings)
        if not state.claim(key, settings.dedupe_ttl):
            return None
    except (StateUnavailable, OSError) as exc:
        log.error("%s webhook not stored: %s", platform, exc)
        return ""
    try:
        return enqueue_event(event, settings)
    except Exception as exc:
        # Give the claim back so the helpdesk's retry is not mistaken for a duplicate.
        state.release(key)
        log.error("%s webhook not queued: %s", platform, exc.__class__.__name__)
        return ""


def _capture_feedback(platform: str, fb, settings) -> list[str]:
    """Agent actions are not processed, but recorded as feedback on our draft (cheap: one lookup)."""
    from app.jobs.feedback import capture

    try:
        return capture(settings, get_state(settings), platform, fb)
    except Exception:  # feedback is analytics: never fail the webhook over it
        log.exception("%s ticket %s: could not record agent feedback", platform, fb.ticket_id)
        return []


@bp.post("/webhooks/<platform>")
def webhook(platform: str):
    settings = current_app.config["SETTINGS"]
    try:
        mod = registry.module(platform)
    except KeyError:
        return _error(404, "unknown platform", f"use one of: {', '.join(registry.PLATFORMS)}")
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH (Content-Length given)
    if request.content_length is None and len(raw) >= settings.max_body_bytes:
        # A chunked body is cut at the limit, not refused: one more read tells whether it went on
        # (werkzeug then raises 413), so a long body is never parsed truncated.
        request.stream.read(1)
    try:
        mod.verify(request.headers, raw, request.args, settings)
    except AuthError as exc:
        log.warning("%s webhook rejected: %s", platform, exc)
        return _error(401, "unauthorized", str(exc))
    if not raw.strip():
        return _error(400, "empty body", "expected a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, "malformed JSON", str(exc)[:200])
    try:
        event = mod.parse_webhook(request.headers, body, settings)
    except BadPayload as exc:
        return _error(400, "bad payload", str(exc))
    except Ignored as exc:
        log.info("%s webhook ignored: %s", platform, exc.reason)
        body = {"status": "ignored", "reason": exc.reason}
        if exc.feedback is not None:
            body["feedback"] = _capture_feedback(platform, exc.feedback, settings)
        return jsonify(body), 200

    if settings.redis_url:
        # One atomic round trip: dedupe claim + append to the inbox (worker pumps turn it into an rq job).
        try:
            stored = get_inbox(settings).accept(event, settings.dedupe_ttl)
        except Exception as exc:  # any Redis failure: never a silent 2xx
            log.error("%s webhook not stored (Redis): %s", platform, exc.__class__.__name__)
            return _error(503, "cannot store event", "Redis unavailable, retry later", Retry_After="30")
        if not stored:
            return jsonify({"status": "duplicate", "event_id": event.event_id}), 200
        job_id = "inbox"
    else:
        job_id = _embedded_enqueue(platform, event, settings)
        if job_id is None:
            return jsonify({"status": "duplicate", "event_id": event.event_id}), 200
        if job_id == "":
            return _error(503, "cannot store event", "state store unavailable, retry later", Retry_After="30")
    log.info("%s ticket %s event %s queued as %s", platform, event.ticket_id, event.event_id, job_id)
    return jsonify({"status": "queued", "event_id": event.event_id}), 202
