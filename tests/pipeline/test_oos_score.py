"""The out-of-scope machinery of the local classifier: centred features, the kNN similarity per
class, the combined confidence + kNN score and closed-set scoring in ``evaluate``."""

from __future__ import annotations

import numpy as np
import pytest

from app.evaluate import evaluate
from pipeline import local_classifier as lc
from pipeline.local_classifier import CVReport, IntentModel, _class_max_similarity, _rank_score

TRAIN = {
    "shipping": ["where is my parcel", "when will my package arrive", "has my order shipped yet",
                 "tracking number please", "my delivery has not come", "is my box on the way"],
    "refund": ["I want my money back", "how do I get a refund", "refund my purchase please",
               "please reimburse me", "the refund has not reached my card", "can I get a refund for this"],
    "password": ["I forgot my password", "can't log in to my account", "reset my password",
                 "login doesn't work", "my account is locked", "I cannot sign in"],
    "discount": ["my promo code doesn't work", "do you have a coupon", "discount code rejected",
                 "voucher is not accepted", "how do I apply a coupon", "the promotion code is invalid"],
}
TEXTS = [t for ts in TRAIN.values() for t in ts]
LABELS = [lab for lab, ts in TRAIN.items() for _ in ts]


def _unit(rng, n, d=8):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_class_max_similarity_matches_brute_force_and_flags_missing_labels():
    rng = np.random.default_rng(1)
    ref, q = _unit(rng, 700), _unit(rng, 530)  # more than one 512-row block
    ref_label = rng.integers(0, 5, size=700)
    label = rng.integers(0, 6, size=530)  # label 5 has no reference row
    got = _class_max_similarity(q, ref, ref_label, label)
    S = q @ ref.T
    for r in range(len(q)):
        mask = ref_label == label[r]
        want = S[r, mask].max() if mask.any() else -1.0
        assert got[r] == pytest.approx(want, abs=1e-5)
    assert (got[label == 5] == -1.0).all() and (label == 5).any()


def test_rank_score_is_the_mean_of_two_ranks():
    conf_ref = list(np.linspace(0.0, 1.0, 101))
    sim_ref = list(np.linspace(0.5, 1.0, 101))
    s = _rank_score(np.array([0.0, 1.0, 0.5, 0.5, 2.0]), np.array([0.5, 1.0, 0.75, 0.5, -3.0]), conf_ref, sim_ref)
    assert s[0] == pytest.approx(0.0) and s[1] == pytest.approx(1.0)
    assert s[2] == pytest.approx(0.5) and s[3] == pytest.approx(0.25)
    assert s[4] == pytest.approx(0.5)  # clipped at both ends: conf above every ref, sim below
    # Higher confidence at the same similarity never scores lower.
    c = np.linspace(0, 1, 50)
    assert (np.diff(_rank_score(c, np.full(50, 0.8), conf_ref, sim_ref)) >= 0).all()


def test_repeated_quantiles_rank_at_their_middle():
    # Half the CV confidences are 0.99: a 0.99 ranks in the middle of that run, not at its top.
    ref = [0.1] * 51 + [0.99] * 50
    s = _rank_score(np.array([0.99]), np.array([0.99]), ref, ref)
    assert 0.7 < s[0] < 0.8


def test_cv_report_carries_the_combined_score_and_features_are_centred():
    m = IntentModel(cv_folds=4).fit(TEXTS, LABELS)
    cv = m.cv
    assert cv.conf_ref is not None and len(cv.conf_ref) == lc.SCORE_QUANTILES
    assert cv.sim_ref is not None and cv.sim_ref == sorted(cv.sim_ref)
    assert cv.score_threshold is not None and 0.0 <= cv.score_threshold < 1.0
    # The head sees centred, renormalised embeddings (the mean of the training set).
    assert m._vec is not None and np.allclose(m._vec.mean, m.train_emb.mean(axis=0), atol=1e-5)
    X = m._features(m.train_emb, TEXTS, lc._Featurizer(None, m._vec.mean))
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)
    assert np.abs(X.mean(axis=0)).max() < np.abs(m.train_emb.mean(axis=0)).max()
    # In-scope messages score above out-of-scope ones on the combined score.
    emb = lc._embed(["has my parcel been dispatched", "what is the capital of peru"])
    P = m.predict_proba(["has my parcel been dispatched", "what is the capital of peru"], emb)
    score = m.oos_score(P.max(axis=1), m.label_similarity(emb, P.argmax(axis=1)))
    assert score[0] > cv.score_threshold > score[1]


def test_oos_score_is_none_without_cv():
    m = IntentModel().fit(TEXTS, LABELS, calibrate=False)
    assert m.cv == CVReport() and m.oos_score(np.array([0.9]), np.array([0.9])) is None


def test_closed_set_evaluation_rejects_nothing_even_with_a_knn_floor(monkeypatch):
    monkeypatch.setattr(lc, "KNN_MIN_EXAMPLES", 10)  # the floor applies to this small set
    test = ["zxqv wplk trrm", "where is my parcel"]
    r = evaluate(TEXTS, LABELS, test, ["shipping", "shipping"], threshold=0.0)
    assert r["knn_floor"] is not None
    assert r["accuracy"] == r["closed_set_accuracy"]
    # With a threshold the floor does apply: the keyboard noise is rejected.
    r = evaluate(TEXTS, LABELS, test, ["oos", "shipping"], oos_label="oos", threshold=0.01)
    assert r["oos_recall"] == 1.0


def test_knn_floor_is_scaled_to_each_intent(monkeypatch):
    monkeypatch.setattr(lc, "KNN_MIN_EXAMPLES", 100)  # the floor applies to this small set
    # Intent 0's examples are alike (tight cluster), intent 1's are loose (as CLINC150's "definition":
    # "define X" for any word X). One global floor would sit between them and reject intent 1's real
    # messages; each intent's floor follows its own examples instead.
    rng = np.random.default_rng(7)
    centres = np.eye(16, dtype=np.float32)[:2]
    tight, loose = _clusters(rng, 60, centres[:1], spread=0.03), _clusters(rng, 60, centres[1:], spread=0.25)
    emb = np.vstack([tight, loose])
    labels = np.array([0] * 60 + [1] * 60)
    floors = lc._knn_floor(emb, labels, 5.0)
    assert floors is not None and floors.shape == (2,)
    assert floors[1] < floors[0]
    # A new loose-intent message as close to its examples as they are to each other is kept; one as
    # far from the tight intent's examples is rejected there.
    new_loose = _clusters(rng, 200, centres[1:], spread=0.25)
    sim_loose = (new_loose @ loose.T).max(axis=1)
    assert (sim_loose >= floors[1]).mean() > 0.9
    assert sim_loose.min() < floors[0]  # a single floor at the tight intent's level would reject some
    # Too few examples for a floor at all: none.
    assert lc._knn_floor(emb[:99], labels[:99], 5.0) is None


def test_below_floor_uses_the_predicted_intents_floor():
    m = IntentModel()
    m.knn_floor = np.array([0.9, 0.5])
    got = m.below_floor(np.array([0.7, 0.7, np.nan]), np.array([0, 1, 0]))
    assert got.tolist() == [True, False, False]
    m.knn_floor = None
    assert not m.below_floor(np.array([0.1]), np.array([0])).any()


def test_fit_cache_key_changes_with_the_feature_recipe(monkeypatch):
    # A head or calibration cached by a process that built features differently (before the
    # centring) must not be reused: the recipe is part of the cache key.
    from pathlib import Path

    from pipeline.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "config")
    before = lc._cache_key(cfg, None)
    monkeypatch.setattr(lc, "FEATURES_VERSION", "another-recipe")
    assert lc._cache_key(cfg, None) != before


def _lookup_model(texts: list[str], vecs: np.ndarray, **kwargs) -> IntentModel:
    """A head whose "embedding model" is a table of made-up vectors (no char n-grams: vectors only)."""
    table = {t: v for t, v in zip(texts, vecs, strict=True)}
    m = IntentModel(char_ngrams=False, **kwargs)
    m.embedder = lambda ts: np.array([table[t] for t in ts], dtype=np.float32)
    return m


def _clusters(rng, n_per: int, centres: np.ndarray, spread: float = 0.05) -> np.ndarray:
    v = np.repeat(centres, n_per, axis=0) + spread * rng.normal(size=(len(centres) * n_per, centres.shape[1]))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_a_head_is_calibrated_on_the_rows_it_reads_but_learns_from_all(monkeypatch):
    # Four intents; each has ten rows the head reads ("en ...", tight clusters) and ten it is never
    # given (noise to it, as French examples are to the English model). Row-level folds: which rows
    # are scored is the point here (grouped folds hold out most of a tight cluster at once).
    monkeypatch.setattr(lc, "CV_GROUP_SIZE", 0.0)
    rng = np.random.default_rng(3)
    centres = np.eye(8, dtype=np.float32)[:4]
    read = _clusters(rng, 10, centres)
    noise = rng.normal(size=(40, 8)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    texts = [f"en {i}" for i in range(40)] + [f"xx {i}" for i in range(40)]
    labels = [f"i{i // 10}" for i in range(40)] * 2
    vecs = np.vstack([read, noise])
    everyone = _lookup_model(texts, vecs, cv_folds=4).fit(texts, labels)
    english = _lookup_model(texts, vecs, cv_folds=4)
    english.reads = lambda ts: np.array([t.startswith("en ") for t in ts])
    english.fit(texts, labels)
    assert english.cv.in_scope_accuracy == 1.0
    assert everyone.cv.in_scope_accuracy < 0.8  # the noise rows' held-out errors counted
    assert english.cv.temperature != everyone.cv.temperature
    # The regression itself is the same: every row trains it either way.
    assert np.allclose(english.head().coef, everyone.head().coef)
    # Too few rows read for the CV pass: calibrated on all of them rather than not at all.
    few = _lookup_model(texts, vecs, cv_folds=4)
    few.reads = lambda ts: np.array([t == "en 0" for t in ts])
    assert few.fit(texts, labels).cv.in_scope_accuracy == pytest.approx(everyone.cv.in_scope_accuracy)


def test_the_english_head_is_calibrated_on_english_rows():
    m = lc.RoutedModel()
    assert m.english.reads is lc.reads_english and m.other.reads is None


def test_a_validation_split_chooses_a_threshold_on_the_combined_score():
    # Out-of-scope rows lean towards one intent (a confident head) but sit far from its examples:
    # the similarity half of the combined score is what rejects them.
    rng = np.random.default_rng(5)
    centres = np.eye(8, dtype=np.float32)[:4]
    train = _clusters(rng, 10, centres)
    tr_texts, tr_labels = [f"tr {i}" for i in range(40)], [f"i{i // 10}" for i in range(40)]
    far = 0.55 * centres[rng.integers(0, 4, size=12)] + 0.85 * np.eye(8, dtype=np.float32)[rng.integers(4, 8, size=12)]
    far /= np.linalg.norm(far, axis=1, keepdims=True)
    near = _clusters(rng, 3, centres)
    texts = tr_texts + [f"in {i}" for i in range(12)] + [f"out {i}" for i in range(12)]
    m = _lookup_model(texts, np.vstack([train, near, far]), cv_folds=4)
    val = ([f"in {i}" for i in range(0, 12, 2)] + [f"out {i}" for i in range(0, 12, 2)],
           [f"i{i // 3}" for i in range(0, 12, 2)] + ["oos"] * 6)
    test = ([f"in {i}" for i in range(1, 12, 2)] + [f"out {i}" for i in range(1, 12, 2)],
            [f"i{i // 3}" for i in range(1, 12, 2)] + ["oos"] * 6)
    r = evaluate(tr_texts, tr_labels, *test, oos_label="oos", model=m, val_texts=val[0], val_labels=val[1])
    assert r["threshold_source"] == "validation, confidence + kNN score"
    assert r["in_scope_accuracy"] == 1.0 and r["oos_recall"] == 1.0
    # The same rows scored with the combined score at that threshold.
    P = m.predict_proba(test[0], m.vectors(test[0]))
    score = m.oos_score(P.max(axis=1), m.label_similarity(m.vectors(test[0]), P.argmax(axis=1)))
    assert (score[:6] >= r["threshold"]).all() and (score[6:] < r["threshold"]).all()


def test_cv_threshold_weighs_in_scope_accuracy_above_oos_recall():
    # Overlapping CV scores: in-scope 0.3-1.0, held-out intents 0.0-0.6. The even mean of the two
    # rates puts the threshold in the middle of the overlap; the in-scope weight lowers it (fewer
    # in-scope messages rejected), and the weight defaults to IN_SCOPE_WEIGHT.
    in_conf, oos_conf = np.linspace(0.3, 1.0, 100), np.linspace(0.0, 0.6, 100)
    ok = np.ones(100, dtype=bool)
    even = lc._pick_threshold(in_conf, ok, oos_conf, in_weight=0.5)
    weighted = lc._pick_threshold(in_conf, ok, oos_conf, in_weight=0.6)
    assert 0.3 <= weighted < even <= 0.6
    assert lc._pick_threshold(in_conf, ok, oos_conf) == weighted == lc._pick_threshold(
        in_conf, ok, oos_conf, in_weight=lc.IN_SCOPE_WEIGHT)


def _paraphrase_clusters(rng, intents=4, clusters=3, rows=3, d=16):
    """Vectors of ``intents`` intents, each ``clusters`` groups of ``rows`` near-identical rewordings."""
    emb, labels, cluster = [], [], []
    for i in range(intents):
        centre = rng.normal(size=d)
        for c in range(clusters):
            sub = centre + 0.6 * rng.normal(size=d)
            for _ in range(rows):
                emb.append(sub + 0.01 * rng.normal(size=d))
                labels.append(f"intent{i}")
                cluster.append(i * clusters + c)
    emb = np.array(emb, dtype=np.float32)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True), labels, np.array(cluster)


def test_paraphrase_groups_are_the_clusters_of_rewordings():
    rng = np.random.default_rng(3)
    emb, _, cluster = _paraphrase_clusters(rng, intents=1, clusters=3, rows=3)
    idx = np.arange(100, 100 + len(emb))
    groups = lc._paraphrase_groups(emb, idx, 3.0)
    assert sorted(np.concatenate(groups).tolist()) == idx.tolist()  # every row once
    assert [len(g) for g in groups] == [3, 3, 3]
    assert all(len(set(cluster[g - 100])) == 1 for g in groups)
    # One wording repeated: still cut into groups of at most twice the size, never one group.
    same, _, _ = _paraphrase_clusters(rng, intents=1, clusters=1, rows=14)
    one = lc._paraphrase_groups(same, np.arange(14), 3.0)
    assert len(one) >= 3 and max(len(g) for g in one) <= 6 and [len(g) for g in one] == sorted(map(len, one))[::-1]
    # The same example repeated (no distance to cut by): groups of the size.
    assert [len(g) for g in lc._paraphrase_groups(np.ones((7, 4), dtype=np.float32), np.arange(7), 3.0)] == [3, 3, 1]
    # Row-level folds (size 0) and too few rows to group: one row per group.
    assert [len(g) for g in lc._paraphrase_groups(emb, idx, 0.0)] == [1] * len(idx)
    assert [g.tolist() for g in lc._paraphrase_groups(emb[:2], idx[:2], 3.0)] == [[100], [101]]


def test_cv_keeps_rewordings_of_a_held_out_row_out_of_its_training_folds(monkeypatch):
    # Each held-out row's nearest example of its intent is another group's, never its own near-twin:
    # the CV pass sees held-out rows as new to the model as real messages are.
    emb, labels, _ = _paraphrase_clusters(np.random.default_rng(5), intents=6)
    texts = [f"row {n}" for n in range(len(labels))]
    m = IntentModel(cv_folds=4, char_ngrams=False).fit(texts, labels, embeddings=emb)
    assert m.cv.sim_ref is not None and max(m.cv.sim_ref) < 0.99
    # Row-level folds (the earlier CV) leave a twin in training: held-out similarities near 1.
    monkeypatch.setattr(lc, "CV_GROUP_SIZE", 0.0)
    row_level = IntentModel(cv_folds=4, char_ngrams=False).fit(texts, labels, embeddings=emb)
    assert max(row_level.cv.sim_ref) > 0.99
