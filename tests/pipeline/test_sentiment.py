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
    assert again.verdicts(probe, emb) == first.verdicts(probe, emb)  # the cached head keeps the neighbour check
    sent._models.clear()  # fitted on triage vectors here: later tests refit on the sentiment vectors
    sent._last = None


@pytest.mark.parametrize(
    "text",
    [
        # Sarcasm opens like a thank-you closing: the neighbour check must not calm it down.
        "Perfect, another broken lamp, thanks for nothing.",
        "Parfait, encore une lampe cassée, merci pour rien.",
        "Perfecto, otra lámpara rota, gracias por nada.",
        "Perfekt, schon wieder eine kaputte Lampe, danke für nichts.",
        "Perfetto, un'altra lampada rotta, grazie di niente.",
        "Perfect, weer een kapotte lamp, bedankt voor niets.",
        "Perfeito, mais um candeeiro partido, obrigado por nada.",
        "Oh great, my refund has vanished again. Wonderful service, well done.",
        "Super, mon remboursement a encore disparu. Service formidable, bravo.",
    ],
)
def test_sarcasm_stays_negative(cfg, text):
    assert sentiment(text, cfg)[0] in NEGATIVE


CLOSINGS = [
    "That's everything I needed, thanks a lot. Have a lovely Sunday!",
    "C'est tout ce qu'il me fallait, merci beaucoup. Bon dimanche !",
    "Es todo lo que necesitaba, muchas gracias. ¡Feliz domingo!",
    "Das ist alles, was ich brauchte, vielen Dank. Schönen Sonntag noch!",
    "È tutto quello che mi serviva, grazie mille. Buona domenica!",
    "Dat is alles wat ik nodig had, heel erg bedankt. Fijne zondag!",
    "É tudo o que precisava, muito obrigado. Bom domingo!",
    "Perfect, that sorts it. Thanks and enjoy your evening!",
    "Parfait, ça règle tout. Merci et bonne soirée !",
    "Perfekt, damit ist alles geklärt. Danke und schönen Abend!",
]


def test_thank_you_closings_rarely_escalate(cfg):
    # very_negative pages Slack (config/rules.yaml on_very_negative). Without the neighbour check 5 of these 10
    # closings read very_negative; with it 2 (DE "Schönen Sonntag noch", FR "Parfait, ça règle tout"); with the
    # courtesy check too, 1 (FR: what is left, "ça règle tout", still reads negative).
    very = [t for t in CLOSINGS if sentiment(t, cfg)[0] == "very_negative"]
    assert len(very) <= 1, very


class _FixedProba:
    """A model whose regression always says ``p``: only the neighbour check decides."""

    def __init__(self, p: dict[str, float]):
        self.p = p

    def __call__(self, texts, emb):
        import numpy as np

        return {c: np.full(len(texts), self.p.get(c, 0.0)) for c in ("angry", "negative", "neutral", "positive")}


def _toy_model(p: dict[str, float]):
    import numpy as np

    from pipeline.sentiment import KNN_K, SentimentModel

    rng = np.random.default_rng(0)
    angry_dir, calm_dir = np.eye(8)[0], np.eye(8)[1]
    angry = angry_dir + 0.05 * rng.standard_normal((KNN_K + 2, 8))
    calm = calm_dir + 0.05 * rng.standard_normal((KNN_K + 4, 8))
    labels = ["angry"] * (KNN_K + 1) + ["negative"] + ["neutral"] * (KNN_K + 2) + ["positive"] * 2
    model = SentimentModel().set_neighbours(labels, np.vstack([angry, calm]))
    model.proba = _FixedProba(p)
    return model, angry_dir, calm_dir


def test_neighbour_check_damps_a_verdict_far_from_every_angry_example():
    import numpy as np

    model, angry_dir, calm_dir = _toy_model({"angry": 0.8, "negative": 0.1, "neutral": 0.1})
    near_angry = (angry_dir + 0.2 * calm_dir)[None, :]
    near_calm = (calm_dir + 0.2 * angry_dir)[None, :]
    halfway = (angry_dir + calm_dir)[None, :]
    assert model.verdicts(["x"], near_angry) == [("very_negative", -0.9)]
    assert model.verdicts(["x"], near_calm) == [("neutral", 0.0)]
    assert model.verdicts(["x"], halfway)[0][0] == "very_negative"  # a tie is no reason to doubt the regression
    margin = model.neighbour_margin(np.vstack([near_angry, near_calm]))
    assert margin[0] > 0 > margin[1]


def test_neighbour_check_leaves_calm_verdicts_and_unfitted_neighbours_alone():
    import numpy as np

    from pipeline.sentiment import SentimentModel

    model, angry_dir, calm_dir = _toy_model({"positive": 0.7, "neutral": 0.3})
    assert model.verdicts(["x"], angry_dir[None, :]) == [("positive", 0.7)]  # only negative verdicts are damped
    bare = SentimentModel()
    bare.proba = _FixedProba({"angry": 0.6, "neutral": 0.4})
    assert bare.neighbour_margin(np.ones((1, 8))) is None
    assert bare.verdicts(["x"], calm_dir[None, :]) == [("very_negative", -0.6)]  # no training vectors: no check


# The courtesy check (pipeline/signals.py: _courtesy_only, pipeline/courtesy.py).
OWN_CLOSINGS = [
    "Brilliant, the tracking works now. Thanks and have a nice weekend!",
    "Parfait, le suivi marche maintenant. Merci et bon week-end !",
    "Perfecto, el seguimiento ya funciona. ¡Gracias y buen fin de semana!",
    "Perfekt, die Sendungsverfolgung geht jetzt. Danke und schönes Wochenende!",
    "Perfetto, il tracking ora funziona. Grazie e buon fine settimana!",
    "Perfect, de track & trace werkt nu. Bedankt en fijn weekend!",
    "Perfeito, o seguimento já funciona. Obrigado e bom fim de semana!",
]


def test_thank_you_closings_are_not_negative(cfg):
    # Without the courtesy check 5 of these 7 read very_negative (FR, ES, DE, NL, PT).
    negative = [t for t in OWN_CLOSINGS if sentiment(t, cfg)[0] in NEGATIVE]
    assert not negative, negative


def test_courtesy_check_leaves_closings_in_lookalikes_calm(cfg):
    text = "Pеrfеkt, diе Sеndungsvеrfolgung gеht jеtzt. Dаnkе und schönеs Wochеnеndе!"  # Cyrillic е, а
    assert sentiment(text, cfg)[0] not in NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        # Sarcasm wrapped in courtesy formulas that the model reads negative: the check must not take it back.
        "Wonderful, my parcel is lost again. Have a nice day!",
        "Fantastico, un'altra settimana di attesa. Grazie tante.",
        "Ótimo, mais uma semana à espera. Muito obrigado.",
        "Pеrfеct, аnothеr brokеn lаmp, thаnks for nothing.",  # Cyrillic look-alikes
        "<b>Perfect</b>, another broken lamp. Thanks a lot!",
        "Danke, aber das ist das dritte Mal, dass ich wegen derselben Bestellung schreibe.",
    ],
)
def test_courtesy_check_keeps_sarcasm(cfg, text):
    assert sentiment(text, cfg)[0] in NEGATIVE


class _Courtesy:
    """A model for the courtesy check alone: P(angry) of a text from ``neg``, its neighbour margin read from the
    first coordinate of its vector."""

    def __init__(self, neg: dict[str, float]):
        self.neg = neg

    def proba(self, texts, emb):
        import numpy as np

        angry = np.array([self.neg.get(t, 0.9) for t in texts])
        return {"angry": angry, "negative": np.zeros(len(texts)), "neutral": 1 - angry, "positive": np.zeros(len(texts))}

    def neighbour_margin(self, emb):
        return emb[:, 0]


def _vec(margin: float):
    import numpy as np

    return np.array([[margin, 0.0]], dtype=np.float32)


def test_courtesy_rule_on_a_toy_model():
    from pipeline.signals import COURTESY_MARGIN, _courtesy_only

    text, rest = "Perfect, that answers everything. Have a good weekend!", "that answers everything"
    calm = _Courtesy({rest: 0.1})
    assert _courtesy_only(text, _vec(-0.03), calm, lambda t: _vec(-0.03))
    # The message, or what is left of it, nearer the angry examples: the verdict stands.
    assert not _courtesy_only(text, _vec(COURTESY_MARGIN + 0.001), calm, lambda t: _vec(-0.03))
    assert not _courtesy_only(text, _vec(-0.03), calm, lambda t: _vec(COURTESY_MARGIN + 0.001))
    assert _courtesy_only(text, _vec(COURTESY_MARGIN - 0.001), calm, lambda t: _vec(COURTESY_MARGIN - 0.001))
    # What is left reads negative on its own.
    assert not _courtesy_only(text, _vec(-0.03), _Courtesy({rest: 0.6}), lambda t: _vec(-0.03))

    def never(texts):
        raise AssertionError("nothing left to embed")

    assert _courtesy_only("ok perfect thx! 👍", _vec(-0.03), calm, never)
    assert not _courtesy_only("Where is my order?", _vec(-0.03), calm, never)  # no formula: nothing to decide


@pytest.mark.parametrize(
    "text",
    [
        "Perfect, thanks. See you in court.",  # legal_threat
        "Great, thanks. I've asked my bank to reverse the payment.",  # chargeback
        "Thanks, this is the third time I write about it.",  # repeated_contact
        "Super, merci. C'est la troisième fois que j'écris.",
        "Perfect, thanks. Last time I order from you.",  # churn_risk
        "PERFECT, THANKS A LOT. HAVE A GREAT DAY!!",  # shouting
        "Perfect, thanks for the fucking help",  # profanity
        "Great, the parcel is late again. Thanks!",  # a repetition
        "Genial, el paquete llega tarde otra vez. ¡Gracias!",
        "Toll, das Paket ist schon wieder zu spät. Danke!",
        "Mooi, het pakket is alweer te laat. Bedankt!",
    ],
)
def test_courtesy_rule_exemptions(text):
    from pipeline.signals import _courtesy_only

    calm = _Courtesy({})
    calm.neg = type("AllCalm", (dict,), {"get": lambda self, k, d=None: 0.0})()
    assert not _courtesy_only(text, _vec(-0.5), calm, lambda t: _vec(-0.5))
