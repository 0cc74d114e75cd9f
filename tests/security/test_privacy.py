"""Privacy: one customer's data never reaches another customer.

* 105 realistic resolved tickets in 7 languages (tests/fixtures/privacy/resolved_tickets.json,
  made by make_corpus.py beside it) with 850+ planted personal values go through
  ``kb add-tickets``' path; the stored documents, metadata and every text sent to the embedder
  are grepped for each value: 0 found.
* Past tickets are never quoted into drafts or replies, are cited as "similar past ticket", and
  a draft grounded only on them is never auto-replied.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from knowledge.redact import deidentify, redact
from knowledge.tickets import document_from_ticket, ingest_ticket
from pipeline.config import load_config
from pipeline.draft import build_messages, drafting_config, template_draft
from pipeline.guards import review
from pipeline.models import AGENT, CUSTOMER, Draft, Message, Person, Plan, Source, Ticket, Triage
from pipeline.note import render_note
from pipeline.rules import allow_auto_reply
from tests.knowledge.kbfixtures import counting_store  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = json.loads((ROOT / "tests" / "fixtures" / "privacy" / "resolved_tickets.json").read_text(encoding="utf-8"))


def _ticket(t: dict) -> Ticket:
    return Ticket(platform=t["platform"], id=t["id"], subject=t["subject"], url=f"https://acme.example/tickets/{t['id']}",
                  requester=Person(id="1", name=t["requester"]["name"], email=t["requester"]["email"]),
                  updated_at="2026-10-01T10:00:00Z",
                  messages=[Message(id="1", author_role=CUSTOMER, body_text=t["question"],
                                    author_name=t["requester"]["name"]),
                            Message(id="2", author_role=AGENT, body_text=t["answer"], author_name=t["agent"])])


class _Blob:
    """The text searched for planted values, with its lower-case and separator-free forms made once (not per value)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()
        self.compact = re.sub(r"[\s./-]", "", text)


def _found(value: str, blob: _Blob) -> bool:
    """A planted value in ``blob``: verbatim, case-insensitively, or (for numbers) with its separators dropped."""
    if re.fullmatch(r"[^\W\d_][\w'’-]*", value) or re.fullmatch(r"\d{1,4}", value):
        # a name or a short number (CVV): as a whole word, so hashes in metadata do not count
        return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", blob.text) is not None
    if value.lower() in blob.lower:
        return True
    compact = re.sub(r"[\s./-]", "", value)
    return sum(c.isdigit() for c in compact) >= 5 and compact in blob.compact


def test_corpus_is_big_and_varied_enough():
    assert len(CORPUS) >= 100
    assert {t["language"] for t in CORPUS} == {"en", "fr", "es", "de", "it", "nl", "pt"}
    assert sum(len(t["planted"]) for t in CORPUS) >= 800


def test_no_planted_value_is_stored_or_embedded(counting_store):  # noqa: F811
    store, counter = counting_store
    for t in CORPUS:
        assert ingest_ticket(_ticket(t), store) >= 1
    stored = store.collection.get(include=["documents", "metadatas"])
    assert len(stored["documents"]) >= len(CORPUS)
    blob = "\n".join(stored["documents"]) + "\n" + json.dumps(stored["metadatas"], ensure_ascii=False) + "\n" + \
        "\n".join(counter.texts) + "\n" + "\n".join(stored["ids"])
    searched = _Blob(blob)
    leaks = [(t["id"], v) for t in CORPUS for v in t["planted"] if _found(v, searched)]
    assert leaks == [], f"{len(leaks)} planted values stored: {leaks[:20]}"
    # What remains is still how the team answered: the guidance survives redaction.
    assert "carrier" in blob and "transporteur" in blob and "Erstattung" in blob


@pytest.mark.parametrize("text,name", [
    ("the courier Tomasz left it with the neighbour", "Tomasz"),
    ("Le livreur Jérôme a laissé le colis devant la porte", "Jérôme"),
    ("el repartidor Ibai dejó el paquete", "Ibai"),
    ("il corriere Gennaro ha lasciato il pacco", "Gennaro"),
])
def test_a_name_without_any_cue_is_removed_before_storage(text, name):
    t = Ticket(platform="zendesk", id="5", subject="Parcel",
               messages=[Message(id="1", author_role=CUSTOMER, body_text=text + "."),
                         Message(id="2", author_role=AGENT, body_text="Thanks, we contacted the carrier.")])
    doc = document_from_ticket(t)
    assert doc is not None and name not in doc.text and "[name]" in doc.text


@pytest.mark.parametrize("text,secret", [
    ("IBAN GB33BUKB20201555555555 please", "20201555555555"),
    ("IBAN: DE89 3704 0044 0532 0130 00", "0532 0130"),
    ("born on 14/03/1985", "14/03/1985"),
    ("CVV 737", "737"),
    ("call 555-0123", "555-0123"),
    ("call +44 20 7946 0958", "7946"),
    ("passport no. 533401372", "533401372"),
    ("deliver to 221B Baker Street, London NW1 6XE", "Baker"),
    ("my neighbour Ana Folau took it", "Folau"),
    ("I gave the parcel to Kowalczyk yesterday", "Kowalczyk"),
    ("le colis a été laissé chez Dubreuil", "Dubreuil"),
    ("das Paket liegt bei Frau Brandstätter", "Brandstätter"),
    ("lo ha recogido con Ibarrola", "Ibarrola"),
])
def test_redaction_catches_each_kind(text, secret):
    assert secret not in redact(text)


# ---------------------------------------------------------------- past tickets in drafts

TICKET_TEXT = ("# Lost parcel\n\n## Customer question\nMy order 88123 never came to 4 Elm Road.\n\n## Agent answer\n"
               "So sorry about this. We will reimburse it as a one-off gesture and send a new parcel to 4 Elm Road, "
               "passport 533401372 noted.")
PAST = Source(id="ticket:zendesk:1:0", title="Resolved ticket: order 88123 for Maria Lopez", url="https://acme.example/t/1",
              score=0.9, text=TICKET_TEXT, source_type="ticket")
POLICY = Source(id="kb:shipping", title="Lost or damaged parcel", score=0.6, source_type="policy",
                text="If tracking shows no movement for 7 days, contact us and we open an investigation with the carrier.")


def _triage() -> Triage:
    return Triage(intent="order_status", confidence=0.97, language="en")


def _plan() -> Plan:
    return Plan(intent="order_status", band="high", draft=True, auto_reply=True)


def _customer() -> Ticket:
    return Ticket(platform="zendesk", id="9", subject="parcel", requester=Person(name="Tom Reed"),
                  messages=[Message(id="1", author_role=CUSTOMER, body_text="Where is my parcel? It never came.")])


def test_template_draft_never_quotes_a_past_ticket():
    cfg = load_config(ROOT / "config")
    d = review(template_draft(_customer(), "Where is my parcel? It never came.", _triage(), _plan(), [PAST, POLICY], cfg))
    for leaked in ("88123", "Elm Road", "533401372", "reimburse", "one-off"):
        assert leaked not in d.text, leaked
    assert "open an investigation" in d.text  # the policy is still used
    assert d.used_source_ids == [POLICY.id]


def test_a_draft_grounded_only_on_past_tickets_is_flagged_and_never_auto_replied():
    cfg = load_config(ROOT / "config")
    d = review(template_draft(_customer(), "Where is my parcel? It never came.", _triage(), _plan(), [PAST], cfg))
    assert "reimburse" not in d.text and "88123" not in d.text
    assert any("past tickets" in w for w in d.warnings)
    assert allow_auto_reply(_plan(), d)[0] is False
    # Even with the warnings stripped (another drafter), the last gate refuses it.
    llm = Draft(text="Your parcel is on its way, we checked with the carrier.", kind="llm", sources=[PAST],
                used_source_ids=[PAST.id], confidence=0.9)
    ok, why = allow_auto_reply(_plan(), llm)
    assert not ok and "past tickets" in why


def test_llm_draft_copying_a_past_ticket_is_flagged():
    d = Draft(text="So sorry about this. We will reimburse it as a one-off gesture and send a new parcel.",
              kind="llm", sources=[POLICY, PAST], used_source_ids=[POLICY.id], confidence=0.9)
    review(d)
    assert any("another customer's ticket" in w for w in d.warnings)
    assert allow_auto_reply(_plan(), d)[0] is False


def test_past_ticket_reaches_the_model_only_as_deidentified_guidance():
    msgs = build_messages(_customer(), "Where is my parcel?", _triage(), [POLICY, PAST], drafting_config(None))
    user = msgs[1]["content"]
    assert "similar past ticket" in user and "never quote" in user
    for leaked in ("88123", "Elm Road", "533401372", "Maria", "Lopez", "My order"):
        assert leaked not in user, leaked
    assert "reimburse" in user  # the agent's answer is the guidance (promise guard still applies to the output)
    assert "88123" not in deidentify(TICKET_TEXT)


def test_note_cites_past_tickets_as_similar_past_ticket_never_by_subject():
    from pipeline.models import Outcome, TicketEvent

    d = Draft(text="Hello", kind="llm", sources=[POLICY, PAST], used_source_ids=[POLICY.id, PAST.id])
    out = Outcome(event=TicketEvent(platform="zendesk", event_id="e", ticket_id="9", kind="message_created"),
                  ticket_id="9", triage=_triage(), plan=_plan(), draft=d, marker="sidecar-event:e")
    html, text = render_note(out)
    assert "Similar past ticket" in text and "Similar past ticket" in html
    assert "Maria Lopez" not in text and "88123" not in text and "Maria Lopez" not in html
    assert "not a policy" in text
