"""The knowledge store: a chromadb collection with our own embedding function.

- Embedded ``PersistentClient`` at ``settings.chroma_path`` by default; ``HttpClient`` to a chroma
  server when ``settings.chroma_url`` is set (how the KB scales past one machine).
- The embedding function wraps :func:`knowledge.embedding.get_embedder` and is registered under
  its own name: chromadb 1.5 rebuilds a collection's function from the stored name, and a
  subclass keeping a stock name would silently fall back to chromadb's downloading default.
  We also always pass the instance when opening a collection.
- Optional OpenAI embeddings (``KB_EMBEDDINGS=openai``, model ``OPENAI_EMBEDDING_MODEL``, key and
  base URL from settings). The collection records the embedding it was built with in its metadata;
  opening it with another one raises :class:`EmbeddingMismatch` instead of mixing vector spaces.
- chromadb telemetry is off (``anonymized_telemetry=False``): nothing leaves the host.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings as ChromaSettings
from chromadb.utils.embedding_functions import register_embedding_function

from knowledge import embedding as local_embedding

log = logging.getLogger(__name__)

COLLECTION = "knowledge"
# How often a long-lived process checks whether another process (``kb ingest``) changed the
# embedded store: chromadb's PersistentClient keeps its vector index in memory and does not
# see other processes' writes until it is reopened.
REFRESH_SECONDS = 5.0
LOCAL_EF_NAME = "sidecar-local-minilm-int8"
OPENAI_EF_NAME = "sidecar-openai-embeddings"


class KnowledgeError(RuntimeError):
    """The knowledge base cannot be used (missing, misconfigured)."""


class EmbeddingMismatch(KnowledgeError):
    """The collection was built with another embedding than the one configured now."""


@register_embedding_function
class LocalEmbeddingFunction(EmbeddingFunction[Documents]):
    """chromadb adapter for the process-wide offline embedder (never downloads): the knowledge
    base's local model (``SIDECAR_KB_EMBEDDING_MODEL``, MiniLM by default).

    Called on documents it embeds passages (e5's "passage: " prefix); :meth:`embed_query` embeds
    questions.
    """

    def __init__(self, embedder: Any = None) -> None:
        # Lazy: building the function must not load the model (chromadb calls build_from_config).
        self._embedder = embedder

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            self._embedder = local_embedding.get_embedder()
        return self._embedder

    def __call__(self, input: Documents) -> Embeddings:
        emb = self.embedder
        texts = list(input)
        return list(emb.embed_passages(texts) if hasattr(emb, "embed_passages") else emb.embed(texts))

    def embed_query(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return LOCAL_EF_NAME

    @property
    def signature(self) -> str:
        if self._embedder is not None and not hasattr(self._embedder, "embed_passages"):
            return f"local:{getattr(self._embedder, 'model_id', 'custom')}"  # a test double
        return f"local:{local_embedding.kb_signature()}"

    def get_config(self) -> dict[str, Any]:
        return {"model_id": local_embedding.kb_signature()}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LocalEmbeddingFunction:
        return LocalEmbeddingFunction()

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "ip", "l2"]


@register_embedding_function
class OpenAIEmbeddingFunction(EmbeddingFunction[Documents]):
    """OpenAI (or compatible) embeddings; key and base URL come from settings, never from config files."""

    def __init__(self, model: str = "text-embedding-3-small", client: Any = None, *, api_key: str | None = None,
                 base_url: str | None = None) -> None:
        self.model = model
        self._client = client
        self._api_key, self._base_url = api_key, base_url

    @property
    def client(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            if not self._api_key:  # e.g. rebuilt by chromadb from the collection's config: no key there
                raise KnowledgeError("KB_EMBEDDINGS=openai but OPENAI_API_KEY is not set")
            self._client = OpenAI(api_key=self._api_key, base_url=self._base_url, timeout=30, max_retries=2)
        return self._client

    def __call__(self, input: Documents) -> Embeddings:
        resp = self.client.embeddings.create(model=self.model, input=list(input))
        return [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]

    @staticmethod
    def name() -> str:
        return OPENAI_EF_NAME

    @property
    def signature(self) -> str:
        return f"openai:{self.model}"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbeddingFunction:
        return OpenAIEmbeddingFunction(model=config.get("model", "text-embedding-3-small"))

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "ip", "l2"]


def _switch_back_hint(stored: str) -> str:
    if stored.startswith("openai:"):
        return "KB_EMBEDDINGS=openai"
    if local_embedding.MINILM_MODEL_ID in stored:
        return f"KB_EMBEDDINGS=local, SIDECAR_KB_EMBEDDING_MODEL={local_embedding.MINILM_MODEL}"
    if local_embedding.BGE_MODEL_ID in stored:
        return f"KB_EMBEDDINGS=local, SIDECAR_KB_EMBEDDING_MODEL={local_embedding.BGE_MODEL}"
    if local_embedding.E5_MODEL_ID in stored:
        return f"KB_EMBEDDINGS=local, SIDECAR_KB_EMBEDDING_MODEL={local_embedding.E5_MODEL}"
    return "KB_EMBEDDINGS"


def configured_embedding_function(settings: Any) -> EmbeddingFunction:
    """The embedding function ``settings`` ask for (the local model unless ``KB_EMBEDDINGS=openai``)."""
    kind = settings.kb_embeddings
    if kind == "openai":
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIEmbeddingFunction(model=settings.openai_embedding_model, api_key=key,
                                       base_url=settings.openai_base_url)
    if kind != "local":
        raise KnowledgeError(f"KB_EMBEDDINGS must be 'local' or 'openai' (got {kind!r})")
    return LocalEmbeddingFunction()


def make_client(path: str | None = None, url: str | None = None) -> Any:
    """A chroma client: HTTP when ``url`` is given, else persistent at ``path``. Telemetry off."""
    cs = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if url:
        from urllib.parse import urlparse

        u = urlparse(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise KnowledgeError("CHROMA_URL must be an http(s) URL")
        # chromadb's HTTP client logs every request at INFO through httpx: one line per retrieval.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        return chromadb.HttpClient(host=u.hostname, port=u.port or (443 if u.scheme == "https" else 8000),
                                   ssl=u.scheme == "https", settings=cs)
    os.makedirs(path or "var/chroma", exist_ok=True)
    return chromadb.PersistentClient(path=path or "var/chroma", settings=cs)


class KnowledgeStore:
    """One chroma collection of knowledge chunks plus the embedding function it was built with."""

    def __init__(self, path: str | None = None, url: str | None = None, *, embedding_function: Any = None,
                 collection: str = COLLECTION, client: Any = None, create: bool = True) -> None:
        self.ef = embedding_function or LocalEmbeddingFunction()
        self.signature = getattr(self.ef, "signature", self.ef.name())
        self.client = client or make_client(path, url)
        self.name = collection
        self.persistent = not (url or client)
        self.collection = self._open(create)
        self.generation = (self.collection.metadata or {}).get("generation")
        self.checked_at = time.monotonic()

    def _open(self, create: bool) -> Any:
        existing = {c.name: c for c in self.client.list_collections() if not isinstance(c, str)}
        if self.name in existing:
            # Compare the recorded signature before attaching our function, so a mismatch is our
            # clear error and not chromadb's (or, worse, a silent mix of vector spaces).
            stored = (existing[self.name].metadata or {}).get("embedding")
            if stored and stored != self.signature:
                raise EmbeddingMismatch(
                    f"knowledge collection '{self.name}' was built with embedding '{stored}' but the configured "
                    f"embedding is '{self.signature}'. Mixing them would give meaningless scores: rebuild it with "
                    "`python -m app kb ingest --rebuild <folder>` (or a fresh CHROMA_PATH), or switch back "
                    f"({_switch_back_hint(stored)})."
                )
            try:
                return self.client.get_collection(self.name, embedding_function=self.ef)
            except Exception as exc:
                raise EmbeddingMismatch(
                    f"knowledge collection '{self.name}' cannot be opened with embedding {self.signature}: {exc}. "
                    "Re-ingest into a fresh CHROMA_PATH or collection."
                ) from exc
        if not create:
            raise KnowledgeError(f"knowledge collection '{self.name}' does not exist yet: run `python -m app kb ingest`")
        return self.client.create_collection(
            self.name,
            embedding_function=self.ef,
            metadata={"embedding": self.signature, "description": "sidecar knowledge base"},
            configuration={"hnsw": {"space": "cosine"}},
        )

    def current_generation(self) -> str | None:
        """The collection's change marker as stored now (reads the shared metadata, not our cache)."""
        for c in self.client.list_collections():
            if not isinstance(c, str) and c.name == self.name:
                return (c.metadata or {}).get("generation")
        return None

    def mark_changed(self) -> None:
        """Record that the content changed, so other processes reopen their view (see ``get_store``)."""
        gen = uuid.uuid4().hex
        meta = {k: v for k, v in (self.collection.metadata or {}).items() if not k.startswith("hnsw:")}
        meta["generation"] = gen
        self.collection.modify(metadata=meta)
        self.generation = gen

    def embed(self, texts: list[str]) -> list[Any]:
        """Embed questions (what is searched for) with the collection's model."""
        if not texts:
            return []
        query = getattr(self.ef, "embed_query", None)
        return list(query(texts)) if callable(query) else list(self.ef(texts))

    def embed_passages(self, texts: list[str]) -> list[Any]:
        """Embed knowledge passages (what is stored and searched) with the collection's function."""
        return list(self.ef(texts)) if texts else []

    def count(self) -> int:
        return self.collection.count()


def drop_collection(path: str | None = None, url: str | None = None, collection: str = COLLECTION) -> bool:
    """Delete a knowledge collection, its sentence rows and its multilingual index (to rebuild it, e.g. with another model).

    Returns whether there was one. Only ``kb ingest --rebuild`` calls this: nothing else deletes a store.
    """
    from knowledge.multilingual import SUFFIX as E5_SUFFIX
    from knowledge.sentences import SUFFIX

    client = make_client(path, url)
    names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    for name in (f"{collection}{SUFFIX}", f"{collection}{E5_SUFFIX}", collection):
        if name in names:
            client.delete_collection(name)
    reset_store()
    return collection in names


_store: KnowledgeStore | None = None
_store_key: tuple | None = None
_lock = threading.Lock()


def _stale(store: KnowledgeStore) -> bool:
    if not store.persistent or time.monotonic() - store.checked_at < REFRESH_SECONDS:
        return False
    store.checked_at = time.monotonic()
    try:
        return store.current_generation() != store.generation
    except Exception as exc:  # the check must never break retrieval
        log.warning("knowledge store freshness check failed: %s", exc)
        return False


def _forget_client(store: KnowledgeStore) -> None:
    # chromadb shares one System per path inside a process; drop ours so the next client
    # reloads the index from disk. In-flight queries on the old objects finish on them.
    from chromadb.api.shared_system_client import SharedSystemClient

    ident = getattr(store.client, "_identifier", None)
    SharedSystemClient._identifier_to_system.pop(ident, None)
    SharedSystemClient._identifier_to_refcount.pop(ident, None)


def get_store(settings: Any, create: bool = False) -> KnowledgeStore:
    """The process-wide store for ``settings`` (``CHROMA_PATH`` / ``CHROMA_URL``, ``KB_EMBEDDINGS``).

    Opened once per process, re-opened when settings change or when another process
    changed the embedded store (checked at most every ``REFRESH_SECONDS``).
    """
    global _store, _store_key
    s = settings
    key = (s.chroma_url, s.chroma_path, s.kb_embeddings, getattr(s, "kb_embedding_model", ""))
    with _lock:
        if _store is not None and _store_key == key and _stale(_store):
            log.info("knowledge base changed on disk: reopening it")
            _forget_client(_store)
            _store = None
        if _store is None or _store_key != key:
            _store = KnowledgeStore(path=s.chroma_path, url=s.chroma_url, create=create,
                                    embedding_function=configured_embedding_function(s))
            _store_key = key
    return _store


def reset_store() -> None:
    """Forget the process-wide store (tests, or after settings change)."""
    global _store, _store_key
    _store, _store_key = None, None
