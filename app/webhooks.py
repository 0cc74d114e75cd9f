"""Webhook intake: verify → parse → dedupe → enqueue → answer. Nothing slow happens here."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from adapters import registry
from adapters.base import AuthError, BadPayload, Ignored
from app.runtime import get_state
from app.store.state import StateStore
from pipeline.models import TicketEvent

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


# Real webhook bodies nest a handful of levels; anything deeper is refused before a parser or a
# later json.dumps can recurse into a RecursionError (a 500 the helpdesk would retry forever).
MAX_JSON_DEPTH = 64
# A lone UTF-16 surrogate can only arrive as a \uD800-\uDFFF escape (raw bytes of one are not valid
# UTF-8 and already fail decoding); bodies without such an escape skip the cleaning walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_ID_CHARS = 256
# How long a body-hash event id (``weak_id``: no delivery or message id in the template) is held
# as a duplicate: long enough for a delivery storm and the sender's quick retries, short enough
# that a customer writing the same words again is processed. Past it the job's per-message claim
# (a message id from the API) still keeps one note per message.
WEAK_DEDUPE_TTL = 120


def load_body(raw: bytes) -> Any:
    """Parse a webhook body into JSON values a later step can always encode and walk.

    Raises :class:`BadPayload` for malformed JSON, nesting deeper than :data:`MAX_JSON_DEPTH`
    and non-UTF-8 bytes. Lone surrogates (``"\\ud800"``: valid JSON, not encodable text) are
    replaced by U+FFFD in keys and values, so text from a customer is kept; ids holding one
    are refused later by :func:`check_event`.
    """
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadPayload(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload(f"malformed JSON: {str(exc)[:200]}") from None
    nesting = raw.count(b"[") + raw.count(b"{")
    if nesting > MAX_JSON_DEPTH or _SURROGATE_ESCAPE.search(raw):
        body = _clean(body, clean_text=_SURROGATE_ESCAPE.search(raw) is not None)
    return body


def _fix(s: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", s)


def _clean(body: Any, clean_text: bool) -> Any:
    """Depth check + surrogate replacement, without recursion (the input is hostile)."""
    fix = _fix if clean_text else (lambda s: s)
    if isinstance(body, str):
        return fix(body)
    if not isinstance(body, (dict, list)):
        return body
    root: Any = {} if isinstance(body, dict) else []
    stack: list[tuple[Any, Any, int]] = [(body, root, 1)]
    while stack:
        src, dst, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadPayload(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for k, v in items:
            if isinstance(v, dict):
                nv: Any = {}
                stack.append((v, nv, depth + 1))
            elif isinstance(v, list):
                nv = []
                stack.append((v, nv, depth + 1))
            elif isinstance(v, str):
                nv = fix(v)
            else:
                nv = v
            if isinstance(dst, dict):
                dst[fix(k)] = nv
            else:
                dst.append(nv)
    return root


def check_event(event: TicketEvent) -> None:
    """Ids become Redis keys, rq job ids and URL paths: refuse ones no helpdesk sends (400)."""
    for name in ("event_id", "ticket_id", "message_id", "author_id"):
        value = getattr(event, name)
        if value is None:
            continue
        if len(value) > MAX_ID_CHARS:
            raise BadPayload(f"{name} is longer than {MAX_ID_CHARS} characters")
        if "\ufffd" in value or not value.isprintable():
            raise BadPayload(f"{name} contains invalid or control characters")
    if not (event.ticket_id.isascii() and event.ticket_id.isdigit()):
        raise BadPayload("ticket id must be a number")


def dedupe_ttl(event: TicketEvent, settings: Any) -> int:
    """Seconds a delivery is remembered: the configured TTL, or :data:`WEAK_DEDUPE_TTL` for a weak id."""
    return min(settings.dedupe_ttl, WEAK_DEDUPE_TTL) if event.weak_id else settings.dedupe_ttl


def get_inbox(settings):
    from app.jobs.inbox import Inbox
    from app.runtime import get_redis

    global _inbox
    if _inbox is None or _inbox.redis is not get_redis(settings):
        _inbox = Inbox(get_redis(settings))
    return _inbox


_inbox = None


def _embedded_enqueue(platform: str, event, settings) -> str | None:
    """Embedded mode: dedupe claim + job in one SQLite transaction. None = duplicate, "" = cannot store."""
    from app.jobs.embedded import get_embedded_queue

    key = StateStore.dedupe_key(platform, event.event_id)
    try:
        return get_embedded_queue(settings).enqueue(event, claim=(key, dedupe_ttl(event, settings)))
    except Exception as exc:  # a full disk, a locked file: never a silent 2xx
        log.error("%s webhook not stored: %s", platform, exc.__class__.__name__)
        return ""


def _capture_feedback(platform: str, fb, settings, body: dict[str, Any]) -> None:
    """Agent actions are not processed, but recorded as feedback on our draft.

    Tags are recorded here (a few claims); the reply is compared with the draft in a job, since
    that costs CPU growing with the texts. Feedback is analytics: never fail the webhook over it.
    """
    from app.jobs.feedback import capture, enqueue_reply

    body["feedback"] = []
    try:
        state = get_state(settings)
        body["feedback"] = capture(settings, state, platform, fb, compare_reply=False)
        if enqueue_reply(settings, state, platform, fb):
            body["feedback_reply"] = "queued"
    except Exception:
        log.exception("%s ticket %s: could not record agent feedback", platform, fb.ticket_id)


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
        body = load_body(raw)
    except BadPayload as exc:
        return _error(400, "malformed JSON", str(exc))
    try:
        event = mod.parse_webhook(request.headers, body, settings)
        check_event(event)
    except BadPayload as exc:
        return _error(400, "bad payload", str(exc))
    except RecursionError:  # belt and braces: a parser walking a body we let through
        return _error(400, "bad payload", "JSON nested too deeply")
    except Ignored as exc:
        log.info("%s webhook ignored: %s", platform, exc.reason)
        body = {"status": "ignored", "reason": exc.reason}
        if exc.feedback is not None:
            _capture_feedback(platform, exc.feedback, settings, body)
        return jsonify(body), 200

    if settings.redis_url:
        # One atomic round trip: dedupe claim + append to the inbox (worker pumps turn it into an rq job).
        try:
            stored = get_inbox(settings).accept(event, dedupe_ttl(event, settings))
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
