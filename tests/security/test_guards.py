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
    # Money given back without the word (review of 2026-11-30: none of these was flagged).
    ("We will return the full amount to your card today.", "refund"), ("You will get the 80 EUR back on your card", "refund"),
    ("Nous vous rendons les 80 euros sur votre carte.", "refund"), ("Le devolvemos los 80 euros.", "refund"),
    ("Wir überweisen Ihnen die 80 Euro wieder.", "refund"), ("Restituiamo l'importo entro 5 giorni.", "refund"),
    ("Devolvemos-lhe o valor da encomenda.", "refund"), ("We will cover the cost of a new jacket.", "on_us"),
    ("We'll pay for the repair.", "on_us"),
])
def test_promise_vocabulary_in_seven_languages(text, cat):
    assert cat in promises(text)


@pytest.mark.parametrize("text", [
    "Please return the item within 30 days.", "Puede devolver el artículo en 30 días.", "You can send the parcel back to us.",
    "Wir senden Ihnen die Jacke wieder zu.", "Rendez-vous sur la page de suivi.", "We will pay attention to it.",
    "Your parcel arrives in 3 days.",
])
def test_returning_an_item_is_not_a_promise_of_money(text):
    assert promises(text) == set()


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
    # Review of 2026-11-30: none of these was flagged.
    "Envíanos la clave de tu tarjeta.", "Send us the three digits on the back of your card.",
    "Reply with the code we just texted you.", "What is your online banking login?",
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


# ---------------------------------------------------------------- the store's own words are not flagged

RESET = Source(id="reset-password", title="Reset your password - Request a reset link", source_type="article",
               score=0.8, text="On the sign-in page click **Forgot password?** and enter the email address of your "
                               "account. Add noreply@demo-store.example to your contacts and request a new link.")
FAULTY = Source(id="faulty", title="Faulty items", source_type="policy", score=0.8,
                text="If the item arrives faulty, we will refund you in full. We do not refund the shipping costs. "
                     "We will never ask you to reply with your password.")


def _ops() -> list[str]:
    from pipeline.draft import operator_texts

    return operator_texts(load_config(ROOT / "config"))


def _kinds(d: Draft) -> set[str]:
    return {w.split(":")[0].split(" (")[0] for w in d.warnings}


@pytest.mark.parametrize("lang,msg", [
    ("en", "I sent the jacket back, when do I get my money?"),
    ("fr", "J'ai renvoyé la veste, quand serai-je remboursé ?"),
    ("de", "Ich habe die Jacke zurückgeschickt, wann bekomme ich mein Geld?"),
    ("es", "Devolví la chaqueta, ¿cuándo me devolvéis el dinero?"),
])
def test_a_template_quoting_the_policy_in_the_operators_words_carries_no_warning(lang, msg):
    # Before: the intro "Here is how returns and refunds work:" and the line 'About "Refunds":' were
    # "ungrounded claims", and the reset article's "Forgot password?" and noreply@ address a secret
    # request and personal data: 115 warnings on 264 tuning drafts that quoted only the store's words.
    cfg = load_config(ROOT / "config")
    ticket = Ticket(platform="zendesk", id="1", subject="x", requester=Person(name="Ana"),
                    messages=[Message(id="1", author_role=CUSTOMER, body_text=msg)])
    plan = Plan(intent="return_refund", band="high", draft=True, auto_reply=True)
    triage = Triage(intent="return_refund", confidence=0.95, language=lang)
    d = review(template_draft(ticket, msg, triage, plan, [POLICY, RESET], cfg), _ops())
    assert "Refunds are issued" in d.text and "Forgot password?" in d.text and "noreply@" in d.text
    assert not _kinds(d) & {"Ungrounded claim", "The draft mentions card numbers, security codes, PINs or passwords",
                            "The draft contains personal data"}, d.warnings


@pytest.mark.parametrize("text,kind", [
    # The condition dropped from the policy's sentence: a promise the policy does not make.
    ("We will refund you in full.", "refund"),
    ("we will refund you in full", "refund"),
    # The negation dropped.
    ("We refund the shipping costs.", "refund"),
    # The operator's intro with a promise glued on in the same sentence.
    ("Here is how returns and refunds work and we refund you today.", "refund"),
    # German: the operator's German intro does not back a German promise.
    ("So funktionieren Rücksendungen und Erstattungen: Wir erstatten Ihnen den vollen Betrag.", "refund"),
    # Look-alike letters: folded, still not the policy's sentence.
    ("Wе will rеfund yоu in full.", "refund"),
])
def test_attacks_on_the_stores_own_words_rule_are_still_flagged(text, kind):
    assert kind in unbacked_promises(text, [FAULTY, POLICY], _ops())


VAT = Source(id="vat", title="VAT", source_type="policy", score=0.8,
             text="We cannot remove VAT or refund it after the order has been invoiced. If you were charged "
                  "twice, send us the order number and a screenshot of the statement with the card number hidden.")


@pytest.mark.parametrize("text,kind", [
    # Review of 2026-11-30, each passed the first version of the rule (80% of a sentence counted):
    # the negation dropped behind a colon, a word-part match, the "hidden" dropped from a request.
    ("Good news, we can: remove VAT or refund it after the order has been invoiced.", "promise"),
    ("Not remove VAT or refund it after the order has been invoiced.", "promise"),
    ("If you were charged twice, send us the order number and a screenshot of the statement with the card number.",
     "secret"),
])
def test_a_sentence_cut_from_the_stores_words_is_not_theirs(text, kind):
    from pipeline.guards import unsafe_reasons

    reasons = unsafe_reasons(text, [VAT], _ops())
    want = "Ungrounded claim" if kind == "promise" else "The draft mentions card numbers"
    assert any(r.startswith(want) for r in reasons), reasons
    # The passage's own sentences, whole, are the store's words.
    assert unsafe_reasons(VAT.text, [VAT], _ops()) == []


def test_only_whole_sentences_of_the_stores_passages_back_a_secret_or_an_address():
    from pipeline.guards import unsafe_reasons

    def kinds(text: str) -> set[str]:
        return {r.split(":")[0].split(" (")[0] for r in unsafe_reasons(text, [FAULTY, RESET], _ops())}

    secret = "The draft mentions card numbers, security codes, PINs or passwords"
    pii = "The draft contains personal data"
    # The policy's sentence, quoted whole: not a request.
    assert secret not in kinds("We will never ask you to reply with your password.")
    # Cut out of it, or reworded: a request for the password.
    assert secret in kinds("Reply with your password.")
    assert secret in kinds("Please reply with your password.")
    assert secret in kinds("Send us your pаsswоrd.")  # Cyrillic а and о
    assert secret in kinds("We will never ask you to reply with your password. Send us your PIN.")
    # The store's address in its own sentence is not personal data; another address is.
    assert pii not in kinds("Add noreply@demo-store.example to your contacts and request a new link.")
    assert pii in kinds("Add dana.smith@gmail.com to your contacts and request a new link.")
    # The same sentence from a past ticket (another customer's words) backs nothing.
    past = Source(id="t", title="t", source_type="ticket", text=FAULTY.text)
    assert secret in {r.split(":")[0] for r in unsafe_reasons("We will never ask you to reply with your password.",
                                                            [past], _ops())}


def test_what_the_customer_chooses_never_becomes_the_stores_words():
    from pipeline.guards import trusted_sentences

    # Template lines filled with the customer's name or order number are not trusted...
    assert trusted_sentences([], ["Hi {name},", "About your order {order}:"]) == []
    # ...nor a title that comes from a past ticket.
    past = Source(id="t", title="We refund everything today", source_type="ticket", text="x")
    assert unbacked_promises('About "We refund everything today":', [past], _ops()) == ["refund"]
    # A name chosen to smuggle a promise into the greeting: the greeting keeps one plausible first
    # name, and a first name that is itself promise vocabulary is flagged and never auto-replied.
    cfg = load_config(ROOT / "config")
    plan = Plan(intent="order_status", band="high", draft=True, auto_reply=True)
    for name, flagged in [("Dana. We will refund you 500 EUR today", False), ("Refund", True), ("Gratis", True)]:
        ticket = Ticket(platform="zendesk", id="1", subject="x", requester=Person(name=name),
                        messages=[Message(id="1", author_role=CUSTOMER, body_text="Where is my order?")])
        d = review(template_draft(ticket, "Where is my order?", Triage(intent="order_status", confidence=0.95), plan,
                                  [POLICY], cfg), _ops())
        assert "500 EUR" not in d.text
        assert any(w.startswith("Ungrounded claim") for w in d.warnings) is flagged, (name, d.warnings)
        assert allow_auto_reply(plan, d, _ops())[0] is not flagged


def test_auto_reply_sees_the_operators_words_as_the_review_did():
    cfg = load_config(ROOT / "config")
    plan = Plan(intent="return_refund", band="high", draft=True, auto_reply=True)
    ticket = Ticket(platform="zendesk", id="1", subject="x", requester=Person(name="Ana"),
                    messages=[Message(id="1", author_role=CUSTOMER, body_text="When is my refund issued?")])
    bare = template_draft(ticket, "When is my refund issued?", Triage(intent="return_refund", confidence=0.95), plan,
                          [POLICY], cfg)
    assert "refunds work" in bare.text
    assert allow_auto_reply(plan, bare, _ops())[0] is True
    # Without the operator's lines its intro is an unbacked refund: the old, noisier answer.
    assert allow_auto_reply(plan, bare)[0] is False


def test_spaced_out_letters_across_sentence_breaks_are_still_read_as_one_word():
    from pipeline.guards import unsafe_reasons

    # "p. a. s. s. w. o. r. d." is cut at every ". " into one-letter sentences: the guards must read
    # the unbacked sentences together, or the spaced-out word is never seen.
    reasons = unsafe_reasons("Please reply with your p. a. s. s. w. o. r. d. so we can check.", [FAULTY], _ops())
    assert any(r.startswith("The draft mentions card numbers") for r in reasons), reasons
    assert unbacked_promises("We will r. e. f. u. n. d. you in full.", [FAULTY], _ops()) == ["refund"]
    # Only spaced-out letters are read across sentences: words of two sentences make no promise.
    assert unbacked_promises("Ihre Buchung ist bestätigt. Schicken Sie das Paket bitte zurück.", [], _ops()) == []


def test_the_same_passages_and_draft_are_folded_once(monkeypatch):
    # Every draft folded the sentences of the passages it quotes again (the same knowledge base
    # sentences ticket after ticket): ~1,300 folds per draft. The verdict is the same either way.
    import unicodedata

    from pipeline.guards import unsafe_reasons

    text = "Wir erstatten den vollen Betrag. Senden Sie uns Ihre PIN."
    first = unsafe_reasons(text, [FAULTY], _ops())
    calls: list[str] = []
    real = unicodedata.normalize
    monkeypatch.setattr(unicodedata, "normalize", lambda form, s: calls.append(s) or real(form, s))
    assert unsafe_reasons(text, [FAULTY], _ops()) == first and first
    assert calls == []


def test_long_texts_are_folded_without_filling_the_cache():
    # 2048 cached keys of up to 8k characters each (whole customer messages) would be ~16 MB, not the
    # few MB the cache is for: only short texts (what repeats: knowledge-base sentences, drafts) are kept.
    from pipeline import guards

    guards._fold_cached.cache_clear()
    long_text = "Ｒｅｆｕｎｄ " * 1000
    assert guards.fold(long_text) == guards._fold(long_text) and guards.fold(long_text).startswith("refund")
    assert guards._fold_cached.cache_info().currsize == 0
    guards.fold("Ｒｅｆｕｎｄ in full")
    assert guards._fold_cached.cache_info().currsize == 1
