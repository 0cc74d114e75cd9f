"""pipeline/courtesy.py: the courtesy formulas taken off a message's ends before the sentiment is read again."""

from __future__ import annotations

import pytest

from pipeline.courtesy import courtesy_remainder, repeats
from pipeline.lookalikes import fold_lookalikes


@pytest.mark.parametrize(
    "text,left",
    [
        ("Perfect, that answers everything. Have a good weekend!", "that answers everything"),
        ("ok perfect thx! 👍", ""),
        ("brilliant, that's all sorted. thank you and have a nice evening :)", "that's all sorted"),
        ("Thanks Sarah, all clear now.", "all clear now."),
        ("Got it, thanks a lot. You can close this ticket.", "You can close this ticket."),
        ("Parfait, ça répond à tout. Bon week-end !", "ça répond à tout"),
        ("Estupendo, pues ya está resuelto. Hasta luego", "pues ya está resuelto"),
        ("Prima, jetzt ist alles klar. Noch eine schöne Restwoche!", "jetzt ist alles klar"),
        ("Danke Frau Weber, jetzt ist alles klar.", "jetzt ist alles klar."),
        ("Perfetto, ora è tutto chiaro. Buon proseguimento di settimana!", "ora è tutto chiaro"),
        ("Mooi, nu is het duidelijk. Nog een fijne rest van de week!", "nu is het duidelijk"),
        ("Boa, agora ficou claro. Resto de boa semana!", "agora ficou claro"),
        ("Schönes Wochenende!", ""),
    ],
)
def test_closings_lose_their_formulas(text, left):
    assert courtesy_remainder(text) == left


@pytest.mark.parametrize(
    "text,kept",
    [
        # What sarcasm says stays: "for nothing" is no thanks formula, in any language.
        ("Perfect, another broken lamp, thanks for nothing", "thanks for nothing"),
        ("Parfait, encore une lampe cassée, merci pour rien.", "merci pour rien"),
        ("Perfecto, otra lámpara rota, gracias por nada.", "gracias por nada"),
        ("Perfekt, schon wieder eine kaputte Lampe, danke für nichts.", "danke für nichts"),
        ("Perfetto, un'altra lampada rotta, grazie di niente.", "grazie di niente"),
        ("Perfect, weer een kapotte lamp, bedankt voor niets.", "bedankt voor niets"),
        ("Perfeito, mais um candeeiro partido, obrigado por nada.", "obrigado por nada"),
        ("Cheers for nothing. Still no refund after a month.", "Cheers for nothing"),
        ("great, another week of waiting, thanks a lot", "another week of waiting"),
    ],
)
def test_sarcasm_keeps_its_complaint(text, kept):
    rest = courtesy_remainder(text)
    assert rest is None or kept in rest


@pytest.mark.parametrize(
    "text",
    [
        "Thanks so much for cancelling my order without telling me. Fantastic customer care.",
        "Merci infiniment d'avoir annulé ma commande sans me prévenir.",
        "Muchísimas gracias por cancelar mi pedido sin avisarme.",
        "Vielen herzlichen Dank, dass Sie meine Bestellung ohne ein Wort storniert haben.",
        "Grazie mille per aver annullato il mio ordine senza avvisarmi.",
        "Heel erg bedankt dat jullie mijn bestelling hebben geannuleerd.",
        "Muito obrigado por cancelarem a minha encomenda sem me avisar.",
        "thanks but this is the third time I write",
        "Great product",  # an interjection needs punctuation after it to be one
        "Fantastic customer service: 40 minutes on hold and then the line just went dead.",
        "Where is my order?",
        "Thanks for nothing, seriously.",  # lower-case words after the thanks are no name
    ],
)
def test_thanks_that_are_the_complaint_are_not_taken(text):
    assert courtesy_remainder(text) is None


def test_a_name_after_thanks_must_be_capitalised():
    assert courtesy_remainder("Thanks Sarah, all clear now.") == "all clear now."
    assert courtesy_remainder("thanks for nothing, all clear now.") is None


def test_lookalikes_invisible_characters_and_markup():
    # The caller folds look-alike letters (signals.sentiment reads fold_lookalikes(text)); invisible characters
    # are dropped here. Markup is not read through: it only keeps a formula from being taken (the verdict stands).
    cyrillic = "Pеrfеct, thаt аnswеrs еvеrything. Hаvе а good wееkеnd!"
    assert courtesy_remainder(fold_lookalikes(cyrillic)) == "that answers everything"
    assert courtesy_remainder("Per\u200bfect, that answers everything. Have a good week\u200cend!") == "that answers everything"
    assert courtesy_remainder("<b>Perfect</b>, another broken lamp") is None
    sarcasm = fold_lookalikes("Pеrfеct, аnothеr brokеn lаmp, thаnks for nothing")
    assert "thanks for nothing" in courtesy_remainder(sarcasm)


def test_long_texts_are_not_read():
    assert courtesy_remainder("Thanks! " + "x" * 3000) is None


@pytest.mark.parametrize(
    "text,says",
    [
        ("another week of waiting", True), ("encore une semaine d'attente", True), ("otra semana más esperando", True),
        ("schon wieder eine Woche", True), ("un'altra settimana di attesa", True), ("weer een week wachten", True),
        ("mais uma semana à espera", True), ("my parcel is lost agaіn", False),  # Cyrillic і: the caller folds it
        ("that answers everything", False), ("jetzt ist alles klar", False), ("nu is het duidelijk", False),
    ],
)
def test_repeats(text, says):
    assert repeats(text) is says
    assert repeats(fold_lookalikes("my parcel is lost agaіn"))
