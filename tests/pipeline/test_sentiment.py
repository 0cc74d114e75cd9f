"""Embedding-based sentiment: angry customers read as negative in every supported language."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.signals import sentiment

ROOT = Path(__file__).resolve().parents[2]
NEGATIVE = ("negative", "very_negative")


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config")


@pytest.mark.parametrize(
    "text",
    [
        # The message from the issue: VADER alone called it positive.
        "Hi, I ordered 3 weeks ago. Your service is a joke. I want to speak to a manager right now, "
        "not a bot. I am disputing the charge with my bank.",
        "Fantastic. The replacement is broken too. You really outdid yourselves.",  # sarcasm
        "C'est du grand n'importe quoi, personne ne répond jamais chez vous.",
        "Qué vergüenza de servicio, llevo un mes esperando.",
        "Eine absolute Frechheit, so behandelt man keine Kunden.",
        "Servizio vergognoso, non rispondete mai.",
        "Wat een waardeloze service, echt schandalig.",
        "Serviço vergonhoso, ninguém me responde.",
        "YOU HAVE HAD MY MONEY FOR A MONTH AND SENT NOTHING",
    ],
)
def test_angry_messages_are_negative(cfg, text):
    assert sentiment(text, cfg)[0] in NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        "Could you tell me if the green lamp ships to Ireland?",
        "Pouvez-vous me dire si la lampe verte est livrée en Suisse ?",
        "¿La lámpara verde se puede enviar a Canarias?",
        "Kann ich die Lampe auch in Grün bestellen?",
        "La lampada verde è disponibile?",
        "Is de groene lamp nog leverbaar?",
        "A lâmpada verde ainda está disponível?",
    ],
)
def test_neutral_questions_are_not_negative(cfg, text):
    assert sentiment(text, cfg)[0] not in NEGATIVE


def test_score_range_and_order(cfg):
    happy = sentiment("Thank you so much, the parcel arrived and it's perfect!", cfg)
    angry = sentiment("This is a disgrace, I want my money back now.", cfg)
    assert happy[0] == "positive"
    assert -1.0 <= angry[1] < happy[1] <= 1.0


def test_threat_signal_forces_negative_verdict(cfg):
    # Politely worded, but a chargeback threat is never a neutral message.
    label, score = sentiment("Kindly note that I will file a chargeback tomorrow.", cfg)
    assert label in NEGATIVE and score < 0
    label, _ = sentiment("Kindly note the parcel arrived tomorrow.", cfg, signals=["legal_threat"])
    assert label in NEGATIVE


def test_fallback_to_vader_when_model_unavailable(cfg, monkeypatch):
    import pipeline.sentiment as sent

    def broken(*a, **k):
        raise RuntimeError("model files missing")

    monkeypatch.setattr(sent, "get_sentiment_model", broken)
    label, score = sentiment("This is absolutely horrible, the worst service ever, I am furious!", cfg)
    assert label == "very_negative" and score <= -0.6  # VADER's verdict


def test_bad_examples_file_is_rejected(tmp_path):
    from pipeline.sentiment import load_examples

    bad = tmp_path / "s.csv"
    bad.write_text("text,label,lang\nhello,grumpy,en\n", encoding="utf-8")
    with pytest.raises(ValueError, match="grumpy"):
        load_examples(bad)


def test_restart_reuses_the_training_embeddings(cfg, tmp_path):
    # Embedding the examples is most of a sentiment fit: a restarted worker reads them from disk.
    import numpy as np

    from pipeline import sentiment as sent
    from pipeline.local_classifier import embed_texts

    calls: list[int] = []

    def counting(texts):
        calls.append(len(texts))
        return embed_texts(texts)

    sent._models.clear()
    first = sent.get_sentiment_model(cfg, counting, cache_dir=tmp_path)
    assert sum(calls) == len({t for t, _ in sent.training_examples(cfg)})
    sent._models.clear()  # as if the process restarted
    calls.clear()
    again = sent.get_sentiment_model(cfg, counting, cache_dir=tmp_path)
    assert calls == [] and again is not first
    probe = ["This is a disgrace, I want my money back now."]
    emb = embed_texts(probe)
    np.testing.assert_allclose(again.proba(probe, emb)["angry"], first.proba(probe, emb)["angry"])
    # A cache of the wrong size (other examples) is not trusted.
    (f,) = tmp_path.glob("*.npy")
    np.save(f, np.zeros((3, 4), dtype=np.float32))
    sent._models.clear()
    sent.get_sentiment_model(cfg, counting, cache_dir=tmp_path)
    assert sum(calls) == len({t for t, _ in sent.training_examples(cfg)})
