"""The retrieval query drops the order numbers the draft reads, after the same cue words
(pipeline.order_words), and keeps what the draft reads as no order number (amounts, dates).

Before the shared vocabulary the query read six languages: "Bestellnummer 4521", "pedido n.º 4521",
"ordre 4521", "zamówienie 4521" searched with their number.
"""

from __future__ import annotations

import re

import pytest

from knowledge.query import clean_query
from pipeline.answer import order_number
from tests.pipeline.test_order_numbers import NOT_ORDER_NUMBERS, WRITTEN

# Words after the number, so that what is left is never too short to be kept ("never empties a message").
TAIL = " and nothing has arrived yet"


@pytest.mark.parametrize("lang, text, expected", WRITTEN)
def test_every_number_the_draft_reads_leaves_the_query(lang, text, expected):
    assert order_number(text) == expected  # the case is one the draft reads
    out = clean_query(text + TAIL)
    digits = re.sub(r"\D", "", expected)
    assert digits not in re.sub(r"\D", "", out), out
    assert out.endswith(TAIL.strip()), out  # the question itself stays


@pytest.mark.parametrize("lang, text", NOT_ORDER_NUMBERS)
def test_what_the_draft_reads_as_no_order_number_stays_in_the_query(lang, text):
    out = clean_query(text + TAIL)
    # Runs of up to 4 digits stay; a bare run of 5+ (a phone, a postcode) goes whatever precedes it.
    runs = re.findall(r"(?<!\d)\d{1,4}(?!\d)", text)
    for run in runs:
        assert run in out, (run, out)
    assert out.endswith(TAIL.strip()), out


@pytest.mark.parametrize("text, expected", [
    # A Cyrillic о in the cue word, full-width digits, an invisible character: read folded, as retrieval does.
    ("\u043erder 4521 is late", "order is late"),
    ("my order \uff14\uff15\uff12\uff11 is late", "my order is late"),
    ("Bestell\u200bnummer 4521 ist nicht da", "Bestellnummer ist nicht da"),
    ("pedido n.\u00ba 4521 não chegou", "pedido não chegou"),
    # Markup around a "#" number: the number goes, the markup is the customer's.
    ("my order <b>#4521</b> is late", "my order <b> </b> is late"),
    # The word for "number" and "is" go with the number; the order word stays.
    ("order no. 4521 has not shipped", "order has not shipped"),
    ("the number of my order is 4521, where is it", "the number of my order , where is it"),
    ("número de orden 4521 no llega", "número de orden no llega"),
    ("Bestell-Nr.: 4521 fehlt noch", "Bestell-Nr. fehlt noch"),
    ("mit ordrenummer er 4521, hvor er pakken", "mit ordrenummer , hvor er pakken"),
    # Amounts and dates are what the question is about: the draft reads no order number there, the query keeps them.
    ("I paid for order 1200 EUR twice", "I paid for order 1200 EUR twice"),
    ("pedido 1200€ cobrado dos veces", "pedido 1200€ cobrado dos veces"),
    ("order 2024-05-12 has not arrived", "order 2024-05-12 has not arrived"),
    ("zamówienie 1200 zł zapłacone dwa razy", "zamówienie 1200 zł zapłacone dwa razy"),
    # An HTML entity is no "#" number.
    ("what does &#1234; mean in my order", "what does &#1234; mean in my order"),
])
def test_look_alikes_markup_and_amounts(text, expected):
    assert clean_query(text) == expected


def test_new_cue_words_after_whitespace_floods_still_go():
    """The query's unbounded whitespace stays linear with the shared cue words (no n² steps)."""
    flood = " \t" * 50_000
    assert clean_query("Bestellnummer" + flood + ":" + flood + "4521 fehlt noch") == "Bestellnummer fehlt noch"
    assert clean_query("min bestilling" + flood + "nr." + flood + "4521 mangler") == "min bestilling mangler"
