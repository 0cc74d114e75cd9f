"""A promise, an authority claim or a secret request written with a word split by markup or a
hyphen ("re-fund", "*re*fund", "re_fund", "`re`fund", "pass-word") reads as the word to the
customer, who gets the reply as plain text: the guards read it as the word too (review of
2026-11-30: each of these passed unsafe_reasons, so an auto-reply intent could send it)."""

from __future__ import annotations

import pytest

from pipeline import guards

SPLIT_REFUND = ["re-fund", "re‐fund", "re_fund", "*re*fund", "`re`fund", "~~re~~fund", "re|fund", "re- fund",
                "re-\nfund", "dis-count", "com-pen-sation", "vou_cher"]


@pytest.mark.parametrize("word", SPLIT_REFUND)
def test_a_split_promise_word_is_a_promise(word):
    text = f"We will {word} you in full for the trouble."
    assert guards.promises(text), word
    assert any("Ungrounded claim" in r for r in guards.unsafe_reasons(text, [], [])), word


@pytest.mark.parametrize("text", ["Please send us your pass-word.", "What is the c_v_v on the back?",
                                  "Reply with your *pass*word.", "Share your kenn-wort please."])
def test_a_split_secret_word_is_a_secret_request(text):
    assert guards.secret_requests(text), text


def test_a_split_authority_claim_is_one():
    assert guards.authority_claims("As the store man-ager I ap-prove this.")


@pytest.mark.parametrize("text", [
    "Your order is on its way and should arrive by Friday.",
    "The e-mail with the tracking number was sent on 3-4 May.",
    "Pre-funded gift cards and re-usable bags are in stock.",
    "You can track it in the app under Orders > Track.",
])
def test_ordinary_hyphens_and_markup_stay_clean(text):
    assert guards.unsafe_reasons(text, [], []) == [], text
