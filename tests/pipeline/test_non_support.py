"""Non-support text (pipeline/data/generic_non_support.txt, non_support_mail.txt) in the intent model: kept aside.

``training_data`` appends the shipped lines under :data:`~pipeline.local_classifier.NON_SUPPORT_LABEL`; a head keeps
their vectors (:attr:`~pipeline.local_classifier.IntentModel.generic_emb`) and ``classify_local`` calls a message out
of scope when one of them is closer to it than the predicted intent's closest example by more than
:data:`~pipeline.local_classifier.GENERIC_MARGIN` (learned as a class, or as `other`'s examples, they pulled requests
to `other` on the tuning set: docs/measurements.md, fifteenth session, helper 2).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pipeline import local_classifier as lc
from pipeline.local_classifier import NON_SUPPORT_LABEL, IntentModel

DIM = 16
INTENTS = ("shipping", "refund", "password", "discount")
GENERIC_DIR = DIM - 1  # the generic lines' own direction


def _rows(rng):
    texts, labels, emb = [], [], []
    for k, name in enumerate(INTENTS):
        for i in range(8):
            v = np.zeros(DIM, dtype=np.float32)
            v[k] = 1.0
            v[4 + (i % 8)] = 0.3 * rng.random()
            texts.append(f"{name} example {i}")
            labels.append(name)
            emb.append(v / np.linalg.norm(v))
    for i in range(5):  # the generic rows come last, as in training_data
        v = np.zeros(DIM, dtype=np.float32)
        v[GENERIC_DIR] = 1.0
        v[12 + (i % 3)] = 0.2
        texts.append(f"we build web shops, call us {i}")
        labels.append(NON_SUPPORT_LABEL)
        emb.append(v / np.linalg.norm(v))
    return texts, labels, np.array(emb, dtype=np.float32)


@pytest.fixture(scope="module")
def fitted():
    texts, labels, emb = _rows(np.random.default_rng(0))
    model = IntentModel(char_ngrams=False).fit(texts, labels, embeddings=emb, calibrate=False)
    return model, emb


def test_training_data_appends_the_generic_lines_last_under_their_own_label():
    from pipeline.config import load_config

    cfg = load_config("config")
    texts, labels = lc.training_data(cfg)
    generic = lc.non_support_text()
    assert len(generic) > 200  # both shipped files were read (seven languages)
    assert texts[-len(generic):] == generic and set(labels[-len(generic):]) == {NON_SUPPORT_LABEL}
    assert NON_SUPPORT_LABEL not in labels[:-len(generic)] and NON_SUPPORT_LABEL not in cfg.intents.intents


def test_the_generic_rows_are_kept_aside_not_learned(fitted):
    model, emb = fitted
    assert model.classes_ == sorted(INTENTS)  # no class of them
    assert len(model.train_emb) == 32 and model.generic_emb.shape == (5, DIM)
    assert NON_SUPPORT_LABEL not in model.train_labels
    # What the disk cache stores is every row given to fit, in its order (the cache's shape check reads it).
    np.testing.assert_allclose(model.fit_embeddings(), emb)


def test_the_cv_pass_ignores_the_generic_rows():
    texts, labels, emb = _rows(np.random.default_rng(0))
    with_generic = IntentModel(char_ngrams=False)._cross_validate(texts, labels, emb, None)
    without = IntentModel(char_ngrams=False)._cross_validate(texts[:32], labels[:32], emb[:32], None)
    assert with_generic.folds == without.folds >= 3
    assert with_generic.temperature == pytest.approx(without.temperature)
    assert with_generic.threshold == pytest.approx(without.threshold)


def _cfg():
    intents = {name: SimpleNamespace(threshold=None, out_of_scope=False) for name in INTENTS}
    intents["other"] = SimpleNamespace(threshold=None, out_of_scope=True)
    return SimpleNamespace(intents=SimpleNamespace(intents=intents, oos_intent="other", threshold=0.0))


def _vec(weights: dict[int, float]) -> np.ndarray:
    v = np.zeros((1, DIM), dtype=np.float32)
    for j, w in weights.items():
        v[0, j] = w
    return v / np.linalg.norm(v)


def test_a_message_closer_to_generic_text_than_to_its_intent_is_out_of_scope(fitted):
    model, _ = fitted
    cfg = _cfg()
    near_generic = _vec({GENERIC_DIR: 0.9, 0: 0.45})  # read as `shipping` by the head, but mostly a sales pitch
    pred, oos = lc.classify_local("a pitch", cfg, model=model, embedding=near_generic)
    assert pred.label == "shipping" and oos
    request = _vec({0: 0.9, GENERIC_DIR: 0.4})  # closer to the intent: the rule stays quiet
    pred, oos = lc.classify_local("a request", cfg, model=model, embedding=request)
    assert pred.label == "shipping" and not oos


def test_the_margin_is_a_margin(fitted, monkeypatch):
    model, _ = fitted
    cfg = _cfg()
    msg = _vec({GENERIC_DIR: 0.7, 0: 0.7})  # about as close to either: out of scope exactly past the margin
    generic = float(model.non_support_similarity(msg)[0])
    intent = model.predict(["x"], embeddings=msg)[0].similarity
    monkeypatch.setattr(lc, "GENERIC_MARGIN", generic - intent - 1e-3)
    assert lc.classify_local("x", cfg, model=model, embedding=msg)[1]
    monkeypatch.setattr(lc, "GENERIC_MARGIN", generic - intent + 1e-3)
    assert not lc.classify_local("x", cfg, model=model, embedding=msg)[1]


def test_a_model_fitted_without_generic_rows_has_no_rule():
    texts, labels, emb = _rows(np.random.default_rng(0))
    model = IntentModel(char_ngrams=False).fit(texts[:32], labels[:32], embeddings=emb[:32], calibrate=False)
    assert model.generic_emb is None and model.non_support_similarity(emb[:2]) is None
    pred, oos = lc.classify_local("a pitch", _cfg(), model=model, embedding=_vec({GENERIC_DIR: 0.9, 0: 0.45}))
    assert not oos  # eval's models (a CSV's intents) and a config without the file behave as before
