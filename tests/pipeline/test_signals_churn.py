"""churn_risk in the seven languages: a customer saying they will buy elsewhere or from a competitor, and what
must not read as that (a delivery to another place, the competition's prices, a question about other shops)."""

from __future__ import annotations

import pytest

from pipeline.signals import detect_signals

LEAVING = [
    "Thanks for nothing, I'll be shopping elsewhere from now on.",
    "That's it, I'm going to order elsewhere.",
    "Merci pour votre patience légendaire, je vais aller voir ailleurs.",
    "Je commanderai ailleurs la prochaine fois.",
    "Je vais passer chez la concurrence, tant pis pour vous.",
    "Me voy a otra tienda, no vuelvo a comprar aquí.",
    "La próxima vez voy a comprar en otra web.",
    "Ich bestelle ab jetzt woanders.",
    "Dann kaufe ich eben bei der Konkurrenz.",
    "D'ora in poi compro altrove.",
    "Vado dalla concorrenza, addio.",
    "Ik bestel voortaan wel ergens anders.",
    "Dan ga ik naar de concurrent.",
    "Vou comprar noutra loja a partir de agora.",
    "Vou para a concorrência, acabou.",
    # look-alike letters and markup read the same
    "I'll be shоpping elsewhere from now on.",  # Cyrillic о
    "<p>Ich bestelle ab jetzt <b>woanders</b>.</p>",
]
STAYING = [
    "Can you deliver the parcel elsewhere, to my office?",
    "Could the courier leave it elsewhere if I'm not in?",
    "Alignez-vous vos prix sur ceux de la concurrence ?",
    "Livrez-le ailleurs, chez ma voisine, s'il vous plaît.",
    "¿Podéis enviarlo a otra dirección?",
    "Können Sie das Paket woanders abgeben, beim Nachbarn?",
    "Potete consegnarlo altrove, in ufficio?",
    "Kunnen jullie het pakket ergens anders afleveren?",
    "Podem entregar noutro sítio, no meu trabalho?",
    "I bought the same lamp elsewhere last year and loved it, do you have it in blue?",
]


@pytest.mark.parametrize("text", LEAVING)
def test_buying_elsewhere_is_churn(text):
    assert "churn_risk" in detect_signals(text)


@pytest.mark.parametrize("text", STAYING)
def test_another_place_or_the_competitions_prices_are_not_churn(text):
    assert "churn_risk" not in detect_signals(text)
