"""The support glossary (knowledge.glossary): a question in French, German, Spanish, Italian, Dutch or Portuguese
gets English terms for its BM25 side, so it reaches the English article through words BM25 could not match before;
English questions and unrelated questions are left alone; at most MAX_TERMS terms; SIDECAR_KB_GLOSSARY=0 switches
it off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from knowledge import glossary
from knowledge.lexical import LexicalIndex, index_for
from knowledge.retrieve import search
from pipeline.config import load_config
from pipeline.draft import retrieve
from pipeline.models import Triage
from tests.knowledge.kbfixtures import demo_env, env_kb  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _glossary_on():
    glossary.select(True)
    yield
    glossary.select(True)


def _bm25_docs(store, text: str, language: str) -> list[str]:
    """BM25 alone (the lexical index), its chunks' articles in rank order."""
    ids = [c for c, _ in index_for(store).search(text, 5, language=language)]
    got = store.collection.get(ids=ids, include=["metadatas"]) if ids else {"ids": [], "metadatas": []}
    meta = dict(zip(got["ids"], got["metadatas"], strict=True))
    return [str(meta[c]["doc_id"]) for c in ids]


@pytest.mark.parametrize(("language", "text", "article"), [
    ("fr", "Bonjour, quand est-ce que je serai remboursé ? J'ai renvoyé le colis il y a deux semaines.",
     "refund-timing"),
    ("de", "Ich habe mein Kennwort vergessen und kann mich nicht anmelden.", "reset-password"),
    ("it", "Il pacco è arrivato danneggiato, la scatola era rotta.", "lost-or-damaged-parcel"),
])
def test_a_question_reaches_the_english_article_through_bm25_with_the_glossary_only(demo_store, language, text,
                                                                                   article):
    without = _bm25_docs(demo_store, text, language)
    with_terms = _bm25_docs(demo_store, glossary.expand(text, language), language)
    assert article not in without, without  # the customer's words are not the article's
    assert with_terms and with_terms[0] == article, with_terms


@pytest.fixture
def bm25_queries(monkeypatch) -> list[str]:
    """The texts BM25 is asked to search, in order."""
    seen: list[str] = []
    real = LexicalIndex.search

    def spy(self, q, *a, **kw):
        seen.append(q)
        return real(self, q, *a, **kw)

    monkeypatch.setattr(LexicalIndex, "search", spy)
    return seen


def test_the_search_reads_the_glossary_for_another_language_and_gains_the_article(demo_store, monkeypatch,
                                                                                 bm25_queries):
    text = "Vorrei annullare l'abbonamento mensile."
    seen = bm25_queries
    got = [s.id for s in search(demo_store, text, language="it", k=3)]
    assert seen and seen[-1].endswith("\ncancel subscription"), seen
    assert "cancel-subscription" in got, got
    monkeypatch.setattr(glossary, "_enabled", False)
    seen.clear()
    assert "cancel-subscription" not in [s.id for s in search(demo_store, text, language="it", k=3)]
    assert seen == [text]


def test_english_questions_are_searched_exactly_as_before(demo_store, bm25_queries):
    seen = bm25_queries
    text = "I want a refund, the parcel arrived damaged (commande, colis, remboursement)"
    search(demo_store, text, language="en")
    search(demo_store, text, language=None)
    assert seen == [text, text]
    assert glossary.english_terms(text, "en") == [] and glossary.english_terms(text, None) == []


@pytest.mark.parametrize(("language", "text", "support_word"), [
    ("fr", "Quel temps fera-t-il demain à Lyon ? Je cherche une recette de gâteau au chocolat.", False),
    ("de", "Wie wird das Wetter morgen in Berlin? Regnet es?", False),
    ("it", "Qual è la capitale dell'Australia? E quanti abitanti ha?", False),
    # Unrelated, with one support word each: the glossary gives a term, no passage comes of it.
    ("it", "Qual è il prezzo medio di un caffè al bar in Italia?", True),
    ("es", "¿Cuál es el precio de un billete de tren de Madrid a Sevilla?", True),
    ("nl", "Mijn fiets is kapot, welke fietsenmaker in Utrecht is goed?", True),
    ("pt", "Qual é a cor do céu em Marte?", True),
])
def test_a_question_on_an_unrelated_topic_gets_no_new_match(demo_store, monkeypatch, language, text, support_word):
    assert bool(glossary.english_terms(text, language)) is support_word
    on = [s.id for s in search(demo_store, text, language=language, k=3)]
    monkeypatch.setattr(glossary, "_enabled", False)
    off = [s.id for s in search(demo_store, text, language=language, k=3)]
    assert on == off, (on, off)
    if support_word:
        assert on == [], on


@pytest.mark.parametrize("variant", [
    "remboursement", "Remboursement", "REMBOURSÉ", "remboursé", "rembourse", "rembourseMENT",
    "<b>remboursement</b>", "**remboursement**", "remboursement?!", "(remboursé)", "rembourse\u0301",
])
def test_case_accents_and_markup_do_not_matter(variant):
    assert "refund" in glossary.english_terms(variant, "fr"), variant


def test_a_phrase_is_read_as_one_entry_and_its_words_alone_are_not():
    assert glossary.english_terms("J'ai oublié mon mot de passe", "fr") == ["forgot", "password"]
    assert glossary.english_terms("J'ai oublié mon MOT-DE-PASSE", "fr") == ["forgot", "password"]
    assert "password" not in glossary.english_terms("Que se passe-t-il ? Un mot pour vous.", "fr")


@pytest.mark.parametrize(("language", "text"), [
    ("fr", "commando"),  # looks like "commande", is not one
    ("es", "Vale, gracias"),  # "vale" is "OK" more often than a voucher
    ("nl", "Ik zoek een"),
    ("de", "Fehler"),  # "fehlt" (missing) is in it, "Fehler" (error) is not
    ("fr", "xyzremboursement"),  # a key matches from a word's start
])
def test_look_alike_words_are_not_matched(language, text):
    assert glossary.english_terms(text, language) == [], text


def test_a_portuguese_contact_is_not_an_account():
    assert glossary.english_terms("Como posso contatar vocês?", "pt") == ["contact"]
    assert glossary.english_terms("Não consigo entrar na minha conta", "pt") == ["account"]


def test_cyrillic_look_alike_letters_are_folded_before_the_glossary_reads_them(demo_env):  # noqa: F811
    cfg = load_config(ROOT / "config")
    plain = "Il pacco è arrivato danneggiato, la scatola era rotta."
    spoofed = plain.translate(str.maketrans({"a": "\u0430", "o": "\u043e", "e": "\u0435"}))
    assert glossary.english_terms(spoofed, "it") != glossary.english_terms(plain, "it")  # the raw words differ
    triage = Triage(intent="delivery_problem", confidence=0.7, language="it")
    got = [s.id for s in retrieve(spoofed, triage, cfg, env_kb())]
    assert got == [s.id for s in retrieve(plain, triage, cfg, env_kb())]
    assert "lost-or-damaged-parcel" in got, got


def test_at_most_max_terms_per_question_distinct_and_in_order(monkeypatch):
    text = ("Commande, colis, livraison, suivi, facture, mot de passe, compte, taille, échange, abonnement, garantie, "
            "annulation, adresse, paiement, remboursement, commande, colis")
    got = glossary.english_terms(text, "fr")
    assert len(got) == glossary.MAX_TERMS == 8
    assert got == ["order", "parcel", "delivery", "tracking", "invoice", "password", "account", "size"]
    assert glossary.english_terms(text, "fr", cap=2) == ["order", "parcel"]
    assert glossary.english_terms("colis colis colis remboursement", "fr") == ["parcel", "refund"]
    monkeypatch.setattr(glossary, "MAX_TERMS", 3)
    assert glossary.expand(text, "fr") == f"{text}\norder parcel delivery"


def test_every_language_is_covered_and_loaded_once():
    table = glossary.load()
    assert set(table) == {"fr", "de", "es", "it", "nl", "pt"}
    assert glossary.load() is table
    for lang, word, term in [("fr", "commande", "order"), ("de", "Rücksendung", "return"), ("es", "reembolso", "refund"),
                             ("it", "rimborso", "refund"), ("nl", "wachtwoord", "password"), ("pt", "encomenda", "order")]:
        assert term in glossary.english_terms(word, lang), (lang, word)
    assert glossary.english_terms("remboursement", "fr-CA") == ["refund"]
    assert glossary.english_terms("remboursement", "ja") == []


def test_keys_are_folded_on_load_so_a_german_sharp_s_and_accents_match():
    assert glossary.english_terms("GRÖSSE", "de") == ["size"]
    assert glossary.english_terms("größe", "de") == ["size"]
    assert glossary.english_terms("contrasena", "es") == ["password"]  # typed without the tilde


@pytest.mark.parametrize("data", [
    ["not", "a", "mapping"],
    {"fr": ["x"]},
    {"fr": {"ab*": "order"}},  # a prefix too short
    {"fr": {"commande": ""}},
    {"fr": {"a b c d e": "order"}},
    {"fr": {"***": "order"}},
])
def test_a_malformed_glossary_is_refused(data):
    with pytest.raises(ValueError):
        glossary.parse(data)


def test_switched_off_it_gives_nothing(demo_store, monkeypatch):
    glossary.select(False)
    assert glossary.english_terms("remboursement", "fr") == []
    assert glossary.expand("remboursement", "fr") == "remboursement"


def test_the_setting_switches_it_off_and_refuses_a_typo():
    from app.settings import SettingsError, apply_process_settings, load_settings

    env = dict(os.environ)  # the test run's own SIDECAR_VAR: applying settings points the graph cache there
    assert load_settings(env).kb_glossary is True
    off = load_settings({**env, "SIDECAR_KB_GLOSSARY": "0"})
    assert off.kb_glossary is False
    with pytest.raises(SettingsError, match="SIDECAR_KB_GLOSSARY"):
        load_settings({**env, "SIDECAR_KB_GLOSSARY": "nope"})
    apply_process_settings(off)
    try:
        assert not glossary.enabled()
    finally:
        apply_process_settings(load_settings(env))
    assert glossary.enabled()
