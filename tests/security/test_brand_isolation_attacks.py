"""More attacks on brand isolation (knowledge.brands): a second brand that arrives after the process
decided the store holds one, brand ids that hold the scope separator, legacy re-tagging of a store
larger than a page, and the brands the webhook's and front matter's id types give.

Every search uses a very low threshold, so whatever the brand filter lets through comes back.
"""

from __future__ import annotations

import pytest

from adapters.base import as_str
from knowledge import brands, lexical
from knowledge.chunking import Document
from knowledge.ingest import ingest_documents
from knowledge.retrieve import hybrid_hits, search
from knowledge.store import KnowledgeStore
from knowledge.tickets import ingest_ticket
from pipeline.models import AGENT, CUSTOMER, Message, Ticket, brand_scope
from tests.knowledge.test_chroma_server import chroma_server  # noqa: F401 (the CHROMA_URL fixture)

LOW = -10.0
NORTH = Document("north-warranty", "Zorblax kettle warranty", "## Warranty\nNorth replaces any Zorblax kettle within "
                 "seven years, free of charge, with the Quillfeather receipt.", brand="101")
SOUTH = Document("south-warranty", "Vantrope kettle warranty", "## Warranty\nSouth repairs every Vantrope kettle for "
                 "three years; keep the Brimbleton warranty card.", brand="202")
SHIPPING = Document("shipping", "Shipping times", "## Delivery\nParcels arrive in two to four working days.")
QUESTION = "is my kettle under warranty? Zorblax Vantrope Brimbleton Quillfeather"


def _ids(store, text, brand, **kw) -> set[str]:
    return {h.id for h in search(store, text, k=20, brand=brand, threshold=LOW, **kw)}


def _past(platform: str, tid: str, brand: str | None, question: str, answer: str) -> Ticket:
    return Ticket(platform=platform, id=tid, subject=question[:40], brand=brand, messages=[
        Message(id="1", author_role=CUSTOMER, body_text=question),
        Message(id="2", author_role=AGENT, body_text=answer)])


@pytest.fixture
def no_refresh(monkeypatch):
    # The window between another process's write and this process noticing it (REFRESH_SECONDS, and
    # the whole ingest before the change marker moves), held open so the test does not depend on time.
    monkeypatch.setattr(lexical, "REFRESH_SECONDS", 1e9)
    lexical.reset_indexes()
    yield
    lexical.reset_indexes()


def _second_brand_arrives(reader: KnowledgeStore, writer: KnowledgeStore, **kw) -> None:
    # The reader's process has searched (its BM25 snapshot: one brand), then another process ingests a
    # second brand's article into the same collection.
    assert _ids(reader, QUESTION, brand_scope("gorgias", None), **kw) == {"north-warranty", "shipping"}
    assert brands.single_brand(lexical.index_for(reader).brands)
    ingest_documents(writer, [SOUTH], origin="other", progress=False)


@pytest.mark.parametrize("dense", [True, False])
def test_a_second_brand_ingested_by_another_process_is_not_read_before_the_rule_sees_it(tmp_path, no_refresh, dense):
    path = str(tmp_path / "chroma")
    reader = KnowledgeStore(path=path)
    ingest_documents(reader, [NORTH, SHIPPING], origin="test", progress=False)
    writer = KnowledgeStore(path=path)  # another process (same collection; its marker is not the reader's)
    _second_brand_arrives(reader, writer)
    assert reader.collection.count() == writer.collection.count()  # the reader's dense side sees the new chunks
    # Before: the snapshot still said "one brand" -> no filter -> brand 202's article for a Gorgias ticket.
    got = {h.doc_id for h in hybrid_hits(reader, QUESTION, brand=brand_scope("gorgias", None), threshold=LOW,
                                         dense=dense)}
    assert "south-warranty" not in got and got <= {"north-warranty", "shipping"}
    assert _ids(reader, QUESTION, brand_scope("gorgias", None)) <= {"north-warranty", "shipping"}
    assert "south-warranty" not in _ids(reader, "Vantrope Brimbleton warranty card", None)
    # Brand 101's own searches never depended on the snapshot.
    assert _ids(reader, QUESTION, brand_scope("zendesk", "101")) == {"north-warranty", "shipping"}
    # Once the process knows (the marker is read), the rule sees two brands: unbranded documents only.
    reader.generation = reader.current_generation()
    assert _ids(reader, QUESTION, brand_scope("gorgias", None)) == {"shipping"}
    assert _ids(reader, QUESTION, brand_scope("zendesk", "202")) == {"south-warranty", "shipping"}


def test_the_multilingual_index_too_after_a_second_brand_arrives(tmp_path, no_refresh):
    from knowledge import multilingual

    path = str(tmp_path / "chroma")
    reader = KnowledgeStore(path=path)
    ingest_documents(reader, [NORTH, SHIPPING], origin="test", progress=False)
    writer = KnowledgeStore(path=path)
    _second_brand_arrives(reader, writer, language="fr")
    assert multilingual.searchable(reader, "fr") is not None
    got = _ids(reader, "ma bouilloire Vantrope est-elle sous garantie ? carte Brimbleton", brand_scope("gorgias", None),
               language="fr")
    assert "south-warranty" not in got


def test_chroma_server_mode_a_brand_mid_ingest_is_not_read(chroma_server, no_refresh):  # noqa: F811
    # CHROMA_URL: every process reads the server live; the change marker moves at the end of an ingest.
    reader = KnowledgeStore(url=chroma_server)
    ingest_documents(reader, [NORTH, SHIPPING], origin="test", progress=False)
    writer = KnowledgeStore(url=chroma_server)  # another machine
    _second_brand_arrives(reader, writer)
    assert "south-warranty" not in _ids(reader, QUESTION, brand_scope("gorgias", None))
    assert "south-warranty" not in _ids(reader, QUESTION, brand_scope("freshdesk", ""))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = KnowledgeStore(path=str(tmp_path_factory.mktemp("sep") / "chroma"))
    ingest_documents(s, [NORTH, SOUTH, SHIPPING], origin="test", progress=False)
    ingest_ticket(_past("freshdesk", "12", "101", "The Glimmerwick lamp flickers since yesterday.",
                        "Reset the Glimmerwick lamp by holding its switch for ten seconds."), s)
    ingest_ticket(_past("gorgias", "13", None, "Can I pay my Snorkeldash order with a voucher?",
                        "Snorkeldash vouchers are accepted at checkout in the payment step."), s)
    return s


@pytest.mark.parametrize("variant", ["freshdesk:101", "gorgias:", " freshdesk:101", "freshdesk:", ":101", "101:"])
def test_a_brand_id_holding_the_separator_reads_no_other_platform_s_scope(store, variant):
    # A Zendesk ticket whose brand id says "freshdesk:101" would, by its bare id, read Freshdesk product
    # 101's past tickets (and "gorgias:" Gorgias' brandless ones).
    got = _ids(store, "Glimmerwick lamp flickers, pay with a Snorkeldash voucher", brand_scope("zendesk", variant))
    assert got <= {"shipping"}, got


@pytest.mark.parametrize("brand_id", [101, 101.0, "101", " 101 "])
def test_zendesk_brand_ids_as_numbers_or_strings_give_one_scope(brand_id):
    assert brand_scope("zendesk", as_str(brand_id)) == "zendesk:101"


@pytest.mark.parametrize("front", ["brand: 101", "brand: '101'", "brand: \"101\"", "brand:  101  "])
def test_front_matter_brand_as_number_or_string_is_the_same_brand(tmp_path, front):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "north.md").write_text(f"---\nid: north\ntitle: Zorblax kettle warranty\n{front}\n---\n\n## Warranty\n"
                                     "North replaces any Zorblax kettle within seven years.\n")
    (folder / "south.md").write_text("---\nid: south\ntitle: Vantrope warranty\nbrand: 202\n---\n\n## Warranty\n"
                                     "South repairs every Vantrope kettle for three years.\n")
    from knowledge.ingest import ingest_folder

    s = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_folder(s, folder, progress=False)
    assert _ids(s, "kettle warranty", brand_scope("zendesk", "101")) == {"north"}
    assert _ids(s, "kettle warranty", brand_scope("zendesk", as_str(101))) == {"north"}
    assert _ids(s, "kettle warranty", brand_scope("gorgias", None)) == set()


def test_legacy_re_tagging_pages_through_a_store_larger_than_a_page(tmp_path):
    s = KnowledgeStore(path=str(tmp_path / "chroma"))
    legacy = [Document(f"ticket:{p}:{i}", f"Resolved ticket {i}", f"# Q{i}\n\n## Customer question\nLamp {i} flickers"
                       f"\n\n## Agent answer\nHold switch {i}.", source_type="ticket", brand=b)
              for i, (p, b) in enumerate([("gorgias", ""), ("freshdesk", "101"), ("zendesk", "7")] * 5)]
    ingest_documents(s, legacy + [SHIPPING], origin="tickets", prune=False, progress=False)
    n_chunks = len(s.collection.get(where={"source_type": "ticket"})["ids"])
    assert n_chunks >= 15
    assert brands.scope_legacy_tickets(s, page=4) == n_chunks  # several pages, each re-tagged
    metas = s.collection.get(where={"source_type": "ticket"}, include=["metadatas"])["metadatas"]
    assert {m["brand"] for m in metas} == {"gorgias:", "freshdesk:101", "zendesk:7"}
    assert brands.scope_legacy_tickets(s, page=4) == 0
    assert _ids(s, "Lamp flickers hold switch", brand_scope("zendesk", "101")) == {"shipping"}


def test_legacy_re_tagging_holds_one_page_at_a_time(tmp_path, monkeypatch):
    # Bounded: on a large store, the chunks to re-tag are written page by page, never gathered whole.
    s = KnowledgeStore(path=str(tmp_path / "chroma"))
    legacy = [Document(f"ticket:gorgias:{i}", f"Resolved ticket {i}", f"# Q{i}\n\n## Customer question\nLamp {i}"
                       f"\n\n## Agent answer\nHold switch {i}.", source_type="ticket", brand="") for i in range(12)]
    ingest_documents(s, legacy, origin="tickets", prune=False, progress=False)
    sizes: list[int] = []
    real = s.collection.update

    def update(ids, metadatas):
        sizes.append(len(ids))
        return real(ids=ids, metadatas=metadatas)

    monkeypatch.setattr(s.collection, "update", update)
    n = brands.scope_legacy_tickets(s, page=5)
    assert n == 12 and sizes and max(sizes) <= 5


def test_legacy_re_tagging_runs_once_per_store(tmp_path, monkeypatch):
    # kb ingest / sync / add-tickets call it on every write: after one full pass nothing is read again.
    s = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_documents(s, [SHIPPING], origin="test", progress=False)
    assert brands.scope_legacy_tickets(s) == 0
    reads: list[object] = []
    real = s.collection.get
    monkeypatch.setattr(s.collection, "get", lambda *a, **kw: reads.append(kw) or real(*a, **kw))
    assert brands.scope_legacy_tickets(s) == 0
    assert reads == []
    # ... also in another process opening the store later.
    other = KnowledgeStore(path=str(tmp_path / "chroma"))
    monkeypatch.setattr(other.collection, "get", lambda *a, **kw: reads.append(kw) or real(*a, **kw))
    assert brands.scope_legacy_tickets(other) == 0 and reads == []
    # The mark outlives later writes (each moves the change marker, keeping the rest of the metadata).
    ingest_documents(other, [NORTH], origin="more", progress=False)
    third = KnowledgeStore(path=str(tmp_path / "chroma"))
    assert (third.collection.metadata or {}).get(brands.SCOPED_MARK)
    assert third.generation == other.generation


def test_the_past_ticket_answer_hand_over_stays_in_the_ticket_s_brand(tmp_path):
    # A past ticket found by its customer question stands for its agent answer, looked up by document id.
    # Another brand's document carrying the same id (front matter ``id:`` is free text) must not answer for
    # it, e.g. when the ticket's own answer chunk is gone (a store written by an older version, a failed write).
    from knowledge.retrieve import Hit, _answer_of_past_ticket

    s = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_ticket(_past("zendesk", "11", "101", "My Zorblax kettle leaks from the lid, what now?",
                        "We send a new lid seal by post within five days."), s)
    ingest_documents(s, [Document("ticket:zendesk:11", "Lid seals", "## Agent answer\nSouth sends a marrowfin seal "
                                  "to brand 202 customers only.", brand="202")], origin="articles", progress=False)
    got = s.collection.get(where={"$and": [{"doc_id": "ticket:zendesk:11"}, {"source_type": "ticket"}]},
                           include=["documents", "metadatas"])
    heads = [str(m.get("heading") or "").lower() for m in got["metadatas"]]
    q = next(i for i, h in enumerate(heads) if "question" in h)
    s.collection.delete(ids=[c for c, h in zip(got["ids"], heads, strict=True) if "answer" in h])
    group = [Hit(chunk_id=got["ids"][q], doc_id="ticket:zendesk:11", fused=1.0, cosine=0.9,
                 body=got["documents"][q], meta=got["metadatas"][q])]
    _answer_of_past_ticket(s, group)
    assert len(group) == 1 and "marrowfin" not in group[0].body
    assert group[0].meta["brand"] == "zendesk:101"


def test_kb_query_and_add_tickets_keep_brands_apart(tmp_path, monkeypatch, capsys):
    # The CLI paths: `kb add-tickets` stores a past ticket under its ticket's scope, `kb query --brand`
    # searches as that ticket would, and without --brand (several brands) only unbranded documents come.
    import json

    from app.__main__ import main
    from app.settings import reset_settings
    from knowledge.store import reset_store

    monkeypatch.setenv("CHROMA_PATH", str(tmp_path / "chroma-cli"))
    reset_settings()
    reset_store()
    lexical.reset_indexes()
    try:
        kb = tmp_path / "kb"
        kb.mkdir()
        for d in (NORTH, SOUTH, SHIPPING):
            front = f"brand: {d.brand}\n" if d.brand else ""
            (kb / f"{d.doc_id}.md").write_text(f"---\nid: {d.doc_id}\ntitle: {d.title}\n{front}---\n\n{d.text}\n")
        assert main(["kb", "ingest", str(kb), "--quiet"]) == 0
        f = tmp_path / "tickets.jsonl"
        f.write_text(json.dumps(_past("freshdesk", "12", "101", "The Glimmerwick lamp flickers since yesterday.",
                                      "Reset the Glimmerwick lamp by holding its switch for ten seconds.").to_dict())
                     + "\n", encoding="utf-8")
        assert main(["kb", "add-tickets", "--from-json", str(f)]) == 0
        capsys.readouterr()
        text = ["Glimmerwick", "lamp", "Zorblax", "Vantrope", "kettle", "warranty", "parcels"]
        seen = {}
        for brand in ["zendesk:101", "freshdesk:101", "zendesk:202", "gorgias:", "zendesk:freshdesk:101", None]:
            args = ["kb", "query", "-k", "10", "--threshold", "-10", *text] + (["--brand", brand] if brand else [])
            main(args)
            out = capsys.readouterr().out
            seen[brand] = {i for i in ("north-warranty", "south-warranty", "shipping", "ticket:freshdesk:12")
                           if f", {i})" in out}
        assert seen == {"zendesk:101": {"north-warranty", "shipping"},
                        "freshdesk:101": {"north-warranty", "shipping", "ticket:freshdesk:12"},
                        "zendesk:202": {"south-warranty", "shipping"},
                        "gorgias:": {"shipping"}, "zendesk:freshdesk:101": {"shipping"}, None: {"shipping"}}
    finally:
        reset_store()
        reset_settings()



@pytest.mark.parametrize("brand_id", [101, 101.0, "101"])
def test_a_ticket_read_back_from_json_with_a_numeric_brand_keeps_its_scope(store, brand_id):
    # `kb add-tickets --from-json` and anything else reading a Ticket from JSON someone wrote: "brand": 101
    # used to crash the brand scope (int has no strip), so the ticket was neither stored nor answered.
    t = Ticket.from_dict({**_past("freshdesk", "77", None, "Glimmerwick lamp?", "Hold it.").to_dict(),
                          "brand": brand_id})
    assert t.brand_scope == "freshdesk:101"
    from knowledge.tickets import document_from_ticket

    assert document_from_ticket(t).brand == "freshdesk:101"
    assert "ticket:freshdesk:12" in _ids(store, "Glimmerwick lamp flickers", t.brand_scope)


def test_a_second_brand_s_passage_does_not_decide_that_a_brandless_message_is_answered(tmp_path, no_refresh):
    # BM25 may lift a passage under the cut-off only in a message some readable passage answers by its
    # cosine (knowledge.retrieve.BM25_LIFTS). A passage of a brand the ticket may not read, seen by the
    # dense side before the process knows the store holds it, must not make that decision either.
    question = "Vantrope Brimbleton warranty card"
    path = str(tmp_path / "chroma")
    reader = KnowledgeStore(path=path)
    ingest_documents(reader, [NORTH, SHIPPING], origin="test", progress=False)
    before = {h.doc_id: h for h in hybrid_hits(reader, question, brand=brand_scope("gorgias", None), threshold=LOW)}
    north = before["north-warranty"]
    assert north.cosine < north.fused  # BM25 adds to it
    cut = (north.cosine + north.fused) / 2  # its cosine misses the cut-off, its score would clear it
    assert max(h.cosine for h in before.values()) < cut
    assert hybrid_hits(reader, question, brand=brand_scope("gorgias", None), threshold=cut) == []
    writer = KnowledgeStore(path=path)
    ingest_documents(writer, [SOUTH], origin="other", progress=False)
    # Still nothing for the Gorgias ticket: brand 202's passage (cosine over the cut-off) decides nothing.
    assert hybrid_hits(reader, question, brand=brand_scope("gorgias", None), threshold=cut) == []
    south = {h.doc_id: h for h in hybrid_hits(writer, question, brand=brand_scope("zendesk", "202"), threshold=LOW)}
    assert south["south-warranty"].cosine >= cut  # it would have answered the message
