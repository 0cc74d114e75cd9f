"""Resolved tickets as knowledge: Q&A extraction and PII redaction before indexing."""

from __future__ import annotations

from knowledge.retrieve import search
from knowledge.tickets import document_from_ticket, ingest_ticket, redact_pii
from pipeline.models import AGENT, CUSTOMER, SIDECAR, Message, Person, Ticket

PII = ["jane.doe+shop@gmail.com", "+33 6 12 34 56 78", "(555) 123-4567", "4111 1111 1111 1111", "Jane", "Doe"]


def _ticket() -> Ticket:
    return Ticket(
        platform="zendesk", id="881", subject="Charged twice for order 10423", url="https://acme.zendesk.example/agent/tickets/881",
        requester=Person(id="1", name="Jane Doe", email="jane.doe+shop@gmail.com"), updated_at="2026-09-02T10:00:00Z",
        messages=[
            Message(id="1", author_role=CUSTOMER, body_text=(
                "Hi, I'm Jane Doe. My card 4111 1111 1111 1111 was charged twice for order 10423 on 2026-09-01. "
                "Call me on +33 6 12 34 56 78 or (555) 123-4567, or mail jane.doe+shop@gmail.com.")),
            Message(id="2", author_role=SIDECAR, public=False, body_text="AI triage: billing"),
            Message(id="3", author_role=AGENT, author_name="Marc Agent", public=False, body_text="internal: checked Stripe"),
            Message(id="4", author_role=AGENT, author_name="Marc Agent", body_text=(
                "Hello Jane, the second charge was only a pending authorisation and disappears within 3 to 7 days. "
                "Marc")),
        ],
    )


def test_redact_pii_removes_dates_and_order_numbers_too():
    # Conservative since issue 11: another customer's order number or date of birth is theirs too.
    out = redact_pii("Card 5500-0000-0000-0004, phone 020 7946 0958, mail a.b@c.co.uk, order 10423 on 2026-09-01")
    assert "[card number]" in out and "[phone]" in out and "[email]" in out
    assert "10423" not in out and "2026-09-01" not in out and "[date]" in out
    assert "5500" not in out and "7946" not in out and "a.b@" not in out


def test_document_from_ticket_is_question_and_final_answer_redacted():
    doc = document_from_ticket(_ticket())
    assert doc is not None and doc.source_type == "ticket" and doc.doc_id == "ticket:zendesk:881"
    assert "## Customer question" in doc.text and "## Agent answer" in doc.text
    assert "pending authorisation" in doc.text
    assert "internal: checked Stripe" not in doc.text and "AI triage" not in doc.text
    for secret in PII + ["Marc"]:
        assert secret not in doc.text and secret not in doc.title, secret
    assert "[card number]" in doc.text and "[email]" in doc.text and doc.text.count("[phone]") == 2


def test_ticket_without_public_agent_answer_is_skipped():
    t = _ticket()
    t.messages = [m for m in t.messages if m.author_role != AGENT or not m.public]
    assert document_from_ticket(t) is None


def test_ingested_ticket_is_searchable_and_stores_no_pii(counting_store):
    store, counter = counting_store
    assert ingest_ticket(_ticket(), store) >= 1
    embedded = "\n".join(counter.texts)
    stored = store.collection.get(include=["documents", "metadatas"])
    blob = embedded + "\n".join(stored["documents"]) + repr(stored["metadatas"])
    for secret in PII:
        assert secret not in blob, secret
    hit = search(store, "I see the same payment two times on my bank account", k=1)[0]
    assert hit.id == "ticket:zendesk:881" and hit.source_type == "ticket"
    # Re-indexing the same ticket embeds nothing new.
    counter.texts.clear()
    assert ingest_ticket(_ticket(), store) == 0 and counter.texts == []
