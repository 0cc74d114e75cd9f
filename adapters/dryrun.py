"""Dry-run adapter: what a platform without URL/credentials would write goes to ``var/outbox``.

This is what a newcomer sees first: the whole pipeline runs, and every write it would have
made is appended to ``var/outbox/<platform>.jsonl`` and logged, clearly marked DRY RUN.
The ticket is built from the webhook body (the hint), since there is no API to fetch it from.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from adapters.base import Adapter, BadPayload, PermanentError, check_ticket_id
from pipeline.models import CUSTOMER, Message, Person, Ticket, TicketEvent

log = logging.getLogger(__name__)


class DryRunAdapter(Adapter):
    dry_run = True

    def __init__(self, platform: str, outbox_dir: str | Path):
        self.platform = platform
        self.path = Path(outbox_dir) / f"{platform}.jsonl"

    # ---------------------------------------------------------------- reads

    def fetch_ticket(self, ticket_id: str, hint: Any = None) -> Ticket:
        try:
            ticket_id = check_ticket_id(ticket_id)
        except BadPayload:
            raise PermanentError(f"{self.platform}: ticket id must be a number") from None
        ev = hint if isinstance(hint, TicketEvent) else None
        messages = []
        if ev is not None and (ev.body_hint or ev.subject_hint):
            messages.append(Message(id=ev.message_id or f"hint-{ev.event_id}", author_role=CUSTOMER,
                                    body_text=ev.body_hint or "", body_html=None, public=True,
                                    author_id=ev.author_id, author_name=ev.requester_name,
                                    author_email=ev.requester_email))
        # Notes already "posted" to the outbox are part of the thread, so retries see their marker.
        for entry in self._entries(ticket_id):
            if entry.get("action") == "note":
                messages.append(Message(id=f"outbox-{entry.get('at')}", author_role="sidecar",
                                        body_text=entry.get("text", ""), body_html=entry.get("html"), public=False))
        return Ticket(platform=self.platform, id=str(ticket_id), subject=(ev.subject_hint if ev else "") or "",
                      tags=list(ev.tags_hint) if ev else [],
                      requester=Person(name=ev.requester_name if ev else None, email=ev.requester_email if ev else None),
                      messages=messages, url=None, channel=ev.channel if ev else None)

    def _entries(self, ticket_id: str) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if str(e.get("ticket_id")) == str(ticket_id):
                    out.append(e)
        return out

    # ---------------------------------------------------------------- writes

    def _write(self, action: str, ticket: Ticket, **data: Any) -> None:
        entry = {"dry_run": True, "platform": self.platform, "ticket_id": ticket.id, "action": action,
                 "at": time.time(), **data}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The outbox holds customer text: owner-only (0600) from the moment it is created.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # an outbox left by an older version may be world-readable
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # several threads/processes may append at once
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        summary = {k: v for k, v in data.items() if k not in ("html", "text")}
        log.info("DRY RUN %s ticket %s: would %s %s", self.platform, ticket.id, action, json.dumps(summary)[:300])

    def post_internal_note(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        if any(marker in (e.get("html") or "") for e in self._entries(ticket.id) if e.get("action") == "note"):
            log.info("DRY RUN %s ticket %s: note %s already in the outbox", self.platform, ticket.id, marker)
            return
        self._write("note", ticket, html=html, text=text, marker=marker)
        log.info("DRY RUN %s ticket %s: internal note\n%s", self.platform, ticket.id, text)

    def add_tags(self, ticket: Ticket, tags: list[str]) -> None:
        self._write("tags", ticket, tags=tags)

    def set_priority(self, ticket: Ticket, priority: str) -> None:
        self._write("priority", ticket, priority=priority)

    def set_fields(self, ticket: Ticket, fields: dict[str, Any]) -> None:
        self._write("fields", ticket, fields=fields)

    def apply_macro(self, ticket: Ticket, macro_id: str) -> str | None:
        self._write("macro", ticket, macro_id=macro_id)
        return None

    def assign_group(self, ticket: Ticket, group_id: str) -> None:
        self._write("assign", ticket, group_id=group_id)

    def find_agent(self, email: str) -> Person | None:
        # No API to ask: the agent is taken to be the one with this email (the outbox says so).
        return Person(id=email, email=email)

    def assign_agent(self, ticket_id: str, agent_id: str) -> None:
        self._write("assign_agent", Ticket(platform=self.platform, id=str(ticket_id)), agent=agent_id)

    def post_public_reply(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        self._write("public_reply", ticket, html=html, text=text, marker=marker)


class PreviewAdapter(DryRunAdapter):
    """Reads the real helpdesk, writes to the outbox: ``replay`` of a live ticket without ``--write``.

    The ticket (thread, tags, fields) is the real one, so the preview decides what the pipeline
    would decide; every write is appended to ``var/outbox/<platform>.jsonl`` instead, so replaying
    a ticket never writes to a live helpdesk a second time unless the operator asks.
    """

    def __init__(self, real: Adapter, outbox_dir: str | Path):
        super().__init__(real.platform, outbox_dir)
        self.real = real

    def fetch_ticket(self, ticket_id: str, hint: Any = None) -> Ticket:
        ticket = self.real.fetch_ticket(ticket_id, hint=hint)
        # Notes "posted" by earlier previews count as part of the thread (marker look-ups).
        for entry in self._entries(ticket_id):
            if entry.get("action") == "note":
                ticket.messages.append(Message(id=f"outbox-{entry.get('at')}", author_role="sidecar",
                                               body_text=entry.get("text", ""), body_html=entry.get("html"),
                                               public=False))
        return ticket
