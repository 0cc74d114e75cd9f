"""Gorgias: HTTP-integration webhooks (shared token) in; REST API out."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from html import escape
from typing import Any

from adapters.base import (
    AuthError,
    BadPayload,
    Ignored,
    PermanentError,
    as_str,
    check_ticket_id,
    email_key,
    event_hash,
    feedback_tags,
    is_own_marker,
    normalize_channel,
    verify_token,
)
from adapters.http import MAX_THREAD_PAGES, RestAdapter, html_to_text, read_both_ends
from pipeline.models import AGENT, CUSTOMER, SIDECAR, SYSTEM, AgentFeedback, Message, Person, Ticket, TicketEvent

log = logging.getLogger(__name__)

platform = "gorgias"

# Ticket / message `channel` values → CHANNELS (messaging apps and social networks are social).
CHANNEL_MAP = {
    "email": "email",
    **dict.fromkeys(("chat", "sms", "google_business_messages"), "chat"),
    **dict.fromkeys(("contact_form", "help_center", "helpcenter", "form"), "web_form"),
    **dict.fromkeys(("phone", "aircall", "voice"), "phone"),
    **dict.fromkeys(("facebook", "facebook_mention", "facebook_messenger", "facebook_recommendations",
                     "instagram_ad_comment", "instagram_comment", "instagram_direct_message", "instagram_mention",
                     "twitter", "twitter_direct_message", "whatsapp", "tiktok", "tiktok_shop"), "social"),
    "api": "api",
}


def channel_of(value: Any) -> str | None:
    """A Gorgias ``channel`` value → a pipeline channel."""
    return normalize_channel(value, CHANNEL_MAP)


def verify(headers: Mapping[str, str], raw_body: bytes, query: Mapping[str, str], settings: Any) -> None:
    """Gorgias has no signature scheme: the admin puts our shared token in a header or the URL."""
    verify_token(headers, query, settings.gorgias, settings)


def _marker_key(settings: Any) -> bytes | None:
    return getattr(settings, "marker_key", None) if settings is not None else None


def _own_ids(settings: Any) -> set[str]:
    uid = settings.gorgias.user_id if settings is not None else None
    return {uid} if uid else set()


def _check_message(msg: dict[str, Any], own: set[str], ticket_id: str, fb_tags: list[str], key: bytes | None) -> None:
    sender = msg.get("sender") if isinstance(msg.get("sender"), dict) else {}
    sender_id = as_str(sender.get("id") or msg.get("sender_id"))
    body = " ".join(str(msg.get(k) or "") for k in ("body_text", "body_html", "stripped_text"))
    if sender_id and sender_id in own:
        raise Ignored("message written by the sidecar's own API user")
    if is_own_marker(body, key):
        # Only a marker signed with our key counts: customers can type "sidecar-event:" too.
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
    ticket_id = check_ticket_id(ticket_id)
    kind = "message_created"
    if message is None:
        # ticket-created delivers the ticket with its messages; the newest one is the event.
        msgs = ticket.get("messages") if isinstance(ticket.get("messages"), list) else []
        message = msgs[-1] if msgs else (ticket.get("first_message") if isinstance(ticket.get("first_message"), dict) else None)
        kind = "ticket_created" if message is not None or ticket else "ticket_updated"
    tags = ticket.get("tags") if isinstance(ticket.get("tags"), list) else []
    tag_names = [str(t.get("name")) for t in tags if isinstance(t, dict) and t.get("name")]
    if message is not None:
        _check_message(message, own, ticket_id, feedback_tags(tag_names), _marker_key(settings))
    elif (as_str(body.get("from_agent")) or "").lower() in ("true", "1"):
        raise Ignored("message from an agent")
    elif as_str(body.get("channel")) == "internal-note":
        raise Ignored("internal note")
    message_id = as_str(message.get("id")) if message else as_str(body.get("message_id"))
    if message_id:
        event_id = event_hash(platform, ticket_id, message_id)
    else:
        # No message id in the template: a hash of the body, deduped only for a short window (weak_id).
        event_id = event_hash(platform, ticket_id, json.dumps(body, sort_keys=True, ensure_ascii=False))
    customer = ticket.get("customer") if isinstance(ticket.get("customer"), dict) else {}
    sender = (message or {}).get("sender") if isinstance((message or {}).get("sender"), dict) else {}
    return TicketEvent(
        platform=platform, event_id=event_id, ticket_id=ticket_id, kind=kind, message_id=message_id,
        weak_id=not message_id,
        author_role=CUSTOMER, author_id=as_str(sender.get("id")),
        subject_hint=as_str(ticket.get("subject") or (message or {}).get("subject")),
        body_hint=as_str((message or {}).get("stripped_text") or (message or {}).get("body_text") or body.get("body_text")),
        requester_name=as_str(customer.get("name") or sender.get("name")),
        requester_email=as_str(customer.get("email") or sender.get("email")),
        tags_hint=tag_names,
        raw_type=as_str(body.get("event") or body.get("trigger")) or kind,
        channel=channel_of((message or {}).get("channel") or ticket.get("channel") or body.get("channel")),
    )


# --------------------------------------------------------------------------------------------
# REST adapter
# --------------------------------------------------------------------------------------------

# Gorgias ticket priorities [?: not in the March-2024 spec; values seen on tickets are "normal",
# and the UI offers low / normal / high / critical]. Change here if the account says otherwise.
PRIORITY_OUT = {"low": "low", "normal": "normal", "high": "high", "urgent": "critical"}
PRIORITY_IN = {"low": "low", "normal": "normal", "medium": "normal", "high": "high", "critical": "urgent",
               "urgent": "urgent"}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")


def _int_or_str(v: Any) -> Any:
    s = str(v).strip()
    return int(s) if s.isdigit() else v


class GorgiasAdapter(RestAdapter):
    """Gorgias REST API (``{GORGIAS_URL}/api``), Basic ``email:api_key``.

    Notes and replies need an agent as sender: ``GORGIAS_USER_ID`` (the API user's id), else
    the current user is looked up once with ``GET /api/users/0``.
    """

    platform = platform

    def __init__(self, ps: Any, **kw: Any):
        super().__init__(ps, **kw)
        self._sender_id: int | None = int(ps.user_id) if ps.user_id and str(ps.user_id).isdigit() else None
        self._sender_lookup_failed = False

    def _auth(self, ps: Any) -> tuple[str, str]:
        return (ps.email or "", ps.api_token.get_secret_value())

    def _own_user_ids(self) -> set[str]:
        ids = super()._own_user_ids()
        return ids | {str(self._sender_id)} if self._sender_id is not None else ids

    # -- read -------------------------------------------------------------------------------
    def _raw_ticket(self, tid: str) -> dict[str, Any]:
        return self.http.get(f"/api/tickets/{tid}", {"relationships": "custom_fields"}) or {}

    def _message_pages(self, tid: str, limit: int, newest_first: bool) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` pages of ``GET /api/messages?ticket_id=`` (cursor pagination), oldest or newest
        first; whether more pages were left unread."""
        out: list[dict[str, Any]] = []
        order = "created_datetime:desc" if newest_first else "created_datetime:asc"
        params: dict[str, Any] = {"ticket_id": tid, "limit": 100, "order_by": order}
        seen: set[str] = set()
        for _ in range(limit):
            body = self.http.get("/api/messages", params)
            items = body if isinstance(body, list) else (body or {}).get("data") or []
            out.extend(m for m in items if isinstance(m, dict))
            cursor = None if isinstance(body, list) else ((body or {}).get("meta") or {}).get("next_cursor")
            if not cursor or cursor in seen:
                return out, False
            seen.add(cursor)
            params = {**params, "cursor": cursor}
        return out, True

    def _raw_messages(self, tid: str, t: dict[str, Any]) -> list[dict[str, Any]]:
        """The ticket's embedded messages, or ``GET /api/messages?ticket_id=``'s pages from both ends."""
        if isinstance(t.get("messages"), list):
            return [m for m in t["messages"] if isinstance(m, dict)]
        return read_both_ends(lambda limit, newest: self._message_pages(tid, limit, newest),
                              MAX_THREAD_PAGES, f"gorgias ticket {tid}")

    def fetch_ticket(self, ticket_id: str, hint: Any = None) -> Ticket:
        tid = self._ticket_id(ticket_id)
        t = self._raw_ticket(tid)
        customer = t.get("customer") if isinstance(t.get("customer"), dict) else {}
        name = customer.get("name") or " ".join(x for x in (customer.get("firstname"), customer.get("lastname")) if x)
        cf = t.get("custom_fields") if isinstance(t.get("custom_fields"), dict) else {}
        messages = sorted((self._message(m) for m in self._raw_messages(tid, t)),
                          key=lambda m: (m.created_at or "", m.id))
        return Ticket(
            platform=platform, id=tid, subject=t.get("subject") or "", status=t.get("status"),
            priority=PRIORITY_IN.get(str(t.get("priority") or "").lower()),
            tags=[str(x.get("name")) for x in t.get("tags") or [] if isinstance(x, dict) and x.get("name")],
            custom_fields={str(k): (v.get("value") if isinstance(v, dict) else v) for k, v in cf.items()},
            requester=Person(id=as_str(customer.get("id")), name=name or None, email=customer.get("email")),
            messages=messages, url=f"{self.base_url}/app/ticket/{tid}",
            channel=channel_of(t.get("channel")) or (hint.channel if isinstance(hint, TicketEvent) else None),
            created_at=t.get("created_datetime"), updated_at=t.get("updated_datetime"),
        )

    def _message(self, m: dict[str, Any]) -> Message:
        sender = m.get("sender") if isinstance(m.get("sender"), dict) else {}
        sid = as_str(sender.get("id"))
        html, text = m.get("body_html"), m.get("body_text") or m.get("stripped_text") or ""
        internal = m.get("channel") == "internal-note" or m.get("public") is False
        if self._is_own(sid, html, text, m.get("external_id")):
            role = SIDECAR
        elif m.get("via") == "rule" or (m.get("from_agent") and not sid):
            role = SYSTEM
        elif m.get("from_agent") or internal:
            role = AGENT
        else:
            role = CUSTOMER
        name = sender.get("name") or " ".join(x for x in (sender.get("firstname"), sender.get("lastname")) if x)
        return Message(id=str(m.get("id")), author_role=role, body_text=text, body_html=html, public=not internal,
                       author_id=sid, author_name=name or None, author_email=sender.get("email"),
                       channel=m.get("channel"), created_at=m.get("created_datetime"))

    # -- write ------------------------------------------------------------------------------
    def _sender(self) -> dict[str, Any]:
        """The note's agent sender: GORGIAS_USER_ID, else the API user (looked up once), else its email."""
        if self._sender_id is None and not self._sender_lookup_failed:
            try:
                me = self.http.get("/api/users/0") or {}
            except PermanentError as exc:  # AuthError is permanent too, and must still fail the job
                if isinstance(exc, AuthError):
                    raise
                me = {}
                log.warning("gorgias: could not look up the API user (%s)", exc)
            if str(me.get("id") or "").isdigit():
                self._sender_id = int(me["id"])
                log.info("gorgias: API user is %s (set GORGIAS_USER_ID to skip this lookup)", self._sender_id)
            else:
                self._sender_lookup_failed = True
        if self._sender_id is not None:
            return {"id": self._sender_id}
        if self.ps.email:
            # The sender schema accepts an email: the API user's own (GORGIAS_EMAIL).
            return {"email": self.ps.email}
        raise PermanentError("gorgias: set GORGIAS_USER_ID (the API user's id): notes need an agent sender")

    def post_internal_note(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        sender = self._sender()
        body = {
            "channel": "internal-note", "from_agent": True, "via": "api",
            "sender": sender,
            "source": {"type": "internal-note", "from": {"address": self.ps.email or ""}, "to": []},
            "body_text": text, "body_html": html,
            "external_id": marker,  # not used by Gorgias: a second way to find our note again
        }
        self._send_note_once(ticket, marker, lambda: self.http.post(f"/api/tickets/{ticket.id}/messages", body))

    def add_tags(self, ticket: Ticket, tags: list[str]) -> None:
        # POST adds (PUT would replace all tags); adding a tag twice is harmless, so it may be retried.
        self.http.post(f"/api/tickets/{ticket.id}/tags", {"names": list(tags)}, idempotent=True)

    def set_priority(self, ticket: Ticket, priority: str) -> None:
        if priority not in PRIORITY_OUT:
            raise PermanentError(f"gorgias: unknown priority {priority!r} (low, normal, high, urgent)")
        self.http.put(f"/api/tickets/{ticket.id}", {"priority": PRIORITY_OUT[priority]})

    def set_fields(self, ticket: Ticket, fields: dict[str, Any]) -> None:
        # One PUT per field with the bare value: the bulk PUT deletes every field it does not list.
        for field_id, value in fields.items():
            self.http.put(f"/api/tickets/{ticket.id}/custom-fields/{field_id}", value)

    def assign_group(self, ticket: Ticket, group_id: str) -> None:
        self.http.put(f"/api/tickets/{ticket.id}", {"assignee_team": {"id": _int_or_str(group_id)}})

    def find_agent(self, email: str) -> Person | None:
        """``GET /api/users?email=<email>`` (Gorgias users are the helpdesk's staff; bots never count)."""
        key = email_key(email)
        if key is None:
            return None
        body = self.http.get("/api/users", {"email": key, "limit": 30})
        users = body if isinstance(body, list) else (body or {}).get("data") or []
        for u in users:
            if not isinstance(u, dict) or email_key(u.get("email")) != key or not as_str(u.get("id")):
                continue
            role = u.get("role") if isinstance(u.get("role"), dict) else {}
            if role.get("name") == "bot" or u.get("active") is False or u.get("deactivated_datetime"):
                continue
            return Person(id=as_str(u.get("id")), name=u.get("name"), email=u.get("email"))
        return None

    def assign_agent(self, ticket_id: str, agent_id: str) -> None:
        self.http.put(f"/api/tickets/{ticket_id}", {"assignee_user": {"id": _int_or_str(agent_id)}})

    def apply_macro(self, ticket: Ticket, macro_id: str) -> str | None:
        """Replay a macro's actions (Gorgias has no apply endpoint); return its reply text for the note.

        Supported: addTags, setResponseText (→ note, never sent), setPriority, setStatus,
        setTeamAssignee, setAssignee, setCustomFieldValue. Others are logged and skipped.
        """
        macro = self.http.get(f"/api/macros/{macro_id}") or {}
        ticket_changes: dict[str, Any] = {}
        response_html: str | None = None
        for action in macro.get("actions") or []:
            if not isinstance(action, dict):
                continue
            name, args = action.get("name"), action.get("arguments") or {}
            if name == "addTags":
                raw = args.get("tags") or ""
                tags = [x.strip() for x in (raw.split(",") if isinstance(raw, str) else raw) if str(x).strip()]
                new = [x for x in tags if x not in ticket.tags]
                if new:
                    self.add_tags(ticket, new)
                    ticket.tags.extend(new)  # later plan steps then skip these
            elif name == "setResponseText":
                response_html = args.get("body_html") or (
                    "<p>" + escape(args.get("body_text") or "").replace("\n", "<br>") + "</p>" if args.get("body_text") else None)
            elif name == "setPriority" and args.get("priority"):
                ticket_changes["priority"] = args["priority"]
            elif name == "setStatus" and args.get("status"):
                ticket_changes["status"] = args["status"]
            elif name == "setTeamAssignee" and args.get("assignee_team"):
                ticket_changes["assignee_team"] = args["assignee_team"]
            elif name == "setAssignee" and args.get("assignee_user"):
                ticket_changes["assignee_user"] = args["assignee_user"]
            elif name == "setCustomFieldValue" and args.get("custom_field_id") is not None:
                self.http.put(f"/api/tickets/{ticket.id}/custom-fields/{args['custom_field_id']}", args.get("value"))
            else:
                log.info("gorgias macro %s: action %s is not replayed", macro_id, name)
        if ticket_changes:
            self.http.put(f"/api/tickets/{ticket.id}", ticket_changes)
            ticket.priority = PRIORITY_IN.get(str(ticket_changes.get("priority", "")).lower(), ticket.priority)
        return self._render(response_html, ticket) if response_html else None

    def _render(self, html: str, ticket: Ticket) -> str:
        """Fill the few macro placeholders we know; leave the others for the agent to see."""
        first = (ticket.requester.name or "").split(" ")[0]
        known = {"ticket.customer.firstname": first, "ticket.customer.name": ticket.requester.name or "",
                 "ticket.customer.email": ticket.requester.email or ""}
        return _PLACEHOLDER.sub(lambda m: escape(known[m.group(1)]) if m.group(1) in known else m.group(0), html)

    def post_public_reply(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        """Reply on the ticket's channel, addressed like the customer's last message (email only)."""
        raw = self._raw_ticket(ticket.id)
        last = None
        for m in self._raw_messages(ticket.id, raw):
            if not m.get("from_agent") and m.get("channel") != "internal-note":
                last = m
        src = (last or {}).get("source") or {}
        channel = (last or {}).get("channel") or raw.get("channel") or ticket.channel
        if channel != "email" or not src.get("to") or not src.get("from"):
            raise PermanentError(f"gorgias: public replies are only sent on email tickets (ticket channel {channel})")
        customer = src["from"]
        body = {
            "channel": "email", "from_agent": True, "via": "api", "sender": self._sender(),
            "receiver": {"email": customer.get("address")},
            "source": {"type": "email", "from": src["to"][0], "to": [customer]},
            "body_text": text if "<" not in text else html_to_text(text), "body_html": html,
        }
        self._send_reply_once(ticket, html, lambda: self.http.post(f"/api/tickets/{ticket.id}/messages", body))

    batch_updates = True

    def update_ticket(self, ticket: Ticket, *, tags: list[str] | None = None, fields: dict[str, Any] | None = None,
                      priority: str | None = None, group_id: str | None = None) -> None:
        """Tags (POST adds), one PUT per custom field, and priority + team in one ticket PUT."""
        if priority is not None and priority not in PRIORITY_OUT:
            raise PermanentError(f"gorgias: unknown priority {priority!r} (low, normal, high, urgent)")
        if tags:
            self.add_tags(ticket, list(tags))
        if fields:
            self.set_fields(ticket, fields)
        changes: dict[str, Any] = {}
        if priority:
            changes["priority"] = PRIORITY_OUT[priority]
        if group_id:
            changes["assignee_team"] = {"id": _int_or_str(group_id)}
        if changes:
            self.http.put(f"/api/tickets/{ticket.id}", changes)
