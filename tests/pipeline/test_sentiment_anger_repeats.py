"""Sixteenth session, helper 6: more repeated contact (several channels tried, the same request week after week, an
ordinal message in the seven languages), words of anger said outright, and the two rules that make a message the
model reads as neutral at least negative (:func:`pipeline.signals.sentiment`). All phrasings written for this file
(none from an evaluation set)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.signals import REPEAT_LEAN, anger_words, detect_signals, keeps_asking, sentiment

REPEATS = [
    "I've messaged you on WhatsApp, on Twitter and through the live chat about my refund.",
    "I tried your hotline and your chat, nothing.",
    "Je vous ai contacté par téléphone, par mail et sur Messenger pour ce colis.",
    "Os he preguntado por WhatsApp y por el chat y seguís sin contestar.",
    "Ich habe Sie per E-Mail und über WhatsApp angeschrieben und gefragt, wo mein Paket bleibt.",
    "Vi ho contattato via email, su WhatsApp e al telefono per lo stesso reso.",
    "Ik heb jullie via WhatsApp en per mail gevraagd waar mijn pakket is.",
    "Já vos contactei por telefone, email e WhatsApp por causa da fatura.",
    "third week in a row I'm chasing the same credit note",
    "Week four of waiting for an answer about my deposit.",
    "Troisième semaine d'affilée à réclamer le même avoir.",
    "Tercera semana seguida pidiendo la misma factura.",
    "Dritte Woche in Folge frage ich nach der Gutschrift.",
    "Terza settimana di fila che chiedo la nota di credito.",
    "Derde week op rij dat ik om de creditnota vraag.",
    "Terceira semana seguida a pedir a nota de crédito.",
    "Es mi cuarto correo sobre la misma devolución.",
    "Das ist meine vierte Nachricht wegen der Rücksendung.",
    "È il mio quarto messaggio per lo stesso reso.",
    "Dit is mijn vierde bericht over dezelfde retour.",
    "É a minha quarta mensagem sobre a mesma devolução.",
    "I've messaged y\u043eu on WhatsApp and by em\u0430il.",  # Cyrillic о and а
    "I <b>tried</b> your <i>hotline</i> and your chat.",  # markup
]
NOT_REPEATS = [
    "Can I reach you by chat or email?",
    "I called the courier and emailed the seller.",
    "I asked the courier by phone and by email, they say it is with you.",  # "you" after the channels
    "Your chat and your email both say something different about the price, which one is right?",  # no contact verb
    "Delivery is planned for the second week of March.",
    "The third week of the month is best for me.",
    "La livraison est prévue la deuxième semaine de mars.",
    "Vivo en la cuarta planta, el timbre no funciona.",
    "Die zweite Woche im Mai passt mir gut.",
    "La seconda settimana di aprile sono in ferie.",
    "De tweede week van juni ben ik thuis.",
    "Moro no quinto andar, podem deixar na portaria?",
    "Can I get the invoice by email or WhatsApp?",
]


@pytest.mark.parametrize("text", REPEATS)
def test_repeated_contact_new_phrasings(text):
    assert "repeated_contact" in detect_signals(text)
    assert keeps_asking(text)


@pytest.mark.parametrize("text", NOT_REPEATS)
def test_repeated_contact_not_for_channels_named_or_ordinal_weeks_of_a_date(text):
    assert "repeated_contact" not in detect_signals(text)


@pytest.mark.parametrize("text", [
    "I have already contacted the courier, they said to ask you.",
    "J'ai déjà écrit au transporteur.",
    "Ich habe schon geschrieben, aber die Adresse war falsch.",
])
def test_already_contacted_alone_is_repeated_contact_but_not_keeps_asking(text):
    assert not keeps_asking(text)


ANGRY_WORDS = [
    "It arrived a week after the wedding. I'm furious.",
    "Charged twice and nobody answers. Ridiculous.",
    "The lid shattered when I opened it, that's dangerous and you send me a coupon?",
    "Vous gardez mon argent depuis un mois. Scandaleux.",
    "Me cobrasteis el envío gratis. Qué vergüenza.",
    "Sie haben meine Rücksendung verloren. Unverschämt.",
    "Mi avete spedito il colore sbagliato due volte. Inaccettabile.",
    "Jullie hebben mijn retour kwijtgemaakt. Ik ben woedend.",
    "Cobraram-me duas vezes o mesmo pedido. Inaceitável.",
    "RIDICULOUS, the box was empty",
    "Rid\u0456culous, the box was empty.",  # Cyrillic і
    "The box was empty. <b>Shameless</b>.",
]
CALM_WORDS = [
    "I'm not angry, just let me know when it ships.",
    "Ce n'est pas ridicule du tout, merci pour l'idée !",
    "No estoy enfadada, solo quiero saber cuándo llega.",
    "Das ist nicht lächerlich, nur eine Frage zur Größe.",
    "Is it dangerous if the battery gets warm while charging?",
    "È pericoloso?",
    "Lamentablemente no estaré en casa el jueves.",  # "lamentablemente" is no "lamentable"
    "Where is my order? It was due on Monday.",
    "De batterij wordt warm, is dat gevaarlijk?",
]


@pytest.mark.parametrize("text", ANGRY_WORDS)
def test_anger_said_outright(text):
    assert anger_words(text)


@pytest.mark.parametrize("text", CALM_WORDS)
def test_anger_words_negated_asked_or_absent(text):
    assert not anger_words(text)


def _sent(text: str, signals=None):
    return sentiment(text, None, np.zeros(4, dtype=np.float32), signals=signals)


def test_repeats_make_a_message_leaning_negative_negative(model_reads):
    text = "This is my fourth email about the same refund."
    model_reads("neutral", REPEAT_LEAN - 0.01)
    assert _sent(text)[0] == "negative" and _sent(text)[1] <= -0.3
    model_reads("neutral", REPEAT_LEAN + 0.01)  # not leaning negative: the model's verdict stands
    assert _sent(text)[0] == "neutral"
    model_reads("positive", -0.1)
    assert _sent(text)[0] == "positive"


def test_repeats_read_from_the_words_not_the_tickets_message_count(model_reads):
    model_reads("neutral", -0.2)
    # the ticket's third message fires repeated_contact, the words do not ask again
    assert _sent("Could you tell me where my parcel is?", signals=["repeated_contact"])[0] == "neutral"
    assert _sent("I have already contacted the courier, they said to ask you.")[0] == "neutral"


def test_anger_words_make_a_neutral_verdict_negative(model_reads):
    model_reads("neutral", 0.05)
    assert _sent("The cake stand came in pieces the day of the party. Unacceptable.")[0] == "negative"
    assert _sent("I'm not angry, the cake stand just came in pieces.")[0] == "neutral"
    model_reads("positive", 0.6)  # a positive verdict is left alone
    assert _sent("The price is ridiculous, I bought three!")[0] == "positive"
