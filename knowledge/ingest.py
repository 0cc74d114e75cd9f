"""Incremental ingestion of documents into the knowledge store.

Chunk ids are content-addressed (``<doc_id>::<hash of the chunk's embedded text>``), so on
re-ingest an unchanged chunk keeps its id and is skipped, an edited chunk gets a new id (the
old one is deleted), and chunks of documents gone from the source are removed. Only new
chunks are embedded. Every chunk records its ``origin`` (the folder, help centre or ``tickets``)
so a sync of one source never deletes another source's documents.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from knowledge import multilingual, sentences
from knowledge.chunking import Chunk, Document, chunk_document, load_folder
from knowledge.progress import Progress
from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)

EMBED_BATCH = 256  # big batches let the embedder sort by length (less padding)


@dataclass
class IngestReport:
    """What an ingest did."""

    documents: int = 0
    chunks: int = 0
    added: int = 0
    unchanged: int = 0
    metadata_updated: int = 0
    deleted: int = 0
    seconds: float = 0.0
    sentences_backfilled: int = 0
    multilingual_backfilled: int = 0  # e5 vectors given to chunks stored before the index (knowledge.multilingual)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        errs = f"; {len(self.errors)} problems: {'; '.join(self.errors[:5])}" if self.errors else ""
        return (f"{self.documents} documents, {self.chunks} chunks: {self.added} embedded, {self.unchanged} unchanged, "
                f"{self.metadata_updated} metadata-only updates, {self.deleted} deleted in {self.seconds:.1f}s{errs}")


def _chunk_ids(chunks: list[Chunk]) -> list[str]:
    ids, seen = [], set()
    for c in chunks:
        base = f"{c.doc.doc_id}::{c.content_hash}"
        cid, n = base, 1
        while cid in seen:  # the same passage twice in one document
            n += 1
            cid = f"{base}-{n}"
        seen.add(cid)
        ids.append(cid)
    return ids


def ingest_documents(store: KnowledgeStore, docs: Iterable[Document], origin: str, *, prune: bool = True,
                     progress: bool | Progress | None = None) -> IngestReport:
    """Bring the store in line with ``docs`` for this ``origin``.

    ``prune`` deletes chunks of this origin that are no longer produced (documents deleted or
    edited); pass ``prune=False`` to add documents one at a time (resolved tickets).
    ``progress`` shows a bar (default: only when there is a lot to embed), or reports on the
    caller's :class:`~knowledge.progress.Progress`.
    """
    import time

    t0 = time.perf_counter()
    docs = list(docs)
    rep = IngestReport(documents=len(docs))
    col = store.collection
    # A multilingual index another build of e5 wrote is replaced and refilled below (every origin's chunks).
    replaced = multilingual.replace_other_build(store)
    wanted: dict[str, tuple[Chunk, dict]] = {}
    seen_docs: set[str] = set()
    for doc in docs:
        if doc.doc_id in seen_docs:  # two files with the same front-matter id: keep the first, say so
            rep.errors.append(f"duplicate document id {doc.doc_id!r} ({doc.title!r} skipped)")
            log.warning("ingest %s: duplicate document id %r, skipping %r", origin, doc.doc_id, doc.title)
            continue
        seen_docs.add(doc.doc_id)
        chunks = chunk_document(doc)
        for cid, ch in zip(_chunk_ids(chunks), chunks, strict=True):
            meta = ch.metadata()
            meta["origin"] = origin
            wanted[cid] = (ch, meta)
    rep.chunks = len(wanted)

    if prune:
        existing = col.get(where={"origin": origin}, include=["metadatas"])
    else:
        doc_ids = sorted({d.doc_id for d in docs})
        existing = col.get(where={"doc_id": {"$in": doc_ids}}, include=["metadatas"]) if doc_ids else {"ids": []}
    have = dict(zip(existing["ids"], existing.get("metadatas") or [{}] * len(existing["ids"]), strict=False))

    new_ids = [cid for cid in wanted if cid not in have]
    # Same text, different metadata (url, updated_at, type, intents): update without re-embedding.
    meta_ids = [cid for cid in wanted if cid in have and have[cid] != wanted[cid][1]]
    rep.unchanged = len(wanted) - len(new_ids) - len(meta_ids)
    # With prune: everything of this origin not produced now. Without: only the given documents' old chunks.
    stale = [cid for cid in have if cid not in wanted]

    # Every step below writes: should one fail, what the steps before it wrote is on disk all the same.
    try:
        if meta_ids:
            col.update(ids=meta_ids, metadatas=[wanted[c][1] for c in meta_ids])
            sentences.update_metadata(store, {c: wanted[c][1] for c in meta_ids})
            multilingual.update_metadata(store, {c: wanted[c][1] for c in meta_ids})
            rep.metadata_updated = len(meta_ids)
        # Chunks stored before sentence vectors existed get theirs now (once; no chunk is re-embedded).
        kept = [c for c in wanted if c in have]
        if kept:
            with_sentences = sentences.chunks_with_sentences(
                store, origin=origin if prune else None, doc_ids=None if prune else sorted({d.doc_id for d in docs}))
            backfill = [c for c in kept if c not in with_sentences]
            if backfill:
                sentences.add(store, [(c, wanted[c][0].body, wanted[c][1]) for c in backfill])
                rep.sentences_backfilled = len(backfill)
            rep.multilingual_backfilled = _backfill_multilingual(store, kept, wanted)

        if isinstance(progress, Progress):
            bar = progress.start(len(new_ids), "embedding chunks", "chunk")
        else:
            show = progress if progress is not None else len(new_ids) > 200
            bar = Progress("embedding chunks", "chunk", len(new_ids), enabled=bool(show))
        # e5's pass for the multilingual index runs on a thread of its own beside MiniLM's passes (chunks,
        # then sentences): each model's runs are single-threaded and go side by side, so the two models
        # together keep both cores busy where one model alone left one idle between its runs.
        # An edited section's chunk is new (its id is its text's hash) and its old one stale: the old
        # one's sentences that are still there keep their stored vectors (a help centre edit changes a
        # sentence or two of a section; its other sentences were embedded again before).
        new_docs = {c.rpartition("::")[0] for c in new_ids}
        known = sentences.vectors_by_text(store, [c for c in stale if c.rpartition("::")[0] in new_docs]) \
            if new_ids and stale else {}
        beside = ThreadPoolExecutor(1, thread_name_prefix="ingest-e5") \
            if new_ids and multilingual.enabled(store) and multilingual.collection(store) is not None else None
        try:
            for start in range(0, len(new_ids), EMBED_BATCH):
                batch = new_ids[start:start + EMBED_BATCH]
                rows = [_multilingual_row(c, wanted) for c in batch]
                # The embedders count texts on the caller's progress (a context variable): the thread runs in a copy.
                e5 = beside.submit(contextvars.copy_context().run, multilingual.chunk_vectors,
                                   [t for _, t, _, _ in rows]) if beside else None
                texts = [wanted[c][0].embed_text for c in batch]
                vectors = store.embed_passages(texts)
                col.upsert(ids=batch, embeddings=vectors, documents=[wanted[c][0].body for c in batch],
                           metadatas=[wanted[c][1] for c in batch])
                sentences.add(store, [(c, wanted[c][0].body, wanted[c][1]) for c in batch], known)
                multilingual.add(store, rows, vectors=e5.result() if e5 else None)
                rep.added += len(batch)
                bar.update(len(batch))
        finally:
            if beside is not None:
                beside.shutdown(wait=True, cancel_futures=True)
        if not isinstance(progress, Progress):
            bar.close()  # a caller's bar is the caller's to close (it prints the summary)

        if stale:
            for start in range(0, len(stale), 500):
                col.delete(ids=stale[start:start + 500])
            sentences.delete_for_chunks(store, stale)
            multilingual.delete(store, stale)
            rep.deleted = len(stale)
        if replaced:
            rep.multilingual_backfilled += multilingual.backfill_all(store)
    except BaseException:
        # Other processes (and this one's BM25 index) follow the store by its change marker: unmarked,
        # the rows written before the failure stayed unseen until some later ingest changed something
        # (never, when that step fails every time: e5's model missing or broken).
        try:
            store.mark_changed()
        except Exception as exc:  # the ingest's own error is the one to report
            log.warning("ingest %s failed and the store could not be marked changed: %s", origin, exc)
        raise
    if rep.added or rep.deleted or rep.metadata_updated or rep.sentences_backfilled or rep.multilingual_backfilled:
        store.mark_changed()
    rep.seconds = time.perf_counter() - t0
    # debug: the CLI prints the same summary once; the server's first start says it too.
    log.debug("ingest %s: %s", origin, rep.summary())
    return rep


def _multilingual_row(cid: str, wanted: dict[str, tuple[Chunk, dict]]) -> tuple[str, str, str, dict]:
    chunk, meta = wanted[cid]
    return cid, chunk.embed_text, chunk.body, meta


def _backfill_multilingual(store: KnowledgeStore, kept: list[str], wanted: dict[str, tuple[Chunk, dict]]) -> int:
    """e5 vectors for unchanged chunks that have none (a store from before the index, or with it off)."""
    if not kept or not multilingual.enabled(store):
        return 0
    have = multilingual.chunks_with_vectors(store, kept)
    missing = [c for c in kept if c not in have]
    written = 0  # what add() stored: nothing when the index was written by another e5 build
    for start in range(0, len(missing), EMBED_BATCH):
        written += multilingual.add(store, [_multilingual_row(c, wanted) for c in missing[start:start + EMBED_BATCH]])
    return written


def ingest_folder(store: KnowledgeStore, folder: str | Path, *,
                  progress: bool | Progress | None = None) -> IngestReport:
    """Ingest every Markdown / HTML / text file under ``folder`` (incremental; files removed → chunks removed)."""
    root = Path(folder).resolve()
    docs = load_folder(root)
    return ingest_documents(store, docs, origin=f"folder:{root}", progress=progress)


def delete_documents(store: KnowledgeStore, doc_ids: list[str]) -> int:
    """Remove every chunk of the given documents; returns the number of chunks removed."""
    if not doc_ids:
        return 0
    got = store.collection.get(where={"doc_id": {"$in": list(doc_ids)}}, include=[])
    if got["ids"]:
        try:
            store.collection.delete(ids=got["ids"])
            sentences.delete_for_chunks(store, list(got["ids"]))
            multilingual.delete(store, list(got["ids"]))
        finally:  # rows already deleted must vanish from other processes' views too (an erased ticket)
            store.mark_changed()
    return len(got["ids"])
