"""A message's closing (thanks, sign-off, the name under it) is not part of what retrieval searches for.

e5 read "Cordialement,\\nCamille Martin" or "Obrigada desde já.\\nCumprimentos,\\nAna Silva" into the question and
ranked "The reset email does not arrive" (or its French translation) over the answer; the mail parser
(pipeline.normalize.strip_reply) takes some sign-offs off before triage, not "Merci d'avance," or "Grazie mille,
saluti,\\nMarco" (knowledge.query.strip_closing, knowledge.retrieve.hybrid_hits).
"""

from __future__ import annotations

import time

import pytest

from knowledge.query import clean_query, strip_closing
from knowledge.retrieve import search
from tests.knowledge.kbfixtures import demo_store  # noqa: F401

# The same question with the closings customers write under it, in the seven languages.
CLOSINGS = {
    "en": "\n\nThanks a lot,\nKind regards,\nMarco Rossi",
    "fr": "\n\nMerci d'avance,\nCordialement,\nCamille Martin",
    "de": "\n\nVielen Dank im Voraus\nMit freundlichen Grüßen\nJonas Becker",
    "es": "\n\nMuchas gracias,\nUn saludo,\nLucía Gómez",
    "it": "\n\nGrazie mille, saluti,\nMarco",
    "nl": "\n\nAlvast bedankt,\nMet vriendelijke groet,\nSanne de Vries",
    "pt": "\n\nObrigada desde já.\nCumprimentos,\nAna Silva",
}
QUESTION = {
    "en": "I sent the jacket back two weeks ago and still no refund, what's going on?",
    "fr": "J'ai renvoyé la veste il y a deux semaines et toujours pas de remboursement, il se passe quoi ?",
    "de": "Ich habe die Jacke vor zwei Wochen zurückgeschickt und noch keine Erstattung, was ist los?",
    "es": "Devolví la chaqueta hace dos semanas y todavía no me han reembolsado, ¿qué pasa?",
    "it": "Ho restituito la giacca due settimane fa e ancora nessun rimborso, cosa succede?",
    "nl": "Ik heb de jas twee weken geleden teruggestuurd en nog steeds geen terugbetaling, wat is er aan de hand?",
    "pt": "Devolvi o casaco há duas semanas e ainda não recebi o reembolso, o que se passa?",
}


@pytest.mark.parametrize("language", sorted(CLOSINGS))
def test_the_closing_lines_and_the_name_under_them_go(language):
    assert strip_closing(QUESTION[language] + CLOSINGS[language]) == QUESTION[language]


@pytest.mark.parametrize("language", sorted(CLOSINGS))
def test_a_closing_on_the_questions_own_line_goes(language):
    one_line = QUESTION[language] + " " + " ".join(CLOSINGS[language].split())
    assert strip_closing(one_line) == QUESTION[language]


@pytest.mark.parametrize("text", [
    "Where is my parcel?\nThanks Sarah",
    "Where is my parcel?\n\nCheers,\nDana",
    "Where is my parcel?\nBest,\nJ. van Dijk",
    "Where is my parcel?\nThanks in advance, best regards",
    "Where is my parcel? Regards",
    "Where is my parcel?\n\nBien à vous,\nÉlodie",
    "Where is my parcel?\nLiebe Grüße 😊",
    "Where is my parcel?\n\nAtenciosamente\nJoão dos Santos",
])
def test_other_closings(text):
    assert strip_closing(text) == "Where is my parcel?"


@pytest.mark.parametrize("text", [
    "Do you ship to\nCanada",                          # a last line that is a name-like word, with no closing above
    "Can I pay with\nPayPal",
    "Is shipping free?\nBest price?",                  # "Best" starts a question, not a closing
    "Where is my parcel? Thanks for nothing",          # no closing formula: what the customer thinks
    "I want a refund.\nNo thanks, I don't want store credit",  # negation: a request, not a closing
    "I want my money back.\nThank you for cancelling my order without asking",
    "Thanks",                                          # never empties a message
    "Merci !",
])
def test_what_is_not_a_closing_stays(text):
    assert strip_closing(text) == text.strip()


def test_look_alike_letters_in_the_closing_are_read_through_clean_query():
    # Cyrillic о and е in "Cordialement" and the name: clean_query folds them before it looks for a closing.
    spoofed = "Je veux résilier mon abonnement, comment faire ?\n\nC\u043erdialement,\nCamill\u0435 Martin"
    assert clean_query(spoofed) == "Je veux résilier mon abonnement, comment faire ?"


def test_long_or_hostile_texts_stay_fast():
    for text in ["\n" * 20_000 + "Thanks", "Where is it?\n" + "Kind regards,\n" * 600 + "Bob", "a. " * 3_000 + "x"]:
        t0 = time.process_time()
        strip_closing(text)
        assert time.process_time() - t0 < 0.5


# The product's search, with and without the closing: the same three articles, and the answer among them.
@pytest.mark.parametrize(("language", "intent", "text", "answer"), [
    ("fr", "account_change", "Je veux résilier mon abonnement, comment faire ?", "cancel-subscription"),
    ("de", "account_change", "Ich möchte mein Abo kündigen, wie geht das?", "cancel-subscription"),
    ("es", "cancel_order", "Quiero cancelar mi suscripción, ¿cómo lo hago?", "cancel-subscription"),
    ("it", "account_change", "Voglio disdire il mio abbonamento, come faccio?", "cancel-subscription"),
    ("pt", "cancel_order", "Quero cancelar a minha assinatura, como faço?", "cancel-subscription"),
    ("pt", "return_refund", QUESTION["pt"], "refund-timing"),
    ("fr", "return_refund", QUESTION["fr"], "refund-timing"),
    ("es", "order_status", "¿Enviáis a Canadá y cuánto cuesta el envío?", "shipping-times"),
    ("it", "order_status", "Spedite in Canada e quanto costa la spedizione?", "shipping-times"),
])
def test_a_closing_does_not_change_what_is_found(demo_store, language, intent, text, answer):  # noqa: F811
    bare = [s.id for s in search(demo_store, text, language=language, intent=intent, k=3)]
    signed = [s.id for s in search(demo_store, text + CLOSINGS[language], language=language, intent=intent, k=3)]
    assert answer in bare, bare
    assert signed == bare, (signed, bare)
