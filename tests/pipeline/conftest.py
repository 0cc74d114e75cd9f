"""Fixtures shared by the tests of the rules around the sentiment model's verdict (praise, anger words, repeats)."""

from __future__ import annotations

import numpy as np
import pytest


class FixedSentiment:
    """A sentiment model that reads every text the same, far from the angry examples (the courtesy check keeps
    its hands off): the rules around its verdict are what is tested."""

    def __init__(self, label: str, score: float):
        self.label, self.score = label, score

    def verdicts(self, texts, emb):
        return [(self.label, self.score)] * len(texts)

    def neighbour_margin(self, emb):
        return np.ones(len(emb))


@pytest.fixture
def model_reads(monkeypatch):
    """``model_reads(label, score)``: every later sentiment verdict is that one."""
    import pipeline.sentiment as sent

    def set_(label: str, score: float):
        monkeypatch.setattr(sent, "get_sentiment_model", lambda *a, **k: FixedSentiment(label, score))

    return set_
