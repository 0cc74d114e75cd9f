"""Webhook intake: verify → parse → dedupe → enqueue → answer. Nothing slow happens here."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request

from adapters import registry
from adapters.base import AuthError, BadPayload, Ignored
from pipeline.jobs import enqueue_event
from pipeline.runtime import get_state
from pipeline.state import StateStore, StateUnavailable

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


@bp.post("/webhooks/<platform>")
def webhook(platform: str):
    settings = current_app.config["SETTINGS"]
    try:
        mod = registry.module(platform)
    except KeyError:
        return _error(404, "unknown platform", f"use one of: {', '.join(registry.PLATFORMS)}")
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
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
        return jsonify({"status": "ignored", "reason": exc.reason}), 200

    key = StateStore.dedupe_key(platform, event.event_id)
    try:
        state = get_state(settings)
        if not state.claim(key, settings.dedupe_ttl):
            return jsonify({"status": "duplicate", "event_id": event.event_id}), 200
    except (StateUnavailable, OSError) as exc:
        log.error("%s webhook not stored (dedupe store down): %s", platform, exc)
        return _error(503, "cannot store event", "dedupe store unavailable, retry later", Retry_After="30")
    except Exception as exc:  # redis errors surface as many classes; none may become a silent 2xx
        log.error("%s webhook not stored: %s", platform, exc.__class__.__name__)
        return _error(503, "cannot store event", "state store error, retry later", Retry_After="30")
    try:
        job_id = enqueue_event(event, settings)
    except Exception as exc:
        # Give the claim back so the helpdesk's retry is not mistaken for a duplicate.
        try:
            state.release(key)
        except Exception:
            log.warning("could not release dedupe claim %s", key)
        log.error("%s webhook not queued: %s", platform, exc.__class__.__name__)
        return _error(503, "cannot queue event", "queue unavailable, retry later", Retry_After="30")
    log.info("%s ticket %s event %s queued as %s", platform, event.ticket_id, event.event_id, job_id)
    return jsonify({"status": "queued", "event_id": event.event_id}), 202
