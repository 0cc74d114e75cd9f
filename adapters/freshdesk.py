"""Freshdesk: automation "Trigger webhook" (shared token) in; REST API v2 out."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from adapters.base import (
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
from adapters.http import MAX_THREAD_PAGES, RestAdapter, read_both_ends
from pipeline.models import AGENT, CUSTOMER, SIDECAR, AgentFeedback, Message, Person, Ticket, TicketEvent

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
    verify_token(headers, query, settings.freshdesk, settings)


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
    if not ticket_id.isascii() or not ticket_id.isdigit():
        raise BadPayload("freshdesk ticket_id must be a number (is the placeholder {{ticket.id}} spelled right?)")
    ticket_id = check_ticket_id(ticket_id)
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
    if is_own_marker(latest, getattr(settings, "marker_key", None) if settings is not None else None):
        raise Ignored("latest comment carries the sidecar's marker")
    message_id = as_str(data.get("conversation_id") or data.get("comment_id"))
    if message_id:
        event_id = event_hash(platform, ticket_id, message_id)
    else:
        # No message id in the template: a hash of the body, deduped only for a short window (weak_id).
        event_id = event_hash(platform, ticket_id, json.dumps(data, sort_keys=True, ensure_ascii=False))
    kind = "ticket_created" if "created" in trig else "message_created"
    return TicketEvent(
        platform=platform, event_id=event_id, ticket_id=ticket_id, kind=kind, message_id=message_id,
        weak_id=not message_id,
        author_role=CUSTOMER, author_id=author_id,
        subject_hint=as_str(data.get("ticket_subject")),
        body_hint=latest or as_str(data.get("ticket_description")),
        requester_name=as_str(data.get("requester_name")), requester_email=as_str(data.get("requester_email")),
        tags_hint=tag_list,
        raw_type=trig or None,
        channel=channel_of(data.get("ticket_source") or data.get("source")),
    )


# --------------------------------------------------------------------------------------------
# REST adapter
# --------------------------------------------------------------------------------------------

PRIORITY_OUT = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
PRIORITY_IN = {v: k for k, v in PRIORITY_OUT.items()}
STATUS_IN = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
SOURCE_IN = {1: "email", 2: "portal", 3: "phone", 7: "chat", 9: "feedback_widget", 10: "outbound_email"}
# Ticket `source` (a number in the API, its name in the `{{ticket.source}}` placeholder) → CHANNELS.
CHANNEL_MAP = {
    **dict.fromkeys(("1", "email", "10", "outbound_email"), "email"),
    **dict.fromkeys(("2", "portal", "9", "feedback_widget"), "web_form"),
    **dict.fromkeys(("3", "phone"), "phone"),
    **dict.fromkeys(("7", "chat", "8", "mobihelp", "12", "bot"), "chat"),
    **dict.fromkeys(("4", "forum", "5", "twitter", "6", "facebook", "13", "whatsapp"), "social"),
    "api": "api",
}


def channel_of(source: Any) -> str | None:
    """A Freshdesk ticket ``source`` (number or name) → a pipeline channel."""
    return normalize_channel(source, CHANNEL_MAP)
PAGE_SIZE = 100


class FreshdeskAdapter(RestAdapter):
    """Freshdesk REST API v2 (``{FRESHDESK_URL}/api/v2``), Basic ``api_key:X``."""

    platform = platform

    def _auth(self, ps: Any) -> tuple[str, str]:
        return (ps.api_token.get_secret_value(), "X")

    # -- read -------------------------------------------------------------------------------
    def fetch_ticket(self, ticket_id: str, hint: Any = None) -> Ticket:
        """The ticket with its requester, then conversation pages until a short page."""
        tid = self._ticket_id(ticket_id)
        t = self.http.get(f"/api/v2/tickets/{tid}", {"include": "requester"}) or {}
        return self.ticket_from(t, self.conversations(self.http.get, tid), hint)

    def conversations(self, get: Callable[[str, dict[str, Any]], Any], tid: str) -> list[dict[str, Any]]:
        """A ticket's conversations through ``get`` (live client or backtest reader), with at most
        ``MAX_THREAD_PAGES`` page requests: a thread's cost is bounded whatever its history.

        A thread longer than the cap is read from both ends, as Zendesk's and Gorgias's are. The
        conversations endpoint has no sort order and no total, so its last page is found by page
        number (doubling past the oldest pages read, then halving the gap) inside the same budget,
        and the pages before it are read back while the budget lasts.
        """
        path = f"/api/v2/tickets/{tid}/conversations"
        state = {"oldest": 0}

        def page(n: int) -> list[dict[str, Any]]:
            batch = get(path, {"page": n, "per_page": PAGE_SIZE}) or []
            return [c for c in batch if isinstance(c, dict)] if isinstance(batch, list) else []

        def read(limit: int, newest_first: bool) -> tuple[list[dict[str, Any]], bool]:
            if newest_first:
                return self._newest_pages(page, state["oldest"], limit)
            out: list[dict[str, Any]] = []
            for n in range(1, limit + 1):
                batch = page(n)
                out.extend(batch)
                state["oldest"] = n
                if len(batch) < PAGE_SIZE:
                    return out, False
            return out, True

        return read_both_ends(read, MAX_THREAD_PAGES, f"freshdesk ticket {tid}")

    @staticmethod
    def _newest_pages(page: Callable[[int], list[dict[str, Any]]], after: int,
                      limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Conversations past page ``after`` (known full), newest first, with at most ``limit`` requests;
        whether some were left unread.

        The last page is searched for: pages ``after`` + step with the step doubling until one is
        short or empty, then the gap halved. Every page fetched on the way is kept (a full one is
        part of the thread); then pages are read back from the last one while requests remain.
        """
        pages: dict[int, list[dict[str, Any]]] = {}
        lo, hi, last, step = after, None, None, max(1, after)  # lo: known full; hi: known past the end
        while len(pages) < limit:
            n = lo + step if hi is None else (lo + hi) // 2
            batch = pages[n] = page(n)
            if not batch:
                hi = n
            elif len(batch) < PAGE_SIZE:
                last = n
                break
            else:
                lo, step = n, step * 2
            if hi is not None and hi == lo + 1:
                last = lo
                break
        found = last is not None
        n = last if last is not None else lo
        while n > after and (n in pages or len(pages) < limit):
            if n not in pages:
                pages[n] = page(n)
            n -= 1
        out = [c for k in sorted((k for k in pages if k > after), reverse=True) for c in reversed(pages[k])]
        return out, not found or n > after

    def ticket_from(self, t: dict[str, Any], convs: list[dict[str, Any]], hint: Any = None) -> Ticket:
        """A ticket object (``include=requester``) and its conversations → a pipeline ``Ticket``."""
        tid = as_str(t.get("id")) or ""
        req = t.get("requester") if isinstance(t.get("requester"), dict) else {}
        requester_id = as_str(t.get("requester_id") or req.get("id"))
        channel = SOURCE_IN.get(t.get("source"), as_str(t.get("source")))
        messages: list[Message] = []
        if t.get("description") or t.get("description_text"):
            # The description is the first message; on an outbound email the agent wrote it.
            messages.append(Message(
                id=f"{tid}-description", author_role=AGENT if t.get("source") == 10 else CUSTOMER,
                body_text=t.get("description_text") or "", body_html=t.get("description"), public=True,
                author_id=requester_id, author_name=req.get("name"), author_email=req.get("email"),
                channel=channel, created_at=t.get("created_at")))
        messages.extend(self._message(c, requester_id, req) for c in convs)
        return Ticket(
            platform=platform, id=tid, subject=t.get("subject") or "", status=STATUS_IN.get(t.get("status"), as_str(t.get("status"))),
            priority=PRIORITY_IN.get(t.get("priority")), tags=[str(x) for x in t.get("tags") or []],
            custom_fields={str(k): v for k, v in (t.get("custom_fields") or {}).items()},
            requester=Person(id=requester_id, name=req.get("name"), email=req.get("email")),
            messages=messages, url=f"{self.base_url}/a/tickets/{tid}",
            channel=channel_of(t.get("source")) or (hint.channel if isinstance(hint, TicketEvent) else None),
            brand=as_str(t.get("product_id")), created_at=t.get("created_at"), updated_at=t.get("updated_at"),
        )

    def _message(self, c: dict[str, Any], requester_id: str | None, req: dict[str, Any]) -> Message:
        uid = as_str(c.get("user_id"))
        html, text = c.get("body"), c.get("body_text") or ""
        private = c.get("private") is True
        if self._is_own(uid, html, text):
            role = SIDECAR
        elif private:
            role = AGENT
        elif c.get("incoming") is True or (uid is not None and uid == requester_id):
            role = CUSTOMER
        else:
            role = AGENT
        mine = role == CUSTOMER and uid == requester_id
        return Message(id=str(c.get("id")), author_role=role, body_text=text, body_html=html, public=not private,
                       author_id=uid, author_name=req.get("name") if mine else None,
                       author_email=req.get("email") if mine else c.get("from_email"),
                       channel=SOURCE_IN.get(c.get("source")) if c.get("source") in (1, 3, 7) else None,
                       created_at=c.get("created_at"))

    # -- write ------------------------------------------------------------------------------
    def _update(self, ticket_id: str, changes: dict[str, Any]) -> Any:
        return self.http.put(f"/api/v2/tickets/{ticket_id}", changes)

    def post_internal_note(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        self._send_note_once(ticket, marker, lambda: self.http.post(
            f"/api/v2/tickets/{ticket.id}/notes", {"body": html, "private": True}))

    def add_tags(self, ticket: Ticket, tags: list[str]) -> None:
        """Freshdesk's PUT replaces the tags: read them fresh, merge, write the union."""
        current = (self.http.get(f"/api/v2/tickets/{ticket.id}") or {}).get("tags") or []
        merged = list(dict.fromkeys([*map(str, current), *tags]))
        if merged != list(current):
            self._update(ticket.id, {"tags": merged})

    def set_priority(self, ticket: Ticket, priority: str) -> None:
        if priority not in PRIORITY_OUT:
            raise PermanentError(f"freshdesk: unknown priority {priority!r} (low, normal, high, urgent)")
        self._update(ticket.id, {"priority": PRIORITY_OUT[priority]})

    def set_fields(self, ticket: Ticket, fields: dict[str, Any]) -> None:
        self._update(ticket.id, {"custom_fields": dict(fields)})

    def assign_group(self, ticket: Ticket, group_id: str) -> None:
        if not str(group_id).isdigit():
            raise PermanentError(f"freshdesk: group id must be a number (got {group_id!r})")
        self._update(ticket.id, {"group_id": int(group_id)})

    def find_agent(self, email: str) -> Person | None:
        """``GET /api/v2/agents?email=<email>``; the agent's email lives in its ``contact``."""
        key = email_key(email)
        if key is None:
            return None
        agents = self.http.get("/api/v2/agents", {"email": key}) or []
        for a in agents if isinstance(agents, list) else []:
            contact = a.get("contact") if isinstance(a, dict) and isinstance(a.get("contact"), dict) else {}
            if email_key(contact.get("email")) == key and as_str(a.get("id")) and contact.get("active") is not False:
                return Person(id=as_str(a.get("id")), name=contact.get("name"), email=contact.get("email"))
        return None

    def assign_agent(self, ticket_id: str, agent_id: str) -> None:
        if not str(agent_id).isdigit():
            raise PermanentError(f"freshdesk: agent id must be a number (got {agent_id!r})")
        self._update(str(ticket_id), {"responder_id": int(agent_id)})

    def apply_macro(self, ticket: Ticket, macro_id: str) -> str | None:
        """A canned response has no apply endpoint: its text goes into the note."""
        cr = self.http.get(f"/api/v2/canned_responses/{macro_id}") or {}
        html = cr.get("content_html")
        if not html and cr.get("content"):
            html = "<p>" + escape(cr["content"]).replace("\n", "<br>") + "</p>"
        return html or None

    def post_public_reply(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        self._send_reply_once(ticket, html, lambda: self.http.post(
            f"/api/v2/tickets/{ticket.id}/reply", {"body": html}))

    batch_updates = True

    def update_ticket(self, ticket: Ticket, *, tags: list[str] | None = None, fields: dict[str, Any] | None = None,
                      priority: str | None = None, group_id: str | None = None) -> None:
        """Everything in one ``PUT /tickets/{id}``; with tags, read the current ones first and merge."""
        if priority is not None and priority not in PRIORITY_OUT:
            raise PermanentError(f"freshdesk: unknown priority {priority!r} (low, normal, high, urgent)")
        if group_id is not None and not str(group_id).isdigit():
            raise PermanentError(f"freshdesk: group id must be a number (got {group_id!r})")
        changes: dict[str, Any] = {}
        if tags:
            current = (self.http.get(f"/api/v2/tickets/{ticket.id}") or {}).get("tags") or []
            merged = list(dict.fromkeys([*map(str, current), *tags]))
            if merged != list(current):
                changes["tags"] = merged
        if fields:
            changes["custom_fields"] = dict(fields)
        if priority:
            changes["priority"] = PRIORITY_OUT[priority]
        if group_id:
            changes["group_id"] = int(group_id)
        if changes:
            self._update(ticket.id, changes)
