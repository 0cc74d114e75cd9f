"""BM25's match for a question in another language counts the words no chunk holds for half in its ideal
(knowledge.lexical.LexicalIndex.search ``unknown_share``, knowledge.retrieve.CROSS_GLOSSARY_UNKNOWN_SHARE).

Each Dutch or Italian word no chunk holds counted in the ideal as the rarest word missing, so the longer the
customer wrote, the less the English glossary terms weighed: "Ik wil mijn abonnement opzeggen, hoe doe ik dat?"
(-> "subscription cancel") listed "Who can open one" (business accounts) over "Cancel a subscription".
"""

from __future__ import annotations

import pytest

from knowledge import glossary
from knowledge import retrieve as kr
from knowledge.lexical import index_for
from knowledge.retrieve import search


@pytest.fixture(autouse=True)
def _glossary_on():
    glossary.select(True)
    yield
    glossary.select(True)


def test_words_the_index_does_not_know_count_for_their_share(demo_store):
    index = index_for(demo_store)
    short = dict(index.search("cancel subscription", 5))
    best = max(short, key=short.get)
    # Made-up words no chunk has, as a Dutch or Italian question's are to English articles.
    padded = "zzqx wvvy qqrt plonk vrrm\ncancel subscription"
    alone = dict(index.search(padded, 5, unknown_share=0.0))[best]
    half = dict(index.search(padded, 5, unknown_share=0.5))[best]
    full = dict(index.search(padded, 5))[best]
    assert alone == pytest.approx(short[best])
    assert full < 0.5 * short[best]  # what the unknown words did to it before
    assert half == pytest.approx((alone * full) ** 0.5)


def test_known_words_still_count_as_missing_when_a_chunk_lacks_them(demo_store):
    # "refund" is in the index: a chunk matching "cancel subscription" only does not get a full match.
    index = index_for(demo_store)
    both = dict(index.search("cancel subscription refund", 5, unknown_share=0.0))
    alone = dict(index.search("cancel subscription", 5, unknown_share=0.0))
    best = max(alone, key=alone.get)
    assert best in both and both[best] < alone[best]


def test_a_question_with_no_known_word_matches_nothing(demo_store):
    assert index_for(demo_store).search("zzqx wvvy", 5, unknown_share=0.0) == []


@pytest.mark.parametrize(("language", "intent", "text"), [
    # Triage said discount_promo for both Dutch lines and other / account_change for the others (not the topic).
    ("nl", "discount_promo", "Ik wil mijn abonnement opzeggen, hoe doe ik dat?"),
    ("nl", "discount_promo", "Hoi, ik moet het koffie-abonnement opzeggen, waar vind ik dat?"),
    ("fr", "account_change", "Je veux résilier mon abonnement, comment faire ?"),
    ("de", "account_change", "Ich möchte mein Abo kündigen, wie geht das?"),
    ("it", "account_change", "Voglio disdire il mio abbonamento, come faccio?"),
    ("es", None, "Quiero darme de baja de la suscripción, ¿cómo lo hago?"),
    ("pt", None, "Quero cancelar a minha assinatura, como faço?"),
])
def test_a_subscription_cancellation_finds_the_article_in_every_language(demo_store, language, intent, text):
    got = [s.id for s in search(demo_store, text, language=language, intent=intent, k=3)]
    assert got and got[0] == "cancel-subscription", got


def test_the_dutch_cancellation_needed_the_known_words_match(demo_store, monkeypatch):
    text = "Ik wil mijn abonnement opzeggen, hoe doe ik dat?"
    monkeypatch.setattr(kr, "CROSS_GLOSSARY_UNKNOWN_SHARE", 1.0)
    monkeypatch.setattr(kr, "CROSS_GLOSSARY_LEXICAL_WEIGHT", 1.5)  # the weight tuned for the diluted match
    got = [s.id for s in search(demo_store, text, language="nl", intent="discount_promo", k=3)]
    assert got[0] != "cancel-subscription", got


@pytest.mark.parametrize(("language", "text"), [
    # Unrelated, with one support word each: still no passage.
    ("it", "Qual è il prezzo medio di un caffè al bar in Italia?"),
    ("es", "¿Cuál es el precio de un billete de tren de Madrid a Sevilla?"),
    ("nl", "Mijn fiets is kapot, welke fietsenmaker in Utrecht is goed?"),
    ("pt", "Qual é a cor do céu em Marte?"),
])
def test_an_unrelated_question_with_a_support_word_still_gets_nothing_new(demo_store, monkeypatch, language, text):
    on = [s.id for s in search(demo_store, text, language=language, k=3)]
    monkeypatch.setattr(kr, "CROSS_GLOSSARY_UNKNOWN_SHARE", 1.0)
    monkeypatch.setattr(kr, "CROSS_GLOSSARY_LEXICAL_WEIGHT", 1.5)
    off = [s.id for s in search(demo_store, text, language=language, k=3)]
    assert set(on) <= set(off) or on == [], (on, off)


def test_english_questions_are_untouched(demo_store, monkeypatch):
    text = "I want to cancel my subscription, how do I do it?"
    on = [(s.id, s.score) for s in search(demo_store, text, language="en", k=5)]
    monkeypatch.setattr(kr, "CROSS_GLOSSARY_UNKNOWN_SHARE", 1.0)
    monkeypatch.setattr(kr, "CROSS_GLOSSARY_LEXICAL_WEIGHT", 1.5)
    assert on == [(s.id, s.score) for s in search(demo_store, text, language="en", k=5)]


@pytest.mark.parametrize(("text", "terms"), [
    ("Olá, o seguimento da encomenda não mexe há 4 dias", "tracking"),
    ("qual é o número de seguimento da minha encomenda?", "tracking number"),
])
def test_portuguese_seguimento_is_tracking(text, terms):
    # European Portuguese says "seguimento" where Brazilian says "rastreio" (both in the glossary now).
    assert terms in glossary.english_terms(text, "pt") or terms in " ".join(glossary.english_terms(text, "pt"))
