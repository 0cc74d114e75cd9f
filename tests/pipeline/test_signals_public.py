"""The ``public_threat`` signal (sixteenth session, helper 2): a threat to take the matter public (a bad review, social
media, the press, a follower count told to hear about it), in the seven languages; a wish, an offer, a question, a
good review, something already posted, or Google as a search engine is none. All phrasings written for this file."""

from __future__ import annotations

import pytest

from pipeline.signals import THREAT_SIGNALS, detect_signals

THREATS = [
    "Refund me by Monday or I'm posting the whole chat on Instagram.",
    "I have 12k followers and they will all hear about this.",
    "Si vous ne répondez pas, je publie tout sur Facebook.",
    "Como no me contestéis hoy, subo las fotos a Twitter.",
    "Wenn ich bis Montag nichts höre, schreibe ich eine Ein-Stern-Bewertung bei Google.",
    "Ich werde die Fotos auf Instagram posten, wenn nichts passiert.",  # the verb last
    "Se non mi rimborsate, pubblico tutto su TikTok.",
    "Als ik morgen niets hoor, zet ik alles op Facebook.",
    "Ik ga de foto's op Instagram zetten als dit niet opgelost wordt.",
    "Se não me responderem, publico tudo no Instagram.",
    "I'm pоsting this on Trustpilоt tonight.",  # Cyrillic о
    "I'm <b>posting</b> this on <i>Reddit</i> tonight.",
    "Sort it out or I'm writing to the local paper.",
]
NOT_THREATS = [
    "I'd love to post your lamp on my Instagram, can we collaborate?",
    "Hi! I'm a creator with 40k followers and would love to work with your brand.",
    "Can I tag you on Instagram when I post my new sofa?",
    "I'll leave you a 5-star review on Trustpilot, thanks!",
    "I posted a photo of the sofa on Instagram last week, everyone loved it.",
    "We put your shop on the first page of Google in 30 days, reply for a free audit.",
    "Do you have a Facebook page?",
    "J'adorerais partager votre produit sur Instagram.",
    "Ich würde gerne eine gute Bewertung bei Google schreiben.",
    "Mag ik jullie taggen op Instagram?",
    "Posso marcar vocês no Instagram?",
    "Ya os he escrito por el chat y por correo.",  # "por" is a preposition, not Portuguese "pôr"
    "Já vos escrevi por email e no Facebook, sem resposta.",
]


@pytest.mark.parametrize("text", THREATS)
def test_a_threat_to_go_public_is_a_signal(text):
    assert "public_threat" in detect_signals(text)


@pytest.mark.parametrize("text", NOT_THREATS)
def test_a_wish_a_question_a_good_review_or_a_past_post_is_not(text):
    assert "public_threat" not in detect_signals(text)


def test_a_public_threat_makes_the_message_at_least_negative(monkeypatch):
    import pipeline.signals as signals

    monkeypatch.setattr(signals, "vader_sentiment", lambda text: ("neutral", 0.1))

    def broken(*args, **kwargs):
        raise RuntimeError("no model")

    monkeypatch.setattr("pipeline.sentiment.get_sentiment_model", broken)
    assert "public_threat" in THREAT_SIGNALS
    assert signals.sentiment("Refund me by Monday or I'm posting the whole chat on Instagram.")[0] == "negative"
    assert signals.sentiment("Do you have a Facebook page?")[0] == "neutral"
