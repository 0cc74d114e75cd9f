"""The knowledge base's multilingual index: e5 passage vectors of every chunk, beside MiniLM's.

The knowledge base's model (MiniLM) reads English only: a French "où est ma commande, le suivi
n'affiche rien" lands on whatever French article there is, never on the English tracking
article. multilingual-e5-small (already in the worker's memory for triage) matches across
languages, but as the knowledge base's only model it lost English quality (eval_tune.yaml:
document recall@3 0.960 -> 0.942, answer sentence in drafts 249 -> 215 of 277). So both are kept:
English questions are searched with MiniLM as before, questions in another language with e5
(:func:`knowledge.retrieve.hybrid_hits`), and their draft sentences are chosen with e5 too
(:mod:`pipeline.answer`).

A second chroma collection (``<name>__e5``) holds one e5 vector per chunk (:func:`chunk_vectors`), with the
chunk's text and metadata (so brand and language filters work as on the main one). Rows are
added, updated and deleted with their chunk by :mod:`knowledge.ingest` (ingest stays
incremental; a store ingested before this index existed gets its vectors on the next ingest,
without re-embedding MiniLM's), and dropped with it by ``kb ingest --rebuild``. Only chunks:
e5 vectors of sentences ranked articles worse on eval_ml_tune.yaml (document recall@3 0.83 with
chunks alone, 0.78 with both, dense only) and would double the ingest cost.

On when the knowledge base uses the local MiniLM and e5 is the triage model (the default: no
model is loaded for it); ``SIDECAR_KB_MULTILINGUAL=0`` switches it off, ``=1`` forces it on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from knowledge import embedding as ke

log = logging.getLogger(__name__)

SUFFIX = "__e5"
# Each row is e5's "passage: " vector of the chunk mixed with that of its "title - heading" line
# (HEADING_SHARE of it): headings are short questions' words ("The reset email does not arrive").
# eval_ml_tune.yaml, dense only, article recall@3: chunk alone 0.83; heading share 0.2 / 0.3 / 0.4:
# 0.87 / 0.86 / 0.84 (scores of two separate rows mixed at query time: 0.90, but two rows per chunk).
HEADING_SHARE = 0.2
# e5's build (model and graph, knowledge.embedding.e5_build_id) is in it: another build's vectors are
# not searched, and the next ingest replaces its index (replace_other_build).
SIGNATURE = f"{ke.e5_build_id()}/passage+heading{HEADING_SHARE}"
# Earlier builds whose index is still searched until the next ingest replaces it (replace_other_build).
# Graph 1 -> 2 (8-bit weights) moved e5's vectors by a cosine of 0.99992 at most (docs/measurements.md, classifier
# row); ignored, a store upgraded from graph 1 searched other languages with MiniLM until an operator
# ran an ingest (eval_ml_tune.yaml with the index off: article recall@3 0.179 against 0.896; the French
# "où est ma commande" got return-policy-fr and reset-password-fr again).
SEARCHABLE_BUILDS = frozenset({f"{ke.E5_MODEL_ID}/passage+heading{HEADING_SHARE}"})


def enabled(store: Any) -> bool:
    """Whether ``store`` keeps (and is searched through) the multilingual index."""
    # Beside the configured English local model (the signature says the store is that model's).
    return ke.kb_multilingual() and getattr(store, "signature", "") == f"local:{ke.kb_signature()}"


def _name(store: Any) -> str:
    return f"{store.name}{SUFFIX}"


def collection(store: Any, create: bool = True, any_build: bool = False) -> Any | None:
    """The e5 chunk collection of ``store`` (None when it does not exist and ``create`` is false).

    ``any_build``: also one written by another build of e5 (never searched), for deleting rows.
    """
    cached = getattr(store, "_multilingual_collection", None)
    if cached is not None:
        return cached
    name = _name(store)
    names = {c if isinstance(c, str) else c.name for c in store.client.list_collections()}
    if name in names:
        # Vectors are always given: the collection's own function is never called (MiniLM's is
        # attached only so chromadb does not build its downloading default).
        col = store.client.get_collection(name, embedding_function=store.ef)
        stored = (col.metadata or {}).get("embedding")
        if stored and stored != SIGNATURE and stored not in SEARCHABLE_BUILDS:  # another build: not comparable
            if any_build:  # not cached: only a deletion reaches it
                return col
            if not getattr(store, "_multilingual_other_build_logged", False):  # once per store, not per question
                store._multilingual_other_build_logged = True
                log.warning("multilingual index %s was built with %s, not %s: not used", name, stored, SIGNATURE)
            return None
    elif create:
        col = store.client.create_collection(
            name, embedding_function=store.ef, configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding": SIGNATURE, "description": "sidecar knowledge chunks, multilingual vectors"})
    else:
        return None
    store._multilingual_collection = col
    return col


def replace_other_build(store: Any) -> bool:
    """Drop ``store``'s index when another build of e5 wrote it (True then): its vectors are not
    this build's (not searched at all, unless in ``SEARCHABLE_BUILDS``), and non-English questions
    fell back to MiniLM until ``kb ingest --rebuild``. The caller refills it (:func:`backfill_all`)."""
    if not enabled(store):
        return False
    # An earlier build's index this process already searches is cached: it is replaced too.
    cached = getattr(store, "_multilingual_collection", None)
    col = cached if cached is not None else collection(store, create=False, any_build=True)
    if col is None or (col.metadata or {}).get("embedding") in (None, SIGNATURE):
        return False
    log.info("multilingual index %s was built with %s: replaced by this build's (%s)", _name(store),
             (col.metadata or {}).get("embedding"), SIGNATURE)
    store.client.delete_collection(_name(store))
    store._multilingual_collection = store._multilingual_searchable = None
    store._multilingual_other_build_logged = False
    return True


def backfill_all(store: Any, page: int = 500) -> int:
    """e5 rows for every chunk of ``store`` that has none, from the chunks as stored (their text,
    title and heading give the same embedded text as at ingest): every origin's, not one ingest's."""
    from knowledge.chunking import Chunk

    if not enabled(store):
        return 0
    written, offset = 0, 0
    while True:
        got = store.collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
        ids = list(got["ids"])
        have = chunks_with_vectors(store, ids)
        rows = []
        for cid, body, meta in zip(ids, got.get("documents") or [], got.get("metadatas") or [], strict=False):
            if cid not in have:
                meta = meta or {}
                rows.append((cid, Chunk.text_for(str(meta.get("title") or ""), str(meta.get("heading") or ""),
                                                 body or ""), body or "", meta))
        written += add(store, rows)
        if len(ids) < page:
            return written
        offset += page


def embedder() -> Any:
    """e5: the triage model's instance (one model in memory)."""
    return ke.get_multilingual_embedder()


def heading_line(embed_text: str) -> str:
    """The "title - heading" line a chunk's embedded text starts with (knowledge.chunking.Chunk.embed_text)."""
    return (embed_text or "").split("\n", 1)[0]


def chunk_vectors(texts: list[str]) -> Any:
    """e5 vectors of chunks from their embedded texts: passage and heading line mixed, unit length."""
    import numpy as np

    # One run for chunks and headings (each vector is independent of its batch): the model's
    # length groups then cover both, and a heading that is also a chunk's text is embedded once.
    both = np.asarray(embedder().embed_passages(list(texts) + [heading_line(t) for t in texts]), dtype=np.float32)
    mixed = (1 - HEADING_SHARE) * both[:len(texts)] + HEADING_SHARE * both[len(texts):]
    return mixed / np.clip(np.linalg.norm(mixed, axis=1, keepdims=True), 1e-12, None)


def add(store: Any, items: list[tuple[str, str, str, dict[str, Any]]], vectors: Any = None) -> int:
    """Embed and store the e5 vectors of ``items`` (chunk id, embedded text, body, metadata).

    ``vectors``: their :func:`chunk_vectors` already computed (knowledge.ingest runs e5 beside MiniLM).
    """
    if not items or not enabled(store):
        return 0
    col = collection(store)
    if col is None:
        return 0
    vecs = chunk_vectors([t for _, t, _, _ in items]) if vectors is None else vectors
    col.upsert(ids=[c for c, _, _, _ in items], embeddings=[v.tolist() for v in vecs],
               documents=[b for _, _, b, _ in items], metadatas=[m for _, _, _, m in items])
    return len(items)


def delete(store: Any, chunk_ids: list[str]) -> None:
    """Remove these chunks' rows (whether or not the index is on now: it may be switched on again).

    Also from an index another build of e5 wrote, which is not searched: a deleted document (a past
    ticket erased on request) must not stay on disk in it."""
    col = collection(store, create=False, any_build=True)
    if col is None or not chunk_ids:
        return
    for start in range(0, len(chunk_ids), 500):
        col.delete(ids=chunk_ids[start:start + 500])


def update_metadata(store: Any, chunk_metas: dict[str, dict[str, Any]]) -> None:
    """Copy changed chunk metadata (brand, language, url, ...) onto the rows (no re-embedding)."""
    col = collection(store, create=False)
    if col is None or not chunk_metas:
        return
    got = col.get(ids=list(chunk_metas), include=[])
    if got["ids"]:
        col.update(ids=got["ids"], metadatas=[chunk_metas[c] for c in got["ids"]])


def chunks_with_vectors(store: Any, chunk_ids: list[str]) -> set[str]:
    """Which of these chunks already have a row (to backfill a store ingested before the index)."""
    col = collection(store, create=False)
    if col is None or not chunk_ids:
        return set()
    have: set[str] = set()
    for start in range(0, len(chunk_ids), 1000):
        have.update(col.get(ids=chunk_ids[start:start + 1000], include=[])["ids"])
    return have


# How long a store's answer to "can its e5 index be searched" is kept (as knowledge.store's
# REFRESH_SECONDS: how soon another process's ingest is seen); a change made through this process
# (ingest marks the store) is seen at once.
REFRESH_SECONDS = 5.0


def searchable(store: Any, language: str | None) -> Any | None:
    """The e5 collection to search a question in ``language`` with, or None (English, off, empty).

    Kept per store until its content changes or for ``REFRESH_SECONDS``: chromadb's ``count()``
    on every question (two per non-English draft), and with an index another e5 build wrote the
    collection listing too, cost 1-3 ms each at 10k chunks for an answer that changes with an ingest.
    """
    lang = (language or "").split("-")[0].lower()
    if lang in ("", "en") or not enabled(store):
        return None
    generation, now = getattr(store, "generation", None), time.monotonic()
    known = getattr(store, "_multilingual_searchable", None)
    if known is not None and known[1] == generation and now - known[2] < REFRESH_SECONDS:
        return known[0]
    col = collection(store, create=False)
    if col is not None and col.count() == 0:
        col = None
    store._multilingual_searchable = (col, generation, now)
    return col
