"""The second English tuning split (tests/fixtures/knowledge/eval_tune2.yaml) is sound and apart.

Its labels must name real sections with their verbatim answer sentence (a label that points nowhere is
a miss whatever retrieval does), and it must not repeat a message of the reporting split or of the
first tuning split: a repeated reporting message would leak the report into tuning, and a repeated
tuning message would make the "fresh" signal the old one again. The other files' messages are only
compared here, never printed: a failure names the tune2 message and the file it collides with.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from knowledge.chunking import load_folder
from tests.knowledge.test_eval_set import _sections

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fixtures/knowledge"
TUNE2 = FIXTURES / "eval_tune2.yaml"
NEAR = 0.8  # token Jaccard at or above which two messages count as the same one reworded


def _load(name: str) -> dict:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))


def _messages(data: dict) -> list[str]:
    """Every message a split holds: the labelled ones and the off-topic ones (strings or {msg: ...})."""
    out = [it["msg"] for it in data.get("items") or []]
    out += [q["msg"] if isinstance(q, dict) else q for q in data.get("off_topic") or []]
    return out


def _norm(text: str) -> str:
    # Case, accents, spacing and punctuation do not make a different message.
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"['\u2019]", "", text)  # "it's" and "its" are the same word to a customer
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def _jaccard(a: str, b: str) -> float:
    ta, tb = set(a.split()), set(b.split())
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


def _raw_sections() -> dict[tuple[str, str], str]:
    """(doc id, heading) -> the section's text with spacing collapsed (test_eval_set's sections)."""
    return {k: " ".join(v.split()) for k, v in _sections().items()}


@pytest.fixture(scope="module")
def tune2() -> dict:
    return _load("eval_tune2.yaml")


def test_tune2_is_a_tuning_split_large_enough_to_tune_on(tune2: dict) -> None:
    assert tune2["split"] == "tune2"
    items = tune2["items"]
    assert len(items) >= 120
    assert all(it["labels"] for it in items), "an unanswerable message belongs in off_topic, not in items"
    assert sum(1 for it in items if len(it["labels"]) > 1) >= 10  # customers ask two things at once
    assert len(tune2["off_topic"]) >= 5


def test_every_label_names_a_section_and_quotes_it_verbatim(tune2: dict) -> None:
    sections = _raw_sections()
    bad = []
    for it in tune2["items"]:
        for lab in it["labels"]:
            assert set(lab) == {"doc", "section", "sentence"}, (it["msg"], lab)
            body = sections.get((lab["doc"], lab["section"]))
            if body is None:
                bad.append(f"{it['msg']!r}: {lab['doc']} has no section {lab['section']!r}")
            elif " ".join(lab["sentence"].split()) not in body:
                bad.append(f"{it['msg']!r}: sentence not verbatim in {lab['doc']} / {lab['section']}")
    assert not bad, "\n".join(bad)


def test_labels_only_use_english_articles(tune2: dict) -> None:
    # An English split: a French or German translation as the answer would measure the language filter.
    langs = {doc.doc_id: doc.language or "" for doc in load_folder(ROOT / "config/knowledge")}
    for it in tune2["items"]:
        for lab in it["labels"]:
            assert langs[lab["doc"]] in ("", "en"), (it["msg"], lab["doc"])


def test_no_message_twice_within_tune2(tune2: dict) -> None:
    dup = [m for m, n in Counter(_norm(m) for m in _messages(tune2)).items() if n > 1]
    assert not dup, dup


@pytest.mark.parametrize("other", ["eval_report.yaml", "eval_tune.yaml"])
def test_no_message_repeats_one_of_another_split(tune2: dict, other: str) -> None:
    theirs = [_norm(m) for m in _messages(_load(other))]
    assert len(theirs) >= 50, other  # a renamed key would make the check vacuous
    clashes = []
    for msg in _messages(tune2):
        mine = _norm(msg)
        if any(mine == t or _jaccard(mine, t) >= NEAR for t in theirs):
            clashes.append(msg)  # only our own message: the other split's text stays unread
    assert not clashes, f"{len(clashes)} message(s) of eval_tune2.yaml (near-)repeat {other}: {clashes}"


def test_near_duplicate_check_catches_rewordings() -> None:
    # The check itself: punctuation and case are ignored, one swapped word out of many still matches.
    a = _norm("Where is my order?? It's been 6 days, order 40021")
    assert _norm("where is my order its been 6 days order 40021") == a
    assert _jaccard(a, _norm("where is my order, it's been 7 days, order 40021")) >= NEAR
    assert _jaccard(a, _norm("can I pay by bank transfer")) < NEAR


def test_the_retrieval_bench_offers_the_split() -> None:
    spec = importlib.util.spec_from_file_location("retrieval_eval", ROOT / "bench/retrieval_eval.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert "tune2" in bench.SPLITS
    for split in bench.SPLITS:  # it loads eval_{split}.yaml: each choice has its file
        assert (FIXTURES / f"eval_{split.replace('-', '_')}.yaml").is_file(), split
