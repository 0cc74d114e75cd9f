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
