"""pipeline.linear's numpy prediction against scikit-learn's, on thousands of varied texts, to 1e-9.

A worker predicts from plain arrays (the fit cache) without importing scikit-learn; these tests are the
proof that it computes what scikit-learn would: the char_wb TF-IDF transform, the logistic regression's
decision values and probabilities (multinomial and binary), and the intent model's calibrated
probabilities end to end. The texts come from the project's own data (config/intents.yaml, the
sentiment examples, the multilingual bench set) cut, recombined and mangled with what real messages
carry: accents in both Unicode forms, emoji and flags, look-alike letters, other scripts, upper-case
letters whose lower case is longer (İ), odd whitespace (NBSP, tabs, U+2028, ASCII separators), control
characters, empty and very long texts.
"""

from __future__ import annotations

import csv
import hashlib
import random
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from pipeline import local_classifier as lc
from pipeline.config import load_config
from pipeline.linear import CharNgrams, Head
from pipeline.lookalikes import fold_lookalikes

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-9

ODD = ["\u00a0", "\t", "\n", "\r\n", "\u2028", "\u2029", "\x1c", "\x1f", "\u3000", "\u200b", "\u2009", "\x0b", "\x0c",
       "  ", " \t ", "\x00", "\u0085", "\ufeff"]
EMOJI = ["😡", "🙂", "👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", "🤬🤬🤬", "📦"]
SCRIPTS = ["посылка не пришла", "返金してください", "طلبي لم يصل", "पैसे वापस करो", "주문 취소", "παραγγελία",
           "ﬁle", "Straße", "İSTANBUL", "ΣΊΣΥΦΟΣ", "ǅemal", "ﬀ"]
# Latin letters and their Cyrillic / Greek look-alikes (what pipeline.lookalikes folds; the vectorizer must read
# both spellings the way scikit-learn does, folded or not).
LOOKALIKE = str.maketrans({"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у", "i": "і", "A": "Α"})


def _base_texts() -> list[str]:
    cfg = load_config(ROOT / "config")
    texts, _ = lc.training_data(cfg)
    with (ROOT / "pipeline" / "data" / "sentiment_examples.csv").open(encoding="utf-8") as fh:
        texts += [r["text"] for r in csv.DictReader(fh)]
    with (ROOT / "bench" / "data" / "multilingual_intents.csv").open(encoding="utf-8") as fh:
        texts += [r["text"] for r in csv.DictReader(fh)]
    return [t for t in texts if t]


def _mangle(text: str, rng: random.Random, pool: list[str]) -> str:
    kind = rng.randrange(14)
    if kind == 0:
        return unicodedata.normalize("NFD", text)  # accents as combining marks
    if kind == 1:
        return text.translate(LOOKALIKE)
    if kind == 2:
        return text.upper()
    if kind == 3:
        return rng.choice(ODD).join(text.split(" "))
    if kind == 4:
        words = text.split()
        return " ".join(w + rng.choice(EMOJI) if rng.random() < 0.3 else w for w in words)
    if kind == 5:
        return rng.choice(SCRIPTS) + " " + text + " " + rng.choice(SCRIPTS)
    if kind == 6:
        return " ".join(rng.sample(pool, 40))  # long
    if kind == 7:
        return text * rng.randrange(30, 120)  # very long, repeated n-grams (sublinear tf)
    if kind == 8:
        return "".join(c + "\u0301" if c.isalpha() and rng.random() < 0.2 else c for c in text)
    if kind == 9:
        return rng.choice(["", " ", "\n\n", "\u00a0", "!!!", "?", "a", "I", "12345", "#A-77 / 3", "\x00\x00"])
    if kind == 10:
        return "".join(rng.choice(ODD) if c == " " else c for c in text).swapcase()
    if kind == 11:
        return text.replace("e", "é").replace("o", "ö").replace("a", "ā")
    if kind == 12:
        return fold_lookalikes(text.translate(LOOKALIKE))
    return text


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    """(training texts, 1,500 test texts): real texts for the fit, mangled and unseen ones to transform."""
    base = _base_texts()
    rng = random.Random(20261202)
    rng.shuffle(base)
    train = base[: len(base) // 2]
    held = base[len(base) // 2 :]
    tests = [_mangle(rng.choice(held if rng.random() < 0.7 else train), rng, base) for _ in range(1500)]
    tests += ["", " ", "İ" * 50, "\u0130stanbul ŞİŞLİ", "x" * 20000, "😡" * 300]
    return train, tests


def _sk_vectorizer(train: list[str], **kw) -> TfidfVectorizer:
    settings = dict(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1, max_features=60000)
    return TfidfVectorizer(**{**settings, **kw}).fit(train)


@pytest.fixture(scope="module")
def default_fit(corpus):
    """The default-settings vectorizer fitted on the training texts, and scikit-learn's TF-IDF of the training
    and test texts: fitted and transformed once for the tests that need them (read-only arrays, so that no
    test can change what another one reads)."""
    train, tests = corpus
    vec = _sk_vectorizer(train)
    x_train, x_tests = vec.transform(train), vec.transform(tests)
    for m in (x_train, x_tests):
        for a in (m.data, m.indices, m.indptr):
            a.flags.writeable = False
    return vec, x_train, x_tests


def test_the_texts_are_varied(corpus):
    _, tests = corpus
    assert len(tests) >= 1000
    joined = "".join(tests)
    for probe in ("\u0301", "\u00a0", "\u2028", "\x00", "😡", "İ", "а", "返"):
        assert probe in joined
    assert "" in tests and max(map(len, tests)) >= 20000


@pytest.mark.parametrize("kw", [{}, {"sublinear_tf": False}, {"ngram_range": (1, 3)}, {"max_features": 500}])
def test_char_ngrams_transform_is_scikit_learns(corpus, default_fit, kw):
    train, tests = corpus
    if kw:
        vec = _sk_vectorizer(train, **kw)
        expected = vec.transform(tests).toarray()
    else:
        vec, _, x_tests = default_fit
        expected = x_tests.toarray()
    ours = CharNgrams.from_sklearn(vec)
    got = ours.dense(tests)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    # The same n-grams, not only the same values: every analyzed text gives scikit-learn's list.
    analyzer = vec.build_analyzer()
    for t in tests[:300]:
        assert ours.analyze(t) == analyzer(t)


def test_char_ngrams_refuses_settings_it_does_not_reproduce(corpus):
    train, _ = corpus
    for kw in ({"analyzer": "char"}, {"lowercase": False}, {"strip_accents": "unicode"}, {"norm": "l1"},
               {"use_idf": False}, {"binary": True}):
        with pytest.raises(ValueError):
            CharNgrams.from_sklearn(_sk_vectorizer(train, **kw))


def test_char_ngrams_survive_the_cache_file(corpus, tmp_path):
    train, tests = corpus
    # A vocabulary term with a NUL and trailing spaces: numpy's fixed-width strings would drop them.
    vec = _sk_vectorizer(train + ["a\x00b end", "x\x00"])
    assert any("\x00" in t for t in vec.vocabulary_)
    ours = CharNgrams.from_sklearn(vec)
    head = Head(np.ones((3, 2 + len(ours.terms))), np.zeros(3), np.array(["a", "b", "c"]), ours)
    np.savez(tmp_path / "h.npz", **head.to_arrays())
    with np.load(tmp_path / "h.npz", allow_pickle=False) as z:
        back = Head.from_arrays(z)
    assert back.ngrams.terms == ours.terms
    np.testing.assert_array_equal(back.ngrams.dense(tests[:200]), ours.dense(tests[:200]))


def _features(train: list[str], tests: list[str], dim: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return rng.normal(size=(len(train), dim)), rng.normal(size=(len(tests), dim))


@pytest.mark.parametrize("n_classes", [2, 3, 9])
def test_head_decision_and_proba_are_scikit_learns(corpus, default_fit, n_classes):
    from scipy import sparse

    train, tests = corpus
    vec, x_train, x_tests = default_fit
    dense_train, dense_test = _features(train, tests)
    weight = 0.6
    X = sparse.hstack([sparse.csr_matrix(dense_train), x_train * weight], format="csr")
    labels = [f"c{i % n_classes}" for i in range(len(train))]
    clf = LogisticRegression(C=20.0, max_iter=2000).fit(X, labels)
    head = Head.from_sklearn(clf, CharNgrams.from_sklearn(vec))
    Xt = sparse.hstack([sparse.csr_matrix(dense_test), x_tests * weight], format="csr")
    np.testing.assert_allclose(head.decision(dense_test, tests, weight), clf.decision_function(Xt), rtol=0, atol=TOL)
    np.testing.assert_allclose(head.predict_proba(dense_test, tests, weight), clf.predict_proba(Xt), rtol=0, atol=TOL)
    assert list(head.classes) == list(clf.classes_)


def test_a_head_without_ngrams_is_scikit_learns():
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(400, 30)), rng.integers(0, 4, 400).astype(str)
    clf = LogisticRegression(C=64.0, max_iter=3000, class_weight="balanced").fit(X, y)
    head = Head.from_sklearn(clf)
    Xt = rng.normal(size=(1200, 30)) * rng.choice([1e-3, 1.0, 50.0], size=(1200, 1))  # large logits too
    np.testing.assert_allclose(head.predict_proba(Xt), clf.predict_proba(Xt), rtol=0, atol=TOL)
    with pytest.raises(ValueError):
        Head(head.coef, head.intercept, head.classes, CharNgrams(("ab",), np.ones(1))).decision(Xt)


def _hashed_vectors(texts: list[str], dim: int = 32) -> np.ndarray:
    """A deterministic stand-in embedder (vectors from each text's hash): no model needed."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        seed = int.from_bytes(hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[:8], "little")
        out[i] = np.random.default_rng(seed).normal(size=dim)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_intent_model_probabilities_are_scikit_learns(corpus):
    """End to end: the model's numpy predict_proba against scikit-learn's pipeline on the same fit
    (vectorizer refit on the same folded texts, regression with the head's weights, centred vectors)."""
    from scipy import sparse

    cfg = load_config(ROOT / "config")
    texts, labels = lc.training_data(cfg)
    _, tests = corpus
    m = lc.IntentModel(cv_folds=3)
    m.embedder = _hashed_vectors
    m.fit(texts, labels, oos_label=cfg.intents.oos_intent)
    assert m.temperature != 1.0  # calibrated: the temperature is part of what is compared

    # The rows the head learned: training_data's non-support rows are set aside, not learned (test_non_support.py).
    vec = _sk_vectorizer([fold_lookalikes(t) for t in m.train_texts])
    head = m.head()
    assert head.ngrams.terms == CharNgrams.from_sklearn(vec).terms
    clf = LogisticRegression()
    clf.coef_, clf.intercept_, clf.classes_ = head.coef, head.intercept, head.classes
    emb = _hashed_vectors(tests)
    centred = m._centred(emb, m._vec.mean)
    X = sparse.hstack([sparse.csr_matrix(centred), vec.transform([fold_lookalikes(t) for t in tests]) * m.char_weight],
                      format="csr")
    logits = clf.decision_function(X)
    expected = np.exp(logits / m.temperature - (logits / m.temperature).max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(m.decision(tests, emb), logits, rtol=0, atol=TOL)
    np.testing.assert_allclose(m.predict_proba(tests, emb), expected, rtol=0, atol=TOL)
