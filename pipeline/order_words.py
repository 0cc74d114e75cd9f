"""The words customers write an order number with: one vocabulary for the three places that read it.

- :func:`pipeline.answer.order_number` finds the number a template draft repeats ("About your order #4521:");
- :func:`knowledge.query.clean_query` strips it from the retrieval query (it says which order, never what
  the question is about);
- :func:`knowledge.redact.redact` replaces it in past tickets, with invoice and tracking words of its own.

Before this module each kept its own list and they drifted: the query read six languages and none of the
cue words the draft had learnt since ("ordre", "Bestell-Nr.", "n.º" ...). The pieces are regex source
strings (no flags, no groups that capture), so each reader keeps its own glue: the draft's bounded
whitespace, the query's linear unbounded runs, redaction's longer dashed tokens. Text is read folded
(:func:`pipeline.lookalikes.fold_lookalikes`: look-alike letters, full-width digits, invisible characters).

Pure strings and two compiled patterns; imports nothing of the project, so that pipeline (the draft) and
knowledge (query, redaction; knowledge may import pipeline) both read it.
"""

from __future__ import annotations

import re

__all__ = ["IS", "MARK_THEN_NOUN", "NUMBER_END", "NUMBER_MARK", "ORDER_COMPOUND", "ORDER_HASH", "ORDER_NOUN",
           "ORDER_WORD"]

# How customers write an order number, in the seven languages triage reads (EN/FR/ES/DE/IT/NL/PT) and in
# those it names without wording of its own (pipeline.langid.OTHER_LANGUAGES: their drafts are English, their
# order line too): Danish/Norwegian "ordre", "bestilling", Swedish "beställning", Polish "zamówienie", Czech
# "objednávka", Finnish "tilaus", Romanian "comanda", Turkish "sipariş", Hungarian "rendelés".
# Spanish "orden" only after a word for "number" (MARK_THEN_NOUN): alone it is "en orden", "a la orden".
ORDER_NOUN = (r"order|commande|pedido|encomenda|bestellung|bestelling|auftrag|ordine|"
              r"ordre(?:n)?|bestilling(?:en)?|best[äa]llning(?:en)?|zam[óo]wieni[ea]|objedn[áa]vk[ayu]|"
              r"tilaus|tilauksen|comanda|comenzii|sipari[şs](?:im|in)?|rendel[ée]s(?:em)?")
# The word or sign saying "number" ("no.", "n°", "n.º", "Nr.", "numéro", "número", "nummer", "#", "id", "ref").
# "n.º" is "n.o" once folded (NFKC).
NUMBER_MARK = (r"num(?:ber|[ée]ro)?\.?|n[úu]mero|nummer(?:et)?|numer|num[ăa]rul|[čc][íi]slo|numaras[ıi]|"
               r"n(?:\.?\s?[°ºo]|r)\.?|n\.|#|id|"
               r"ref(?:erence)?\.?|r[ée]f(?:[ée]rence)?\.?|referencia|riferimento|refer[êe]ncia")
# One word for "order number" ("Bestellnummer", "Bestell-Nr.", "Auftragsnummer", "bestelnummer", "ordernummer").
ORDER_COMPOUND = (r"bestell(?:ungs)?-?(?:nummer|nr\.?)|auftrags-?(?:nummer|nr\.?)|bestel-?(?:nummer|nr\.?)|"
                  r"order-?(?:nummer|nr\.?)|ordernumber|ordre-?(?:nummer|nr\.?)|bestillings-?(?:nummer|nr\.?)|"
                  r"best[äa]llnings-?(?:nummer|nr\.?)|tilaus-?numero|rendel[ée]s-?sz[áa]m(?:om|a)?")
# "numéro de commande", "n° de commande", "número de pedido", "número da encomenda", "numero d'ordine",
# "n. ordine", "number of my order" (a possessive may stand between). Whitespace runs are bounded ({0,3}):
# two unbounded runs side by side cost n² steps on a long run of spaces.
MARK_THEN_NOUN = (rf"(?:{NUMBER_MARK})\s{{0,3}}(?:(?:de|da|do|del|dell['’]|d['’]|of|van)\s{{0,3}})?"
                  r"(?:(?:la|ma|mi|su|mon|my|the|your|minha|sua|mijn|uw|de|mio|il)\s{1,3})?"
                  rf"(?:{ORDER_NOUN}|orden)")
# "is": a number given after a word that says "number" ("my order number is 4521", "la mia... è 4521").
IS = r"(?:\s{1,3}(?:is|was|est|es|ist|war|è|é|era|er|var|är|jest|je|on|este))?"
# After the number: not the start of a longer number the pattern does not read ("2024-05-12", "1200,50",
# "12:30", "0612-345678": nothing rather than a cut one), nor an amount ("order 1200 EUR", "pedido 1200€"):
# an amount says what the question is about (the query keeps it) and is no order to repeat (the draft).
# A quantity after the number is not excluded: "Bestellung 88231 Artikel fehlt" is an order number;
# "order 3 items" has too few digits.
NUMBER_END = (r"(?![\w-]|[.,/:][0-9])(?!\s{0,3}(?:[€$£%]|(?:eur|euros?|usd|gbp|chf|dollars?|pounds?|reais|z[łl]|"
              r"pln|kr|k[čc]|czk|sek|nok|dkk|tl|try|lei|ron|ft|huf)\b))")

# The draft's reading (bounded whitespace). The number is the group "number": up to four ASCII letters, a
# dash, 4-12 ASCII digits (3-12 after "#"); "&#1234;" is an HTML entity, no order.
ORDER_HASH = re.compile(r"(?<![\w&])#\s?(?P<number>(?-i:[A-Za-z]){0,4}-?[0-9]{3,12})" + NUMBER_END, re.I)
ORDER_WORD = re.compile(
    rf"\b(?:(?:{ORDER_COMPOUND}|{MARK_THEN_NOUN}){IS}|(?:{ORDER_NOUN})(?![^\W\d_])(?:\s{{1,3}}(?:{NUMBER_MARK}){IS})?)"
    r"\s{0,3}(?:[:#]\s{0,3})?(?P<number>(?-i:[A-Za-z]){0,4}-?[0-9]{4,12})" + NUMBER_END, re.I)
