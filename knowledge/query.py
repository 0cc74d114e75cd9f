"""The customer's question as retrieval reads it: no greeting, sign-off or order numbers.

Its own module, without chromadb, so that the drafts (``pipeline.answer``, whose imports may not reach
a database client) read the question the way retrieval does.
"""

from __future__ import annotations

import re

from pipeline.lookalikes import fold_lookalikes
from pipeline.order_words import IS, MARK_THEN_NOUN, NUMBER_END, NUMBER_MARK, ORDER_COMPOUND, ORDER_NOUN

__all__ = ["clean_query"]

_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|dear\s+[\w .'-]{0,40}?|good\s+(?:morning|afternoon|evening)|greetings|bonjour|salut|"
    r"hola|buenos\s+d[ií]as|hallo|guten\s+tag|ciao|buongiorno|hoi|goedendag|ol[áa]|bom\s+dia)\b[\s,!.:;-]*", re.I)
_SIGN_OFF = re.compile(
    r"(?:^|[\s,.!?])(?:many\s+)?(?:thanks|thank\s+you|thx|cheers|best\s+regards|kind\s+regards|regards|best\s+wishes|merci|gracias|"
    r"danke|grazie|bedankt|obrigad[oa])\b[^.?!\n]{0,40}[.!]*\s*$", re.I)
# Order numbers say which order, never what the question is about: BM25 and the embedding ignore them.
# The cue words are the draft's (pipeline.order_words: every word pipeline.answer.order_number reads, in the
# seven languages and those triage names); the word stays ("ma commande est en retard"), its "n°"/"number",
# "is", ":" and the number go. What the draft reads as no order number stays too: an amount ("order 1200 EUR"),
# a date ("order 2024-05-12"). A bare run of 5-12 digits goes whatever precedes it (a phone or parcel number
# is no more what the question is about).
# The glue is the query's own: unbounded whitespace runs ("order", a flood of spaces, ":", a flood, the number),
# kept linear by never putting two of them side by side: "(?:[:#]\s*)?" rather than "[:#]?\s*" (two adjacent
# runs made "order" followed by n spaces cost n² steps, 1.5 s at 8,000 characters).
_ORDER_NO = re.compile(
    r"(?<![\w&])#\s?[A-Z]{0,4}-?\d{3,12}" + NUMBER_END + "|"
    rf"\b(?:(?P<cue>{ORDER_COMPOUND}|{MARK_THEN_NOUN}){IS}|(?P<noun>{ORDER_NOUN})(?![^\W\d_])(?:\s+(?:{NUMBER_MARK}){IS})?)"
    r"\s*(?:[:#]\s*)?[A-Z]{0,4}-?\d{4,12}" + NUMBER_END + r"|\b\d{5,12}\b", re.I)


def clean_query(text: str) -> str:
    """The customer's question without its greeting, sign-off and order numbers (what retrieval matches).

    "Hello, my order #48213 shipped on monday and tracking shows nothing. Thanks, Dana" searches
    as "my order shipped on monday and tracking shows nothing". Never empties a message.
    """
    # Read folded, as the draft reads order numbers and retrieval reads the question (pipeline.draft.retrieve
    # folds before searching): "оrder 4521" with a Cyrillic о, full-width digits, an invisible character.
    out = fold_lookalikes(text or "")
    out = _GREETING.sub("", out, count=1)
    out = _SIGN_OFF.sub("", out)
    out = _ORDER_NO.sub(lambda m: f" {m.group('cue') or m.group('noun') or ''} ", out)
    out = re.sub(r"\s{2,}", " ", out).strip(" ,;-")
    return out if len(out.split()) >= 2 else (text or "").strip()
