"""The held-out sentiment set (bench/data/sentiment_heldout.csv) is well formed and apart.

It reports (``bench/sentiment_tuning.py --set heldout``, run once per version at the end), so it
must share no message with what the model learns from (the shipped sentiment examples, the
intents' examples) nor with the tuning set the choices are made on: a row copied into either
would make the held-out figure a tuned one.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from tests.pipeline.test_sentiment_tuning_set import LANGS, _csv_texts, _norm

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "bench" / "data" / "sentiment_heldout.csv"
KINDS = {
    "angry": {"complaint", "review_threat", "chargeback", "legal", "sarcasm", "shouting", "repeated"},
    "neutral": {"closing", "ack", "thanks", "problem", "autoreply", "question", "ignore"},
}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with HELDOUT.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["lang", "label", "kind", "text"]
        return list(reader)


def test_well_formed(rows):
    for r in rows:
        assert r["lang"] in LANGS, r
        assert r["label"] in KINDS, r
        assert r["kind"] in KINDS[r["label"]], r
        assert r["text"].strip() == r["text"] and len(r["text"]) >= 10, r
    counts = Counter((r["lang"], r["label"]) for r in rows)
    for lang in LANGS:
        assert counts[(lang, "angry")] >= 15 and counts[(lang, "neutral")] >= 30, (lang, counts)
    dup = [t for t, n in Counter(_norm(r["text"]) for r in rows).items() if n > 1]
    assert not dup, dup


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
