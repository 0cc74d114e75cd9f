"""The guards read what the sidecar writes with every look-alike of pipeline/data/latin_lookalikes.tsv
folded, not only the Cyrillic/Greek few: an LLM draft told to write "refսnd" (Armenian ս) or "ꮁefund"
(Cherokee) still makes a promise; the signals' phrase matching reads the same letters."""

from __future__ import annotations

import pytest

from pipeline import guards
from pipeline.lookalikes import lookalike_table
from pipeline.signals import detect_signals


def _spoofed(word: str) -> list[tuple[str, str]]:
    out = []
    for src, dst in lookalike_table().items():
        if dst in word:
            out.append((src, word.replace(dst, src, 1)))
    return out


@pytest.mark.parametrize("src,word", _spoofed("refund"))
def test_the_promise_guard_reads_every_lookalike(src, word):
    assert guards.unsafe_reasons(f"We will {word} you in full.", [], []), (src, word)


@pytest.mark.parametrize("src,word", _spoofed("chargeback"))
def test_signals_read_every_lookalike(src, word):
    assert "chargeback" in detect_signals(f"I will file a {word} with my bank"), (src, word)


def test_the_lowercase_translation_keeps_each_listed_letter_reading():
    from pipeline.lookalikes import lowercase_translation

    table, lower = lookalike_table(), lowercase_translation()
    for src, dst in table.items():
        assert lower[ord(src)] == dst.lower(), src  # "ӏ" is l, though "Ӏ" (its capital) is I


# Look-alikes that NFKC or case folding would turn into another letter: guards._CONFUSABLES listed the
# lunate sigma "ϲ" (drawn like c) after NFKC had already made it "ς", so the entry was dead and
# "ϲhargeback" read as "ohargeback"; a capital Greek Η read as n in the guards (η).
@pytest.mark.parametrize("src,dst", [("\u03f2", "c"), ("\u03f9", "c"), ("\u0397", "h"), ("\u039d", "n"),
                                     ("\u03a5", "y")])
def test_letters_nfkc_or_case_folding_would_change_fold_to_what_they_look_like(src, dst):
    assert guards.fold(src) == dst
    assert guards.fold(f"dis{src}ount") == f"dis{dst}ount"


def test_every_listed_lookalike_folds_to_its_letter_in_either_case():
    for src, dst in lookalike_table().items():
        assert guards.fold(src) == dst.lower(), (src, dst)


@pytest.mark.parametrize("word", ["\u03f2hargeback", "\u03f9HARGEBACK", "C\u0397ARGEBACK"])
def test_signals_read_the_lunate_sigma_and_greek_capitals(word):
    assert "chargeback" in detect_signals(f"I will file a {word} with my bank"), word


def test_the_promise_guard_reads_a_lunate_sigma_c():
    assert guards.unsafe_reasons("We will give you a full \u03f2redit and a dis\u03f2ount.", [], []) == \
        guards.unsafe_reasons("We will give you a full credit and a discount.", [], [])
