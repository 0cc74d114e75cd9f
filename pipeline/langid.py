"""py3langid restricted to the languages a store is likely to receive: one identifier per process.

Its own module so that :mod:`pipeline.signals` (triage's ``language``) and
:mod:`pipeline.local_classifier` (which head reads a message) share it without importing each other.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.lookalikes import fold_lookalikes

LANGUAGES = ("en", "fr", "de", "es", "it", "nl", "pt")
# Identified too, though no wording or guard vocabulary exists for them: languages a European store
# receives that read like one of the seven to an identifier that knows only those (a Danish "hvor er min
# ordre" was Dutch at 0.93, a Swedish message German at 0.68: their drafts came in Dutch and German).
# Named, such a message is read by the multilingual head, drafted with the English wording, and its
# language is reported as it is. ~0.2 MB of the identifier's table each (the full table is 28 MB).
OTHER_LANGUAGES = ("da", "sv", "no", "nn", "fi", "pl", "cs", "sk", "hu", "ro", "tr", "ru", "uk", "bg", "el", "ar",
                   "he", "zh", "ja", "ko")
IDENTIFIED = LANGUAGES + OTHER_LANGUAGES
LANGUAGE_CHARS = 2_000  # the language is judged on the text's start (bounded work)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=1)
def identifier():
    """py3langid's identifier over :data:`IDENTIFIED`, with normalised probabilities."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(IDENTIFIED))
    # set_languages copies the supported languages' columns and keeps the full 142-language table
    # (100k features, float16) only to restore it on set_languages(None), never called here: 26 MB
    # of a worker's resident memory (bench/classifier_bench.py, 2026-11-30). Let it go: the same scores.
    if getattr(ident, "_full_model", None) is not None:
        ident._full_model = (ident.nb_ptc, ident.nb_pc, ident.nb_classes)
    return ident


# Texts whose scores are kept (bounded: at most LANGUAGE_CHARS characters each). A triaged message is
# identified three times: which head reads it (embed_pair, then the head's predict) and triage's
# ``language`` (pipeline.signals.detect_language), on the same folded opening: the second and third are look-ups.
CLASSIFY_MEMO = 1024


@lru_cache(maxsize=CLASSIFY_MEMO)
def ranked(text: str) -> tuple[tuple[str, float], ...]:
    """:func:`identifier`'s ``rank(text)``: every language of :data:`IDENTIFIED` with its probability,
    best first, remembered for the last :data:`CLASSIFY_MEMO` texts (a pure function of the text)."""
    return tuple((str(lang), float(p)) for lang, p in identifier().rank(text))


def classify(text: str) -> tuple[str, float]:
    """The most likely of the seven :data:`LANGUAGES` and its probability among them: what py3langid
    restricted to them answers (a restricted softmax is the wide one renormalised), so which head reads a
    message does not depend on :data:`OTHER_LANGUAGES`. ("", 0.0) when none of the seven has any
    probability left (a long text in another script)."""
    scores = ranked(text)
    total = sum(p for lang, p in scores if lang in LANGUAGES)
    if total <= 0.0:
        return "", 0.0
    lang, p = next((lang, p) for lang, p in scores if lang in LANGUAGES)
    return lang, p / total


def identify(text: str) -> tuple[str, float]:
    """The most likely language of ``text`` among :data:`IDENTIFIED` and its probability."""
    return ranked(text)[0]


def language_guess(text: str) -> tuple[str, float]:
    """The most likely language of ``text`` among :data:`LANGUAGES` and its probability
    (("", 0.0) for a text without words; look-alike letters folded); no default applied, unlike
    :func:`pipeline.signals.detect_language`."""
    text = fold_lookalikes((text or "").strip()[:LANGUAGE_CHARS])
    if not _WORD.search(text):
        return "", 0.0
    lang, prob = classify(text)
    return str(lang), float(prob)


@lru_cache(maxsize=1)
def _open_identifier():
    """py3langid over all its 97 languages: only to tell that a text is in none of :data:`LANGUAGES`
    (loaded on first use, ~0.7 s and ~26 MB, by the last check before a public reply only)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def other_language(text: str, min_prob: float = 0.5) -> str | None:
    """The language of ``text`` when it is confidently one outside :data:`LANGUAGES` ("pl", "sv", "id",
    "ru", "ja", ...), else None. The guards on what we write read the seven languages only: a refund promised
    in Polish or Indonesian is no promise to them (review of 2026-12-01)."""
    text = fold_lookalikes((text or "").strip()[:LANGUAGE_CHARS])
    if not _WORD.search(text):
        return None
    lang, prob = _open_identifier().classify(text)
    return str(lang) if str(lang) not in LANGUAGES and float(prob) >= min_prob else None
