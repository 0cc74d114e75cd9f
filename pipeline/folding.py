"""Text folded for phrase patterns: no markup, NFKC, no invisible characters, look-alike letters to Latin, case-folded,
accents removed, whitespace collapsed.

Moved out of :mod:`pipeline.signals` (which re-exports it) so that :mod:`pipeline.intent_rules`, read by
:mod:`pipeline.local_classifier`, can fold text without importing signals (signals imports local_classifier lazily:
an import cycle). Imports nothing of the project but :mod:`pipeline.lookalikes`.
"""

from __future__ import annotations

import html
import re
import unicodedata

from pipeline.lookalikes import drop_invisible, lowercase_translation, prefold_translation

__all__ = ["MAX_MATCH_CHARS", "normalize_for_matching"]

# Look-alike letters are folded by pipeline.lookalikes.lowercase_translation (after case folding);
# before NFKC, those it or case folding would make read otherwise (Η is H, not η → n; ϲ is c, not
# ς → o: pipeline.lookalikes.prefold_translation); after it, the apostrophes of "don't", "l'avocat".
_CONFUSABLES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})
_TAG = re.compile(r"<[^>]{0,500}>")
# Inline tags can sit inside a word ("dis<b>pute</b>"): removed without a space; others separate words.
_INLINE_TAG = re.compile(r"</?(b|i|u|em|strong|span|font|a|small|big|mark|s|strike|sub|sup|code)\b[^>]{0,500}>", re.I)
_SPACES = re.compile(r"\s+")
MAX_MATCH_CHARS = 20_000  # signals look at the first 20k characters: bounded regex work per message


def normalize_for_matching(text: str) -> str:
    """Fold ``text`` for the phrase patterns: no markup, NFKC, no invisible characters, look-alike
    letters to Latin, case-folded, accents removed, whitespace collapsed."""
    t = html.unescape((text or "")[:MAX_MATCH_CHARS])
    t = _TAG.sub(" ", _INLINE_TAG.sub("", t))
    t = unicodedata.normalize("NFKC", drop_invisible(t).translate(prefold_translation())).translate(_CONFUSABLES).casefold()
    t = t.translate(lowercase_translation())
    t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    return _SPACES.sub(" ", t).strip()
