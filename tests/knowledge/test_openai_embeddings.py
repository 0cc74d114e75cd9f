"""Optional OpenAI embeddings (KB_EMBEDDINGS=openai) through a local stub, and the no-mixing guard."""

from __future__ import annotations

import json

import numpy as np
import pytest
from werkzeug import Response

from app.settings import get_settings, reset_settings
from knowledge.chunking import Document
from knowledge.ingest import ingest_documents
from knowledge.retrieve import search
from knowledge.store import EmbeddingMismatch, KnowledgeStore, OpenAIEmbeddingFunction, configured_embedding_function


def _fake_vector(text: str) -> list[float]:
    # Deterministic bag-of-words vector: texts sharing words are close.
    v = np.zeros(64, dtype=np.float32)
    for w in text.lower().split():
        v[hash(w.strip(".,?!")) % 64] += 1.0
    n = np.linalg.norm(v)
    return (v / n if n else v).tolist()


@pytest.fixture
def openai_env(httpserver, monkeypatch):
    seen: list[dict] = []

    def handle(request):
        body = json.loads(request.get_data())
        seen.append(body)
        data = [{"object": "embedding", "index": i, "embedding": _fake_vector(t)} for i, t in enumerate(body["input"])]
        return Response(json.dumps({"object": "list", "data": data, "model": body["model"],
                                    "usage": {"prompt_tokens": 1, "total_tokens": 1}}), content_type="application/json")

    httpserver.expect_request("/v1/embeddings", method="POST").respond_with_handler(handle)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("KB_EMBEDDINGS", "openai")
    monkeypatch.setenv("OPENAI_EMBEDDING_MODEL", "stub-embed")
    reset_settings()
    yield seen
    reset_settings()


def test_openai_embeddings_are_used_and_recorded(openai_env, tmp_path, monkeypatch):
    ef = configured_embedding_function(get_settings())
    assert isinstance(ef, OpenAIEmbeddingFunction) and ef.signature == "openai:stub-embed"
    path = str(tmp_path / "c")
    store = KnowledgeStore(path=path, embedding_function=ef)
    assert store.collection.metadata["embedding"] == "openai:stub-embed"
    ingest_documents(store, [Document("gift", "Gift cards", "Gift cards are valid for twelve months."),
                             Document("pw", "Passwords", "Use the forgot password link to reset it.")],
                     origin="t", progress=False)
    assert openai_env and openai_env[0]["model"] == "stub-embed"
    assert search(store, "are gift cards valid forever", k=1, threshold=0.0)[0].id == "gift"
    # The same folder opened with the local embedding is refused, not silently mixed.
    monkeypatch.setenv("KB_EMBEDDINGS", "local")
    reset_settings()
    with pytest.raises(EmbeddingMismatch, match="openai:stub-embed"):
        KnowledgeStore(path=path)
