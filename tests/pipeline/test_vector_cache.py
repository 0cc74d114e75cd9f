"""pipeline.answer's sentence-vector cache never serves one embedding function's vectors to another."""

from __future__ import annotations

import numpy as np

import pipeline.answer as pa


def _fixed(vec: list[float]):
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([vec] * len(texts), dtype=np.float32)

    embed.calls = calls  # type: ignore[attr-defined]
    return embed


def test_two_embedding_functions_get_their_own_vectors():
    cache = pa._VectorCache()
    a, b = _fixed([1.0, 0.0]), _fixed([0.0, 1.0])
    texts = ["Refunds take 5 days.", "We ship on Mondays."]
    assert np.allclose(cache.embed(texts, a), [[1, 0], [1, 0]])
    # The same texts through another function: its own vectors, computed by it (before: a's, from the cache).
    assert np.allclose(cache.embed(texts, b), [[0, 1], [0, 1]])
    assert b.calls == [texts]
    # Each function still hits its own entries.
    assert np.allclose(cache.embed(texts, a), [[1, 0], [1, 0]]) and len(a.calls) == 1


def test_a_bound_method_is_one_function_across_lookups():
    class Model:
        def __init__(self, vec):
            self.vec, self.calls = vec, 0

        def embed(self, texts):
            self.calls += 1
            return np.array([self.vec] * len(texts), dtype=np.float32)

    cache = pa._VectorCache()
    m, other = Model([1.0, 0.0]), Model([0.0, 1.0])
    cache.embed(["x"], m.embed)
    cache.embed(["x"], m.embed)  # a new bound-method object each time, equal to the first
    assert m.calls == 1
    assert np.allclose(cache.embed(["x"], other.embed), [[0, 1]]) and other.calls == 1


def test_sentence_scores_follow_the_embedding_function(monkeypatch):
    monkeypatch.setattr(pa, "_cache", pa._VectorCache())
    sents = ["Refunds reach your card within 5 days.", "Parcels leave the warehouse on Mondays."]
    q_vec = np.array([1.0, 0.0], dtype=np.float32)

    def first(texts):  # every sentence close to the question
        return np.array([[1.0, 0.0]] * len(texts), dtype=np.float32)

    def second(texts):  # every sentence orthogonal to it
        return np.array([[0.0, 1.0]] * len(texts), dtype=np.float32)

    hi = pa.score_sentences("when is my refund", sents, embed=first, question_vec=q_vec)
    lo = pa.score_sentences("when is my refund", sents, embed=second, question_vec=q_vec)
    monkeypatch.setattr(pa, "_cache", pa._VectorCache())
    fresh = pa.score_sentences("when is my refund", sents, embed=second, question_vec=q_vec)
    assert lo == fresh and all(h > low for h, low in zip(hi, lo, strict=True))
