"""English search terms for a non-English question's BM25 side, from a small hand-written support glossary.

The demo knowledge base is English with a few translated articles. A question in French, German, Spanish,
Italian, Dutch or Portuguese is searched in the multilingual (e5) index (:mod:`knowledge.multilingual`), whose
cosines across languages barely tell topics apart, and BM25 cannot match "remboursement" to the English refund
article. :func:`english_terms` reads the question's words against ``data/glossary.yaml`` (common support words of
those languages -> English: "rembours*" -> refund, "mot de passe" -> password) and :func:`expand` adds at most
``MAX_TERMS`` of those English terms to the text BM25 reads (:func:`knowledge.retrieve.hybrid_hits`; the dense
side keeps the question as written). English questions never read it.

Words are folded as :mod:`knowledge.lexical` folds them (lower case, accents stripped), so "Remboursé",
"rembourse" and "REMBOURSEMENT" match alike, and split on Unicode word characters, so markup around them does not
matter. The glossary is loaded once per process. On by default; ``SIDECAR_KB_GLOSSARY=0`` switches it off
(:func:`select`, called from ``app.settings``).
"""

from __future__ import annotations

import threading
from pathlib import Path

from knowledge.lexical import _WORD, _fold

PATH = Path(__file__).resolve().parent / "data" / "glossary.yaml"
# English terms added to one question at most (in the order its words come): a bound, not a tuned value (ml-tune
# messages get 2.3 on average; caps 4 / 8 / 12 gave identical figures, bench/retrieval_eval.py --split ml-tune).
MAX_TERMS = 8
MAX_PHRASE = 4  # words in the longest glossary key
_MIN_PREFIX = 3  # a "*" key shorter than this would match too much

_Keys = dict[tuple[str, ...], tuple[str, ...]]
_Table = tuple[_Keys, _Keys, frozenset[str]]

_enabled = True
_loaded: dict[str, _Table] | None = None
_lock = threading.Lock()


def select(on: bool | None) -> None:
    """Switch the glossary on (None: the default, on) or off, before first use (the process edge calls this)."""
    global _enabled
    _enabled = True if on is None else bool(on)


def enabled() -> bool:
    return _enabled


def _words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def parse(data: object) -> dict[str, _Table]:
    """``{language: (exact keys, prefix keys, first words of phrases)}`` from the YAML's mapping; each key a tuple of
    folded words (a prefix key's last word is the prefix), each value the English words. ValueError on a malformed
    entry."""
    if not isinstance(data, dict):
        raise ValueError("glossary: a mapping of languages expected")
    out: dict[str, _Table] = {}
    for lang, entries in data.items():
        if not isinstance(entries, dict):
            raise ValueError(f"glossary: {lang}: a mapping of words expected")
        exact: _Keys = {}
        prefix: _Keys = {}
        for key, value in entries.items():
            raw = str(key).strip()
            star = raw.endswith("*")
            words = tuple(_words(raw.rstrip("*")))
            terms = tuple(_words(str(value or "")))
            if not words or not terms or len(words) > MAX_PHRASE or (star and len(words[-1]) < _MIN_PREFIX):
                raise ValueError(f"glossary: {lang}: bad entry {key!r}: {value!r}")
            (prefix if star else exact)[words] = terms
        heads = frozenset(k[0] for k in list(exact) + list(prefix) if len(k) > 1)
        out[str(lang).lower()] = (exact, prefix, heads)
    return out


def load() -> dict[str, _Table]:
    """The glossary shipped with the package, read once per process."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                import yaml

                loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster than pure Python
                _loaded = parse(yaml.load(PATH.read_text(encoding="utf-8"), Loader=loader))
    return _loaded


def english_terms(text: str, language: str | None, cap: int | None = None) -> list[str]:
    """The English terms the glossary gives the words of ``text`` in ``language`` (distinct, in the order of the
    words, at most ``cap``: ``MAX_TERMS``); [] when off, for English or a language it does not cover.

    At each word the longest key wins: a phrase ("mot de passe") over its words, an exact word over a prefix, a
    longer prefix over a shorter one. Bounded: the first 20k characters, as BM25 reads them.
    """
    cap = MAX_TERMS if cap is None else cap
    lang = (language or "").split("-")[0].lower()
    if not _enabled or cap <= 0 or lang in ("", "en"):
        return []
    table = load().get(lang)
    if table is None:
        return []
    exact, prefix, heads = table
    words = _words((text or "")[:20000])
    out: list[str] = []
    i = 0
    while i < len(words) and len(out) < cap:
        got, used = None, 1
        # Phrases only from a word that starts one (most words start none: one exact and a few prefix lookups).
        longest = min(MAX_PHRASE, len(words) - i) if words[i] in heads else 1
        for n in range(longest, 0, -1):
            head, last = tuple(words[i:i + n - 1]), words[i + n - 1]
            got = exact.get(head + (last,))
            if got is None:
                for cut in range(len(last), _MIN_PREFIX - 1, -1):
                    got = prefix.get(head + (last[:cut],))
                    if got is not None:
                        break
            if got is not None:
                used = n
                break
        for t in got or ():
            if t not in out and len(out) < cap:
                out.append(t)
        i += used
    return out


def expand(text: str, language: str | None, cap: int | None = None) -> str:
    """``text`` with :func:`english_terms` appended (unchanged when there are none)."""
    terms = english_terms(text, language, cap)
    return f"{text}\n{' '.join(terms)}" if terms else text
