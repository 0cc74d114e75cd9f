"""Retrieval: top passages for a customer message, one per document, above a relevance threshold.

Scores are cosine similarities (0..1 in practice for MiniLM). Below ``threshold`` nothing is
returned, so the drafter says it found nothing instead of grounding a reply on a weak match.
``brand`` and ``language`` filter (documents tagged with no brand / language match every one);
``intent`` is a soft preference: documents tagged with the intent get a small boost in ranking,
because a wrong classification must not hide the right article.
"""

from __future__ import annotations

import logging
from typing import Any

from knowledge.embedding import RELEVANCE_THRESHOLD as DEFAULT_THRESHOLD
from knowledge.store import KnowledgeStore, get_store
from pipeline.models import Source

log = logging.getLogger(__name__)

DEFAULT_K = 3
INTENT_BOOST = 0.05
OVERFETCH = 4  # chunks fetched per wanted document, to survive the per-document dedupe


def _where(brand: str | None, language: str | None) -> dict[str, Any] | None:
    conds: list[dict[str, Any]] = []
    if brand:
        conds.append({"brand": {"$in": [brand, ""]}})
    if language:
        conds.append({"language": {"$in": [language, ""]}})
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else {"$and": conds}


def search(store: KnowledgeStore, text: str, *, k: int = DEFAULT_K, intent: str | None = None,
           brand: str | None = None, language: str | None = None, threshold: float = DEFAULT_THRESHOLD,
           embedding: Any = None) -> list[Source]:
    """Top ``k`` passages (best chunk per document) from ``store`` for ``text``."""
    text = (text or "").strip()
    if not text or k <= 0:
        return []
    n = store.count()
    if n == 0:
        return []
    vec = embedding if embedding is not None else store.embed([text])[0]
    res = store.collection.query(
        query_embeddings=[vec], n_results=min(n, max(k * OVERFETCH, 10)), where=_where(brand, language),
        include=["documents", "metadatas", "distances"],
    )
    best: dict[str, tuple[float, float, Source]] = {}
    for cid, body, meta, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0],
                                     strict=True):
        score = 1.0 - float(dist)
        if score < threshold:
            continue
        meta = meta or {}
        doc_id = str(meta.get("doc_id") or cid)
        rank = score + (INTENT_BOOST if intent and f",{intent}," in str(meta.get("intents") or "") else 0.0)
        if doc_id in best and best[doc_id][0] >= rank:
            continue
        heading = str(meta.get("heading") or "")
        best[doc_id] = (rank, score, Source(
            id=doc_id,
            title=str(meta.get("title") or doc_id) + (f" - {heading}" if heading else ""),
            url=str(meta["url"]) if meta.get("url") else None,
            score=round(score, 4),
            text=body or "",
            source_type=str(meta.get("source_type") or "article"),
        ))
    ranked = sorted(best.values(), key=lambda t: -t[0])
    return [s for _, _, s in ranked[:k]]


class Retriever:
    """The knowledge base as the pipeline sees it (``pipeline.models.KnowledgeBase``): one store, searched."""

    def __init__(self, store: KnowledgeStore, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.store = store
        self.threshold = threshold

    def count(self) -> int:
        return self.store.count()

    def embed(self, texts: list[str]) -> list[Any]:
        return self.store.embed(texts)

    def search(self, text: str, *, k: int = DEFAULT_K, intent: str | None = None, brand: str | None = None,
               embedding: Any = None) -> list[Source]:
        return search(self.store, text, k=k, intent=intent, brand=brand, threshold=self.threshold,
                      embedding=embedding)


def retriever_for(settings: Any) -> Retriever:
    """A :class:`Retriever` on the process-wide store for ``settings``."""
    return Retriever(get_store(settings))
