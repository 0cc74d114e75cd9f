"""The held-out sentiment sets (bench/data/sentiment_heldout.csv, sentiment_heldout2.csv, sentiment_heldout3.csv, sentiment_heldout4.csv,
sentiment_heldout5.csv, sentiment_heldout6.csv, sentiment_heldout7.csv) are well formed and apart.

They report (``bench/sentiment_tuning.py --set heldout|heldout2``, run once per version at the end), so they
must share no message with what the model learns from (the shipped sentiment examples, the
intents' examples) nor with the tuning set the choices are made on: a row copied into either
would make the held-out figure a tuned one. ``sentiment_heldout2.csv``, ``sentiment_heldout3.csv``, ``sentiment_heldout4.csv``, ``sentiment_heldout5.csv``, ``sentiment_heldout6.csv`` and ``sentiment_heldout7.csv`` are also
kept from being a near copy (token Jaccard) of any of those, nor of the earlier held-out sets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.test_sentiment_tuning_set import _csv_texts, _norm, check_well_formed, read_rows

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "bench" / "data" / "sentiment_heldout.csv"
HELDOUT2 = ROOT / "bench" / "data" / "sentiment_heldout2.csv"
HELDOUT3 = ROOT / "bench" / "data" / "sentiment_heldout3.csv"
HELDOUT4 = ROOT / "bench" / "data" / "sentiment_heldout4.csv"
HELDOUT5 = ROOT / "bench" / "data" / "sentiment_heldout5.csv"
HELDOUT6 = ROOT / "bench" / "data" / "sentiment_heldout6.csv"
HELDOUT7 = ROOT / "bench" / "data" / "sentiment_heldout7.csv"
KINDS = {
    # heldout5: "agent" = a complaint naming an agent; "praise" = praise of staff, "resolved" = solved by itself;
    # heldout6: "collision" = a neutral message whose words are negative in another language, or negated
    "angry": {"complaint", "review_threat", "chargeback", "legal", "sarcasm", "shouting", "repeated", "agent"},
    "neutral": {"closing", "ack", "thanks", "problem", "autoreply", "question", "ignore", "followup", "praise", "resolved",
                "collision"},
}
NEAR = 0.6  # token Jaccard at or above which two messages count as one reworded (heldout2's largest: 0.50)


def _tokens(text: str) -> frozenset[str]:
    return frozenset(_norm(text).split())


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _learned_and_tuned() -> dict[str, list[str]]:
    from pipeline.config import load_config

    return {
        "pipeline/data/sentiment_examples.csv": _csv_texts(ROOT / "pipeline" / "data" / "sentiment_examples.csv"),
        "tests/fixtures/sentiment_tuning_set.csv": _csv_texts(ROOT / "tests" / "fixtures" / "sentiment_tuning_set.csv"),
        "config/intents.yaml": [ex for i in load_config(ROOT / "config").intents.intents.values() for ex in i.examples],
    }


@pytest.fixture(scope="module", params=[HELDOUT, HELDOUT2, HELDOUT3, HELDOUT4, HELDOUT5, HELDOUT6, HELDOUT7],
                ids=["heldout", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6", "heldout7"])
def rows(request) -> list[dict[str, str]]:
    return read_rows(request.param)


def test_well_formed(rows):
    # heldout4 is smaller (10 angry + 10 neutral per language): the angry messages are what it measures;
    # heldout5 smaller still (6 angry + 8 neutral per language): praise, "resolved" and thanks against sarcasm
    if len(rows) < 100:
        check_well_formed(rows, KINDS, 6, 8)
        assert len(rows) == 98, len(rows)
        per = {(r["lang"], r["kind"]) for r in rows}
        assert all((lang, k) in per for lang in {r["lang"] for r in rows}
                   for k in ("praise", "resolved", "thanks", "closing", "sarcasm", "agent", "complaint")), per
        return
    small = len(rows) < 200
    check_well_formed(rows, KINDS, *((10, 10) if small else (15, 30)))
    if small:
        assert len(rows) == 140, len(rows)
    if rows[0]["text"] in (read_rows(HELDOUT6)[0]["text"], read_rows(HELDOUT7)[0]["text"]):
        # heldout6 and heldout7: every language carries each of its kinds (flat complaints, sarcasm, threats, repeated
        # contact; praise, questions, resolved notes, cross-language collisions)
        per = {(r["lang"], r["kind"]) for r in rows}
        assert all((lang, k) in per for lang in {r["lang"] for r in rows}
                   for k in ("complaint", "sarcasm", "chargeback", "legal", "repeated",
                             "praise", "question", "resolved", "collision")), per


def test_disjoint_from_training_and_tuning(rows):
    mine = {_norm(r["text"]) for r in rows}
    for name, texts in _learned_and_tuned().items():
        assert texts, name  # a renamed column or an empty file would make the check vacuous
        shared = mine & {_norm(t) for t in texts}
        assert not shared, f"{name} shares {len(shared)} message(s) with the held-out set"


@pytest.mark.parametrize("path,earlier", [(HELDOUT2, [HELDOUT]), (HELDOUT3, [HELDOUT, HELDOUT2]),
                                                (HELDOUT4, [HELDOUT, HELDOUT2, HELDOUT3]),
                                                (HELDOUT5, [HELDOUT, HELDOUT2, HELDOUT3, HELDOUT4]),
                                                (HELDOUT6, [HELDOUT, HELDOUT2, HELDOUT3, HELDOUT4, HELDOUT5]),
                                                (HELDOUT7, [HELDOUT, HELDOUT2, HELDOUT3, HELDOUT4, HELDOUT5, HELDOUT6])],
                         ids=["heldout2", "heldout3", "heldout4", "heldout5", "heldout6", "heldout7"])
def test_later_heldout_is_no_rewording_of_training_tuning_or_earlier_heldout(path, earlier):
    others = _learned_and_tuned()
    for p in earlier:
        others[f"bench/data/{p.name}"] = _csv_texts(p)
    theirs = [(name, t, _tokens(t)) for name, texts in others.items() for t in texts]
    near = []
    for r in read_rows(path):
        mine = _tokens(r["text"])
        near += [(r["text"], name, t) for name, t, toks in theirs if _jaccard(mine, toks) >= NEAR]
    assert not near, near[:5]


def test_jaccard_flags_a_reworded_message():
    a = _tokens("ok perfect thx! 👍")
    assert _jaccard(a, _tokens("OK, perfect, thx!")) >= NEAR
    assert _jaccard(a, _tokens("ok thanks, where is my order?")) < NEAR
