"""Zendesk: signed event webhooks and admin-templated trigger webhooks in; REST API out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from adapters.base import (
    AuthError,
    BadPayload,
    Ignored,
    PermanentError,
    as_str,
    check_ticket_id,
    constant_time_equals,
    email_key,
    event_hash,
    feedback_tags,
    header,
    is_own_marker,
    normalize_channel,
    refuse_unsigned,
)
from adapters.http import MAX_THREAD_PAGES, RestAdapter, read_both_ends
from pipeline.models import AGENT, CUSTOMER, SIDECAR, SYSTEM, AgentFeedback, Message, Person, Ticket, TicketEvent

log = logging.getLogger(__name__)

platform = "zendesk"

SIG_HEADER = "X-Zendesk-Webhook-Signature"
TS_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"

_PROCESSED_TYPES = {
    "zen:event-type:ticket.created": "ticket_created",
    "zen:event-type:ticket.comment_added": "message_created",
}
_STAFF_ROLES = {"agent", "admin", "staff"}

# `via.channel` (API and event webhooks) and the `{{ticket.via}}` placeholder's titles → CHANNELS.
# Messaging apps (WhatsApp, Messenger, LINE, ...) count as social; web/mobile messaging and SMS as chat.
CHANNEL_MAP = {
    **dict.fromkeys(("email", "mail"), "email"),
    **dict.fromkeys(("web", "web_form", "webform", "helpcenter", "help_center", "web_widget", "forum",
                     "mobile_web"), "web_form"),
    **dict.fromkeys(("chat", "native_messaging", "messaging", "mobile_sdk", "mobile", "sms", "text",
                     "messagebird_sms", "answer_bot", "apple_business_chat", "google_business_messages",
                     "google_rcs"), "chat"),
    **dict.fromkeys(("twitter", "twitter_dm", "facebook", "facebook_post", "facebook_message", "instagram_dm",
                     "instagram", "whatsapp", "line", "wechat", "telegram", "viber", "kakaotalk"), "social"),
    **dict.fromkeys(("voice", "phone", "call", "phone_call_(incoming)", "phone_call_(outgoing)", "voicemail",
                     "phone_call"), "phone"),
    **dict.fromkeys(("api", "web_service", "any_channel", "channel_integration"), "api"),
}


def channel_of(via: Any) -> str | None:
    """Zendesk ``via`` (object or its ``channel``, or a templated ``{{ticket.via}}``) → a pipeline channel."""
    return normalize_channel(via, CHANNEL_MAP)


def _locale(user: Mapping[str, Any]) -> str | None:
    """A user's ``locale`` when it looks like a language tag ("pt-BR", "en-US"); anything else is None."""
    v = user.get("locale")
    return v if isinstance(v, str) and re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,2}", v) else None


def sign(secret: str, timestamp: str, raw_body: bytes) -> str:
    """Zendesk's signature: base64(HMAC-SHA256(secret as UTF-8, timestamp + raw body))."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + raw_body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def _parse_ts(value: str) -> datetime:
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    ts = datetime.fromisoformat(v)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def verify(headers: Mapping[str, str], raw_body: bytes, query: Mapping[str, str], settings: Any,
           now: datetime | None = None) -> None:
    """Check the HMAC signature over timestamp + raw body against every configured secret (rotation).

    Raises :class:`AuthError` with a reason that never includes a secret. With no secret
    configured, :func:`adapters.base.refuse_unsigned` decides (the demo, or ``SIDECAR_ALLOW_UNSIGNED``).
    """
    ps = settings.zendesk
    if not ps.webhook_secrets:
        refuse_unsigned(settings, platform)
        return
    sig = header(headers, SIG_HEADER)
    ts = header(headers, TS_HEADER)
    if not sig or not ts:
        raise AuthError(f"missing {SIG_HEADER} or {TS_HEADER} header")
    try:
        when = _parse_ts(ts)
    except ValueError:
        raise AuthError(f"{TS_HEADER} is not an ISO-8601 timestamp") from None
    now = now or datetime.now(UTC)
    tolerance = settings.zendesk_signature_tolerance
    if tolerance > 0 and abs((now - when).total_seconds()) > tolerance:
        # Replayed or badly delayed deliveries are refused; Zendesk retries with a fresh timestamp.
        raise AuthError(f"signature timestamp outside the {tolerance}s tolerance")
    ok = False
    for secret in ps.webhook_secrets:
        # Compare against every secret (no early exit) so timing does not reveal which matched.
        ok |= constant_time_equals(sign(secret.get_secret_value(), ts, raw_body), sig.strip())
    if not ok:
        raise AuthError("invalid signature")


def _event_hash(*parts: Any) -> str:
    return event_hash(platform, *parts)


def _own_ids(settings: Any) -> set[str]:
    uid = settings.zendesk.user_id if settings is not None else None
    return {uid} if uid else set()


def _ticket_id_from_subject(subject: Any) -> str | None:
    if isinstance(subject, str) and subject.startswith("zen:ticket:"):
        return as_str(subject.rsplit(":", 1)[1])
    return None


def _parse_event(body: dict[str, Any], headers: Mapping[str, str], own: set[str], key: bytes | None) -> TicketEvent:
    etype = body.get("type")
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    ticket_id = as_str(detail.get("id")) or _ticket_id_from_subject(body.get("subject"))
    if not ticket_id:
        raise BadPayload("zendesk event has no ticket id (detail.id or subject zen:ticket:<id>)")
    ticket_id = check_ticket_id(ticket_id)
    kind = _PROCESSED_TYPES.get(etype)
    if kind is None:
        tags = event.get("tags_added") or (event.get("current") or {}).get("tags") or detail.get("tags") or []
        fb = feedback_tags([str(t) for t in tags]) if isinstance(tags, list) else []
        raise Ignored(f"event type {etype} is not processed",
                      AgentFeedback(ticket_id=ticket_id, tags=fb) if fb else None)
    event_id = as_str(body.get("id")) or as_str(header(headers, INVOCATION_HEADER)) or _event_hash(ticket_id, etype, body.get("time"))
    ev = TicketEvent(platform=platform, event_id=event_id, ticket_id=ticket_id, kind=kind, raw_type=etype,
                     subject_hint=as_str(detail.get("subject")), body_hint=as_str(detail.get("description")),
                     author_id=as_str(detail.get("requester_id")), channel=channel_of(detail.get("via")))
    if kind == "ticket_created":
        submitter = as_str(detail.get("submitter_id"))
        if submitter and submitter in own:
            raise Ignored("ticket created by the sidecar's own API user")
        return ev
    comment = event.get("comment") if isinstance(event.get("comment"), dict) else {}
    author = comment.get("author") if isinstance(comment.get("author"), dict) else {}
    ev.message_id = as_str(comment.get("id"))
    ev.author_id = as_str(author.get("id"))
    if author.get("is_staff") is not True and (not ev.author_id or ev.author_id == as_str(detail.get("requester_id"))):
        # The requester wrote it: their name is in the event (the greeting needs it even when the
        # ticket API side-loads no users, and in dry-run where the API is never called).
        ev.requester_name = as_str(author.get("name"))
    ev.body_hint = comment.get("body") if isinstance(comment.get("body"), str) else None
    ev.is_internal = comment.get("is_public") is False
    if ev.author_id and ev.author_id in own:
        raise Ignored("comment written by the sidecar's own API user")
    if is_own_marker(ev.body_hint, key):
        # Only a marker signed with our key counts: customers can type "sidecar-event:" too.
        raise Ignored("comment carries the sidecar's marker")
    if ev.is_internal:
        raise Ignored("internal note")
    if author.get("is_staff") is True:
        ev.author_role = AGENT
        raise Ignored("comment by an agent", AgentFeedback(ticket_id=ticket_id, reply_text=ev.body_hint,
                                                           agent_id=ev.author_id, message_id=ev.message_id))
    return ev


def _parse_trigger(body: dict[str, Any], own: set[str], key: bytes | None,
                   invocation: str | None = None) -> TicketEvent:
    """Admin-templated trigger body: every value a string; only the ticket id is required."""
    t = body.get("ticket") if isinstance(body.get("ticket"), dict) else {}
    ticket_id = as_str(body.get("ticket_id")) or as_str(t.get("id")) or as_str(body.get("id"))
    if not ticket_id:
        raise BadPayload("zendesk webhook body has no ticket id: template it as \"ticket_id\": \"{{ticket.id}}\"")
    if not ticket_id.isascii() or not ticket_id.isdigit():
        raise BadPayload("zendesk ticket_id must be a number (is the placeholder {{ticket.id}} spelled right?)")
    ticket_id = check_ticket_id(ticket_id)
    message_id = as_str(body.get("comment_id"))
    author_id = as_str(body.get("author_id") or body.get("current_user_id"))
    role = (as_str(body.get("author_role") or body.get("current_user_role")) or "").lower()
    public = as_str(body.get("comment_public") or body.get("is_public"))
    latest = body.get("latest_comment") or body.get("ticket_latest_comment") or body.get("comment")
    latest = latest if isinstance(latest, str) else None
    if author_id and author_id in own:
        raise Ignored("update made by the sidecar's own API user")
    if is_own_marker(latest, key):
        raise Ignored("latest comment carries the sidecar's marker")
    tags = as_str(body.get("tags"))
    fb_tags = feedback_tags(tags.split()) if tags else []
    if public is not None and public.lower() in ("false", "0", "no"):
        raise Ignored("internal note", AgentFeedback(ticket_id=ticket_id, tags=fb_tags) if fb_tags else None)
    if role in _STAFF_ROLES:
        raise Ignored("update made by an agent", AgentFeedback(ticket_id=ticket_id, reply_text=latest, tags=fb_tags,
                                                               agent_id=author_id, message_id=message_id))
    weak = False
    if message_id:
        event_id = _event_hash(ticket_id, message_id)
    elif invocation:
        # Templates carry no comment id; Zendesk's invocation id is one per trigger firing and
        # kept across its retries: "Any update?" sent twice is two invocations, two events.
        event_id = _event_hash(ticket_id, "invocation", invocation)
    else:
        event_id, weak = _event_hash(ticket_id, json.dumps(body, sort_keys=True, ensure_ascii=False)), True
    return TicketEvent(platform=platform, event_id=event_id, ticket_id=ticket_id, weak_id=weak,
                       kind="ticket_updated", message_id=message_id, author_id=author_id, author_role=CUSTOMER,
                       subject_hint=as_str(body.get("ticket_title") or body.get("subject") or t.get("subject")),
                       body_hint=latest or as_str(body.get("ticket_description") or body.get("description")),
                       channel=channel_of(body.get("via") or body.get("ticket_via") or body.get("channel")
                                          or t.get("via")),
                       requester_name=as_str(body.get("requester_full_name") or body.get("requester_name")),
                       requester_email=as_str(body.get("requester_email")),
                       tags_hint=tags.split() if tags else [], raw_type="trigger")


def parse_webhook(headers: Mapping[str, str], body: Any, settings: Any = None) -> TicketEvent:
    """Pure: a Zendesk webhook body (event envelope or templated trigger) → :class:`TicketEvent`.

    Raises :class:`BadPayload` (400) or :class:`Ignored` (200 ignored). The delivery id for
    dedupe is the event's ``id`` (stable across retries), else the invocation id header, else
    a hash of ticket + comment; a templated body without any of them hashes the whole body
    (``weak_id``: deduped only for a short window).
    """
    if not isinstance(body, dict):
        raise BadPayload("zendesk webhook body must be a JSON object")
    own = _own_ids(settings)
    key = getattr(settings, "marker_key", None) if settings is not None else None
    if isinstance(body.get("type"), str) and body["type"].startswith("zen:"):
        return _parse_event(body, headers, own, key)
    return _parse_trigger(body, own, key, as_str(header(headers, INVOCATION_HEADER)))


# --------------------------------------------------------------------------------------------
# REST adapter
# --------------------------------------------------------------------------------------------

_ZD_PRIORITIES = {"low", "normal", "high", "urgent"}
# Changes of a macro's preview result the sidecar applies (the comment goes into the note instead;
# tags are added through the tags endpoint so nobody's tags are lost).
_MACRO_FIELDS = ("priority", "status", "type", "group_id", "assignee_id", "custom_status_id")


def _int_or_str(v: Any) -> Any:
    s = str(v).strip()
    return int(s) if s.isdigit() else v


class ZendeskAdapter(RestAdapter):
    """Zendesk Support REST API v2 (``{ZENDESK_URL}/api/v2``), Basic ``{email}/token:{token}``."""

    platform = platform

    def _auth(self, ps: Any) -> tuple[str, str]:
        return (f"{ps.email}/token", ps.api_token.get_secret_value())

    # -- read -------------------------------------------------------------------------------
    def _comment_pages(self, tid: str, users: dict[str, Any], limit: int,
                       newest_first: bool) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` pages of the ticket's comments (cursor pagination), oldest or newest first;
        whether more pages were left unread."""
        comments: list[dict[str, Any]] = []
        page: str | None = f"/api/v2/tickets/{tid}/comments.json"
        params: dict[str, Any] | None = {"page[size]": 100, "include": "users"}
        if newest_first:
            params["sort"] = "-created_at"
        for _ in range(limit):
            body = self.http.get(page, params) or {}
            comments.extend(c for c in body.get("comments") or [] if isinstance(c, dict))
            users.update({str(u.get("id")): u for u in body.get("users") or [] if isinstance(u, dict)})
            meta, links = body.get("meta") or {}, body.get("links") or {}
            page, params = (links.get("next"), None) if meta.get("has_more") and links.get("next") else (None, None)
            if not page:
                return comments, False
        return comments, True

    def fetch_ticket(self, ticket_id: str, hint: Any = None) -> Ticket:
        """Ticket (+ side-loaded users) and every page of its comments (cursor pagination)."""
        tid = self._ticket_id(ticket_id)
        data = self.http.get(f"/api/v2/tickets/{tid}.json", {"include": "users"}) or {}
        t = data.get("ticket") or {}
        users = {str(u.get("id")): u for u in data.get("users") or [] if isinstance(u, dict)}
        comments = read_both_ends(lambda limit, newest: self._comment_pages(tid, users, limit, newest),
                                  MAX_THREAD_PAGES, f"zendesk ticket {tid}")
        requester_id = as_str(t.get("requester_id"))
        req = dict(users.get(requester_id or "", {}))
        if not req.get("name") and isinstance(hint, TicketEvent) and hint.requester_name \
                and hint.author_id == requester_id:
            req["name"] = hint.requester_name  # users not side-loaded: the webhook named the requester
        messages = [self._message(c, users, requester_id) for c in comments]
        priority = t.get("priority") if t.get("priority") in _ZD_PRIORITIES else None
        via = t.get("via") if isinstance(t.get("via"), dict) else {}
        return Ticket(
            platform=platform, id=tid, subject=t.get("subject") or t.get("raw_subject") or "",
            status=t.get("status"), priority=priority, tags=[str(x) for x in t.get("tags") or []],
            custom_fields={str(f.get("id")): f.get("value") for f in t.get("custom_fields") or []
                           if isinstance(f, dict) and f.get("id") is not None},
            # The side-loaded user's locale ("pt-BR"): which Portuguese a draft speaks, with no extra request.
            requester=Person(id=requester_id, name=req.get("name"), email=req.get("email"), locale=_locale(req)),
            messages=messages, url=f"{self.base_url}/agent/tickets/{tid}",
            channel=channel_of(via) or (hint.channel if isinstance(hint, TicketEvent) else None),
            brand=as_str(t.get("brand_id")), created_at=t.get("created_at"), updated_at=t.get("updated_at"),
        )

    def _message(self, c: dict[str, Any], users: dict[str, dict[str, Any]], requester_id: str | None) -> Message:
        author_id = as_str(c.get("author_id"))
        user = users.get(author_id or "", {})
        html, text = c.get("html_body"), c.get("plain_body") or c.get("body") or ""
        via = c.get("via") if isinstance(c.get("via"), dict) else {}
        public = c.get("public") is not False
        if self._is_own(author_id, html, text):
            role = SIDECAR
        elif author_id == "-1" or via.get("channel") in ("rule", "system"):
            role = SYSTEM  # triggers/automations write as the system user (-1) or via a rule
        elif user.get("role") == "end-user" or (not user and author_id == requester_id and public):
            role = CUSTOMER
        else:
            role = AGENT
        return Message(id=str(c.get("id")), author_role=role, body_text=text, body_html=html, public=public,
                       author_id=author_id, author_name=user.get("name"), author_email=user.get("email"),
                       channel=via.get("channel"), created_at=c.get("created_at"))

    # -- write ------------------------------------------------------------------------------
    def _update(self, ticket_id: str, changes: dict[str, Any], *, idempotent: bool = True) -> Any:
        return self.http.put(f"/api/v2/tickets/{ticket_id}.json", {"ticket": changes}, idempotent=idempotent)

    def post_internal_note(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        self._send_note_once(ticket, marker, lambda: self._update(
            ticket.id, {"comment": {"html_body": html, "public": False}}, idempotent=False))

    def add_tags(self, ticket: Ticket, tags: list[str]) -> None:
        # PUT adds to the ticket's tags (POST would replace them all).
        self.http.put(f"/api/v2/tickets/{ticket.id}/tags.json", {"tags": list(tags)})

    def set_priority(self, ticket: Ticket, priority: str) -> None:
        if priority not in _ZD_PRIORITIES:
            raise PermanentError(f"zendesk: unknown priority {priority!r} (low, normal, high, urgent)")
        self._update(ticket.id, {"priority": priority})

    def set_fields(self, ticket: Ticket, fields: dict[str, Any]) -> None:
        self._update(ticket.id, {"custom_fields": [{"id": _int_or_str(k), "value": v} for k, v in fields.items()]})

    def assign_group(self, ticket: Ticket, group_id: str) -> None:
        self._update(ticket.id, {"group_id": _int_or_str(group_id)})

    def find_agent(self, email: str) -> Person | None:
        """``GET /api/v2/users/search?query=email:<email>``: the search is fuzzy, so only an active
        agent or admin whose email is exactly the one asked for counts (end users never do)."""
        key = email_key(email)
        if key is None:
            return None
        data = self.http.get("/api/v2/users/search.json", {"query": f"email:{key}"}) or {}
        for u in data.get("users") or []:
            if (isinstance(u, dict) and u.get("role") in ("agent", "admin") and u.get("active") is not False
                    and not u.get("suspended") and email_key(u.get("email")) == key and as_str(u.get("id"))):
                return Person(id=as_str(u.get("id")), name=u.get("name"), email=u.get("email"))
        return None

    def assign_agent(self, ticket_id: str, agent_id: str) -> None:
        self._update(str(ticket_id), {"assignee_id": _int_or_str(agent_id)})

    def apply_macro(self, ticket: Ticket, macro_id: str) -> str | None:
        """Preview the macro, apply its field changes and new tags; return its comment for the note.

        The macro's comment is never posted by itself (not even as a second note): it goes into
        the sidecar's note so an agent decides whether to send it.
        """
        res = self.http.get(f"/api/v2/tickets/{ticket.id}/macros/{macro_id}/apply.json") or {}
        after = ((res.get("result") or {}).get("ticket")) or {}
        changes = {k: after[k] for k in _MACRO_FIELDS if after.get(k) is not None}
        fields = after.get("custom_fields") or after.get("fields")
        if isinstance(fields, dict):
            fields = [fields]
        if isinstance(fields, list):
            current = ticket.custom_fields
            changed = [{"id": f["id"], "value": f.get("value")} for f in fields
                       if isinstance(f, dict) and f.get("id") is not None and current.get(str(f["id"])) != f.get("value")]
            if changed:
                changes["custom_fields"] = changed
        if changes.get("priority") == ticket.priority:
            changes.pop("priority")
        if changes.get("status") == ticket.status:
            changes.pop("status")
        new_tags = [x for x in after.get("tags") or [] if x not in ticket.tags]
        if changes:
            self._update(ticket.id, changes)
        if new_tags:
            self.add_tags(ticket, new_tags)
        # Keep the in-memory ticket in step so the plan's later writes skip what the macro did.
        ticket.tags.extend(new_tags)
        if changes.get("priority") in _ZD_PRIORITIES:
            ticket.priority = changes["priority"]
        for f in changes.get("custom_fields", []):
            ticket.custom_fields[str(f["id"])] = f["value"]
        comment = (res.get("result") or {}).get("comment") or after.get("comment") or {}
        html = comment.get("html_body")
        if not html and comment.get("body"):
            html = "<p>" + escape(comment["body"]).replace("\n", "<br>") + "</p>"
        return html or None

    def post_public_reply(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        self._send_reply_once(ticket, html, lambda: self._update(
            ticket.id, {"comment": {"html_body": html, "public": True}}, idempotent=False))

    batch_updates = True

    def update_ticket(self, ticket: Ticket, *, tags: list[str] | None = None, fields: dict[str, Any] | None = None,
                      priority: str | None = None, group_id: str | None = None) -> None:
        """Tags through the tags endpoint (never in a ticket update), the rest in one ticket PUT."""
        if priority is not None and priority not in _ZD_PRIORITIES:
            raise PermanentError(f"zendesk: unknown priority {priority!r} (low, normal, high, urgent)")
        changes: dict[str, Any] = {}
        if priority:
            changes["priority"] = priority
        if fields:
            changes["custom_fields"] = [{"id": _int_or_str(k), "value": v} for k, v in fields.items()]
        if group_id:
            changes["group_id"] = _int_or_str(group_id)
        if tags:
            self.add_tags(ticket, list(tags))
        if changes:
            self._update(ticket.id, changes)
