"""Chunk rows (text, metadata, stored vector) read back from chroma for a search, kept between searches.

A search reads the text and metadata of every candidate it ranks (the dense side's 30 nearest chunks, the
chunks only BM25 or a sentence found, ~75 rows at 10k chunks) and the stored vector of the latter. chromadb
reads a row's metadata or text at ~70-80 us (its distance costs a few), so those reads were about a third
of a search's CPU (bench/kb_profile.py, docs/measurements.md, fourteenth session). Candidates repeat from
one question to the next (the same popular articles), so the rows read are kept here and served again.

A cache belongs to one collection and one value of the store's change marker (``KnowledgeStore.mark_changed``,
which every ingest, sync and deletion ends with), read live at each search (:func:`generation`, ~0.2 ms): a
change by this process or by another one (``kb ingest``, a scheduled sync) is seen by the next search after it
ends, and the cache is dropped whole; a row added meanwhile is read live (it was never cached). Only on an embedded
store (``CHROMA_PATH``) whose collection has a marker: with a chroma server (``CHROMA_URL``) every search reads the
rows live as before. Bounded (``MAX_ROWS``): past it the oldest rows go.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAX_ROWS = 4096  # ~3.4 KB a row with its vector (measured at 10k chunks): ~14 MB at most per collection
FIELDS = ("documents", "metadatas", "embeddings")


class RowReader:
    """Reads rows of one collection by id, through a cache (``cached``) or live from chroma."""

    def __init__(self, collection: Any, generation: Any = None, cached: bool = True) -> None:
        self.collection = collection
        self.generation = generation
        self.cached = cached
        self._rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def read(self, ids: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        """``{id: {field: value}}`` for the rows of ``ids`` that exist (``fields`` among ``FIELDS``); a deleted id
        is absent, as from ``collection.get``. Metadata dicts are copies: a caller may change them."""
        fields = [f for f in FIELDS if f in fields]
        wanted = list(dict.fromkeys(ids))
        out: dict[str, dict[str, Any]] = {}
        todo: list[str] = wanted
        if self.cached:
            with self._lock:
                rows = self._rows
                todo = []
                for cid in wanted:
                    row = rows.get(cid)
                    if row is not None and all(f in row for f in fields):
                        out[cid] = row
                    else:
                        todo.append(cid)
        if todo:
            got = self.collection.get(ids=todo, include=fields)
            n = len(got["ids"])
            docs = got.get("documents") or [None] * n
            metas = got.get("metadatas") or [None] * n
            embs = got.get("embeddings")
            fresh: dict[str, dict[str, Any]] = {}
            for i, cid in enumerate(got["ids"]):
                row: dict[str, Any] = {}
                if "documents" in fields:
                    row["documents"] = docs[i]
                if "metadatas" in fields:
                    row["metadatas"] = metas[i]
                if "embeddings" in fields:
                    row["embeddings"] = np.asarray(embs[i], dtype=np.float32) if embs is not None else None
                fresh[cid] = row
            if self.cached:
                with self._lock:
                    for cid, row in fresh.items():
                        old = self._rows.pop(cid, None)
                        self._rows[cid] = {**old, **row} if old else row
                    while len(self._rows) > MAX_ROWS:
                        self._rows.pop(next(iter(self._rows)))
            out.update(fresh)
        result: dict[str, dict[str, Any]] = {}
        for cid in wanted:  # in the order asked, each with the fields asked
            row = out.get(cid)
            if row is None:
                continue
            result[cid] = {f: (dict(row[f]) if f == "metadatas" and row[f] is not None else row[f]) for f in fields}
        return result

    def __len__(self) -> int:
        return len(self._rows)


_lock = threading.Lock()


def generation(store: Any) -> Any:
    """The store's change marker as stored now, when its rows may be cached (an embedded store whose collection has
    one); else None (every read live)."""
    if not getattr(store, "persistent", False):
        return None
    try:
        got = store.client.get_collection(store.name, embedding_function=store.ef)
        return (got.metadata or {}).get("generation")
    except Exception as exc:  # the cache is an optimisation: read live
        log.warning("knowledge row cache: change marker unreadable: %s", exc)
        return None


def reader(store: Any, collection: Any, marker: Any) -> RowReader:
    """The row reader of ``collection`` (the store's chunks, sentences or multilingual index) for the change
    ``marker`` :func:`generation` read for this search: a cached one, emptied when the marker moved; a live one
    when the marker is None."""
    if marker is None:
        return RowReader(collection, cached=False)
    key = str(getattr(collection, "id", None) or id(collection))
    with _lock:
        caches: dict[str, RowReader] | None = getattr(store, "_row_readers", None)
        if caches is None:
            caches = store._row_readers = {}
        got = caches.get(key)
        if got is None or got.generation != marker or got.collection is not collection:
            got = caches[key] = RowReader(collection, marker)
    return got
