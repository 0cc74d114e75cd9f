"""Letters of the look-alike table that are a language's own: Turkish and Azerbaijani dotless ı."""

from __future__ import annotations

import unicodedata

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



# Combining marks of other scripts on Latin letters: zalgo generators use U+0489 and more than U+0300-U+036F.
STRAY_MARKS = ["\u0489", "\u05b0", "\u0e31", "\u302a", "\u0951", "\u0610", "\U0001e944", "\u0f71", "\u1939", "\u0488"]


@pytest.mark.parametrize("mark", STRAY_MARKS)
def test_a_stray_mark_of_another_script_on_a_latin_word_is_dropped(mark):
    assert fold_lookalikes(f"I want a re{mark}fund now") == "I want a refund now", repr(mark)
    assert fold_lookalikes(f"c{mark}a{mark}n{mark}c{mark}e{mark}l") == "cancel", repr(mark)


@pytest.mark.parametrize("text", ["मेरा ऑर्डर कहाँ है", "אֵיפֹה הַהַזְמָנָה שֶׁלִּי", "أَيْنَ طَلَبِي؟", "คำสั่งซื้อของฉันอยู่ที่ไหน",
                                  "Where is my order? मेरा ऑर्डर कहाँ है"])
def test_words_of_other_scripts_keep_their_marks(text):
    assert fold_lookalikes(text) == unicodedata.normalize("NFKC", text)  # Thai's sara am is NFKC's to split
