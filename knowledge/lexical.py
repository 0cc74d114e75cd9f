"""Lexical (BM25) side of retrieval, kept in step with the chroma collection.

Dense embeddings find paraphrases ("money back" ~ "refund") but miss exact terms a customer
copies from a page or an email ("Recurring IDR Requesters", "3-D Secure", "TM26A"); BM25 finds
those. :mod:`knowledge.retrieve` fuses both rankings.

The chroma collection stays the single source of truth: this index is derived from the chunks
stored there (title + heading path + body, the same text that is embedded; title and heading weigh
double, ``FIELD_REPEAT``) and is rebuilt in
memory when the collection's change marker moves. It is incremental: chunk ids are
content-addressed, so only chunks this process has not tokenised yet are read back and
tokenised; removed chunks are dropped. Brand and language are not in the id (an article
re-tagged with another brand or language keeps its chunk ids), so every sync reads all chunks'
metadata (ids and metadata only, no text: ~0.5 s per 10k chunks, once per change of the
collection) and re-reads the chunks whose brand, language, title or heading moved. Nothing is embedded for it, and it works the same on an
embedded store and on a chroma server (``CHROMA_URL``), where the marker is polled every
``REFRESH_SECONDS``.

Tokens: Unicode words, lower-cased, accents folded ("réinitialiser" = "reinitialiser", as
customers often type), common English / French / Spanish / German stop words removed,
Snowball English stemming (``PyStemmer``). BM25 itself is ``bm25s`` (Lucene variant).
"""

from __future__ import annotations

import importlib.abc
import logging
import math
import re
import sys
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
PAGE = 1000  # chunks read back from chroma per call
_WORD = re.compile(r"\w+", re.U)


class _NoScipyForBm25s(importlib.abc.MetaPathFinder):
    """Refuses scipy to bm25s's own module code (ModuleNotFoundError), and only to it: other imports, in
    this thread or another (the classifier's fit importing scikit-learn alongside), find scipy as usual."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] == "scipy":
            frame = sys._getframe(1)
            while frame is not None:
                if frame.f_globals.get("__name__", "").partition(".")[0] == "bm25s":
                    raise ModuleNotFoundError(f"{name} is not imported for bm25s (knowledge.lexical)", name=name)
                frame = frame.f_back
        return None


def _bm25s() -> Any:
    """The ``bm25s`` module, imported without scipy when scipy is not loaded yet.

    bm25s imports ``scipy.sparse`` at import time (~23 MB resident) for a sparse backend it uses only
    when asked (``csc_backend="scipy"``); this index keeps its default, numpy (passed explicitly below).
    Without it a worker serving jobs from a warm classifier cache loads no scipy at all (pipeline.linear;
    tests/app/test_worker_imports.py).
    """
    module = sys.modules.get("bm25s")
    if module is not None:
        return module
    finder = _NoScipyForBm25s()
    sys.meta_path.insert(0, finder)
    try:
        import bm25s
    finally:
        sys.meta_path.remove(finder)
    return bm25s


def _stopwords() -> frozenset[str]:
    sw = _bm25s().stopwords

    words: set[str] = set()
    for name in ("STOPWORDS_EN", "STOPWORDS_FRENCH", "STOPWORDS_SPANISH", "STOPWORDS_GERMAN"):
        words.update(_fold(w) for w in getattr(sw, name, ()))
    return frozenset(words)


def _fold(text: str) -> str:
    """Lower-case and strip accents (NFKD, drop combining marks)."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


_stop: frozenset[str] | None = None
_stemmer: Any = None
_tok_lock = threading.Lock()


def tokenize(text: str) -> list[str]:
    """BM25 tokens of ``text`` (folded, stop words removed, stemmed). Bounded: first 20k characters."""
    global _stop, _stemmer
    if _stemmer is None:
        with _tok_lock:
            if _stemmer is None:
                import Stemmer

                _stop = _stopwords()
                _stemmer = Stemmer.Stemmer("english")
    words = [w for w in _WORD.findall(_fold((text or "")[:20000])) if len(w) > 1 and w not in _stop]  # type: ignore[operator]
    return _stemmer.stemWords(words)


# The title and heading path count this many times (a BM25F-style field weight): they name what a section is
# about, while a body mentions a term in passing ("we also accept gift cards" on the payment page; the customer
# asking about a gift card means the page titled so). 1 / 2 / 3 on the tuning splits (bench/retrieval_eval.py,
# article recall@1 / @3 / MRR@10): tune2 0.749/0.910/0.837 -> 0.762/0.915/0.844 -> 0.762/0.915/0.844, tune
# 0.838/0.960/0.900 unchanged at 2, recall@1 0.823 at 3; ml-tune unchanged. 2 is the usual low title weight.
FIELD_REPEAT = 2
PAGES = True  # a second BM25 over whole pages (page_match, page_words); knowledge.retrieve reads them


def chunk_text(body: str, meta: dict[str, Any] | None) -> str:
    """The text indexed for a chunk: title and heading path (``FIELD_REPEAT`` times), then the body."""
    meta = meta or {}
    return f"{meta.get('title') or ''}\n{meta.get('heading') or ''}\n" * FIELD_REPEAT + (body or "")


def _meta_key(meta: dict[str, Any] | None) -> tuple[str, ...]:
    """What of a chunk's metadata the index reads: the tokens' title and heading, the filters' brand and language,
    and the document (page) it belongs to."""
    meta = meta or {}
    return tuple(str(meta.get(k) or "") for k in ("title", "heading", "brand", "language", "doc_id"))


def page_key(doc_id: str, brand: str) -> str:
    """A page of the page-level index: a document of one brand (two brands' documents may share an id, and
    one brand's page must not score or read with the other's sections)."""
    return f"{brand}\x00{doc_id}"


def _head_and_body(body: str, meta: dict[str, Any]) -> tuple[list[str], int]:
    """:func:`tokenize` of :func:`chunk_text`, and how many of its tokens are the title and heading (repeated)."""
    head = tokenize(f"{meta.get('title') or ''}\n{meta.get('heading') or ''}\n")
    return head * FIELD_REPEAT + tokenize(body or ""), len(head) * FIELD_REPEAT


@dataclass
class _Snapshot:
    """An immutable BM25 index over one set of chunks (searches never see a half-built one)."""

    ids: list[str]
    brand: np.ndarray
    language: np.ndarray
    retriever: Any = None
    idf: dict[str, float] = field(default_factory=dict)
    mean_idf: float = 0.0
    masks: dict[tuple[frozenset[str] | None, str | None], np.ndarray | None] = field(default_factory=dict)
    brands: frozenset[str] = frozenset()  # every brand value stored (knowledge.brands reads it)
    # Pages (documents): their own BM25 (see page_match) and their chunks (page_words).
    page_ids: list[str] = field(default_factory=list)
    page_retriever: Any = None
    page_idf: dict[str, float] = field(default_factory=dict)
    page_chunks: dict[str, list[str]] = field(default_factory=dict)
    page_index: dict[str, int] = field(default_factory=dict)  # page -> its row in page_ids
    words: dict[str, frozenset[str]] = field(default_factory=dict)  # page_words' cache


class LexicalIndex:
    """BM25 over one chroma collection's chunks, refreshed incrementally from the collection."""

    def __init__(self) -> None:
        self._tokens: dict[str, list[str]] = {}
        self._head: dict[str, int] = {}  # id -> how many of its tokens are the title and heading
        self._meta: dict[str, tuple[str, str]] = {}  # id -> (brand, language)
        self._indexed_meta: dict[str, tuple[str, ...]] = {}  # id -> what the tokens and filters were built from
        self._snap = _Snapshot(ids=[], brand=np.array([], dtype=object), language=np.array([], dtype=object))
        self.generation: Any = object()  # never equal to a real marker: the first use syncs
        self.checked_at = 0.0
        self.store_generation: Any = object()  # the store object's own marker when last looked at (index_for)
        self._lock = threading.Lock()
        self.last_sync: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._snap.ids)

    @property
    def brands(self) -> frozenset[str]:
        """The distinct brand values of the indexed chunks (as stored; ``""`` for unbranded ones)."""
        return self._snap.brands

    def sync(self, collection: Any, generation: Any) -> None:
        """Bring the index in line with ``collection``: read and tokenise only unseen chunks."""
        t0 = time.perf_counter()
        ids: list[str] = []
        metas: dict[str, tuple[str, ...]] = {}
        offset = 0
        while True:  # ids and metadata, no text
            got = collection.get(include=["metadatas"], limit=PAGE, offset=offset)
            ids += got["ids"]
            for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
                metas[cid] = _meta_key(meta)
            if len(got["ids"]) < PAGE:
                break
            offset += PAGE
        wanted = set(ids)
        for gone in [i for i in self._tokens if i not in wanted]:
            self._tokens.pop(gone, None)
            self._head.pop(gone, None)
            self._meta.pop(gone, None)
            self._indexed_meta.pop(gone, None)
        # Unseen chunks, and seen ones whose metadata moved (re-tagged brand/language, new title).
        new = [i for i in ids if i not in self._tokens or self._indexed_meta.get(i) != metas.get(i)]
        for start in range(0, len(new), PAGE):
            batch = new[start:start + PAGE]
            got = collection.get(ids=batch, include=["documents", "metadatas"])
            for cid, body, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False):
                meta = meta or {}
                self._tokens[cid], self._head[cid] = _head_and_body(body or "", meta)
                self._meta[cid] = (str(meta.get("brand") or ""), str(meta.get("language") or ""))
                self._indexed_meta[cid] = _meta_key(meta)
        ids = [i for i in ids if i in self._tokens]
        snap = _Snapshot(ids=ids, brand=np.array([self._meta[i][0] for i in ids], dtype=object),
                         language=np.array([self._meta[i][1] for i in ids], dtype=object),
                         brands=frozenset(self._meta[i][0] for i in ids))
        if ids:
            retriever = _bm25s().BM25(csc_backend="numpy")
            # An empty chunk would make bm25s drop the row; a placeholder token keeps ids aligned.
            retriever.index([self._tokens[i] or ["\x00"] for i in ids], show_progress=False)
            snap.retriever = retriever
            df: dict[str, int] = {}
            for i in ids:
                for t in set(self._tokens[i]):
                    df[t] = df.get(t, 0) + 1
            n = len(ids)
            snap.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
            # The IDF of a word drawn from a chunk of this knowledge base (each chunk's distinct words): the
            # reference a question's words are compared with (rarity).
            snap.mean_idf = sum(d * snap.idf[t] for t, d in df.items()) / max(sum(df.values()), 1)
            if PAGES:
                self._index_pages(snap)
        self._snap = snap
        self.generation = generation
        self.last_sync = {"seconds": time.perf_counter() - t0, "tokenised": float(len(new)), "chunks": float(len(ids))}
        log.debug("lexical index: %d chunks (%d tokenised) in %.2fs", len(ids), len(new), self.last_sync["seconds"])

    def _index_pages(self, snap: _Snapshot) -> None:
        """BM25 over whole pages: the title (``FIELD_REPEAT`` times) and every chunk's heading and body."""
        chunks: dict[str, list[str]] = {}
        for i in snap.ids:
            meta = self._indexed_meta[i]
            chunks.setdefault(page_key(meta[4] or i, meta[2]), []).append(i)
        heads: dict[str, list[str]] = {}  # titles and headings repeat across chunks: tokenised once each

        def toks(text: str) -> list[str]:
            got = heads.get(text)
            if got is None:
                got = heads[text] = tokenize(text)
            return got

        pages: list[list[str]] = []
        for cids in chunks.values():
            page = toks(self._indexed_meta[cids[0]][0]) * FIELD_REPEAT
            for c in cids:
                page = page + toks(self._indexed_meta[c][1]) + self._tokens[c][self._head.get(c, 0):]
            pages.append(page or ["\x00"])
        retriever = _bm25s().BM25(csc_backend="numpy")
        retriever.index(pages, show_progress=False)
        df: dict[str, int] = {}
        for page in pages:
            for t in set(page):
                df[t] = df.get(t, 0) + 1
        n = len(pages)
        snap.page_ids, snap.page_retriever, snap.page_chunks = list(chunks), retriever, chunks
        snap.page_index = {p: i for i, p in enumerate(snap.page_ids)}
        snap.page_idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def page_match(self, text: str, pages: set[str]) -> dict[str, float]:
        """BM25 match of ``text`` against whole pages (documents), for these pages (:func:`page_key`): 0..1 as
        :meth:`search`'s.

        A chunk is one section; a page answers a question whose words it spreads over several sections
        ("add a custom domain ... import DNS records in CIS": the page's title names CIS, one section the
        domain, another the records), and one of two sibling pages may name more of them than the other.
        """
        snap = self._snap
        if snap.page_retriever is None or not pages:
            return {}
        q = tokenize(text)
        if not q:
            return {}
        unseen = math.log(1 + (len(snap.page_ids) + 0.5) / 0.5)
        ideal = sum(snap.page_idf.get(t, unseen) for t in set(q)) or 1.0
        scores = snap.page_retriever.get_scores(q)
        # The pages asked for only (a search's few dozen), not a loop over every page of the store.
        rows = [(d, snap.page_index[d]) for d in pages if d in snap.page_index]
        return {d: min(1.0, float(scores[i]) / ideal) for d, i in rows if scores[i] > 0}

    def page_words(self, page: str) -> frozenset[str]:
        """The distinct terms of a whole page (:func:`page_key`; its chunks' tokens), to tell copies of a page."""
        snap = self._snap
        got = snap.words.get(page)
        if got is None:
            got = frozenset(t for c in snap.page_chunks.get(page, ()) for t in self._tokens.get(c, ()))
            snap.words[page] = got
        return got

    def search(self, text: str, n: int, brand: str | None = None, language: str | None = None,
               strict_language: bool = False, brands: frozenset[str] | None = None,
               unknown_share: float = 1.0) -> list[tuple[str, float]]:
        """Top ``n`` (chunk id, match) for ``text``, with the same filters as the dense side.

        ``brands``: the stored brand values allowed (:func:`knowledge.brands.allowed`, what retrieval
        passes); else ``brand`` allows that value and unbranded chunks.

        ``match`` is the BM25 score over the score of an ideal passage holding every query term
        once (the sum of their IDFs), capped at 1: near 1 when the rare words of the question are
        all there ("Recurring IDR Requesters"), small when only common words match ("send back").
        A term no chunk holds counts in the ideal as the rarest word. ``unknown_share`` < 1 takes the ideal toward
        that of the known terms alone (a geometric mean: ideal(known) ** (1 - share) * ideal(all) ** share), for a
        question in another language whose English glossary terms are what can match English chunks and whose
        own words mostly cannot (knowledge.retrieve.CROSS_GLOSSARY_UNKNOWN_SHARE).
        """
        snap = self._snap
        if snap.retriever is None or n <= 0:
            return []
        q = tokenize(text)
        if not q:
            return []
        unseen = math.log(1 + (len(snap.ids) + 0.5) / 0.5)
        ideal = sum(snap.idf.get(t, unseen) for t in set(q)) or 1.0
        if unknown_share < 1.0:
            known = sum(snap.idf[t] for t in set(q) if t in snap.idf) or 1.0
            ideal = known ** (1.0 - unknown_share) * ideal ** unknown_share
        scores = snap.retriever.get_scores(q)
        if brands is None and brand:
            brands = frozenset({brand, ""})
        mask = self._mask(snap, brands, language, strict_language)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(snap.ids[i], min(1.0, float(scores[i]) / ideal)) for i in top if scores[i] > 0]

    def rarity(self, text: str) -> float:
        """How rare the words of ``text`` are in this knowledge base, relative to its typical word (1.0).

        The mean IDF of the question's words that the index knows, over the mean IDF of a word of a
        stored chunk. A question made of the knowledge base's rare words ("Recurring IDR Requesters",
        "TM26A") is well identified by them, so BM25's match deserves more trust; one made of its
        everyday words ("I want my money back") less. Words the index does not know (typos, words no
        article uses) say nothing about that and are left out. 1.0 when no word is known.
        """
        snap = self._snap
        known = [snap.idf[t] for t in set(tokenize(text)) if t in snap.idf]
        if not known or snap.mean_idf <= 0:
            return 1.0
        return sum(known) / len(known) / snap.mean_idf

    @staticmethod
    def _mask(snap: _Snapshot, brands: frozenset[str] | None, language: str | None, strict: bool) -> np.ndarray | None:
        key = (brands, (("=" if strict else "") + language) if language else None)
        if key in snap.masks:
            return snap.masks[key]
        mask = None
        if brands is not None:
            mask = np.isin(snap.brand, list(brands)) if len(snap.brand) else np.zeros(0, dtype=bool)
        if language:
            lm = (snap.language == language) if strict else \
                (snap.language == language) | (snap.language == "") | (snap.language == "en")
            mask = lm if mask is None else mask & lm
        snap.masks[key] = mask
        return mask


_indexes: dict[str, LexicalIndex] = {}
_reg_lock = threading.Lock()


def index_for(store: Any) -> LexicalIndex:
    """The process's lexical index for ``store``'s collection, synced when the collection changed.

    A change made through this process (ingest marks the store) is seen at once; a change made
    by another process or machine is seen within ``REFRESH_SECONDS``.
    """
    key = str(getattr(store.collection, "id", None) or id(store.collection))
    with _reg_lock:
        idx = _indexes.get(key)
        if idx is None:
            idx = _indexes[key] = LexicalIndex()
    with idx._lock:
        # Two markers: the store object's own (moved by this process's writes, or a reopened store) and the
        # collection's shared one (polled). A store that is never reopened (CHROMA_URL: the server is read
        # live) keeps its old own marker after another process's write: compared with the polled one, that
        # rebuilt the whole index twice per REFRESH_SECONDS for as long as the process ran.
        gen = idx.generation
        if store.generation != idx.store_generation:
            gen = idx.store_generation = store.generation
        elif time.monotonic() - idx.checked_at >= REFRESH_SECONDS:
            idx.checked_at = time.monotonic()
            try:
                gen = store.current_generation()
            except Exception as exc:  # the check must never break retrieval
                log.warning("lexical index freshness check failed: %s", exc)
        if gen != idx.generation or (len(idx) == 0 and store.count() > 0):
            idx.sync(store.collection, gen)
            idx.checked_at = time.monotonic()
    return idx


def reset_indexes() -> None:
    """Forget every lexical index (tests)."""
    with _reg_lock:
        _indexes.clear()
