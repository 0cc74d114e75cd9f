"""Ingest → retrieve on the demo KB, chunking, incremental re-ingest, embedding bookkeeping."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from knowledge.chunking import Document, chunk_document, load_folder, parse_file
from knowledge.ingest import ingest_documents, ingest_folder
from knowledge.retrieve import default_threshold, search
from knowledge.store import (
    LOCAL_EF_NAME,
    EmbeddingMismatch,
    KnowledgeStore,
    LocalEmbeddingFunction,
    OpenAIEmbeddingFunction,
    make_client,
)

# Phrased the way customers write, not the way the articles do.
PARAPHRASES = [
    # ("the app" alone now also means the authenticator app of the two-step verification article.)
    ("the tracking app says it was dropped off yesterday but there's nothing at my door", "lost-or-damaged-parcel"),
    # (The demo KB now also has a mug recall notice: the parcel context is what says "damaged in transit".)
    ("my mug arrived smashed to pieces in the box", "lost-or-damaged-parcel"),
    ("I can't remember my login code, how do I make a new one", "reset-password"),
    ("there are two identical payments on my statement for one purchase", "double-charge"),
    ("I need a bill with my company's tax number on it", "invoices"),
    ("how long before the refund shows on my visa", "refund-timing"),
    # ("stop it before it goes out" alone now matches "skip the next subscription delivery" as well.)
    ("I clicked buy by accident, can you stop the order before it goes out", "cancel-or-change-order"),
    # ("the code" alone is now also a gift card or a two-step verification code in the demo KB.)
    ("the promo code from your email gets rejected when I pay", "discount-codes"),
    ("will this coat keep me dry in a downpour", "product-care-materials"),
    ("please erase everything you have about me", "update-or-delete-account"),
]


@pytest.mark.parametrize("question,expected", PARAPHRASES)
def test_paraphrased_questions_find_the_right_article(demo_store, question, expected):
    hits = search(demo_store, question, k=3)
    assert expected in [h.id for h in hits], [(h.id, h.score) for h in hits]
    top = hits[0]
    assert top.url and top.url.startswith("https://help.demo-store.example/")
    assert default_threshold() <= top.score <= 1.0 and top.text


def test_results_are_one_per_document_and_sorted(demo_store):
    from knowledge.retrieve import hybrid_hits

    q = "return shipping label refund money back"
    hits = search(demo_store, q, k=5, threshold=0.0)
    ids = [h.id for h in hits]
    assert len(ids) == len(set(ids)) == 5
    # Ranked by the fused score (cosine + BM25), each document at its best section's place.
    fused = hybrid_hits(demo_store, q, threshold=0.0)
    assert [f.fused for f in fused] == sorted((f.fused for f in fused), reverse=True)
    assert ids == list(dict.fromkeys(f.doc_id for f in fused))[:5]


def test_off_topic_text_is_below_the_threshold(demo_store):
    assert search(demo_store, "what's the weather like in Lisbon tomorrow") == []
    assert search(demo_store, "") == []
    # With the threshold off, the same text does return (weak) passages: the threshold is what stops it.
    assert search(demo_store, "what's the weather like in Lisbon tomorrow", threshold=0.0)


def test_intent_boost_and_policy_type(demo_store):
    hits = search(demo_store, "where is my order", k=3, intent="order_status")
    assert hits[0].id == "track-your-order"
    pol = search(demo_store, "how long do I have to send stuff back", k=1)[0]
    assert pol.id == "return-policy" and pol.source_type == "policy"


def test_brand_and_language_filters(counting_store):
    store, _ = counting_store
    docs = [
        Document("a-ship", "Shipping for brand A", "Brand A ships parcels with DHL in two days.", brand="a"),
        Document("b-ship", "Shipping for brand B", "Brand B ships parcels with UPS in five days.", brand="b"),
        Document("fr-ship", "Livraison", "Nous expédions les colis en deux jours.", language="fr"),
    ]
    ingest_documents(store, docs, origin="test", progress=False)
    q = "how long does shipping of my parcel take"
    assert {h.id for h in search(store, q, k=5, threshold=0.0, brand="a")} == {"a-ship", "fr-ship"}
    assert {h.id for h in search(store, q, k=5, threshold=0.0, brand="b", language="en")} == {"b-ship"}
    # No brand, several in the store: unbranded documents only (before: every brand's, knowledge.brands).
    assert {h.id for h in search(store, q, k=5, threshold=0.0)} == {"fr-ship"}


def _write(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")


def _kb(folder: Path) -> None:
    folder.mkdir()
    _write(folder, "shipping.md", """
        ---
        id: shipping
        url: https://kb.example/shipping
        ---
        # Shipping

        ## Delivery times
        Parcels reach EU addresses in two to four working days after they leave the warehouse.

        ## Costs
        Standard shipping costs 4.90 EUR and is free above 60 EUR after discounts are applied.
        """)
    _write(folder, "returns.md", """
        # Returns

        ## Return window
        Items can be returned within 30 days of delivery when unused and with their tags attached.

        ## Refunds
        Refunds go to the original payment method within ten business days of inspection.
        """)
    _write(folder, "faq.html", """
        <html><head><title>Account FAQ</title></head><body>
        <h2>Password</h2><p>Use the forgot password link on the sign-in page to get a reset email.</p>
        <h2>Newsletter</h2><p>Unsubscribe with the link at the bottom of every newsletter email.</p>
        </body></html>
        """)


def test_incremental_reingest_only_touches_the_edited_document(tmp_path, counting_store):
    store, counter = counting_store
    kb = tmp_path / "kb"
    _kb(kb)
    first = ingest_folder(store, kb, progress=False)
    assert first.added == first.chunks == store.count() > 0
    before = store.collection.get(include=["metadatas"])
    by_doc = {}
    for cid, meta in zip(before["ids"], before["metadatas"], strict=True):
        by_doc.setdefault(meta["doc_id"], set()).add(cid)
    assert set(by_doc) == {"shipping", "returns.md", "faq.html"}

    # Nothing changed: nothing embedded, nothing deleted.
    counter.texts.clear()
    again = ingest_folder(store, kb, progress=False)
    assert (again.added, again.deleted, again.unchanged) == (0, 0, first.chunks)
    assert counter.texts == []

    # Edit one section of one file: only that chunk is re-embedded and replaced.
    p = kb / "returns.md"
    p.write_text(p.read_text().replace("within 30 days", "within 45 days"), encoding="utf-8")
    edited = ingest_folder(store, kb, progress=False)
    assert edited.added == 1 and edited.deleted == 1
    # One chunk text (it has a newline: title line + body) plus that chunk's sentences, nothing else.
    chunk_texts = [t for t in counter.texts if "\n" in t]
    assert len(chunk_texts) == 1 and "45 days" in chunk_texts[0]
    assert counter.texts[1:] and all("\n" not in t for t in counter.texts[1:])
    from knowledge import sentences
    rows = sentences.collection(store).get(include=["metadatas"])
    assert {m["chunk_id"] for m in rows["metadatas"]} == set(store.collection.get(include=[])["ids"])
    after = store.collection.get(include=["metadatas"])
    after_by_doc = {}
    for cid, meta in zip(after["ids"], after["metadatas"], strict=True):
        after_by_doc.setdefault(meta["doc_id"], set()).add(cid)
    assert after_by_doc["shipping"] == by_doc["shipping"] and after_by_doc["faq.html"] == by_doc["faq.html"]
    assert after_by_doc["returns.md"] != by_doc["returns.md"]
    assert search(store, "how many days do I have to return an item", k=1, threshold=0.0)[0].text.count("45 days")

    # Metadata-only change (url): updated without embedding.
    counter.texts.clear()
    s = kb / "shipping.md"
    s.write_text(s.read_text().replace("https://kb.example/shipping", "https://kb.example/shipping-v2"), encoding="utf-8")
    meta_only = ingest_folder(store, kb, progress=False)
    assert meta_only.added == 0 and meta_only.metadata_updated == len(by_doc["shipping"]) and counter.texts == []
    assert search(store, "delivery times", k=1, threshold=0.0)[0].url == "https://kb.example/shipping-v2"

    # Delete a file: its chunks go, the others stay.
    (kb / "faq.html").unlink()
    deleted = ingest_folder(store, kb, progress=False)
    assert deleted.deleted == len(by_doc["faq.html"]) and deleted.added == 0
    left = {m["doc_id"] for m in store.collection.get(include=["metadatas"])["metadatas"]}
    assert left == {"shipping", "returns.md"}


def test_two_origins_do_not_prune_each_other(tmp_path, counting_store):
    store, _ = counting_store
    kb = tmp_path / "kb"
    _kb(kb)
    ingest_folder(store, kb, progress=False)
    n = store.count()
    ingest_documents(store, [Document("other", "Other", "Gift cards are valid for a year.")], origin="helpcenter:x",
                     progress=False)
    ingest_folder(store, kb, progress=False)
    assert store.count() == n + 1


def test_chunking_by_headings_with_context_and_overlap():
    paras = [f"Paragraph {i} about delivery delays and what the carrier does next, in some detail." for i in range(30)]
    text = "# Guide\n\nIntro text that is long enough to stand alone as its own chunk of the guide, because it " \
           "explains what the guide covers and who it is for.\n\n" \
           "## Long section\n\n" + "\n\n".join(paras) + "\n\n## Tiny\nShort.\n"
    chunks = chunk_document(Document("g", "Guide", text), max_chars=400)
    assert chunks[0].heading == "" and chunks[0].embed_text.startswith("Guide\n")
    long = [c for c in chunks if c.heading == "Long section"]
    assert len(long) >= 3 and all(len(c.body) <= 400 for c in long)
    # Windows overlap by one paragraph: each window starts with the previous window's last paragraph.
    for a, b in zip(long, long[1:], strict=False):
        assert b.body.split("\n\n")[0] == a.body.split("\n\n")[-1]
    assert all(c.embed_text.startswith("Guide - Long section\n") for c in long)
    # The tiny section is merged, not dropped.
    assert any("Short." in c.body for c in chunks)
    meta = chunks[0].metadata()
    assert {"title", "url", "source_type", "updated_at", "content_hash", "doc_id"} <= set(meta)


def test_parse_front_matter_html_and_text(tmp_path):
    _kb(tmp_path / "kb")
    (tmp_path / "kb" / "note.txt").write_text("Opening hours\n\nWe answer from 9 to 5.", encoding="utf-8")
    docs = {d.doc_id: d for d in load_folder(tmp_path / "kb")}
    assert docs["shipping"].url == "https://kb.example/shipping" and docs["shipping"].title == "Shipping"
    assert docs["faq.html"].title == "Account FAQ" and "## Password" in docs["faq.html"].text
    assert docs["note.txt"].title == "Opening hours"
    demo = parse_file(Path("config/knowledge/returns/return-policy.md"), Path("config/knowledge"))
    assert demo.source_type == "policy" and demo.intents == ["return_refund"] and demo.updated_at


def test_collection_records_its_embedding_and_refuses_another(tmp_path):
    path = str(tmp_path / "c")
    store = KnowledgeStore(path=path)
    assert store.collection.metadata["embedding"].startswith("local:")
    ingest_documents(store, [Document("x", "X", "Some text about parcels.")], origin="t", progress=False)
    # Opened without an embedding function, chromadb rebuilds ours from its registered name:
    # never the stock (downloading) default.
    raw = make_client(path).get_collection("knowledge")
    assert raw.configuration["embedding_function"].name() == LOCAL_EF_NAME
    assert isinstance(raw.configuration["embedding_function"], LocalEmbeddingFunction)
    with pytest.raises(EmbeddingMismatch, match="embedding"):
        KnowledgeStore(path=path, embedding_function=OpenAIEmbeddingFunction(model="text-embedding-3-small",
                                                                             client=object()))
    # Reopening with the same embedding works and keeps the data.
    assert KnowledgeStore(path=path).count() == 1


def test_changing_the_local_model_refuses_the_old_store_until_rebuilt(tmp_path, monkeypatch):
    from app.__main__ import main
    from app.settings import reset_settings
    from knowledge import embedding as emb
    from knowledge.store import reset_store

    path = str(tmp_path / "c")
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text("# Refunds\n\nRefunds reach your card within 5 to 10 working days.\n", encoding="utf-8")
    before = emb.kb_model()
    try:
        emb.select_kb_model("all-MiniLM-L6-v2")
        ingest_folder(KnowledgeStore(path=path), kb, progress=False)
        emb.select_kb_model("multilingual-e5-small")
        with pytest.raises(EmbeddingMismatch, match="SIDECAR_KB_EMBEDDING_MODEL=all-MiniLM-L6-v2") as err:
            KnowledgeStore(path=path)
        assert "kb ingest --rebuild" in str(err.value)
        # A rebuild with a missing folder never drops the store.
        monkeypatch.setenv("CHROMA_PATH", path)
        monkeypatch.setenv("SIDECAR_KB_EMBEDDING_MODEL", "multilingual-e5-small")
        reset_settings()
        with pytest.raises(SystemExit):
            main(["kb", "ingest", "--rebuild", "--quiet", str(tmp_path / "nowhere")])
        with pytest.raises(EmbeddingMismatch):
            KnowledgeStore(path=path)
        assert main(["kb", "ingest", "--rebuild", "--quiet", str(kb)]) == 0
        store = KnowledgeStore(path=path)
        assert store.signature == "local:multilingual-e5-small-q4/passage" and store.count() == 1
        hits = search(store, "when is my money back on my card")
        assert hits and hits[0].id == "a.md"
    finally:
        reset_settings()
        reset_store()
        emb.select_kb_model(before)


def test_duplicate_document_ids_are_reported_not_merged(counting_store):
    store, _ = counting_store
    rep = ingest_documents(store, [Document("same", "First", "Gift cards last a year."),
                                   Document("same", "Second", "Passwords reset by email.")], origin="t", progress=False)
    assert rep.documents == 2 and rep.added == 1 and "duplicate document id 'same'" in rep.summary()
    assert store.collection.get(include=["metadatas"])["metadatas"][0]["title"] == "First"


def test_query_cleanup_drops_greeting_sign_off_and_order_numbers_only():
    from knowledge.retrieve import clean_query

    assert clean_query("Hello, my order #48213 shipped and tracking shows nothing. Thanks, Dana") == \
        "my order shipped and tracking shows nothing."
    assert clean_query("Bonjour, ma commande n° 4521 est en retard. Merci") == "ma commande est en retard."
    assert "55102" not in clean_query("I sent my return back. Order 55102. When do I get my refund??")
    # Words that only look like a greeting or a sign-off stay; nothing is ever emptied.
    assert clean_query("thanks for nothing, where is my refund?") == "thanks for nothing, where is my refund?"
    assert clean_query("Hi") == "Hi" and clean_query("#1234") == "#1234"
    assert clean_query("Which bag holds 20 liters?") == "Which bag holds 20 liters?"


def test_sentence_reranking_keeps_a_consistent_order(demo_store, monkeypatch):
    from knowledge import retrieve

    monkeypatch.setattr(retrieve, "RERANK", True)
    hits = retrieve.hybrid_hits(demo_store, "the reset email never arrives", threshold=0.0)
    assert hits[0].doc_id == "reset-password"
    assert [h.fused for h in hits] == sorted((h.fused for h in hits), reverse=True)
    monkeypatch.setattr(retrieve, "RERANK", False)
    assert retrieve.hybrid_hits(demo_store, "the reset email never arrives", threshold=0.0)[0].doc_id == "reset-password"


def test_a_past_ticket_found_by_its_question_brings_its_agent_answer(counting_store):
    from knowledge.tickets import ingest_ticket
    from pipeline.models import AGENT, CUSTOMER, Message, Person, Ticket

    store, _ = counting_store
    q = ("My parcel tracking has shown nothing at all since Monday morning and I am getting worried "
         "that the parcel is lost somewhere between your warehouse and my town.")
    a = "The carrier scans parcels at the first hub; tracking updates within 48 hours of dispatch."
    t = Ticket(platform="zendesk", id="77", subject="Tracking shows nothing", requester=Person(name="Kim Doe"),
               messages=[Message(id="1", author_role=CUSTOMER, body_text=q),
                         Message(id="2", author_role=AGENT, body_text=a)])
    assert ingest_ticket(t, store) == 2  # question and answer are separate sections
    hits = search(store, "tracking has shown nothing since Monday, is my parcel lost?", k=1, threshold=0.0)
    assert hits and hits[0].source_type == "ticket"
    assert "48 hours" in hits[0].text and "worried" not in hits[0].text
    assert hits[0].title.lower().endswith("agent answer")


def test_query_cleanup_is_linear_on_whitespace_floods():
    """Customer text is untrusted: "order" then a flood of whitespace once cost n² regex steps
    (minutes at 100k characters). The order number after the flood and its ':' still go."""
    from knowledge.retrieve import clean_query

    flood = " \t" * 50_000
    assert clean_query("where is my order" + flood + "please") == "where is my order please"
    assert clean_query("where is my order" + flood + ":" + flood + "A-48213 please") == "where is my order please"
    assert clean_query("ma commande numéro :   48213 est en retard") == "ma commande est en retard"


def _hits(*docs: str):
    from knowledge.retrieve import Hit

    return [Hit(chunk_id=f"{d}#{i}", doc_id=d, fused=1.0 - i / 10, cosine=0.6 - i / 100, body=f"section {i}",
                meta={"heading": f"H{i}", "title": d}) for i, d in enumerate(docs)]


def test_an_article_holding_every_top_hit_gets_a_third_section():
    from knowledge.retrieve import best_per_document

    # The first three hits are all one article's: retrieval knows the article, not which section answers.
    groups = best_per_document(_hits("loyalty", "loyalty", "loyalty", "gift-cards", "loyalty"), k=3, per_doc=2,
                               window=6)
    assert [[h.chunk_id for h in g] for g in groups] == [["loyalty#0", "loyalty#1", "loyalty#2"], ["gift-cards#3"]]
    # Another article among them: two sections each, as before.
    groups = best_per_document(_hits("loyalty", "gift-cards", "loyalty", "loyalty"), k=3, per_doc=2, window=6)
    assert [[h.chunk_id for h in g] for g in groups] == [["loyalty#0", "loyalty#2"], ["gift-cards#1"]]
    groups = best_per_document(_hits("loyalty", "loyalty", "gift-cards", "loyalty"), k=3, per_doc=2, window=6)
    assert [len(g) for g in groups] == [2, 1]


def test_a_copy_of_a_listed_document_gives_its_place_to_the_next_one():
    from knowledge.retrieve import best_per_document

    hits = _hits("keys-delete", "faq", "keys-purge", "billing", "faq")
    same = "After a key has been deleted, any data that is encrypted by the key becomes inaccessible."
    hits[0].body = same
    hits[1].body = same.replace("After", "after") + " "  # the FAQ page repeats the article's answer
    groups = best_per_document(hits, k=3, per_doc=1)
    # The copy is left out (its later sections too): the third distinct document gets the place.
    assert [g[0].doc_id for g in groups] == ["keys-delete", "keys-purge", "billing"]
    # A passage sharing only some of its words is another document's own.
    hits[1].body = "After a key has been deleted you can restore it within 30 days from the console."
    assert [g[0].doc_id for g in best_per_document(hits, k=3, per_doc=1)] == ["keys-delete", "faq", "keys-purge"]


def test_an_edited_section_keeps_its_unchanged_sentences_vectors(counting_store):
    """Re-ingesting an edited section embeds its chunk and its changed sentence only: the sentences it
    still has keep the vectors the store holds; the changed one gets its own, never the old text's.
    The BM25 index catches up with the one new chunk (incremental for both indexes)."""
    import numpy as np

    from knowledge import lexical, sentences

    store, counter = counting_store
    body = ("Returns are free within 30 days of delivery for every item. Pack the item in its original box with "
            "all the labels still on. Print the prepaid label from your account page and stick it on the box. "
            "Drop the parcel at any post office and keep the receipt until the refund arrives.")
    other = "Standard delivery takes three to five working days in the whole country. Express delivery takes one day."
    doc = Document(doc_id="returns", title="Returns", text=f"## How to return an item\n{body}\n\n## Delivery\n{other}")
    ingest_documents(store, [doc], origin="test")
    lexical.index_for(store)
    col = sentences.collection(store)
    before = col.get(include=["documents", "embeddings"])
    old = dict(zip(before["documents"], np.asarray(before["embeddings"]), strict=True))

    counter.texts.clear()
    edited = Document(doc_id="returns", title="Returns", text=doc.text.replace("within 30 days", "within 45 days"))
    rep = ingest_documents(store, [edited], origin="test")
    assert (rep.added, rep.deleted, rep.chunks) == (1, 1, 2)
    changed = "How to return an item: Returns are free within 45 days of delivery for every item."
    # The chunk's text and the one changed sentence: nothing else went through the model.
    assert [t for t in counter.texts if "\n" not in t] == [changed]
    after = col.get(include=["documents", "embeddings", "metadatas"])
    new = dict(zip(after["documents"], np.asarray(after["embeddings"]), strict=True))
    assert changed in new and changed.replace("45", "30") not in new and len(new) == len(old)
    for text, vec in new.items():
        if text != changed:
            assert np.array_equal(vec, old[text]), text
    fresh = np.asarray(store.embed_passages([changed])[0])
    assert np.allclose(new[changed], fresh, atol=1e-6)
    assert not np.allclose(new[changed], old[changed.replace("45", "30")], atol=1e-3)
    # Every row belongs to a stored chunk (the old chunk's rows went with it).
    assert {m["chunk_id"] for m in after["metadatas"]} == set(store.collection.get(include=[])["ids"])
    idx = lexical.index_for(store)
    assert idx.last_sync["tokenised"] == 1 and len(idx) == 2
    assert search(store, "how many days to return an item", k=1, threshold=0.0)[0].text.count("45 days")
