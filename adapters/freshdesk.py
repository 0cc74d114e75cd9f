"""Freshdesk: automation "Trigger webhook" (shared token) in; REST API v2 out."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from adapters.base import MARKER_PREFIX, BadPayload, Ignored, as_str, event_hash, feedback_tags, verify_token
from pipeline.models import CUSTOMER, AgentFeedback, TicketEvent

log = logging.getLogger(__name__)

platform = "freshdesk"

# `{{triggered_event}}` renders in Freshdesk's brace syntax: "{ticket_action:created}",
# "{note_type:private}", "{status:{from:4,to:6}}". Changes that are not a customer writing
# are ignored; anything else is processed (the worker re-checks the thread).
_IGNORED_EVENT = re.compile(r"^\{(note_type|status|priority|group_id|responder_id|ticket_type|agent|"
                            r"time_sheet|mail_del_failed)\b")
_AGENT_PERFORMERS = {"agent", "admin", "supervisor", "system"}


def verify(headers: Mapping[str, str], raw_body: bytes, query: Mapping[str, str], settings: Any) -> None:
    """Freshdesk has no signature: the automation sends our shared token in a header or the URL."""
    verify_token(headers, query, settings.freshdesk, settings.allow_unsigned)


def parse_webhook(headers: Mapping[str, str], body: Any, settings: Any = None) -> TicketEvent:
    """Pure: ``{"freshdesk_webhook": {...}}`` (Advanced JSON content) → :class:`TicketEvent`.

    Placeholder values render as strings ("11", "High"); optional keys may be missing.
    """
    if not isinstance(body, dict):
        raise BadPayload("freshdesk webhook body must be a JSON object")
    data = body.get("freshdesk_webhook", body)
    if not isinstance(data, dict):
        raise BadPayload("freshdesk_webhook must be a JSON object")
    ticket_id = as_str(data.get("ticket_id") or data.get("id"))
    if not ticket_id:
        raise BadPayload("freshdesk webhook has no ticket_id: template it as \"ticket_id\": \"{{ticket.id}}\"")
    if not ticket_id.isdigit():
        raise BadPayload("freshdesk ticket_id must be a number (is the placeholder {{ticket.id}} spelled right?)")
    trig = as_str(data.get("triggered_event")) or ""
    tags = as_str(data.get("ticket_tags"))
    tag_list = [t.strip() for t in tags.split(",") if t.strip()] if tags else []
    fb_tags = feedback_tags(tag_list)
    tags_only = AgentFeedback(ticket_id=ticket_id, tags=fb_tags) if fb_tags else None
    if trig.startswith("{note_type"):
        raise Ignored("note event (private or agent note)", tags_only)
    if _IGNORED_EVENT.match(trig):
        raise Ignored(f"ticket property change {trig} is not a customer message", tags_only)
    performer = (as_str(data.get("performer_type") or data.get("triggered_by")) or "").lower()
    if performer in _AGENT_PERFORMERS:
        raise Ignored("update made by an agent", AgentFeedback(
            ticket_id=ticket_id, reply_text=as_str(data.get("ticket_latest_public_comment") or data.get("latest_comment")),
            tags=fb_tags, agent_id=as_str(data.get("author_id") or data.get("performer_id"))))
    own = {settings.freshdesk.user_id} if settings is not None and settings.freshdesk.user_id else set()
    author_id = as_str(data.get("author_id") or data.get("performer_id"))
    if author_id and author_id in own:
        raise Ignored("update made by the sidecar's own API user")
    latest = as_str(data.get("ticket_latest_public_comment") or data.get("latest_comment"))
    if latest and MARKER_PREFIX in latest:
        raise Ignored("latest comment carries the sidecar's marker")
    message_id = as_str(data.get("conversation_id") or data.get("comment_id"))
    if message_id:
        event_id = event_hash(platform, ticket_id, message_id)
    else:
        event_id = event_hash(platform, ticket_id, json.dumps(data, sort_keys=True, ensure_ascii=False))
    kind = "ticket_created" if "created" in trig else "message_created"
    return TicketEvent(
        platform=platform, event_id=event_id, ticket_id=ticket_id, kind=kind, message_id=message_id,
        author_role=CUSTOMER, author_id=author_id,
        subject_hint=as_str(data.get("ticket_subject")),
        body_hint=latest or as_str(data.get("ticket_description")),
        requester_name=as_str(data.get("requester_name")), requester_email=as_str(data.get("requester_email")),
        tags_hint=tag_list,
        raw_type=trig or None,
    )
