"""Order numbers as customers write them (the seven languages, and those triage names without wording of
its own), and what must never be read as one.

The guard's principle: only the ASCII letters, digits and dash of the customer's own number reach the
draft ("About your order #4521:"); a year, a date, an amount, a phone number or a run too long to be an
order number gives no order line at all rather than a wrong one.
"""

from __future__ import annotations

import re
import time

import pytest

from pipeline.answer import order_number

SAFE = re.compile(r"#[A-Z0-9-]{3,17}")


# Also read by tests/knowledge/test_query_order_numbers.py: the retrieval query drops every number found here.
WRITTEN = [
    # English
    ("en", "where is my order #1234??", "#1234"),
    ("en", "Order 55123 still not here", "#55123"),
    ("en", "order no. 1234 has not shipped", "#1234"),
    ("en", "Order No 1234", "#1234"),
    ("en", "order number: 1234", "#1234"),
    ("en", "my order number is 77812, can you check", "#77812"),
    ("en", "order nr. 4521", "#4521"),
    ("en", "Order ID: AB-4521", "#AB-4521"),
    ("en", "order ref 99812", "#99812"),
    ("en", "the number of my order is 4521", "#4521"),
    # French
    ("fr", "commande n° 4521 pas reçue", "#4521"),
    ("fr", "numéro de commande 4521", "#4521"),
    ("fr", "Numéro de commande : 4521", "#4521"),
    ("fr", "ma commande 4521 n'est pas arrivée", "#4521"),
    ("fr", "n° de commande 4521", "#4521"),
    ("fr", "N° DE COMMANDE 4521", "#4521"),
    ("fr", "le numéro de ma commande est 4521", "#4521"),
    ("fr", "commande numéro 4521", "#4521"),
    # Spanish
    ("es", "número de pedido 1234", "#1234"),
    ("es", "pedido nº 1234 no llega", "#1234"),
    ("es", "pedido n.º 1234", "#1234"),
    ("es", "mi pedido A-10023 no llega", "#A-10023"),
    ("es", "ID de pedido 1234", "#1234"),
    ("es", "el número de mi pedido es 1234", "#1234"),
    # German
    ("de", "Meine Bestellung 88231 ist nicht da", "#88231"),
    ("de", "Bestellnummer 88231", "#88231"),
    ("de", "Bestellnummer: 4521", "#4521"),
    ("de", "Bestell-Nr. 88231", "#88231"),
    ("de", "Bestellnr. 88231", "#88231"),
    ("de", "Auftragsnummer 88231", "#88231"),
    ("de", "Bestellung Nr. 4521", "#4521"),
    ("de", "meine Bestellnummer ist 4521", "#4521"),
    ("de", "Bestellung 88231 Artikel fehlt", "#88231"),
    # Italian
    ("it", "numero d'ordine 1234", "#1234"),
    ("it", "numero d’ordine 1234", "#1234"),
    ("it", "ordine n. 1234 non ricevuto", "#1234"),
    ("it", "il mio ordine 1234 è in ritardo", "#1234"),
    ("it", "n. ordine 4521", "#4521"),
    ("it", "numero ordine: 4521", "#4521"),
    ("it", "il numero del mio ordine è 4521", "#4521"),
    # Dutch
    ("nl", "bestelnummer 1234", "#1234"),
    ("nl", "mijn bestelling 1234 is nog niet binnen", "#1234"),
    ("nl", "ordernummer 1234", "#1234"),
    ("nl", "Ordernr. 4521", "#4521"),
    ("nl", "bestelling nr. 4521", "#4521"),
    ("nl", "mijn bestelnummer is 4521", "#4521"),
    # Portuguese
    ("pt", "encomenda n.º 1234", "#1234"),
    ("pt", "a minha encomenda 4521 ainda não chegou", "#4521"),
    ("pt", "número da encomenda 1234", "#1234"),
    ("pt", "pedido n.º 1234", "#1234"),
    ("pt", "n.º da encomenda 4521", "#4521"),
    ("pt", "o número da minha encomenda é 4521", "#4521"),
    # Languages triage names without wording of its own (pipeline.langid.OTHER_LANGUAGES): the draft is English,
    # its order line too ("About your order #45822:").
    ("da", "Hej, hvor er min ordre 45822?", "#45822"),
    ("da", "mit ordrenummer er 4521", "#4521"),
    ("no", "Bestillingen 4521 er ikke kommet", "#4521"),
    ("no", "bestillingsnummer: 4521", "#4521"),
    ("sv", "Var är min beställning 4521?", "#4521"),
    ("sv", "beställningsnummer 4521", "#4521"),
    ("pl", "gdzie jest moje zamówienie 45824?", "#45824"),
    ("pl", "numer zamówienia 4521", "#4521"),
    ("pl", "nr zamówienia: 4521", "#4521"),
    ("cs", "číslo objednávky 4521", "#4521"),
    ("cs", "objednávka 4521 nedorazila", "#4521"),
    ("fi", "tilausnumero 4521", "#4521"),
    ("fi", "tilaus 4521 ei ole tullut", "#4521"),
    ("ro", "comanda nr. 4521", "#4521"),
    ("ro", "numărul comenzii 4521", "#4521"),
    ("tr", "sipariş numarası 4521", "#4521"),
    ("tr", "SİPARİŞ NUMARASI 4521", "#4521"),
    ("tr", "siparişim 4521 gelmedi", "#4521"),
    ("hu", "rendelésszám 4521", "#4521"),
    ("hu", "a rendelésem 4521 nem érkezett meg", "#4521"),
    # Look-alike letters and an invisible character inside the cue word read as the word.
    ("pl", "zam\u043ew\u200bienie 4521", "#4521"),
]


@pytest.mark.parametrize("lang, text, expected", WRITTEN)
def test_order_numbers_as_customers_write_them(lang, text, expected):
    assert order_number(text) == expected


# Also read by tests/knowledge/test_query_order_numbers.py: the retrieval query keeps these numbers.
NOT_ORDER_NUMBERS = [
    ("en", "my order is late"),
    ("en", "order of 1200 EUR"),
    ("en", "order 1200 EUR"),
    ("en", "order total $1200"),
    ("en", "2 orders in 2024"),
    ("en", "order 3 items"),
    ("en", "the order from 2024-05-12"),
    ("en", "order 2024-05-12"),
    ("en", "order 1200,50"),
    ("en", "call me on 0612345678"),
    ("en", "order, phone +33 6 12 34 56 78"),
    ("en", "order 1234-5678"),  # a longer number than the pattern reads: nothing, never a cut one
    ("en", "deliver to 75011 Paris"),
    ("en", "I ordered1234 things"),  # a longer word is no cue: its letters never become the number's
    ("en", "orders4521"),
    ("de", "Auftraggeber 1234"),
    ("fr", "une commande de 1200 euros"),
    ("fr", "commande de 2024"),
    ("fr", "commande du 12/05/2024"),
    ("es", "pedido de 1200 €"),
    ("es", "pedido 1200€"),
    ("de", "Bestellung vom 12.03.2024"),
    ("de", "Bestellung über 1200 EUR"),
    ("it", "ordine del 2024"),
    ("nl", "bestelling van 1200 euro"),
    ("pt", "encomenda de 1200 euros"),
    ("pt", "encomenda 1200 reais"),
    ("da", "min ordre på 1200 EUR"),
    ("da", "ordre 2024-05-12"),
    ("sv", "beställningar i 2024"),
    ("pl", "numer telefonu 612345678"),
    ("pl", "zamówienie na 1200 zł"),
    ("pl", "zamówienie 1200 zł"),
    ("sv", "beställning 1200 kr"),
    ("cs", "objednávka 1200 Kč"),
    ("cs", "objednávka 3 kusy"),
    ("tr", "sipariş 1200 TL"),
]


@pytest.mark.parametrize("lang, text", NOT_ORDER_NUMBERS)
def test_what_is_not_an_order_number(lang, text):
    assert order_number(text) is None


@pytest.mark.parametrize("text, expected", [
    # Full-width and mathematical digits are the digits they draw (NFKC, as triage reads them): ASCII out.
    ("order １２３４", "#1234"),
    ("order 𝟏𝟐𝟑𝟒", "#1234"),
    ("order ＃1234", "#1234"),
    # Digits of another script are no order number in these seven languages.
    ("order ٤٥٢١", None),
    ("Bestellnummer ४५२१", None),
    # Invisible characters inside the cue word or the number hide nothing and add nothing.
    ("ord\u200ber 4521", "#4521"),
    ("Bestell\u200dnummer 88231", "#88231"),
    ("order 45\u200b21", "#4521"),
    ("order 4521\u202e1234", "#45211234"),
    # Look-alike letters in the cue word (Cyrillic о) are read as the Latin ones.
    ("оrder 4521", "#4521"),
    # Markup around the number: not read (never carried).
    ("order <b>4521</b>", None),
    ("order **4521**", None),
    ("order #<script>alert(1)</script>", None),
    ("order 1234<img src=x onerror=alert(1)>", "#1234"),
    ("&#1234; order", None),
    # Runs too long to be an order number.
    ("order " + "9" * 40, None),
    ("#" + "1" * 13, None),
    ("Bestellnummer " + "4" * 13, None),
])
def test_look_alikes_markup_and_long_runs(text, expected):
    got = order_number(text)
    assert got == expected
    assert got is None or (SAFE.fullmatch(got) and got.isascii())


def test_subject_is_read_when_the_body_has_none():
    assert order_number("it still has not arrived", "Bestellnummer 88231") == "#88231"


def test_a_hash_number_comes_before_a_worded_one():
    assert order_number("my order 55555 or maybe #1234") == "#1234"


@pytest.mark.parametrize("filler", [" ", "\t", "n° ", "order ", "numéro de "])
def test_long_runs_of_cue_material_stay_fast(filler):
    text = "order" + filler * 4000 + "x"
    t0 = time.process_time()
    assert order_number(text) is None
    assert time.process_time() - t0 < 0.5
