"""The embedder's LRU cache: same vectors as without it, bounded, and a batch makes later single calls hits."""

from __future__ import annotations

import numpy as np

from knowledge.embedding import LocalEmbedder


class Counting(LocalEmbedder):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.batches: list[int] = []

    def _embed_batch(self, texts):
        self.batches.append(len(texts))
        return super()._embed_batch(texts)


def test_cache_returns_the_same_vectors_is_bounded_and_batches_prefetch():
    plain = LocalEmbedder(cache_size=0)
    cached = Counting(cache_size=3)
    texts = ["where is my order", "refund please", "where is my order", "the box was crushed"]
    first = cached.embed(texts)
    assert np.allclose(first, plain.embed(texts), atol=1e-6)
    assert cached.batches == [3], "duplicates inside one call are embedded once"
    assert np.allclose(cached.embed(["refund please"])[0], first[1]) and cached.batches == [3], "a hit"
    cached.embed(["a new one", "and another"])
    assert len(cached._cache) == 3, "bounded: the oldest entries go"
    before = len(cached.batches)
    cached.embed(["where is my order"])  # evicted by now: embedded again
    assert len(cached.batches) == before + 1
    v = cached.embed(["refund please"])
    v[0][:] = 0  # callers may scribble on what they get; the cache must not change
    assert np.allclose(cached.embed(["refund please"])[0], first[1])
    assert plain.embed(["x"]).shape == (1, 384) and plain.embed([]).shape == (0, 384)


def test_forget_recent_empties_the_loaded_models_caches(monkeypatch):
    from knowledge import embedding as ke

    model = Counting(cache_size=8)
    model._seed = None
    monkeypatch.setitem(ke._instances, "test-counting", model)
    first = model.embed(["where is my order"])
    model.embed(["where is my order"])
    assert model.batches == [1]
    ke.forget_recent()
    assert len(model._cache) == 0
    assert np.array_equal(model.embed(["where is my order"]), first) and model.batches == [1, 1]
