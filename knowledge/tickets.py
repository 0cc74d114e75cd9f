"""Resolved tickets as knowledge: the customer's question and the agent's final public answer.

PII is redacted *before* anything is embedded or stored (:mod:`knowledge.redact`: emails,
IBANs, cards, CVVs, phones, dates, addresses, postcodes, order/ID/passport numbers, the names
the helpdesk knows, capitalised names after cues, any-case names after a self-introduction).
What remains is how the team answered a kind of question, which is what retrieval needs.
Internal notes and the sidecar's own notes are never indexed. Drafts never quote these
documents (see ``pipeline/draft.py``): they only inform an LLM draft as de-identified guidance
and are cited as "similar past ticket".
"""

from __future__ import annotations

import re

from knowledge.chunking import Document
from pipeline.models import AGENT, CUSTOMER, Ticket

MAX_QUESTION = 1500
MAX_ANSWER = 2500
CUT_MARGIN = 300


# The document's "## Agent answer" section is what another customer's LLM draft is shown as the team's
# guidance (pipeline.draft._passage_for_prompt) and what retrieval takes as the ticket's answer
# (knowledge.retrieve._has_answer): the customer's own words (question, subject) may neither open a
# heading nor say "agent answer", or a past customer would write what the next one's draft reads.
_ANSWER_WORDS = re.compile(r"(?i)agent\s+answer")
_HEADING_START = re.compile(r"(?m)^[ \t]*#+")


def _customer_words(text: str) -> str:
    return _ANSWER_WORDS.sub("agent's answer", _HEADING_START.sub("", text))


def redact_pii(text: str, names: list[str] | None = None) -> str:
    """``text`` with personal data replaced by placeholders (see :mod:`knowledge.redact`)."""
    from knowledge.redact import redact

    return redact(text, names, strict_names=True)


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
    subject = " ".join(_customer_words(redact_pii(ticket.subject or "", names)).split()) or "Resolved ticket"
    # Redacted, then cut: a cut first split "priya.sharma@gmail.com" into "priya.sharma@gmail", which no
    # longer reads as an address. The redaction reads CUT_MARGIN characters past the limit (longer than
    # any e-mail address, 254), so whatever straddles the limit is read whole.
    q = redact_pii(question[:MAX_QUESTION + CUT_MARGIN], names)[:MAX_QUESTION]
    a = redact_pii(answer[:MAX_ANSWER + CUT_MARGIN], names)[:MAX_ANSWER]
    text = f"# {subject}\n\n## Customer question\n{_customer_words(q)}\n\n## Agent answer\n{a}"
    return Document(
        doc_id=f"ticket:{ticket.platform}:{ticket.id}",
        title=f"Resolved ticket: {subject}",
        text=text,
        url=ticket.url,  # the agent UI; only ever shown to agents
        source_type="ticket",
        updated_at=ticket.updated_at or "",
        # The ticket's platform-scoped brand ("zendesk:123", "gorgias:" without one): never "" (every brand),
        # and never a bare id another platform's brand may share (knowledge.brands).
        brand=ticket.brand_scope,
    )


def ingest_ticket(ticket: Ticket, store) -> int:
    """Index one resolved ticket (replacing its previous version); returns the number of chunks embedded."""
    from knowledge.ingest import ingest_documents

    doc = document_from_ticket(ticket)
    if doc is None:
        return 0
    return ingest_documents(store, [doc], origin="tickets", prune=False, progress=False).added
