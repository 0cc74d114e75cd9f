"""Signals read a word split by a hyphen or wrapped in emphasis marks as the word: plain-text mail
writes "charge-back" and "I will *sue* you", and neither fired its signal (review of 2026-11-30),
so a chargeback or a legal threat was neither prioritised nor escalated."""

from __future__ import annotations

import pytest

from pipeline.signals import detect_signals


@pytest.mark.parametrize("text,signal", [
    ("I will file a charge-back with my bank if this is not fixed.", "chargeback"),
    ("I will file a charge- back with my bank.", "chargeback"),
    ("I will *sue* you for this.", "legal_threat"),
    ("My law-suit is ready.", "legal_threat"),
    ("I'll take le-gal action.", "legal_threat"),
    ("I will never shop here *again*, I'm going to a com-petitor.", "churn_risk"),
])
def test_a_split_or_emphasised_word_fires_its_signal(text, signal):
    assert signal in detect_signals(text), text


@pytest.mark.parametrize("text", ["Please send a follow-up e-mail about my order.",
                                  "Long-term customer of a well-known brand, third-party seller.",
                                  "The *blue* mug, not the _red_ one."])
def test_ordinary_hyphens_and_emphasis_fire_nothing(text):
    assert detect_signals(text) == [], text
