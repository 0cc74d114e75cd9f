"""Look-alike letters read as the Latin ones they imitate: what triage and retrieval see of a message.

``thе rеsеt еmail`` written with Cyrillic ``е`` is another string to every model (e5's and bge's
tokenizers, py3langid, the char n-grams, BM25): it was triaged ``delivery_problem`` and found no
passage, while the Latin spelling read ``account_access`` and found the answer. :func:`fold_lookalikes`
gives the models the text a reader sees:

* invisible characters dropped (zero-width space/joiners, soft hyphen, word joiner, BOM, bidi
  controls, variation selectors, tag characters; blank "filler" letters become spaces);
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
    "[\u00ad\u034f\u061c\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
_BLANK = re.compile("[\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0]")
# A word: letters and the combining marks on them (digits and "_" are not letters here).
_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f])+")


@functools.lru_cache(maxsize=1)
def lookalike_table() -> dict[str, str]:
    """{letter of another script (or an odd Latin one): the ASCII letter it is drawn like}."""
    out: dict[str, str] = {}
    for line in TABLE_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            _, src, dst = line.split("\t")[:3]
            out[src] = dst
    return out


@functools.lru_cache(maxsize=8192)
def _is_latin(ch: str) -> bool:
    return ch < "\u0250" or unicodedata.name(ch, "").startswith("LATIN")


def _census(word: str, table: dict[str, str]) -> tuple[int, int, int, int]:
    """(Latin letters, look-alikes of another script, other letters, combining marks) of ``word``."""
    latin = look = other = marks = 0
    for ch in word:
        if unicodedata.combining(ch):
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
    """``word`` (NFD) with its look-alikes mapped, recomposed, stray combining marks dropped."""
    out = "".join(table.get(ch, ch) for ch in word)
    out = unicodedata.normalize("NFC", out)
    return "".join(ch for ch in out if not unicodedata.combining(ch))


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
    t = unicodedata.normalize("NFKC", _BLANK.sub(" ", _INVISIBLE.sub("", text)))
    if t.isascii():
        return t
    table = lookalike_table()
    latin_words = other_words = 0
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    # Every word's kind in order: "L" Latin (look-alikes in it mapped), "O" another script, "P" look-alikes
    # only (Latin when the message is, and no word of another script stands right beside it).
    kinds: list[str] = []
    pending: dict[int, tuple[int, int, str]] = {}
    for m in _WORD.finditer(t):
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
