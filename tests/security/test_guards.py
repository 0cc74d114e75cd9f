"""Nothing unsafe reaches a customer: the guards on drafts and the public reply format.

Each test failed on the code before issue 11: host-like links without a known TLD, full-width
and spelled-out hosts; promises in IT/NL/PT or of free shipping / "on us"; a policy that merely
mentions refunds "backing" an invented one; template drafts never checked; authority claims and
requests for card data not flagged; public replies sent as raw HTML.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.base import MemoryStepLog, reply_html
from pipeline.config import load_config
from pipeline.draft import sanitize_model_text, template_draft
from pipeline.guards import authority_claims, find_links, promises, review, secret_requests, unbacked_promises
from pipeline.models import CUSTOMER, Draft, Message, Outcome, Person, Plan, Source, Ticket, TicketEvent, Triage
from pipeline.note import render_note
from pipeline.rules import allow_auto_reply
from tests.adapters.test_contract import KITS, make

ROOT = Path(__file__).resolve().parents[2]
POLICY = Source(id="p", title="Refunds", source_type="policy", score=0.9,
                text="Refunds are issued to the original payment method within 5 working days of receiving the return.")


@pytest.mark.parametrize("text", [
    "Claim at refund-desk.support/claim today", "go to ｅｖｉｌ．ｅｘａｍｐｌｅ now", "type evil dot example slash track",
    "see evil[.]example/x", "mail claims@refund-desk.support", "visit e v i l . c o m", "еvil.соm (Cyrillic)",
    "open https://x.example", "[here](http://x.example)", "<a href='http://x.example'>x</a>", "www.x.example",
    "bit.ly/abc", "evil . example",
])
def test_link_filter_removes_every_host_like_token(text):
    clean, removed = sanitize_model_text(text)
    assert removed and not find_links(clean), clean


def test_link_filter_keeps_ordinary_text():
    for text in ["Thanks for waiting. We ship in 3-5 days, e.g. the U.S. warehouse ships 2.5 kg parcels.",
                 "Your order #1234 ships on Monday."]:
        assert sanitize_model_text(text) == (text, False)


@pytest.mark.parametrize("text,cat", [
    ("We will refund you", "refund"), ("Nous vous rembourserons", "refund"), ("Le reembolsaremos", "refund"),
    ("Wir erstatten den Betrag", "refund"), ("La rimborseremo", "refund"), ("We betalen u het bedrag terug", "refund"),
    ("Vamos reembolsá-lo", "refund"), ("a store credit", "credit"), ("un avoir", "credit"), ("tegoed", "credit"),
    ("10% off", "discount"), ("uno sconto", "discount"), ("korting", "discount"), ("um desconto", "discount"),
    ("a replacement", "replacement"), ("un articolo sostitutivo", "replacement"), ("we vervangen het", "replacement"),
    ("free shipping", "free_shipping"), ("livraison gratuite", "free_shipping"), ("spedizione gratuita", "free_shipping"),
    ("gratis verzending", "free_shipping"), ("frete grátis", "free_shipping"), ("envío gratis", "free_shipping"),
    ("as compensation", "compensation"), ("een vergoeding", "compensation"), ("uma indemnização", "compensation"),
    ("this one is on us", "on_us"), ("op onze kosten", "on_us"), ("por nossa conta", "on_us"),
    ("rеfund (Cyrillic е)", "refund"), ("r e f u n d", "refund"), ("a one-off exception", "exception"),
])
def test_promise_vocabulary_in_seven_languages(text, cat):
    assert cat in promises(text)


def test_backing_needs_the_specific_promise_not_a_mention():
    # The policy mentions refunds; it does not say "today" nor "as a one-off": not backed.
    assert unbacked_promises("We will refund you today as a one-off gesture.", [POLICY]) != []
    assert unbacked_promises("Refunds are processed quickly.", [POLICY]) == ["refund"]
    # The policy's own sentence, quoted, is backed; past tickets never back anything.
    assert unbacked_promises(POLICY.text, [POLICY]) == []
    past = Source(id="t", title="t", source_type="ticket", text=POLICY.text)
    assert unbacked_promises(POLICY.text, [past]) == ["refund"]


@pytest.mark.parametrize("text", [
    "As the store manager I approve your refund.", "I have approved an exception.", "En tant que gérant, j'autorise le retour.",
    "Como gerente, autorizo el cambio.", "Als Filialleiter genehmige ich das.", "In qualità di responsabile approvo.",
    "Als manager geef ik toestemming.", "Como gerente, aprovo o pedido.",
])
def test_authority_claims_are_found(text):
    assert authority_claims(text)


@pytest.mark.parametrize("text", [
    "Please send your card number and CVV.", "What is your password?", "Merci d'indiquer le cryptogramme.",
    "Indique el código de seguridad.", "Bitte nennen Sie Ihre Kartennummer.", "Inviaci il numero della carta.",
    "Stuur uw wachtwoord.", "Envie a sua senha.", "Reply with the one-time code we sent.",
])
def test_requests_for_secrets_are_found(text):
    assert secret_requests(text)


def _plan() -> Plan:
    return Plan(intent="order_status", band="high", draft=True, auto_reply=True)


@pytest.mark.parametrize("text", [
    "As the store manager I approve a 20% discount on your next order [1].",
    "Please reply with your card number and CVV so we can check [1].",
])
def test_flagged_drafts_are_never_auto_replied_and_the_note_says_why(text):
    d = review(Draft(text=text, kind="llm", sources=[POLICY], used_source_ids=["p"], confidence=0.95))
    assert d.warnings
    ok, why = allow_auto_reply(_plan(), d)
    assert not ok
    out = Outcome(event=TicketEvent(platform="zendesk", event_id="e", ticket_id="1"), ticket_id="1",
                  triage=Triage(intent="order_status", confidence=0.97), plan=_plan(), draft=d, marker="m")
    html, note = render_note(out)
    assert any(w in note for w in d.warnings)
    # The last gate checks the text itself, even if a drafter forgot the warnings.
    bare = Draft(text=text, kind="llm", sources=[POLICY], used_source_ids=["p"], confidence=0.95)
    assert allow_auto_reply(_plan(), bare)[0] is False


def test_template_drafts_go_through_the_promise_guard():
    cfg = load_config(ROOT / "config")
    art = Source(id="ship", title="Shipping", source_type="article", score=0.9,
                 text="Orders over 50 euros ship with free shipping to every EU country within three working days.")
    ticket = Ticket(platform="zendesk", id="1", subject="x", requester=Person(name="Ana"),
                    messages=[Message(id="1", author_role=CUSTOMER, body_text="Where is my order?")])
    plan = Plan(intent="order_status", band="high", draft=True, auto_reply=True)
    d = review(template_draft(ticket, "Where is my order?", Triage(intent="order_status", confidence=0.95), plan,
                              [art], cfg))
    # Quoted word for word from the store's article: backed.
    assert "free shipping" in d.text and not any(w.startswith("Ungrounded claim") for w in d.warnings)
    # The same template text with the promise changed is caught: templates are checked too.
    d2 = review(Draft(text=d.text.replace("Orders over 50 euros", "All your orders"), kind="template",
                      sources=[art], used_source_ids=["ship"]))
    assert any(w.startswith("Ungrounded claim") for w in d2.warnings)
    assert allow_auto_reply(plan, d2)[0] is False


def test_reply_html_is_escaped_with_line_breaks():
    html = reply_html("Hi <b>Ana</b>,\nline two & <script>x()</script>\n\nBest")
    assert html == "<p>Hi &lt;b&gt;Ana&lt;/b&gt;,<br>line two &amp; &lt;script&gt;x()&lt;/script&gt;</p><p>Best</p>"


@pytest.mark.parametrize("kit", KITS, ids=[k.name for k in KITS])
def test_public_replies_are_escaped_html_on_every_platform(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    out = Outcome(event=TicketEvent(platform=kit.name, event_id="ev-r", ticket_id=fake.tid), ticket_id=fake.tid,
                  note_html="<p>note</p>", note_text="note", marker="sidecar-event:ev-r",
                  public_reply="Hello <img src=x onerror=alert(1)>\nYour order ships <b>today</b>.")
    adapter.write_back(t, out, MemoryStepLog())
    sent = fake.replies()
    assert len(sent) == 1
    assert sent[0] == "<p>Hello &lt;img src=x onerror=alert(1)&gt;<br>Your order ships &lt;b&gt;today&lt;/b&gt;.</p>"
