"""knowledge.rows: the chunk rows a search reads are kept between searches, and never outlive a change of the
store (an ingest re-tagging or re-pointing a document, a deletion, another writer's change)."""

from __future__ import annotations

import pytest

from knowledge import lexical, rows
from knowledge.chunking import Document
from knowledge.ingest import delete_documents, ingest_documents
from knowledge.retrieve import search
from knowledge.store import KnowledgeStore

TEXT = ("Gift cards are valid for twelve months from the day they are bought. The balance shows on the receipt "
        "and in your account.")
OTHER = "Parcels leave our warehouse within two working days. Tracking starts when the carrier scans them."


def _doc(**kw) -> Document:
    base = {"doc_id": "gift", "title": "Gift cards", "text": TEXT, "url": "https://kb.example/gift"}
    return Document(**{**base, **kw})


@pytest.fixture
def store(tmp_path):
    s = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_documents(s, [_doc(), Document("ship", "Shipping times", OTHER, url="https://kb.example/ship")],
                     origin="t", progress=False)
    return s


class _RowReads:
    """Counts the rows' text or metadata a collection is asked for, by id or with a query (the reads the cache
    saves)."""

    def __init__(self, monkeypatch, col) -> None:
        self.rows = 0
        get, query = col.get, col.query

        def spy_get(*a, **kw):
            self.rows += len(kw.get("ids") or [])
            return get(*a, **kw)

        def spy_query(*a, **kw):
            got = query(*a, **kw)
            if {"documents", "metadatas"} & set(kw.get("include") or []):
                self.rows += sum(len(ids) for ids in got["ids"])
            return got

        monkeypatch.setattr(col, "get", spy_get)
        monkeypatch.setattr(col, "query", spy_query)


def test_a_repeated_search_reads_no_row_again_and_returns_the_same(store, monkeypatch):
    first = search(store, "how long is a gift card valid", k=3)
    spy = _RowReads(monkeypatch, store.collection)
    again = search(store, "how long is a gift card valid", k=3)
    assert [(s.id, s.score, s.text, s.url) for s in again] == [(s.id, s.score, s.text, s.url) for s in first]
    assert first and spy.rows == 0


def test_a_re_ingest_that_moves_metadata_only_is_seen_by_the_next_search(store):
    # Same text: the chunk ids stay, only their metadata changes (knowledge.ingest updates it in place).
    assert search(store, "how long is a gift card valid", k=1)[0].url == "https://kb.example/gift"
    ingest_documents(store, [_doc(url="https://kb.example/gift-cards"), Document("ship", "Shipping times", OTHER)],
                     origin="t", progress=False)
    assert search(store, "how long is a gift card valid", k=1)[0].url == "https://kb.example/gift-cards"


def test_a_re_tagged_brand_is_not_served_from_the_cache(store):
    ingest_documents(store, [_doc(brand="acme"), Document("ship", "Shipping times", OTHER)], origin="t",
                     progress=False)
    assert [s.id for s in search(store, "how long is a gift card valid", k=3, brand="acme")][:1] == ["gift"]
    ingest_documents(store, [_doc(brand="globex"), Document("ship", "Shipping times", OTHER)], origin="t",
                     progress=False)
    assert "gift" not in [s.id for s in search(store, "how long is a gift card valid", k=3, brand="acme")]
    assert [s.id for s in search(store, "how long is a gift card valid", k=3, brand="globex")][:1] == ["gift"]


def test_a_deleted_document_is_not_served_from_the_cache(store):
    assert "gift" in [s.id for s in search(store, "gift card balance", k=3)]
    delete_documents(store, ["gift"])
    assert "gift" not in [s.id for s in search(store, "gift card balance", k=3)]
    reader = rows.reader(store, store.collection, rows.generation(store))
    assert not any(cid.startswith("gift::") for cid in reader._rows)


def test_another_writer_s_change_is_seen_by_the_next_search(store, tmp_path, monkeypatch):
    """A write through another store object on the same folder (as another process's `kb ingest`): the cache follows
    the change marker as stored now, not this object's own nor the BM25 index's (polled every REFRESH_SECONDS)."""
    monkeypatch.setattr(lexical, "REFRESH_SECONDS", 3600.0)
    assert search(store, "how long is a gift card valid", k=1)[0].url == "https://kb.example/gift"
    other = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_documents(other, [_doc(url="https://kb.example/moved"), Document("ship", "Shipping times", OTHER)],
                     origin="t", progress=False)
    assert store.generation != other.generation  # this object's own marker did not move
    assert search(store, "how long is a gift card valid", k=1)[0].url == "https://kb.example/moved"


def test_a_chroma_server_store_reads_rows_live(store, monkeypatch):
    # CHROMA_URL: the rows are read at each search (another machine's change is seen by the next search).
    monkeypatch.setattr(store, "persistent", False)
    assert rows.generation(store) is None
    assert not rows.reader(store, store.collection, rows.generation(store)).cached
    search(store, "gift card balance", k=3)
    spy = _RowReads(monkeypatch, store.collection)
    search(store, "gift card balance", k=3)
    assert spy.rows > 0  # the second, same search still reads its rows from chromadb


def test_the_cache_is_bounded_and_hands_out_copies(store, monkeypatch):
    monkeypatch.setattr(rows, "MAX_ROWS", 2)
    reader = rows.RowReader(store.collection, generation="g")
    ids = store.collection.get(include=[])["ids"]
    got = reader.read(ids, ["metadatas"])
    assert set(got) == set(ids) and len(reader) == 2
    got[ids[-1]]["metadatas"]["brand"] = "tampered"
    assert reader.read([ids[-1]], ["metadatas"])[ids[-1]]["metadatas"].get("brand") == ""
    assert reader.read(["nope", ids[-1]], ["documents"]).keys() == {ids[-1]}  # a missing id is absent
