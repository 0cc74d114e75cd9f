"""The customer's question as retrieval reads it: no greeting, sign-off or order numbers.

Its own module, without chromadb, so that the drafts (``pipeline.answer``, whose imports may not reach
a database client) read the question the way retrieval does.
"""

from __future__ import annotations

import re

__all__ = ["clean_query"]

_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|dear\s+[\w .'-]{0,40}?|good\s+(?:morning|afternoon|evening)|greetings|bonjour|salut|"
    r"hola|buenos\s+d[ií]as|hallo|guten\s+tag|ciao|buongiorno|hoi|goedendag|ol[áa]|bom\s+dia)\b[\s,!.:;-]*", re.I)
_SIGN_OFF = re.compile(
    r"(?:^|[\s,.!?])(?:many\s+)?(?:thanks|thank\s+you|thx|cheers|best\s+regards|kind\s+regards|regards|best\s+wishes|merci|gracias|"
    r"danke|grazie|bedankt|obrigad[oa])\b[^.?!\n]{0,40}[.!]*\s*$", re.I)
# Order numbers say which order, never what the question is about: BM25 and the embedding ignore them.
_ORDER_NO = re.compile(
    r"#\s?[A-Z]{0,4}-?\d{3,12}\b|\b(order|commande|pedido|bestellung|ordine|bestelling)"
    r"(?:\s+(?:number|no\.?|nr\.?|n°|nº|num[eé]ro))?\s*(?:[:#]\s*)?[A-Z]{0,4}-?\d{4,12}\b|\b\d{5,12}\b", re.I)
# (?:[:#]\s*)? rather than [:#]?\s*: two whitespace runs side by side made "order" followed by n
# spaces cost n² steps (1.5 s at 8,000 characters, the pipeline's text limit); same matches.


def clean_query(text: str) -> str:
    """The customer's question without its greeting, sign-off and order numbers (what retrieval matches).

    "Hello, my order #48213 shipped on monday and tracking shows nothing. Thanks, Dana" searches
    as "my order shipped on monday and tracking shows nothing". Never empties a message.
    """
    out = _GREETING.sub("", text or "", count=1)
    out = _SIGN_OFF.sub("", out)
    out = _ORDER_NO.sub(lambda m: f" {m.group(1) or ''} ", out)
    out = re.sub(r"\s{2,}", " ", out).strip(" ,;-")
    return out if len(out.split()) >= 2 else (text or "").strip()
