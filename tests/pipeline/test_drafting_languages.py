"""Template drafts in the customer's language (issue 14): Italian, Dutch and Portuguese customers get
their own greeting, order line, intro, closing and signature, with their first name and order number.

The drafts are built by the product's path (:func:`pipeline.flow.decide_message`: triage reads the
message's language and intent, the rules plan a draft, the template drafter writes it), with a knowledge
base in memory holding one English passage, so the "passage in English" note shows too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import load_config
from pipeline.draft import template_draft
from pipeline.flow import Capabilities, decide_message
from pipeline.langid import language_guess
from pipeline.models import CUSTOMER, Message, Person, Plan, Source, Ticket, Triage
from tests.fakes.knowledge import FakeKB

ROOT = Path(__file__).resolve().parents[2]
# What the shipped file says, read independently of pipeline.draft (for the intro of whatever intent triage reads).
DRAFTING = yaml.safe_load((ROOT / "config" / "drafting.yaml").read_text(encoding="utf-8"))

SHIPPING = Source(id="kb-shipping", title="Shipping times", text="Orders ship within 2 working days. Tracking can "
                  "take up to 24 hours to show the first scan.", score=0.8)
# Lines every English template draft has: none may appear in another language's draft.
ENGLISH_LINES = ("Hi ", "About your order", "Thank you for", "Best regards,", "The Demo Store team")


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config")


def _ticket(text: str, name: str | None, subject: str = "") -> Ticket:
    return Ticket(platform="zendesk", id="7", subject=subject, requester=Person(name=name),
                  messages=[Message(id="m1", author_role=CUSTOMER, body_text=text)])


def _decide(text: str, name: str | None, cfg, sources: list[Source], subject: str = ""):
    d = decide_message(_ticket(text, name, subject), "m1", cfg, "zendesk", Capabilities(kb=FakeKB(sources)))
    assert d.draft is not None and d.draft.kind == "template"
    return d


CASES = [
    # (language, customer, message, greeting, order line, closing, signature, passage note)
    ("it", "Giulia Rossi",
     "Buongiorno, il mio ordine n. 4521 non è ancora arrivato. Potete dirmi dove si trova il pacco?",
     "Buongiorno Giulia,", "In merito al suo ordine #4521:", "Cordiali saluti,", "Il team di Demo Store",
     "(Estratto dal nostro centro assistenza, in inglese.)"),
    ("it", "Marco Bianchi",
     "Salve, ho pagato il numero d'ordine 88231 tre giorni fa ma non ho ricevuto nessuna conferma di spedizione.",
     "Buongiorno Marco,", "In merito al suo ordine #88231:", "Cordiali saluti,", "Il team di Demo Store",
     "(Estratto dal nostro centro assistenza, in inglese.)"),
    ("nl", "Sanne de Vries",
     "Hallo, mijn bestelling met bestelnummer 88231 is nog steeds niet aangekomen. Waar blijft mijn pakket?",
     "Beste Sanne,", "Over uw bestelling #88231:", "Met vriendelijke groet,", "Het Demo Store-team",
     "(Fragment uit ons helpcentrum, in het Engels.)"),
    ("nl", "Daan Jansen",
     "Goedemiddag, ik heb ordernummer 4521 geplaatst maar de track & trace code werkt niet. Kunt u kijken?",
     "Beste Daan,", "Over uw bestelling #4521:", "Met vriendelijke groet,", "Het Demo Store-team",
     "(Fragment uit ons helpcentrum, in het Engels.)"),
    ("pt", "João Silva",
     "Olá, a minha encomenda n.º 7730 ainda não chegou. Onde está o meu pacote?",
     "Olá, João,", "Sobre a sua encomenda #7730:", "Com os melhores cumprimentos,", "A equipa Demo Store",
     "(Excerto do nosso centro de ajuda, em inglês.)"),
    ("pt", "Inês Costa",
     "Bom dia, o número da encomenda é 55120 e o seguimento não mostra nada desde segunda-feira. Podem verificar?",
     "Olá, Inês,", "Sobre a sua encomenda #55120:", "Com os melhores cumprimentos,", "A equipa Demo Store",
     "(Excerto do nosso centro de ajuda, em inglês.)"),
]


@pytest.mark.parametrize("lang, name, text, greeting, order_line, closing, signature, note", CASES)
def test_template_draft_in_the_customers_language(lang, name, text, greeting, order_line, closing, signature, note,
                                                   cfg):
    d = _decide(text, name, cfg, [SHIPPING])
    assert d.triage.language == lang
    lines = d.draft.text.splitlines()
    assert d.draft.language == lang
    # The name and the order number, in that language's words.
    assert lines[0] == greeting
    assert order_line in lines
    assert lines[-2:] == [closing, signature]
    assert note in lines
    # The intro for the intent triage read, in that language (from the shipped file, not English).
    intros = DRAFTING["intro"]
    intro = (intros.get(d.triage.intent) or {}).get(lang) or intros["default"][lang]
    assert intro in lines
    assert not [x for x in ENGLISH_LINES if any(ln.startswith(x) for ln in lines)], d.draft.text
    # Read by the language identifier, the store's own lines (everything but the quoted English passage)
    # are in the customer's language.
    own = "\n".join(ln for ln in lines if ln and ln not in SHIPPING.text)
    assert language_guess(own)[0] == lang, own
    # The store's own lines are its words: no guard warning on them.
    assert not [w for w in d.draft.warnings if "promise" in w.lower() or "ungrounded" in w.lower()], d.draft.warnings


@pytest.mark.parametrize("lang, text, not_found, anonymous, closing", [
    ("it", "Buongiorno, vendete anche biciclette da corsa per bambini con le ruote da venti pollici?",
     "Grazie per il suo messaggio. Non ho trovato una risposta", "Buongiorno,", "Cordiali saluti,"),
    ("nl", "Goedendag, verkopen jullie ook racefietsen voor kinderen met wielen van twintig inch?",
     "Bedankt voor uw bericht. Ik heb hierop geen antwoord gevonden", "Goedendag,", "Met vriendelijke groet,"),
    ("pt", "Bom dia, também vendem bicicletas de corrida para crianças com rodas de vinte polegadas?",
     "Obrigado pela sua mensagem. Não encontrei resposta", "Olá,", "Com os melhores cumprimentos,"),
])
def test_nothing_found_and_no_name_in_the_customers_language(lang, text, not_found, anonymous, closing, cfg):
    d = _decide(text, None, cfg, [])
    assert d.triage.language == lang
    lines = d.draft.text.splitlines()
    assert lines[0] == anonymous
    assert any(ln.startswith(not_found) for ln in lines), d.draft.text
    assert closing in lines


def _template(text: str, language: str, cfg, name: str = "Anna Nowak", intent: str = "order_status"):
    triage = Triage(intent=intent, confidence=0.9, language=language)
    return template_draft(_ticket(text, name), text, triage, Plan(intent=intent, draft=True), [SHIPPING], cfg)


def test_a_language_without_wording_falls_back_to_english(cfg):
    # An LLM classifier may answer any two-letter language ("pl"): drafting.yaml has no Polish lines.
    d = _template("Dzień dobry, zamówienie #4521 jeszcze nie dotarło. Gdzie jest moja paczka?", "pl", cfg)
    lines = d.text.splitlines()
    assert lines[0] == "Hi Anna,"
    assert "About your order #4521:" in lines
    assert DRAFTING["intro"]["order_status"]["en"] in lines
    assert lines[-2:] == ["Best regards,", "The Demo Store team"]
    # No English passage note (there is no Polish one, and English needs none).
    assert not [ln for ln in lines if ln.startswith("(")]


def test_a_regional_language_tag_reads_as_its_language(cfg):
    d = _template("Olá, a minha encomenda 7730 ainda não chegou.", "pt-BR", cfg, name="Inês Costa")
    lines = d.text.splitlines()
    assert lines[0] == "Olá, Inês,"
    assert "Sobre a sua encomenda #7730:" in lines


@pytest.mark.parametrize("text, lang", [
    ("Dzień dobry, moje zamówienie 4521 jeszcze nie dotarło. Gdzie jest moja paczka?", "pl"),
    # Danish read as Dutch (0.93) and Swedish as German (0.68) when the identifier knew only the seven.
    ("Hej, hvor er min pakke? Jeg har ventet i ti dage, og sporingen viser ingenting.", "da"),
    ("Hej, var är mitt paket? Jag har väntat i tio dagar och spårningen visar ingenting.", "sv"),
])
def test_an_unsupported_language_through_local_triage_gets_english(cfg, text, lang):
    d = _decide(text, "Anna Kowalska", cfg, [SHIPPING])
    assert d.triage.language == lang
    assert d.draft.text.splitlines()[0] == "Hi Anna,"
    assert d.draft.text.splitlines()[-2:] == ["Best regards,", "The Demo Store team"]
    if "4521" in text:  # the order line in English too ("zamówienie 4521")
        assert "About your order #4521:" in d.draft.text.splitlines()
