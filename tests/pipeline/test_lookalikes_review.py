"""Letters of the look-alike table that are a language's own: Turkish and Azerbaijani dotless ı."""

from __future__ import annotations

import pytest

from pipeline.lookalikes import fold_lookalikes

TURKIC = [
    "Siparişim nerede? Kargo hâlâ ulaşmadı, iade istiyorum.",
    "Ürün kırık geldi, para iadesi istiyorum",  # no ş/ğ/İ: ü beside ı is enough
    "IŞIK çok ılık, İADE",
    "Sifarişim hardadır? Pulu qaytarın.",  # Azerbaijani
]


@pytest.mark.parametrize("text", TURKIC)
def test_a_turkish_or_azerbaijani_message_keeps_its_dotless_i(text):
    assert fold_lookalikes(text) == text


def test_dotless_i_in_an_english_message_is_still_read_as_i():
    assert fold_lookalikes("I need to cancel my subscrıptıon") == "I need to cancel my subscription"
    assert fold_lookalikes("cancel my subscrıptıon, thanks 👍") == "cancel my subscription, thanks 👍"

