"""The held-out sentiment set (bench/data/sentiment_heldout.csv) is well formed and apart.

It reports (``bench/sentiment_tuning.py --set heldout``, run once per version at the end), so it
must share no message with what the model learns from (the shipped sentiment examples, the
intents' examples) nor with the tuning set the choices are made on: a row copied into either
would make the held-out figure a tuned one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.test_sentiment_tuning_set import _csv_texts, _norm, check_well_formed, read_rows

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "bench" / "data" / "sentiment_heldout.csv"
KINDS = {
    "angry": {"complaint", "review_threat", "chargeback", "legal", "sarcasm", "shouting", "repeated"},
    "neutral": {"closing", "ack", "thanks", "problem", "autoreply", "question", "ignore"},
}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_rows(HELDOUT)


def test_well_formed(rows):
    check_well_formed(rows, KINDS)


def test_disjoint_from_training_and_tuning(rows):
    from pipeline.config import load_config

    mine = {_norm(r["text"]) for r in rows}
    others = {
        "pipeline/data/sentiment_examples.csv": _csv_texts(ROOT / "pipeline" / "data" / "sentiment_examples.csv"),
        "tests/fixtures/sentiment_tuning_set.csv": _csv_texts(ROOT / "tests" / "fixtures" / "sentiment_tuning_set.csv"),
        "config/intents.yaml": [ex for i in load_config(ROOT / "config").intents.intents.values() for ex in i.examples],
    }
    for name, texts in others.items():
        assert texts, name  # a renamed column or an empty file would make the check vacuous
        shared = mine & {_norm(t) for t in texts}
        assert not shared, f"{name} shares {len(shared)} message(s) with the held-out set"
