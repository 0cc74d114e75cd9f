"""The non-English head's nearest-examples scores (pipeline.local_classifier.NEIGHBOUR_WEIGHT): the mean
similarity to each intent's closest examples, added to the regression's logits in the CV pass and at
prediction alike, and never to the logits the English head borrows from it (English stays unchanged)."""

import numpy as np
import pytest

from pipeline import local_classifier as lc

from .test_english_partner import LABELS, TEXTS, _vectors


def test_scores_are_the_mean_of_each_labels_k_closest_rows():
    ref = np.array([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8], [-1, 0]], dtype=np.float32)
    lab = np.array([0, 0, 1, 1, 0])
    q = np.array([[1, 0]], dtype=np.float32)
    s = lc._neighbour_scores(q, ref, lab, 3, k=2)
    # Label 0: the two closest of (1, 0.8, -1); label 1: both of its rows; label 2 has none: 0.
    np.testing.assert_allclose(s, [[0.9, 0.3, 0.0]], atol=1e-6)
    # A label with fewer rows than k: the mean of those it has (not padded with zeros).
    np.testing.assert_allclose(lc._neighbour_scores(q, ref, lab, 3, k=4)[0, 1], 0.3, atol=1e-6)
    # The order of the examples does not matter.
    perm = np.array([4, 2, 0, 3, 1])
    np.testing.assert_allclose(lc._neighbour_scores(q, ref[perm], lab[perm], 3, k=2), s, atol=1e-6)
    assert lc._neighbour_scores(q[:0], ref, lab, 3).shape == (0, 3)


def _head(weight: float) -> lc.IntentModel:
    emb = _vectors(7, signal=0.5, noise=1.0)
    row = {t: n for n, t in enumerate(TEXTS)}
    m = lc.IntentModel(char_ngrams=False, knn_percentile=0)
    m.neighbour_weight = weight
    m.embedder = lambda texts: emb[[row[t] for t in texts]]
    return m.fit(TEXTS, LABELS, embeddings=emb)


def test_predictions_and_calibration_both_add_the_scores():
    plain, near = _head(0.0), _head(5.0)
    probe = TEXTS[::7]
    emb = near.vectors(probe)
    own = near._clf.decision_function(near._features(emb, probe, near._vec))
    scores = lc._neighbour_scores(near._centred(emb, near._vec), near._train_centred, near._label_idx, len(near.classes_))
    np.testing.assert_allclose(near.decision(probe), own + 5.0 * scores, rtol=1e-6)
    np.testing.assert_allclose(near.decision(probe, neighbours=False), plain.decision(probe), rtol=1e-6)
    # The CV pass measured the blended logits (its temperature and accuracy are not the plain head's).
    assert near.cv.temperature != pytest.approx(plain.cv.temperature)
    assert not len(plain._train_centred)  # nothing kept when the weight is 0


def test_the_english_head_borrows_e5s_logits_without_the_scores():
    own, partner = _vectors(1, signal=0.35, noise=1.0), _vectors(2, signal=1.0, noise=0.3)
    row = {t: n for n, t in enumerate(TEXTS)}
    heads = []
    for weight in (0.0, lc.NEIGHBOUR_WEIGHT):
        head, other = (lc.IntentModel(char_ngrams=False, knn_percentile=0) for _ in range(2))
        head.embedder = lambda texts: own[[row[t] for t in texts]]
        other.embedder = lambda texts: partner[[row[t] for t in texts]]
        other.neighbour_weight = weight
        head.partner = other
        other.fit(TEXTS, LABELS, embeddings=partner)
        head.fit(TEXTS, LABELS, embeddings=own, partner_emb=partner)
        heads.append((head, other))
    (plain, plain_other), (english, other) = heads
    assert english.partner_weight > 0  # the partner's logits are in use, so the test can see a difference
    probe = TEXTS[::11]
    assert not np.allclose(other.decision(probe), plain_other.decision(probe))  # the e5 head itself changed
    np.testing.assert_allclose(english.decision(probe), plain.decision(probe), rtol=1e-6)
    assert english.cv.temperature == pytest.approx(plain.cv.temperature)


def test_a_routed_model_gives_the_scores_to_its_non_english_head_only():
    m = lc.RoutedModel()
    assert m.other.neighbour_weight == lc.NEIGHBOUR_WEIGHT > 0 and m.english.neighbour_weight == 0
    assert "e5-neighbours" in lc.FEATURES_VERSION  # calibrations cached without them are not reused
