"""Gorgias: HTTP-integration webhooks (shared token) in; REST API out."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from adapters.base import MARKER_PREFIX, BadPayload, Ignored, as_str, event_hash, feedback_tags, verify_token
from pipeline.models import CUSTOMER, AgentFeedback, TicketEvent

log = logging.getLogger(__name__)

platform = "gorgias"


def verify(headers: Mapping[str, str], raw_body: bytes, query: Mapping[str, str], settings: Any) -> None:
    """Gorgias has no signature scheme: the admin puts our shared token in a header or the URL."""
    verify_token(headers, query, settings.gorgias, settings.allow_unsigned)


def _own_ids(settings: Any) -> set[str]:
    uid = settings.gorgias.user_id if settings is not None else None
    return {uid} if uid else set()


def _check_message(msg: dict[str, Any], own: set[str], ticket_id: str, fb_tags: list[str]) -> None:
    sender = msg.get("sender") if isinstance(msg.get("sender"), dict) else {}
    sender_id = as_str(sender.get("id") or msg.get("sender_id"))
    body = " ".join(str(msg.get(k) or "") for k in ("body_text", "body_html", "stripped_text"))
    if sender_id and sender_id in own:
        raise Ignored("message written by the sidecar's own API user")
    if MARKER_PREFIX in body:
        raise Ignored("message carries the sidecar's marker")
    tags_only = AgentFeedback(ticket_id=ticket_id, tags=fb_tags) if fb_tags else None
    if msg.get("channel") == "internal-note" or msg.get("public") is False:
        raise Ignored("internal note", tags_only)
    if msg.get("from_agent") in (True, "true", "True", "1", 1):
        raise Ignored("message from an agent", AgentFeedback(
            ticket_id=ticket_id, reply_text=as_str(msg.get("stripped_text") or msg.get("body_text") or msg.get("body_html")),
            tags=fb_tags, agent_id=sender_id, message_id=as_str(msg.get("id"))))


def parse_webhook(headers: Mapping[str, str], body: Any, settings: Any = None) -> TicketEvent:
    """Pure: the body of a Gorgias HTTP integration → :class:`TicketEvent`.

    With the form ``{{context}}`` the body is ``{"ticket": {...}, "message": {...}}``; a hand
    templated body such as ``{"ticket_id": "{{ticket.id}}", "message_id": "{{message.id}}"}``
    works too. ``ticket-message-created`` fires for every message, so agent messages and
    internal notes (and the sidecar's own) are ignored here.
    """
    if not isinstance(body, dict):
        raise BadPayload("gorgias webhook body must be a JSON object")
    own = _own_ids(settings)
    ticket = body.get("ticket") if isinstance(body.get("ticket"), dict) else {}
    message = body.get("message") if isinstance(body.get("message"), dict) else None
    ticket_id = as_str(ticket.get("id")) or as_str(body.get("ticket_id"))
    if message is not None and not ticket_id:
        ticket_id = as_str(message.get("ticket_id"))
    if not ticket_id:
        raise BadPayload("gorgias webhook body has no ticket id (ticket.id, ticket_id or message.ticket_id)")
    kind = "message_created"
    if message is None:
        # ticket-created delivers the ticket with its messages; the newest one is the event.
        msgs = ticket.get("messages") if isinstance(ticket.get("messages"), list) else []
        message = msgs[-1] if msgs else (ticket.get("first_message") if isinstance(ticket.get("first_message"), dict) else None)
        kind = "ticket_created" if message is not None or ticket else "ticket_updated"
    tags = ticket.get("tags") if isinstance(ticket.get("tags"), list) else []
    tag_names = [str(t.get("name")) for t in tags if isinstance(t, dict) and t.get("name")]
    if message is not None:
        _check_message(message, own, ticket_id, feedback_tags(tag_names))
    elif (as_str(body.get("from_agent")) or "").lower() in ("true", "1"):
        raise Ignored("message from an agent")
    elif as_str(body.get("channel")) == "internal-note":
        raise Ignored("internal note")
    message_id = as_str(message.get("id")) if message else as_str(body.get("message_id"))
    if message_id:
        event_id = event_hash(platform, ticket_id, message_id)
    else:
        event_id = event_hash(platform, ticket_id, json.dumps(body, sort_keys=True, ensure_ascii=False))
    customer = ticket.get("customer") if isinstance(ticket.get("customer"), dict) else {}
    sender = (message or {}).get("sender") if isinstance((message or {}).get("sender"), dict) else {}
    return TicketEvent(
        platform=platform, event_id=event_id, ticket_id=ticket_id, kind=kind, message_id=message_id,
        author_role=CUSTOMER, author_id=as_str(sender.get("id")),
        subject_hint=as_str(ticket.get("subject") or (message or {}).get("subject")),
        body_hint=as_str((message or {}).get("stripped_text") or (message or {}).get("body_text") or body.get("body_text")),
        requester_name=as_str(customer.get("name") or sender.get("name")),
        requester_email=as_str(customer.get("email") or sender.get("email")),
        tags_hint=tag_names,
        raw_type=as_str(body.get("event") or body.get("trigger")) or kind,
    )
