"""Every invisible (default-ignorable) character is dropped by the three folds: the models'
(pipeline.lookalikes), the signals' phrase matching and the guards' reading of what the sidecar
writes. A promise in a draft (an LLM told by the customer to write it so) or a chargeback in a
message must not hide behind a left-to-right mark, a bidi control, a variation selector, a tag
character or a shorthand format control inside a word."""

from __future__ import annotations

import pytest

from pipeline import guards
from pipeline.lookalikes import fold_lookalikes
from pipeline.signals import detect_signals

INVISIBLE = ["\u200e", "\u200f", "\u202a", "\u202c", "\u202e", "\u2066", "\u2069", "\u061c", "\ufe0f", "\u034f",
             "\u17b4", "\U000e0041", "\U000e0001", "\U0001bca0", "\U0001bca3", "\ufff0", "\u2064", "\u180b"]


@pytest.mark.parametrize("inv", INVISIBLE)
def test_the_promise_guard_reads_through_invisible_characters(inv):
    assert guards.unsafe_reasons("We will refund you in full.", [], [])
    assert guards.unsafe_reasons(f"We will re{inv}fund you in full.", [], []), repr(inv)


@pytest.mark.parametrize("inv", INVISIBLE)
def test_signals_read_through_invisible_characters(inv):
    assert "chargeback" in detect_signals(f"I will file a charge{inv}back with my bank"), repr(inv)


@pytest.mark.parametrize("inv", INVISIBLE)
def test_the_models_read_through_invisible_characters(inv):
    assert fold_lookalikes(f"charge{inv}back") == "chargeback", repr(inv)
