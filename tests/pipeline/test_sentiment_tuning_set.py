"""The sentiment tuning set (tests/fixtures/sentiment_tuning_set.csv) is well formed and apart.

Sentiment choices are made on it (bench/sentiment_tuning.py), so it must share no message with
what the model learns from (the shipped examples, the intents' examples) nor with the reporting
sets of bench/triage_quality.py (its angry set and the 7-language intent set whose plain requests
are the neutral questions).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUNING = ROOT / "tests" / "fixtures" / "sentiment_tuning_set.csv"
LANGS = {"en", "fr", "es", "de", "it", "nl", "pt"}
KINDS = {
    "angry": {"complaint", "sarcasm", "threat", "chargeback", "legal", "repeated", "shouting", "human", "cancel"},
    "neutral": {"plain", "mild", "return", "cancel", "change", "account", "discount", "other", "closing"},
}


def _norm(text: str) -> str:
    # Case, accents, spacing and punctuation do not make a different message.
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def _csv_texts(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [r["text"] for r in csv.DictReader(fh)]


def read_rows(path: Path) -> list[dict[str, str]]:
    """A sentiment set's rows (lang, label, kind, text), its header checked."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["lang", "label", "kind", "text"]
        return list(reader)


def check_well_formed(rows: list[dict[str, str]], kinds: dict[str, set[str]], angry: int = 15, neutral: int = 30) -> None:
    """Known languages, labels and kinds, trimmed texts, >= ``angry`` angry and >= ``neutral`` neutral rows per
    language, no message twice (case, accents and punctuation aside)."""
    for r in rows:
        assert r["lang"] in LANGS, r
        assert r["label"] in kinds, r
        assert r["kind"] in kinds[r["label"]], r
        assert r["text"].strip() == r["text"] and len(r["text"]) >= 10, r
    counts = Counter((r["lang"], r["label"]) for r in rows)
    for lang in LANGS:
        assert counts[(lang, "angry")] >= angry and counts[(lang, "neutral")] >= neutral, (lang, counts)
    dup = [t for t, n in Counter(_norm(r["text"]) for r in rows).items() if n > 1]
    assert not dup, dup


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_rows(TUNING)


def test_well_formed(rows):
    check_well_formed(rows, KINDS)
    assert sum(r["label"] == "angry" for r in rows) >= 120
    assert sum(r["label"] == "neutral" for r in rows) >= 210


def test_disjoint_from_training_and_reporting_sets(rows):
    from pipeline.config import load_config

    mine = {_norm(r["text"]) for r in rows}
    others = {
        "pipeline/data/sentiment_examples.csv": _csv_texts(ROOT / "pipeline" / "data" / "sentiment_examples.csv"),
        "bench/data/sentiment_angry.csv": _csv_texts(ROOT / "bench" / "data" / "sentiment_angry.csv"),
        "bench/data/multilingual_intents.csv": _csv_texts(ROOT / "bench" / "data" / "multilingual_intents.csv"),
        "config/intents.yaml": [ex for i in load_config(ROOT / "config").intents.intents.values() for ex in i.examples],
    }
    for name, texts in others.items():
        assert texts, name  # a renamed column or an empty file would make the check vacuous
        shared = mine & {_norm(t) for t in texts}
        assert not shared, f"{name} shares {len(shared)} message(s) with the tuning set"
