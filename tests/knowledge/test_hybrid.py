"""Hybrid retrieval: BM25 kept in step with the chroma collection, fused with the dense ranking."""

from __future__ import annotations

import pytest

from knowledge import lexical
from knowledge.chunking import Document
from knowledge.ingest import ingest_documents
from knowledge.retrieve import hybrid_hits, search
from knowledge.store import KnowledgeStore


def _doc(doc_id: str, title: str, text: str, **kw) -> Document:
    return Document(doc_id=doc_id, title=title, text=text, **kw)


DOCS = [
    _doc("idr", "Income-driven repayment", "## Recurring IDR Requesters\nIf you already have an income-driven plan, "
         "recertify your income every year with the annual form.\n\n## First request\nApply online for a plan."),
    _doc("lapse", "Insurance", "## Insurance lapse\nIf your coverage stops, surrender your plates before it "
         "lapses or your registration is suspended.\n\n## Proof of insurance\nBring your insurance card."),
    _doc("ship", "Shipping times", "## Delivery times\nParcels arrive in 2 to 4 working days in France."),
]


@pytest.fixture
def store(counting_store):
    s, _ = counting_store
    ingest_documents(s, DOCS, origin="test")
    return s


def test_tokenize_folds_accents_stems_and_drops_stop_words():
    assert lexical.tokenize("Réinitialiser les MOTS de passe") == lexical.tokenize("reinitialiser mots passe")
    assert lexical.tokenize("refunds refunded") == ["refund", "refund"]
    assert lexical.tokenize("the and of") == []
    assert len(lexical.tokenize("x " * 50000)) == 0  # single letters are not tokens; input is capped


def test_exact_terms_find_their_section(store):
    hits = hybrid_hits(store, "Recurring IDR Requesters", threshold=0.0)
    assert hits[0].doc_id == "idr" and hits[0].meta["heading"] == "Recurring IDR Requesters"
    assert search(store, "insurance lapse", k=1, threshold=0.0)[0].id == "lapse"


def test_lexical_only_candidates_keep_a_real_cosine(store):
    lex_only = hybrid_hits(store, "Recurring IDR Requesters", threshold=0.0, dense=False)
    assert lex_only and all(-1.0 <= h.cosine <= 1.0 for h in lex_only)
    # The relevance gate still applies to BM25 hits: an unrelated word match is not an answer.
    assert search(store, "requesters of pizza recipes for a birthday party", k=3) == []


def test_the_lexical_index_follows_ingest_incrementally(store):
    idx = lexical.index_for(store)
    assert len(idx) == store.count()
    ingest_documents(store, DOCS + [_doc("gift", "Gift cards", "## Balance\nCheck the TM26A voucher balance online.")],
                     origin="test")
    assert search(store, "TM26A", k=1, threshold=0.0)[0].id == "gift"
    idx = lexical.index_for(store)
    assert idx.last_sync["tokenised"] == 1  # only the new chunk was read back and tokenised
    ingest_documents(store, DOCS, origin="test")  # the gift card article is gone again
    assert all(h.doc_id != "gift" for h in hybrid_hits(store, "TM26A voucher", threshold=0.0))
    assert lexical.index_for(store).last_sync["tokenised"] == 0


def test_another_process_change_is_seen_after_the_refresh_interval(store, monkeypatch):
    lexical.index_for(store)
    other = KnowledgeStore(client=store.client, embedding_function=store.ef)  # same collection, other "process"
    ingest_documents(other, DOCS + [_doc("new", "New article", "## Xylophone\nXylophone repairs take a week.")],
                     origin="test")
    monkeypatch.setattr(lexical, "REFRESH_SECONDS", 0.0)
    assert any(h.doc_id == "new" for h in hybrid_hits(store, "xylophone", threshold=0.0, dense=False))


def test_another_process_change_is_synced_once_not_on_every_check(store, monkeypatch):
    # A store object that is never reopened (CHROMA_URL: the server is read live) keeps its own marker
    # after another process's write; compared with the polled one, every check rebuilt the whole index
    # (with the usual 5 s interval: twice per interval, for as long as the process ran).
    lexical.index_for(store)
    other = KnowledgeStore(client=store.client, embedding_function=store.ef)
    ingest_documents(other, DOCS + [_doc("new", "New article", "## Xylophone\nXylophone repairs take a week.")],
                     origin="test")
    monkeypatch.setattr(lexical, "REFRESH_SECONDS", 0.0)  # every call checks the shared marker
    syncs: list[object] = []
    real = lexical.LexicalIndex.sync
    monkeypatch.setattr(lexical.LexicalIndex, "sync", lambda self, *a: syncs.append(a[1]) or real(self, *a))
    for _ in range(5):
        assert any(h.doc_id == "new" for h in hybrid_hits(store, "xylophone", threshold=0.0, dense=False))
    assert len(syncs) == 1
    ingest_documents(store, DOCS, origin="test")  # this process's own write is seen at once, once
    assert not any(h.doc_id == "new" for h in hybrid_hits(store, "xylophone", threshold=0.0, dense=False))
    hybrid_hits(store, "xylophone", threshold=0.0, dense=False)
    assert len(syncs) == 2


def test_brand_and_language_filters_apply_to_both_sides(counting_store):
    s, _ = counting_store
    ingest_documents(s, [
        _doc("a", "Shipping A", "## Delivery\nBrand A parcels arrive in 2 days.", brand="a"),
        _doc("b", "Shipping B", "## Delivery\nBrand B parcels arrive in 5 days.", brand="b"),
        _doc("fr", "Livraison", "## Délais\nLes colis arrivent en 3 jours.", language="fr"),
    ], origin="test")
    assert {h.doc_id for h in hybrid_hits(s, "parcels arrive days", threshold=0.0, brand="a")} <= {"a", "fr"}
    strict = hybrid_hits(s, "colis arrivent jours", threshold=0.0, language="fr", strict_language=True)
    assert strict and {h.doc_id for h in strict} == {"fr"}


def test_two_sections_of_one_article_are_joined_with_their_headings(store):
    got = search(store, "I already have an income driven plan, do I apply online again or recertify?", k=1,
                 threshold=0.0)
    assert got[0].id == "idr"
    if "###" in got[0].text:  # both sections ranked high: the passage names both
        assert " / " in got[0].title and "### " in got[0].text


def test_a_retagged_article_moves_brand_and_language_on_the_lexical_side_too(counting_store):
    # Chunk ids are content-addressed and metadata is not part of them: re-tagging an article keeps
    # its ids. Before, BM25 kept the old brand/language (and title) until the process restarted, so
    # brand A's customers could still get brand B's re-tagged article from the lexical side.
    s, _ = counting_store
    doc = _doc("a", "Refund policy", "## Refunds\nWe refund the zyxquartz parcel within fourteen days.",
               brand="a", language="fr")
    ingest_documents(s, [doc], origin="test")
    assert [i for i, _ in lexical.index_for(s).search("zyxquartz", 5, brand="a")]
    ids = set(s.collection.get(include=[])["ids"])
    doc.brand, doc.language = "b", "de"
    ingest_documents(s, [doc], origin="test")
    assert set(s.collection.get(include=[])["ids"]) == ids  # same chunks, new metadata
    idx = lexical.index_for(s)
    assert idx.search("zyxquartz", 5, brand="a") == []
    assert [i for i, _ in idx.search("zyxquartz", 5, brand="b", language="de", strict_language=True)]
    assert idx.search("zyxquartz", 5, language="fr", strict_language=True) == []
    assert all(h.doc_id != "a" for h in hybrid_hits(s, "zyxquartz parcel", brand="a", threshold=0.0))


def test_a_term_in_the_title_outweighs_the_same_term_in_passing(counting_store, monkeypatch):
    # Sibling pages: the payment page mentions gift cards in passing, the gift card page is titled so.
    # Counted once, the shorter payment section won on BM25 for "gift card"; the title counts twice now.
    s, _ = counting_store
    ingest_documents(s, [
        _doc("pay", "Payment methods", "## Cards\nWe take Visa, Mastercard and gift cards at checkout."),
        _doc("gc", "Gift cards", "## Balance\nYour remaining balance is shown on the receipt we emailed you."),
    ], origin="test")
    doc_of = {cid: m["doc_id"] for cid, m in zip(*(lambda g: (g["ids"], g["metadatas"]))(
        s.collection.get(include=["metadatas"])), strict=True)}

    def ranked() -> list[tuple[str, float]]:
        return [(doc_of[cid], match) for cid, match in lexical.index_for(s).search("gift card", 2)]

    (first, m1), (_, m2) = ranked()
    assert first == "gc" and m1 > m2  # by BM25 itself, not a tie broken by the cosine
    assert hybrid_hits(s, "gift card", threshold=0.0, dense=False)[0].doc_id == "gc"
    monkeypatch.setattr(lexical, "FIELD_REPEAT", 1)
    lexical.reset_indexes()
    assert ranked()[0][0] == "pay"  # what it replaced


def test_rarity_compares_the_question_words_with_the_knowledge_base_s_typical_word(counting_store):
    s, _ = counting_store
    ingest_documents(s, [_doc(f"d{i}", f"Topic {i}", f"## Part {i}\nYour order {w} ships from our warehouse.")
                         for i, w in enumerate(["quickly", "slowly", "today", "with TM26A voucher", "abroad", "later"])],
                     origin="test")
    idx = lexical.index_for(s)
    rare, common = idx.rarity("TM26A voucher"), idx.rarity("order warehouse")  # in one section / in every one
    assert rare > 1.0 > common
    assert idx.rarity("zzqx blorf") == 1.0  # no known word: no opinion
    assert idx.rarity("TM26A voucher zzqx") == pytest.approx(rare)  # unknown words are left out


def test_bm25_weighs_more_when_the_question_s_words_are_rare(store, monkeypatch):
    from knowledge import retrieve

    seen: list[float] = []
    real = lexical.LexicalIndex.rarity
    monkeypatch.setattr(lexical.LexicalIndex, "rarity", lambda self, text: seen.append(real(self, text)) or seen[-1])
    exact = hybrid_hits(store, "Recurring IDR Requesters", threshold=0.0)[0]
    assert seen[-1] > 1.0
    monkeypatch.setattr(retrieve, "RARITY_WEIGHTING", False)
    flat = hybrid_hits(store, "Recurring IDR Requesters", threshold=0.0)[0]
    assert flat.chunk_id == exact.chunk_id and exact.fused > flat.fused  # BM25's share grew with the rarity


LIFT_QUESTION = "parcels arrive in France, surrender plates"  # delivery times first; the insurance section shares "plates"


def test_bm25_lifts_a_passage_under_the_cut_off_of_an_answered_message(store, monkeypatch):
    from knowledge import retrieve

    every = {h.doc_id: h for h in hybrid_hits(store, LIFT_QUESTION, threshold=-1.0)}
    ship, lapse = every["ship"], every["lapse"]
    assert lapse.cosine < lapse.fused  # BM25 adds to it
    cut = (lapse.cosine + lapse.fused) / 2  # a cut-off its cosine misses and its score clears
    assert ship.cosine >= cut and every["idr"].fused < cut
    got = {h.doc_id: h for h in hybrid_hits(store, LIFT_QUESTION, threshold=cut)}
    assert set(got) == {"ship", "lapse"}  # the unrelated section, which BM25 does not lift, stays out
    assert got["lapse"].cosine == pytest.approx(lapse.cosine)  # listed with its real (weak) cosine
    assert [s.id for s in search(store, LIFT_QUESTION, k=3, threshold=cut)] == ["ship", "lapse"]
    monkeypatch.setattr(retrieve, "BM25_LIFTS", False)
    assert [h.doc_id for h in hybrid_hits(store, LIFT_QUESTION, threshold=cut)] == ["ship"]


def test_bm25_never_answers_a_message_on_its_own(store):
    every = hybrid_hits(store, LIFT_QUESTION, threshold=-1.0)
    best_cosine, best_score = max(h.cosine for h in every), max(h.fused for h in every)
    assert best_cosine < best_score
    # No passage's cosine reaches the cut-off: nothing, though BM25 lifts a score over it.
    assert hybrid_hits(store, LIFT_QUESTION, threshold=(best_cosine + best_score) / 2) == []
    assert search(store, LIFT_QUESTION, k=3, threshold=(best_cosine + best_score) / 2) == []


@pytest.mark.parametrize("message", [
    "requesters of pizza recipes for a birthday party",
    "<b>pizza</b> recipes for <i>insurance lapse</i> party",  # markup around the knowledge base's words
    "recettes de pizza pour Recurring Requesters",  # another language
    "pizzа rеcipеs fоr insurаnce lаpse pаrty",  # Cyrillic look-alikes
    "my cat plates and parcels of pizza in France",
])
def test_whether_a_message_gets_a_passage_does_not_change_with_the_lift(store, monkeypatch, message):
    from knowledge import retrieve

    with_lift = hybrid_hits(store, message)
    monkeypatch.setattr(retrieve, "BM25_LIFTS", False)
    without = hybrid_hits(store, message)
    assert bool(with_lift) == bool(without)
    assert {h.chunk_id for h in without} <= {h.chunk_id for h in with_lift}
    # Each passage listed clears the cut-off by its cosine, or by its score when the message is answered.
    cut = retrieve.default_threshold()
    assert all(h.cosine >= cut or h.fused >= cut for h in with_lift)
