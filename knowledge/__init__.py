"""Knowledge base: ingest (folders, help centres, resolved tickets), chunk, embed, retrieve (chromadb).

Entry points: :func:`knowledge.retrieve.retrieve`, :func:`knowledge.ingest.ingest_folder`,
:func:`knowledge.helpcenter.sync_platform`, :func:`knowledge.tickets.ingest_ticket`, and
:func:`warm_up` for workers.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def warm_up(settings: Any) -> None:
    """Load the embedding model and open the store once per process (call before taking jobs).

    A missing knowledge base is not an error here: drafts then say they found nothing.
    """
    from knowledge.store import KnowledgeError, configured_embedding_function, get_store

    ef = configured_embedding_function(settings)
    if hasattr(ef, "embedder"):
        ef.embedder.embed(["warm up"])  # loads the process-wide ONNX session
    try:
        store = get_store(settings)
    except KnowledgeError as exc:
        log.warning("knowledge base not available yet: %s", exc)
        return
    # A process's first search loads chromadb's vector indexes and builds the BM25 index (1-2 s at
    # 10k chunks, bench/e2e_latency.py): paid here, not by the first customer's job.
    from knowledge import multilingual
    from knowledge.retrieve import search

    try:
        if store.count():
            search(store, "where is my order", k=1)
            # The multilingual index is another collection: chromadb loaded it on the first non-English
            # question, ~0.8 s of CPU at 10k chunks (2-3 s of wall time at load 7) that the first such
            # customer, and every ticket queued behind theirs, waited for.
            if multilingual.searchable(store, WARM_UP_LANGUAGE) is not None:
                search(store, "où est ma commande", k=1, language=WARM_UP_LANGUAGE)
    except Exception as exc:  # a failing search fails the jobs visibly; the start goes on
        log.warning("knowledge base warm-up search failed: %s", exc)


WARM_UP_LANGUAGE = "fr"  # any language but English takes the multilingual index's path


def warm_cross_encoder() -> None:
    """Load the template drafts' cross-encoder (``knowledge.cross_encoder``) before the first job.

    Called where drafts are made (the worker, or the web process when it runs jobs itself:
    ``app.runtime.warm_pipeline``), not by a web process that only queues (~55 MB resident).
    Missing or not the expected file: said here, at start, as an error; drafts then choose their
    sentences by embedding only (``pipeline.answer``), as before the model was added.
    """
    from knowledge.cross_encoder import CrossEncoderMissing, enabled, get_cross_encoder

    if not enabled():  # an option (SIDECAR_DRAFT_CROSS_ENCODER=1): not loaded, ~47 MB kept free
        return
    try:
        get_cross_encoder().score("warm up", ["warm up"])
    except CrossEncoderMissing as exc:
        log.error("cross-encoder not loaded (template drafts choose sentences without it): %s", exc)
