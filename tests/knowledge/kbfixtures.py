"""Knowledge fixtures shared by tests/knowledge and tests/app/test_draft_*: demo store, temp chroma paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import reset_settings
from knowledge.ingest import ingest_folder
from knowledge.store import KnowledgeStore, LocalEmbeddingFunction, reset_store

ROOT = Path(__file__).resolve().parents[2]
DEMO_KB = ROOT / "config" / "knowledge"


class CountingEmbedder:
    """Wraps the real embedder and counts the texts it embeds (to prove what was re-embedded)."""

    def __init__(self) -> None:
        from knowledge.embedding import get_embedder

        self.inner = get_embedder()
        self.model_id = self.inner.model_id
        self.texts: list[str] = []

    def embed(self, texts):
        self.texts += list(texts)
        return self.inner.embed(texts)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> KnowledgeStore:
    """The demo knowledge base ingested into a session temp folder (read-only for tests)."""
    store = KnowledgeStore(path=str(tmp_path_factory.mktemp("chroma-demo")))
    ingest_folder(store, DEMO_KB, progress=False)
    return store


@pytest.fixture
def counting_store(tmp_path):
    """(store, counter): a fresh store in tmp_path whose embedder counts calls."""
    counter = CountingEmbedder()
    store = KnowledgeStore(path=str(tmp_path / "chroma"), embedding_function=LocalEmbeddingFunction(counter))
    return store, counter


@pytest.fixture
def kb_env(tmp_path, monkeypatch):
    """Point settings (CHROMA_PATH) at a temp folder; the process-wide store is reset around the test."""
    path = tmp_path / "chroma-env"
    monkeypatch.setenv("CHROMA_PATH", str(path))
    reset_settings()
    reset_store()
    yield path
    reset_store()
    reset_settings()


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    """CHROMA_PATH → a temp store holding the demo KB, for code that uses the process-wide store."""
    path = tmp_path_factory.mktemp("chroma-pipeline")
    ingest_folder(KnowledgeStore(path=str(path)), DEMO_KB, progress=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHROMA_PATH", str(path))
        reset_settings()
        reset_store()
        yield path
    reset_store()
    reset_settings()


def env_kb():
    """The knowledge base the runtime would hand the pipeline for the current env (None if it cannot open)."""
    from app.runtime import knowledge_base
    from app.settings import get_settings

    return knowledge_base(get_settings())


def env_llm():
    """The LLM the runtime would hand the pipeline for the current env (None without OPENAI_API_KEY)."""
    from app.settings import get_settings

    return get_settings().llm()
