"""A long-lived process sees a `kb ingest` made by another process (embedded chroma reopens)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.settings import get_settings
from knowledge import store as store_mod
from knowledge.chunking import Document
from knowledge.ingest import ingest_documents
from knowledge.retrieve import retriever_for

ROOT = Path(__file__).resolve().parents[2]

OTHER_PROCESS = """
import sys
sys.path.insert(0, {root!r})
from knowledge.chunking import Document
from knowledge.ingest import ingest_documents
from knowledge.store import KnowledgeStore
store = KnowledgeStore(path={path!r})
ingest_documents(store, [Document("pw", "Passwords", "Passwords can be reset from the sign-in page with the forgot link.")],
                 origin="other", progress=False)
"""


def test_worker_store_picks_up_another_process_ingest(kb_env, monkeypatch):
    monkeypatch.setattr(store_mod, "REFRESH_SECONDS", 0.0)
    store = store_mod.get_store(get_settings(), create=True)
    ingest_documents(store, [Document("gift", "Gift cards", "Gift cards are valid for twelve months.")], origin="t",
                     progress=False)
    assert [s.id for s in retriever_for(get_settings()).search("how do I reset my password", k=3)] == []
    subprocess.run([sys.executable, "-c", OTHER_PROCESS.format(root=str(ROOT), path=str(kb_env))], check=True,
                   capture_output=True, timeout=120)
    hits = retriever_for(get_settings()).search("how do I reset my password", k=3)
    assert [s.id for s in hits] == ["pw"]
    assert store_mod.get_store(get_settings()) is not store  # reopened
    assert store_mod.get_store(get_settings()) is store_mod.get_store(get_settings())  # and then kept while nothing changes


def test_warm_up_loads_the_model_and_tolerates_a_missing_kb(kb_env, caplog):
    import knowledge
    from knowledge.embedding import get_embedder

    knowledge.warm_up(get_settings())  # no collection yet: a warning, not an error
    assert "not available yet" in caplog.text
    assert get_embedder() is get_embedder()


def test_warm_up_builds_the_lexical_index_before_the_first_job(kb_env):
    import knowledge
    from knowledge import lexical

    store = store_mod.get_store(get_settings(), create=True)
    ingest_documents(store, [Document("gift", "Gift cards", "Gift cards are valid for twelve months.")], origin="t",
                     progress=False)
    lexical.reset_indexes()
    knowledge.warm_up(get_settings())
    key = str(store_mod.get_store(get_settings()).collection.id)
    assert len(lexical._indexes[key]) == 1  # the first customer's search finds it built


def test_warm_up_loads_the_multilingual_index_before_the_first_job(kb_env, monkeypatch):
    # chromadb loads a collection on its first use: ~0.8 s of CPU for the e5 index at 10k chunks,
    # which the first non-English customer (and every ticket queued behind them) used to pay.
    import knowledge
    from knowledge import multilingual
    from knowledge import retrieve as kr

    store = store_mod.get_store(get_settings(), create=True)
    ingest_documents(store, [Document("gift", "Gift cards", "Gift cards are valid for twelve months.")], origin="t",
                     progress=False)
    searched: list[tuple[str, object]] = []
    real = kr.nearest

    def spy(col, vec, n, where, include, **kw):
        searched.append((col.name, where))
        return real(col, vec, n, where, include, **kw)

    monkeypatch.setattr(kr, "nearest", spy)
    knowledge.warm_up(get_settings())
    e5 = f"{store.name}{multilingual.SUFFIX}"
    on_e5 = [w for name, w in searched if name == e5]
    assert len(on_e5) == 1, searched  # the search a non-English draft makes: its language's and English articles
    assert "en" in on_e5[0]["language"]["$in"] and len(on_e5[0]["language"]["$in"]) == 3
