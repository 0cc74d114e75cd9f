"""Look-alike letters read as the Latin ones they imitate: what triage and retrieval see of a message.

``thе rеsеt еmail`` written with Cyrillic ``е`` is another string to every model (e5's and bge's
tokenizers, py3langid, the char n-grams, BM25): it was triaged ``delivery_problem`` and found no
passage, while the Latin spelling read ``account_access`` and found the answer. :func:`fold_lookalikes`
gives the models the text a reader sees:

* invisible characters dropped (zero-width space/joiners, soft hyphen, word joiner, BOM, bidi
  controls, variation selectors, tag characters; blank "filler" letters become spaces);
* Turkish and Azerbaijani keep their dotless ``ı`` (a message with ``ı`` and ``ş``/``ğ``/``İ``/``ə``/
  ``ü``/``ö``/``ç``); elsewhere it reads as ``i`` (``subscrıptıon``);
* NFKC: full-width forms (``Ｗｈｅｒｅ``), mathematical alphanumerics (``𝐫𝐞𝐟𝐮𝐧𝐝``), ligatures;
* letters of other scripts drawn like a Latin letter (Unicode's confusables data, UTS #39, kept as
  ``pipeline/data/latin_lookalikes.tsv``) mapped to that letter — **only where the text is Latin**:
  in a word that also has Latin letters (``rеsеt``), or in a word made only of look-alikes
  (``раrсеl``) when more than two thirds of the message's other words are Latin and no word of another
  script stands right beside it (a Russian title quoted in English). A Russian or Greek message keeps
  every letter: its words have letters that look like nothing Latin, so they are that script's;
* combining marks that compose with nothing in a Latin word (underline, strike-through, "zalgo")
  dropped; the accents of French, German, Spanish... compose (NFC) and stay.

Unlike :func:`pipeline.guards.fold`, case and accents are kept: the triage models read them. Only
model inputs are folded: the note, the draft and anything quoted keep the customer's characters.
Linear in the text's length (100,000 characters of look-alikes, invisible characters and Cyrillic:
~40 ms of CPU; plain ASCII is returned as is); texts up to :data:`CACHE_CHARS` are cached.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

TABLE_FILE = Path(__file__).resolve().parent / "data" / "latin_lookalikes.tsv"
# A message is folded by triage, language, sentiment, retrieval and the draft in turn: texts up to
# the triage budget (pipeline.normalize.MAX_TEXT_CHARS) are folded once. A few entries suffice (one
# message at a time per worker); 64 of 8,000 characters are at most ~4 MB.
CACHE_CHARS = 8_000

# Characters that draw nothing (Cf format characters and their relatives): removed. Blank letters
# (Hangul fillers, the braille blank) are drawn as a space: they become one.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff"
    "\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
_BLANK = re.compile("[\u115f\u1160\u2800\u3164\uffa0]")


@functools.lru_cache(maxsize=1)
def _word_re() -> re.Pattern[str]:
    """A word: letters and the marks on them (digits and "_" are not letters here). Every mark of every
    script (Mn, Mc, Me; ~30 ms of CPU once, at the first text that is not ASCII): a zalgo generator puts
    U+0489, Hebrew points or CJK tone marks on Latin letters too (U+E0100... are invisible: dropped before)."""
    out: list[str] = []
    start = prev = -2
    for c in range(0x300, 0x1F000):
        if unicodedata.category(chr(c))[0] != "M":
            continue
        if c == prev + 1:
            prev = c
            continue
        if start >= 0:
            out.append(f"{chr(start)}-{chr(prev)}")
        start = prev = c
    out.append(f"{chr(start)}-{chr(prev)}")
    return re.compile(r"(?:[^\W\d_]|[" + "".join(out) + "])+")


# Dotless ı is a look-alike of i in English ("subscrıptıon") but a letter of Turkish and Azerbaijani
# ("ulaşmadı", "kırık"): a message with ı and another letter of those alphabets (ğ ş İ ə, or ü ö ç,
# which no supported language writes beside ı) keeps it. An English message with ı and a German "für"
# keeps its ı too: one letter read as written, the rest still folded.
_DOTLESS = "\u0131"
_TURKIC = re.compile("[\u011e\u011f\u015e\u015f\u0130\u018f\u0259]")
_TURKIC_BESIDE_DOTLESS = re.compile("[\u00c7\u00e7\u00d6\u00f6\u00dc\u00fc]")


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"


def drop_invisible(text: str) -> str:
    """``text`` without the characters that draw nothing (Unicode's default-ignorable code points:
    zero-width, bidi controls, variation selectors, tags...), blank letters as spaces. What the
    signals' and the guards' folds read too: a word cannot hide from them behind a mark a reader never sees."""
    return _BLANK.sub(" ", _INVISIBLE.sub("", text)) if not text.isascii() else text


@functools.lru_cache(maxsize=1)
def lookalike_table() -> dict[str, str]:
    """{letter of another script (or an odd Latin one): the ASCII letter it is drawn like}."""
    out: dict[str, str] = {}
    for line in TABLE_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            _, src, dst = line.split("\t")[:3]
            out[src] = dst
    return out


@functools.lru_cache(maxsize=1)
def lowercase_translation() -> dict[int, str]:
    """``str.translate`` table of every look-alike (and its case-folded form) to its lower-case ASCII
    letter, wherever it stands: for the guards' and the signals' folds, which read phrases of the
    supported languages in lower case (not the models' input: a Russian message keeps its letters there)."""
    table = lookalike_table()
    out = {ord(src): dst.lower() for src, dst in table.items()}
    for src, dst in table.items():  # a case-folded form the table does not list itself ("Ꭺ" → "ꭺ")
        for form in (src.casefold(), src.lower()):
            if len(form) == 1 and not form.isascii():
                out.setdefault(ord(form), dst.lower())
    return out


# Not in the table, and unreachable from it: NFKC makes the lunate sigmas (drawn like c and C) a
# sigma, which reads as o.
_PREFOLD_EXTRA = {"\u03f2": "c", "\u03f9": "C"}


@functools.lru_cache(maxsize=1)
def prefold_translation() -> dict[int, str]:
    """``str.translate`` table for *before* NFKC and case folding: the look-alikes those would turn into a
    letter drawn otherwise (Greek Η is H, but its lower case η reads as n; lunate sigma ϲ is c, but NFKC
    makes it ς, read as o), each to its ASCII letter. After them, :func:`lowercase_translation` does the rest."""
    lower = lowercase_translation()
    out = {ord(k): v for k, v in _PREFOLD_EXTRA.items()}
    for src, dst in lookalike_table().items():
        if unicodedata.normalize("NFKC", src).casefold().translate(lower) != dst.lower():
            out[ord(src)] = dst
    return out


@functools.lru_cache(maxsize=1)
def _table_keeping_dotless() -> dict[str, str]:
    return {k: v for k, v in lookalike_table().items() if k != _DOTLESS}


def _turkic(text: str) -> bool:
    """Whether ``text`` (NFKC) reads as Turkish or Azerbaijani: its dotless ı is a letter, not a look-alike."""
    return _DOTLESS in text and (_TURKIC.search(text) is not None or _TURKIC_BESIDE_DOTLESS.search(text) is not None)


@functools.lru_cache(maxsize=8192)
def _is_latin(ch: str) -> bool:
    return ch < "\u0250" or unicodedata.name(ch, "").startswith("LATIN")


def _census(word: str, table: dict[str, str]) -> tuple[int, int, int, int]:
    """(Latin letters, look-alikes of another script, other letters, combining marks) of ``word``."""
    latin = look = other = marks = 0
    for ch in word:
        if _is_mark(ch):
            marks += 1
        elif ch in table:
            look += 1
            latin += _is_latin(ch)  # an odd Latin letter (IPA "ɑ", small capital "ᴄ"): Latin, mapped too
        elif _is_latin(ch):
            latin += 1
        else:
            other += 1
    return latin, look, other, marks


def _latinise(word: str, table: dict[str, str]) -> str:
    """``word`` (NFD) with its look-alikes mapped, recomposed, stray marks dropped: every mark that
    composes with nothing, except one accent (U+0300-U+0331: above or below, not an overlay or an
    underline) alone on its letter, as Yoruba's "ẹ̀" or Lithuanian's "ė̃" (no precomposed form) write it."""
    out = unicodedata.normalize("NFC", "".join(table.get(ch, ch) for ch in word))
    kept = []
    for i, ch in enumerate(out):
        if not _is_mark(ch):
            kept.append(ch)
        elif ("\u0300" <= ch <= "\u0331" and i > 0 and not _is_mark(out[i - 1])
              and (i + 1 == len(out) or not _is_mark(out[i + 1]))):
            kept.append(ch)
    return "".join(kept)


def fold_lookalikes(text: str | None) -> str:
    """``text`` as triage and retrieval read it (module docstring); plain ASCII comes back as is."""
    if not text:
        return ""
    if text.isascii():
        return text
    if len(text) <= CACHE_CHARS:
        return _fold_cached(text)
    return _fold(text)


@functools.lru_cache(maxsize=64)
def _fold_cached(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKC", drop_invisible(text))
    if t.isascii():
        return t
    table = _table_keeping_dotless() if _turkic(t) else lookalike_table()
    latin_words = other_words = 0
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    # Every word's kind in order: "L" Latin (look-alikes in it mapped), "O" another script, "P" look-alikes
    # only (Latin when the message is, and no word of another script stands right beside it).
    kinds: list[str] = []
    pending: dict[int, tuple[int, int, str]] = {}
    for m in _word_re().finditer(t):
        word = m.group()
        if word.isascii():
            latin_words += 1
            kinds.append("L")
            continue
        nfd = unicodedata.normalize("NFD", word)
        latin, look, other, marks = _census(nfd, table)
        if other:  # a word of another script (or mixed with one): left as written
            other_words += not latin
            kinds.append("O")
        elif latin:
            latin_words += 1
            kinds.append("L")
            if look or marks:
                new = _latinise(nfd, table)
                if new != word:
                    edits.append((m.start(), m.end(), new))
        else:
            pending[len(kinds)] = (m.start(), m.end(), _latinise(nfd, table))
            kinds.append("P")
    # Mostly Latin: a Russian message naming a few products is not, nor a Russian title in English text.
    if pending and latin_words > 2 * other_words:
        before, last = [], ""
        for k in kinds:
            before.append(last)
            last = k if k != "P" else last
        after, last = [""] * len(kinds), ""
        for i in range(len(kinds) - 1, -1, -1):
            after[i] = last
            last = kinds[i] if kinds[i] != "P" else last
        edits += [edit for i, edit in pending.items() if before[i] != "O" and after[i] != "O"]
    if not edits:
        return t
    edits.sort()
    parts, pos = [], 0
    for start, end, new in edits:
        parts += [t[pos:start], new]
        pos = end
    parts.append(t[pos:])
    return "".join(parts)
