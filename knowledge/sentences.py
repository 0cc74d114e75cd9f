"""Sentence vectors: a second chroma collection with one vector per sentence of every chunk.

A section's vector averages everything the section says; a customer asks about one thing in it.
"Tracking can take up to 24 hours to show the first scan" is one list item in "What the order
statuses mean", and that section's vector is far from "my tracking number still shows nothing";
the item's own vector is close. Retrieval scores a chunk by the better of its own cosine and its
best sentence's (see :func:`knowledge.retrieve.hybrid_hits`).

Each sentence is embedded with its article title and heading ("How to track your order - What
the order statuses mean: Shipped: ..."), so it keeps its context. Rows carry the chunk id and
the chunk's filter metadata (brand, language, origin); they are added, updated and deleted with
their chunk by :mod:`knowledge.ingest`, so ingest stays incremental. The collection lives next to
the chunk collection (``<name>__sentences``), on the same embedded folder or chroma server.
"""

from __future__ import annotations

import logging
from typing import Any

from knowledge.nearest import nearest
from knowledge.rows import reader

log = logging.getLogger(__name__)

SUFFIX = "__sentences"
SENTENCE_CONTEXT = "heading"  # "heading: sentence"; the article title pulled "where is my order" to "An order is missing" (same on eval_tune.yaml)
MAX_PER_CHUNK = 24
MIN_WORDS = 5  # bounded work per chunk (a chunk is at most ~900 characters anyway)
_FILTER_KEYS = ("doc_id", "brand", "language", "origin", "source_type")


def collection(store: Any, create: bool = True) -> Any | None:
    """The sentence collection of ``store`` (None when it does not exist and ``create`` is false)."""
    cached = getattr(store, "_sentence_collection", None)
    if cached is not None:
        return cached
    name = f"{store.name}{SUFFIX}"
    names = {c if isinstance(c, str) else c.name for c in store.client.list_collections()}
    if name in names:
        col = store.client.get_collection(name, embedding_function=store.ef)
    elif create:
        col = store.client.create_collection(
            name, embedding_function=store.ef, configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding": store.signature, "description": "sidecar knowledge sentences"})
    else:
        return None
    store._sentence_collection = col
    return col


def sentence_texts(title: str, heading: str, body: str) -> list[str]:
    """What is embedded for each sentence of a chunk: "title - heading: sentence"."""
    from pipeline.answer import sentences

    if SENTENCE_CONTEXT == "heading":
        head = heading or title
    else:
        head = title + (f" - {heading}" if heading and heading != title else "")
    # Very short sentences ("Each works once.") say too little alone and match anything.
    return [f"{head}: {s}" for s in sentences(body)[:MAX_PER_CHUNK] if len(s.split()) >= MIN_WORDS]


def rows_for(chunk_id: str, body: str, meta: dict[str, Any]) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(ids, texts, metadatas) of a chunk's sentence rows."""
    texts = sentence_texts(str(meta.get("title") or ""), str(meta.get("heading") or ""), body)
    base = {k: meta.get(k, "") for k in _FILTER_KEYS}
    return ([f"{chunk_id}#s{i}" for i in range(len(texts))], texts,
            [{**base, "chunk_id": chunk_id} for _ in texts])


def add(store: Any, items: list[tuple[str, str, dict[str, Any]]], known: dict[str, Any] | None = None) -> int:
    """Embed and store the sentence rows of ``items`` (chunk id, body, metadata); returns rows added.

    ``known``: vectors this store already holds, by embedded text (:func:`vectors_by_text`): a row
    whose text is there takes that vector instead of being embedded again (the same model's vector
    of the same text: each text's vector does not depend on the batch it was embedded in).
    """
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    for cid, body, meta in items:
        i, t, m = rows_for(cid, body, meta)
        ids += i
        texts += t
        metas += m
    if not ids:
        return 0
    col = collection(store)
    known = known or {}
    for start in range(0, len(ids), 1024):
        sl = slice(start, start + 1024)
        part = texts[sl]
        todo = [t for t in dict.fromkeys(part) if t not in known]
        fresh = dict(zip(todo, store.embed_passages(todo), strict=True)) if todo else {}
        vecs = [known[t] if t in known else fresh[t] for t in part]
        col.upsert(ids=ids[sl], embeddings=vecs, documents=part, metadatas=metas[sl])
    return len(ids)


def vectors_by_text(store: Any, chunk_ids: list[str]) -> dict[str, Any]:
    """Stored sentence vectors of these chunks, by embedded text ("heading: sentence").

    knowledge.ingest reads those of the chunks an ingest replaces: an edited section's unchanged
    sentences keep their vectors instead of being embedded again."""
    import numpy as np

    col = collection(store, create=False)
    out: dict[str, Any] = {}
    if col is None or not chunk_ids:
        return out
    for start in range(0, len(chunk_ids), 500):
        got = col.get(where={"chunk_id": {"$in": chunk_ids[start:start + 500]}}, include=["documents", "embeddings"])
        embs = got.get("embeddings")
        if embs is None:
            continue
        for text, vec in zip(got.get("documents") or [], embs, strict=True):
            if text:
                out[text] = np.asarray(vec, dtype=np.float32)
    return out


def delete_for_chunks(store: Any, chunk_ids: list[str]) -> None:
    """Remove the sentence rows of these chunks."""
    col = collection(store, create=False)
    if col is None or not chunk_ids:
        return
    for start in range(0, len(chunk_ids), 500):
        col.delete(where={"chunk_id": {"$in": chunk_ids[start:start + 500]}})


def update_metadata(store: Any, chunk_metas: dict[str, dict[str, Any]]) -> None:
    """Copy changed filter metadata (brand, language, ...) of chunks onto their sentences (no re-embedding)."""
    col = collection(store, create=False)
    if col is None or not chunk_metas:
        return
    ids = list(chunk_metas)
    for start in range(0, len(ids), 500):
        got = col.get(where={"chunk_id": {"$in": ids[start:start + 500]}}, include=["metadatas"])
        if not got["ids"]:
            continue
        metas = []
        for m in got["metadatas"]:
            cm = chunk_metas[m["chunk_id"]]
            metas.append({**{k: cm.get(k, "") for k in _FILTER_KEYS}, "chunk_id": m["chunk_id"]})
        col.update(ids=got["ids"], metadatas=metas)


def chunks_with_sentences(store: Any, origin: str | None = None, doc_ids: list[str] | None = None) -> set[str]:
    """Chunk ids that already have sentence rows (to backfill a store ingested before sentences existed)."""
    col = collection(store, create=False)
    if col is None:
        return set()
    where: dict[str, Any] | None = {"origin": origin} if origin else None
    if doc_ids is not None:
        where = {"doc_id": {"$in": doc_ids}} if doc_ids else None
        if where is None:
            return set()
    got = col.get(where=where, include=["metadatas"])
    return {str(m.get("chunk_id")) for m in got.get("metadatas") or [] if m}


def chunk_of(sentence_id: str) -> str:
    """The chunk id of a sentence row, from its id (``<chunk id>#s<n>``, :func:`rows_for`)."""
    head, sep, tail = sentence_id.rpartition("#s")
    return head if sep and tail.isdigit() else ""


def query(store: Any, vec: Any, n: int, where: dict[str, Any] | None, marker: Any = None) -> dict[str, float]:
    """Best sentence cosine per chunk id among the ``n`` nearest sentences.

    ``marker``: the store's change marker read for this search (:func:`knowledge.rows.generation`): the metadata a
    filter reads is then kept between searches; None reads it live.
    """
    col = collection(store, create=False)
    if col is None:
        return {}
    # Ids and distances only: the chunk id is in the row's id, and reading metadata costs ~20x a
    # distance (the filter, when there is one, reads it for the rows it keeps: knowledge.nearest).
    res = nearest(col, vec, n, where, ["distances"], reader=reader(store, col, marker) if marker is not None else None)
    best: dict[str, float] = {}
    for sid, dist in zip(res["ids"][0], res["distances"][0], strict=True):
        cid = chunk_of(sid)
        cos = 1.0 - float(dist)
        if cid and cos > best.get(cid, -1.0):
            best[cid] = cos
    return best


def for_chunks(store: Any, chunk_ids: list[str]) -> dict[str, tuple[list[str], Any]]:
    """Stored sentence rows of these chunks: chunk id -> (texts, vectors [n, dim]). Nothing is embedded."""
    import numpy as np

    col = collection(store, create=False)
    if col is None or not chunk_ids:
        return {}
    got = col.get(where={"chunk_id": {"$in": list(chunk_ids)}}, include=["documents", "metadatas", "embeddings"])
    rows: dict[str, tuple[list[str], list[Any]]] = {}
    embs = got.get("embeddings")
    for i, meta in enumerate(got.get("metadatas") or []):
        cid = str((meta or {}).get("chunk_id") or "")
        if not cid or embs is None:
            continue
        texts, vecs = rows.setdefault(cid, ([], []))
        texts.append((got.get("documents") or [""])[i] or "")
        vecs.append(embs[i])
    return {cid: (t, np.asarray(v, dtype=np.float32)) for cid, (t, v) in rows.items()}


def vectors_for_docs(store: Any, doc_ids: list[str]) -> dict[str, Any]:
    """Stored sentence vectors of these documents, by embedded text ("heading: sentence"). Nothing is embedded."""
    import numpy as np

    col = collection(store, create=False)
    if col is None or not doc_ids:
        return {}
    got = col.get(where={"doc_id": {"$in": list(doc_ids)}}, include=["documents", "embeddings"])
    embs = got.get("embeddings")
    if embs is None:
        return {}
    return {doc: np.asarray(vec, dtype=np.float32) for doc, vec in zip(got.get("documents") or [], embs, strict=True)
            if doc}
