"""The English head's partner: e5's head's logits added to the English head's own for English messages,
at a weight (0 / 0.25 / 0.5) its CV pass chooses per training set (pipeline.local_classifier.PARTNER_WEIGHTS).

Synthetic vectors, so that which model "reads the store's English better" is known: the head's own
vectors carry the intent weakly, the partner's strongly (the weight must rise), or the partner's are noise
(it must stay 0)."""

import numpy as np
import pytest

from pipeline import local_classifier as lc

CLASSES = 6
PER_CLASS = 30
DIM = 16


def _vectors(seed: int, signal: float, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLASSES, DIM))
    v = np.repeat(centres, PER_CLASS, axis=0) * signal + rng.normal(size=(CLASSES * PER_CLASS, DIM)) * noise
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


TEXTS = [f"message {n}" for n in range(CLASSES * PER_CLASS)]
LABELS = [f"intent_{n // PER_CLASS}" for n in range(CLASSES * PER_CLASS)]


def _pair(own: np.ndarray, partner: np.ndarray) -> tuple[lc.IntentModel, lc.IntentModel]:
    """An English-like head and its partner, each embedding a text by looking its vector up."""
    row = {t: n for n, t in enumerate(TEXTS)}
    head, other = (lc.IntentModel(char_ngrams=False, knn_percentile=0) for _ in range(2))
    head.embedder = lambda texts: own[[row[t] for t in texts]]
    other.embedder = lambda texts: partner[[row[t] for t in texts]]
    head.partner = other
    other.fit(TEXTS, LABELS, embeddings=partner)
    head.fit(TEXTS, LABELS, embeddings=own, partner_emb=partner)
    return head, other


def test_the_weight_rises_when_the_partner_reads_the_training_set_better():
    own, partner = _vectors(1, signal=0.35, noise=1.0), _vectors(2, signal=1.0, noise=0.3)
    head, other = _pair(own, partner)
    assert head.partner_weight > 0 and head.cv.partner_weight == head.partner_weight
    alone = lc.IntentModel(char_ngrams=False, knn_percentile=0).fit(TEXTS, LABELS, embeddings=own)
    assert alone.cv.partner_weight == 0
    # Calibration was measured on the blended logits: the held-out accuracy is the blend's.
    assert head.cv.in_scope_accuracy > alone.cv.in_scope_accuracy + 0.05
    assert head.cv.temperature != pytest.approx(alone.cv.temperature)
    # Predictions add the partner's logits (read through its own embedder: e5's cached vectors in production).
    probe = TEXTS[::17]
    own_only = head.head().decision(head._centred(own[::17], head._vec.mean))
    np.testing.assert_allclose(head.decision(probe), own_only + head.partner_weight * other.decision(probe), rtol=1e-6)


def test_the_weight_stays_0_when_the_partners_vectors_say_nothing():
    own, noise = _vectors(3, signal=1.0, noise=0.5), _vectors(4, signal=0.0, noise=1.0)
    head, _ = _pair(own, noise)
    assert head.partner_weight == 0
    alone = lc.IntentModel(char_ngrams=False, knn_percentile=0).fit(TEXTS, LABELS, embeddings=own)
    np.testing.assert_allclose(head.decision(TEXTS), alone.decision(TEXTS, own))
    assert head.cv.temperature == pytest.approx(alone.cv.temperature)


def test_a_few_rows_gained_are_noise_not_a_reason_for_a_weight():
    right = np.zeros((40, 2))
    right[:, 0] = 1.0  # own logits: column 0 right for 40 rows
    t = np.zeros(40, dtype=int)
    partner = np.zeros((40, 2))
    partner[:3, 0], partner[3:5, 1] = 5.0, 9.0  # agrees on 3 rows own has right, breaks 2
    assert lc._pick_partner_weight([(right, partner, t, np.ones(40, dtype=bool))]) == 0.0
    own = np.zeros((40, 2))
    own[:, 1] = 0.1  # own logits wrong on every row
    fix_two = np.zeros((40, 2))
    fix_two[:2, 0] = 1.0  # the partner fixes 2 of 40 rows: below the sign test's margin
    assert lc._pick_partner_weight([(own, fix_two, t, np.ones(40, dtype=bool))]) == 0.0
    fix_all = np.zeros((40, 2))
    fix_all[:, 0] = 1.0  # fixes all 40 (at 0.25 already): the smaller weight of a tie
    assert lc._pick_partner_weight([(own, fix_all, t, np.ones(40, dtype=bool))]) == 0.25
    # Rows outside the mask (out-of-scope examples) do not vote.
    assert lc._pick_partner_weight([(own, fix_all, t, np.zeros(40, dtype=bool))]) == 0.0


def test_a_cached_calibration_brings_its_weight_and_only_a_head_with_a_partner_uses_it():
    own, partner = _vectors(5, signal=0.35, noise=1.0), _vectors(6, signal=1.0, noise=0.3)
    head, other = _pair(own, partner)
    cached = lc.CVReport(**{**head.cv.__dict__, "partner_weight": 0.5})
    again = lc.IntentModel(char_ngrams=False, knn_percentile=0)
    again.embedder, again.partner = head.embedder, other
    again.fit(TEXTS, LABELS, embeddings=own, cv=cached)
    assert again.partner_weight == 0.5
    lone = lc.IntentModel(char_ngrams=False, knn_percentile=0).fit(TEXTS, LABELS, embeddings=own, cv=cached)
    assert lone.partner_weight == 0.0  # no partner: nothing to add


def test_a_routed_model_gives_its_english_head_e5s_head_as_partner():
    m = lc.RoutedModel()
    assert m.english.partner is m.other and m.other.partner is None
    assert [name for name, _ in m.fit_order()] == ["other", "english"]
    assert "english-e5-weight-by-cv" in lc.FEATURES_VERSION  # cached calibrations without a weight are not reused


def test_the_partner_reads_the_e5_vector_embed_pair_computed_without_running_e5_again(monkeypatch):
    from knowledge import embedding as ke

    ke.select_model("multilingual-e5-small")
    ke.select_companion(False)
    ke.select_english_triage(True)
    try:
        e5 = ke.get_classifier_embedder()
        monkeypatch.setattr(e5, "cache_size", 0)  # as the speed bench does: the embedder's own cache is off
        text = "Parcel 88213 has not moved since the 3rd, where is it?"
        assert lc.reads_english([text])[0]
        lc.embed_pair([text])
        ran = e5.computed
        v = lc.embed_multilingual([text])
        assert e5.computed == ran  # e5's vector of the English message, kept by embed_pair
        monkeypatch.setattr(lc._e5_of_english, "_rows", {})
        np.testing.assert_allclose(v, lc.embed_multilingual([text]), atol=1e-5)  # the same vector e5 gives
        assert e5.computed == ran + 1
        # Kept per model selection: with the MiniLM option on (no English head) it is never handed on.
        lc.embed_pair([text])
        ke.select_companion(True)
        assert lc._e5_of_english.get([lc._unshout(text)]) is None
    finally:
        ke.select_companion(False)
        ke.select_english_triage(ke.DEFAULT_ENGLISH_TRIAGE)
