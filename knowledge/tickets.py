"""Resolved tickets as knowledge: the customer's question and the agent's final public answer.

PII is redacted *before* anything is embedded or stored: email addresses, card numbers
(Luhn-valid or grouped 4-4-4-4), phone numbers (9+ digits) and the names of the requester and
of the answering agent. What remains is how the team answered a kind of question, which is what
retrieval needs. Internal notes and the sidecar's own notes are never indexed.
"""

from __future__ import annotations

import re

from knowledge.chunking import Document
from pipeline.models import AGENT, CUSTOMER, Ticket

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_CARDISH = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_GROUPED_CARD = re.compile(r"^\d{4}([ -])\d{4}\1\d{4}\1\d{4}$")
_PHONE = re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{6,}\d(?![\w/])")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$")
MAX_QUESTION = 1500
MAX_ANSWER = 2500


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_pii(text: str, names: list[str] | None = None) -> str:
    """``text`` with emails, card numbers, phone numbers and the given names replaced by placeholders."""
    text = _EMAIL.sub("[email]", text or "")

    def card(m: re.Match[str]) -> str:
        raw = m.group(0)
        digits = re.sub(r"\D", "", raw)
        if 13 <= len(digits) <= 19 and (_luhn(digits) or _GROUPED_CARD.match(raw.strip())):
            return "[card number]"
        return raw

    text = _CARDISH.sub(card, text)

    def phone(m: re.Match[str]) -> str:
        raw = m.group(0)
        if _DATE.match(raw.strip()) or len(re.sub(r"\D", "", raw)) < 9:
            return raw
        return "[phone]"

    text = _PHONE.sub(phone, text)
    for name in names or []:
        for part in {p for p in re.split(r"\s+", name or "") if len(p) >= 2}:
            text = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", "[name]", text, flags=re.I)
    return text


def document_from_ticket(ticket: Ticket) -> Document | None:
    """A redacted knowledge document from a resolved ticket, or None when it has no usable Q&A.

    The question is the customer's public messages before the agent's last public answer;
    the answer is that last public agent message.
    """
    from pipeline.normalize import message_text

    msgs = [m for m in ticket.messages if m.public]
    answer_idx = next((i for i in range(len(msgs) - 1, -1, -1) if msgs[i].author_role == AGENT), None)
    if answer_idx is None:
        return None
    question = "\n\n".join(message_text(m) for m in msgs[:answer_idx] if m.author_role == CUSTOMER).strip()
    answer = message_text(msgs[answer_idx]).strip()
    if not question or not answer:
        return None
    names = [ticket.requester.name or ""] + [m.author_name or "" for m in ticket.messages]
    subject = redact_pii(ticket.subject or "", names).strip() or "Resolved ticket"
    text = (f"# {subject}\n\n## Customer question\n{redact_pii(question[:MAX_QUESTION], names)}\n\n"
            f"## Agent answer\n{redact_pii(answer[:MAX_ANSWER], names)}")
    return Document(
        doc_id=f"ticket:{ticket.platform}:{ticket.id}",
        title=f"Resolved ticket: {subject}",
        text=text,
        url=ticket.url,  # the agent UI; only ever shown to agents
        source_type="ticket",
        updated_at=ticket.updated_at or "",
        brand=ticket.brand or "",
    )


def ingest_ticket(ticket: Ticket, store) -> int:
    """Index one resolved ticket (replacing its previous version); returns the number of chunks embedded."""
    from knowledge.ingest import ingest_documents

    doc = document_from_ticket(ticket)
    if doc is None:
        return 0
    return ingest_documents(store, [doc], origin="tickets", prune=False, progress=False).added
