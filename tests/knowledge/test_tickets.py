"""Resolved tickets as knowledge: Q&A extraction and PII redaction before indexing."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize("text, number", [
    # Short (4-digit) order numbers after the words customers write them with, in the seven languages:
    # the rules for 5+ digits do not catch these.
    ("my order no. 4521 never came", "4521"),
    ("order id 4521", "4521"),
    ("Bestellnummer 4521 ist nicht angekommen", "4521"),
    ("meine Bestellnummer ist 4521", "4521"),
    ("Bestell-Nr. 4521", "4521"),
    ("Auftragsnummer 4521", "4521"),
    ("Auftrag 4521 storniert", "4521"),
    ("Rechnungsnummer 4521", "4521"),
    ("order ref XK-2024-9981", "9981"),  # the dashed groups go with it
    ("bestelnummer 4521 is niet aangekomen", "4521"),
    ("ordernummer 4521", "4521"),
    ("ordine n. 4521 non arrivato", "4521"),
    ("pedido n.º 4521", "4521"),
    ("a minha encomenda n.º 4521", "4521"),
    ("n.º 4521", "4521"),
    ("n° 4521", "4521"),
    ("Nr. 4521", "4521"),
    ("Bestell\u200bnummer 4521", "4521"),  # an invisible character in the cue hides nothing
    ("Bestellnummer ４５２１", "4521"),  # nor full-width digits
    # The draft's cue words (pipeline.order_words), shared since 2026-12-02: the other languages triage names.
    ("min ordre 4521 er ikke kommet", "4521"),
    ("mit ordrenummer er 4521", "4521"),
    ("beställningsnummer 4521", "4521"),
    ("moje zamówienie 4521 nie dotarło", "4521"),
    ("objednávka 4521 nedorazila", "4521"),
    ("sipariş numarası 4521", "4521"),
    ("\u043erder 4521 never came", "4521"),  # a Cyrillic о in the cue word
    ("número de orden 4521", "4521"),
])
def test_short_order_numbers_after_multilingual_cues_are_redacted(text, number):
    out = redact_pii(text)
    assert number not in out and "[order number]" in out, out


@pytest.mark.parametrize("text", [
    "I have no 2024 invoice",  # English "no" (what "nº" folds to) before a year is no order number
    "I ordered 2 in 2024",
    "order 3 items",
])
def test_what_is_no_order_number_is_kept(text):
    assert "[order number]" not in redact_pii(text)


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


# ---------------------------------------------------------------- names in lower case after a self-introduction

# (text, the name's words): each language's cue, typed in lower case as customers do.
_SELF_INTRODUCED = [
    ("my name is priya sharma, my parcel never came", ["priya", "sharma"]),
    ("hi, this is tom from accounting, the invoice is wrong", ["tom"]),
    ("bonjour, je m'appelle julie et mon colis est perdu", ["julie"]),
    ("je m’appelle julie", ["julie"]),  # typographic apostrophe
    ("hallo, ich heiße anna und mein paket fehlt", ["anna"]),
    ("ich heisse anna", ["anna"]),
    ("hola, me llamo carlos y no llegó mi pedido", ["carlos"]),
    ("buongiorno, mi chiamo giulia e il pacco non è arrivato", ["giulia"]),
    ("hoi, mijn naam is sanne van dijk en mijn pakket is kwijt", ["sanne", "dijk"]),
    ("olá, o meu nome é joão silva e a encomenda não chegou", ["joão", "silva"]),
    ("chamo-me rita, a encomenda não chegou", ["rita"]),
    ("name: john smith\nthe order never arrived", ["john", "smith"]),
    ("please refund it.\nsigned, mark", ["mark"]),
    ("thanks,\nmark", ["mark"]),
    ("mon nom est zoë durand", ["zoë", "durand"]),
    ("my name is anne-marie", ["anne-marie"]),
    ("mi nombre es josé", ["josé"]),
    ("mein name ist jürgen", ["jürgen"]),
    ("il mio nome è lucia", ["lucia"]),
    ("ik heet pieter", ["pieter"]),
    ("meu nome é conceição", ["conceição"]),
]


def _words(text: str) -> set[str]:
    import re

    return {w.lower() for w in re.findall(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*", text)}


@pytest.mark.parametrize("text,names", _SELF_INTRODUCED)
def test_a_lower_case_name_after_a_self_introduction_is_redacted(text, names):
    out = redact_pii(text)
    assert "[name]" in out and not set(names) & _words(out), out


@pytest.mark.parametrize("text,names", _SELF_INTRODUCED)
def test_the_cue_in_mixed_or_upper_case_still_redacts(text, names):
    for variant in (text.upper(), "".join(c.upper() if i % 2 else c for i, c in enumerate(text))):
        out = redact_pii(variant)
        assert not {n.lower() for n in names} & _words(out), out


@pytest.mark.parametrize("text,name", [
    ("my n\u200bame is priya", "priya"),  # zero-width space inside the cue
    ("m\u0443 n\u0430me is priya", "priya"),  # Cyrillic у and а
    ("\uff4d\uff59 \uff4e\uff41\uff4d\uff45 \uff49\uff53 priya", "priya"),  # full-width "my name is"
    ("je m\u2060'appelle julie", "julie"),  # word joiner
    ("ich hei\u00adße anna", "anna"),  # soft hyphen
    ("m\u0435 ll\u0430mo carlos", "carlos"),
])
def test_look_alike_and_invisible_characters_in_the_cue_do_not_hide_the_name(text, name):
    out = redact_pii(text)
    assert name not in _words(out) and "[name]" in out, out


def test_a_zero_width_cue_is_redacted_on_the_kb_add_tickets_path_too():
    t = _ticket()
    t.messages[0].body_text = "hello, my n\u200bame is priya sharma and I was charged twice."
    doc = document_from_ticket(t)
    assert doc is not None and "priya" not in doc.text.lower() and "sharma" not in doc.text.lower()
    assert "charged twice" in doc.text


@pytest.mark.parametrize("text,kept", [
    ("my name is on the order", "is on the order"),
    ("je m'appelle pour ma commande", "pour ma commande"),
    ("I am waiting for my refund", "I am waiting for my refund"),
    ("je suis très déçu", "je suis très déçu"),
    ("this is the second time I ask", "this is the second time I ask"),
    ("thanks for your help", "thanks for your help"),
    ("I signed up, but don't have a PIN", "I signed up, but"),  # "signe" is no cue inside "signed"
    ("i'm signed up for the plan", "i'm signed up for the plan"),
    ("thanks, bye", "thanks, bye"),
    ("name: 12345", ""),  # digits are not a name (and are redacted as a number)
])
def test_what_follows_a_cue_but_is_no_name_is_kept(text, kept):
    out = redact_pii(text)
    assert kept in out, out
    assert "[name]" not in out or text.startswith("name"), out


def test_a_name_stops_at_a_function_word_or_punctuation():
    assert redact_pii("this is tom from accounting") == "this is [name] from accounting"
    assert redact_pii("je m'appelle julie et j'attends") == "je m'appelle [name] et j'attends"
    assert redact_pii("my name is priya. my order is late") == "my name is [name]. my order is late"
    assert redact_pii("me llamo carlos y espero") == "me llamo [name] y espero"
