"""The customer's question as retrieval reads it: no greeting, sign-off or order numbers.

Its own module, without chromadb, so that the drafts (``pipeline.answer``, whose imports may not reach
a database client) read the question the way retrieval does.
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.courtesy import courtesy_remainder
from pipeline.lookalikes import fold_lookalikes
from pipeline.order_words import IS, MARK_THEN_NOUN, NUMBER_END, NUMBER_MARK, ORDER_COMPOUND, ORDER_NOUN

__all__ = ["clean_query", "strip_closing"]

_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|dear\s+[\w .'-]{0,40}?|good\s+(?:morning|afternoon|evening)|greetings|bonjour|salut|"
    r"hola|buenos\s+d[ií]as|hallo|guten\s+tag|ciao|buongiorno|hoi|goedendag|ol[áa]|bom\s+dia)\b[\s,!.:;-]*", re.I)
_SIGN_OFF = re.compile(
    r"(?:^|[\s,.!?])(?:many\s+)?(?:thanks|thank\s+you|thx|cheers|best\s+regards|kind\s+regards|regards|best\s+wishes|merci|gracias|"
    r"danke|grazie|bedankt|obrigad[oa])\b[^.?!\n]{0,40}[.!]*\s*$", re.I)
# Closing formulas pipeline.courtesy does not take as a whole (it reads sentiment, where "thanks in advance" or a
# bare "Best," are no sign of praise either way), matched on a folded line: lower case, accents off.
_CLOSING_EXTRA = re.compile(
    r"(?:many |muchas |mille |vielen |grazie |muito |heel erg )?"
    r"(?:thanks|thank you|thx|merci|danke|dank|gracias|grazie|bedankt|dank u|dank je|obrigad[oa]|agradeco)"
    r"(?: (?:in advance|d'avance|par avance|im voraus|vorab|schon mal|de antemano|por adelantado|por anticipado"
    r"|in anticipo|anticipatamente|desde ja|antecipadamente|de antemao))"
    r"|(?:alvast|bij voorbaat) (?:bedankt|dank(?: je| u)?(?: wel)?)"
    r"|best|all the best|best wishes|warm(?:est)? regards|regards|sincerely|yours(?: sincerely| truly)?|cheers"
    r"|bien cordialement|cordialement|salutations(?: distinguees)?|bien a (?:vous|toi)|a bientot"
    r"|saludos(?: cordiales)?|un (?:cordial )?saludo|atentamente|cordialmente|un abrazo"
    r"|(?:mit )?(?:freundlichen|besten|herzlichen|lieben|viele|liebe|beste) gru(?:ss|ß)(?:e|en)?|lg|mfg|vg"
    r"|(?:cordiali|distinti) saluti|saluti|un saluto|cordialmente|in attesa di (?:un |una |vostro |vostra )?(?:vostro |vostra )?(?:riscontro|risposta)"
    r"|(?:met )?(?:vriendelijke|hartelijke|beste) groet(?:en)?|groet(?:en|jes)?|mvg"
    r"|(?:com os )?(?:melhores )?cumprimentos|atenciosamente|abracos?|beijinhos|obrigad[oa] desde ja"
)
_CLOSINGS = re.compile(r"(?:(?:" + _CLOSING_EXTRA.pattern + r"|vielen dank|danke|merci beaucoup|muchas gracias|grazie mille"
                       r"|thanks a lot|many thanks|thank you|obrigad[oa]|bedankt)(?:[\s,;.!-]+|$))+")
# A name under the closing: one to four words, the first and last capitalised ("Marco", "Ana Silva", "Sanne de Vries").
_NAME_WORD = re.compile(r"[A-ZÀ-ÖØ-Þ][\w'.-]*$")
_PARTICLES = frozenset({"van", "de", "der", "den", "da", "di", "del", "dos", "du", "von", "le", "la"})
_EDGE_MARKS = re.compile(r"^[\W_]+|[\W_]+$")


def _is_name(words: list[str]) -> bool:
    return (0 < len(words) <= 4 and _NAME_WORD.match(words[0]) is not None and _NAME_WORD.match(words[-1]) is not None
            and all(_NAME_WORD.match(w) or w in _PARTICLES for w in words))


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if not unicodedata.combining(c))


def _is_closing(line: str) -> bool:
    """Whether ``line`` holds only closing formulas ("Merci d'avance,", "Grazie mille, saluti,", "Best,")."""
    bare = _EDGE_MARKS.sub("", line.strip())
    if not bare:
        return True
    if courtesy_remainder(line) == "":
        return True
    # Several formulas on one line ("Thanks in advance, best regards"): each piece must be one.
    pieces = [p for p in re.split(r"[,;.!]+|\s+-\s+", _fold(bare)) if p.strip()]
    if pieces and all(_CLOSING_EXTRA.fullmatch(p.strip()) or courtesy_remainder(p) == "" for p in pieces):
        return True
    # Or formulas one after the other without punctuation ("Vielen Dank im Voraus Mit freundlichen Grüßen").
    return _CLOSINGS.fullmatch(_fold(bare)) is not None


def _closing_then_name(text: str) -> bool:
    """Whether ``text`` is closing formulas, then possibly the customer's name ("Grazie mille, saluti, Marco")."""
    if _is_closing(text):
        return True
    words = text.strip().rstrip(".!").split()
    for k in range(1, min(4, len(words) - 1) + 1):
        rest = " ".join(words[:-k])
        if _is_name(words[-k:]) and _EDGE_MARKS.sub("", rest) and _is_closing(rest):
            return True
    return False


def strip_closing(text: str) -> str:
    """``text`` without the closing lines at its end: thanks, greetings and the name signed under them.

    "...cosa succede?\n\nGrazie mille, saluti,\nMarco" -> "...cosa succede?". A name is taken only under a
    closing (a last line "Canada" or "PayPal" stays); the closing only when it has lines of its own or follows the
    last sentence's end ("... o que se passa? Obrigada desde já."). Never empties a message.
    """
    # Blank lines dropped first, the rest walked from the end by index: linear in the number of lines.
    lines = [x for x in (text or "").rstrip().split("\n") if x.strip()]
    n = len(lines)
    while n > 1:
        last = lines[n - 1].strip()
        if _closing_then_name(last):
            n -= 1
        elif len(last) <= 40 and _is_name(last.split()) and _closing_then_name(lines[n - 2]):
            n -= 1  # the name; its closing goes on the next turn
        else:
            break
    if n == len(lines):
        out = (text or "").rstrip()
    else:
        out = "\n".join(lines[:n]).rstrip()
    # The closing on the last sentence's line: "... o que se passa? Obrigada desde já, Ana".
    m = re.search(r"[?!.]\s+([^?!.\n][^?\n]{0,80})$", out)
    if m and _closing_then_name(m.group(1)):
        out = out[:m.start(1)].rstrip()
    return out if len(out.split()) >= 2 else (text or "").strip()


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
    out = strip_closing(out)
    out = _GREETING.sub("", out, count=1)
    out = _SIGN_OFF.sub("", out)
    out = _ORDER_NO.sub(lambda m: f" {m.group('cue') or m.group('noun') or ''} ", out)
    out = re.sub(r"\s{2,}", " ", out).strip(" ,;-")
    return out if len(out.split()) >= 2 else (text or "").strip()
