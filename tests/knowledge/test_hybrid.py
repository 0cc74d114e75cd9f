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


FAQ_SECTIONS = [
    ("Deleting keys", "A deleted key can be restored within 30 days from the console. After that the key is purged "
     "and any data that is encrypted by the key becomes inaccessible for good."),
    ("Rotating keys", "Rotate a root key every 90 days. Rotation creates a new version; older versions still decrypt "
     "data that was encrypted before the rotation."),
    ("Key states", "A key is active, suspended, deactivated or destroyed. Only active keys encrypt new data."),
    ("Dual authorization", "A second user must approve the deletion of a key within 7 days or the request expires."),
]


def _faq(doc_id: str, title: str, sections: list[tuple[str, str]]) -> Document:
    return _doc(doc_id, title, "\n\n".join(f"## {h}\n{b}" for h, b in sections))


def _faq_copy() -> Document:
    """The same FAQ page under another path, cut into sections differently (two of them share one heading),
    so that its best passage is not a copy of the first page's best passage: only the pages are copies."""
    (h1, b1), (_h2, b2), rest = FAQ_SECTIONS[0], FAQ_SECTIONS[1], FAQ_SECTIONS[2:]
    return _faq("docs-faqs", "FAQ", [(f"{h1} and rotating them", f"{b1} {b2}"), *rest])


QUESTION = "can a deleted key be restored and when is it purged"


@pytest.fixture
def faq_store(counting_store):
    s, _ = counting_store
    ingest_documents(s, [_faq("faqs", "FAQ", FAQ_SECTIONS), _faq_copy(),
                         _doc("purge", "Purging keys", "## Purge a deleted key\nA deleted key is purged after 30 days; "
                              "you can restore it from the console until then."),
                         _doc("restore", "Restoring keys", "## Restore a key\nRestore a deleted key from the console "
                              "within 30 days of its deletion.")], origin="test")
    return s


def test_a_copy_of_a_listed_page_gives_its_place_although_its_best_passage_differs(faq_store, monkeypatch):
    from knowledge import retrieve

    hits = hybrid_hits(faq_store, QUESTION, threshold=-1.0)
    best = {}
    for h in hits:
        best.setdefault(h.doc_id, h)
    words = [frozenset(best[d].body.lower().split()) for d in ("faqs", "docs-faqs")]
    assert len(words[0] & words[1]) < retrieve.NEAR_DUPLICATE * len(words[0] | words[1])  # passages: no copy
    got = [s.id for s in search(faq_store, QUESTION, k=4, threshold=-1.0)]
    assert len({"faqs", "docs-faqs"} & set(got)) == 1 and {"purge", "restore"} <= set(got) and len(got) == 3
    monkeypatch.setattr(retrieve, "PAGE_NEAR_DUPLICATE", None)  # the passage rule alone lists both copies
    assert {"faqs", "docs-faqs"} <= {s.id for s in search(faq_store, QUESTION, k=4, threshold=-1.0)}


@pytest.mark.parametrize("variant", ["translated", "lookalikes", "half"])
def test_pages_that_only_look_alike_both_stay(counting_store, variant):
    store, _ = counting_store
    if variant == "translated":  # the same FAQ in French: another page for another customer
        other = _faq("faqs-fr", "FAQ", [("Supprimer des clés", "Une clé supprimée peut être restaurée pendant 30 "
                                         "jours depuis la console. Ensuite elle est purgée et les données chiffrées "
                                         "par cette clé deviennent illisibles.")])
    elif variant == "lookalikes":  # Cyrillic look-alike letters: other BM25 terms, never taken for the page
        spoof = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e"})
        other = _faq("faqs-spoof", "FAQ", [(h, b.translate(spoof)) for h, b in FAQ_SECTIONS])
    else:  # a sibling page (another product's docs) sharing two of the four sections, its own about deletion
        other = _faq("faqs-2", "FAQ", [("Deleting secrets", "A deleted secret cannot be restored: it is purged at "
                                        "once, with its versions and their metadata."), *FAQ_SECTIONS[1:3]])
    ingest_documents(store, [_faq("faqs", "FAQ", FAQ_SECTIONS), other], origin="test")
    assert {s.id for s in search(store, QUESTION, k=3, threshold=-1.0)} == {"faqs", other.doc_id}


def test_a_page_naming_every_word_of_the_question_across_its_sections_gains(counting_store, monkeypatch):
    from knowledge import retrieve

    store, _ = counting_store
    ingest_documents(store, [
        _doc("cis", "Internet services", "## Custom domains\nAdd your custom domain in the console.\n\n"
             "## DNS records\nImport your existing DNS records from a zone file."),
        _doc("dns", "Domain names", "## Records\nA custom domain needs DNS records; your registrar keeps them."),
    ], origin="test")
    idx = lexical.index_for(store)
    cis, dns = lexical.page_key("cis", ""), lexical.page_key("dns", "")
    match = idx.page_match("import DNS records for a custom domain", {cis, dns})
    assert match[cis] > match[dns] > 0  # "import" is only on the page that spreads the words over two sections
    assert idx.page_match("import DNS records", {dns}).keys() == {dns}  # only the pages asked for
    with_pages = {h.chunk_id: h.fused for h in hybrid_hits(store, "import DNS records for a custom domain",
                                                          threshold=-1.0)}
    monkeypatch.setattr(retrieve, "PAGE_LEXICAL_WEIGHT", 0.0)
    without = {h.chunk_id: h.fused for h in hybrid_hits(store, "import DNS records for a custom domain",
                                                       threshold=-1.0)}
    assert with_pages.keys() == without.keys()
    gain = {c: with_pages[c] - without[c] for c in with_pages}
    assert all(g > 0 for g in gain.values())
    by_doc = {h.doc_id: gain[h.chunk_id] for h in hybrid_hits(store, "import DNS records for a custom domain",
                                                            threshold=-1.0)}
    assert by_doc["cis"] > by_doc["dns"]  # every section of the page gains the page's match, not its own


def test_a_page_copy_is_told_by_the_current_pages(faq_store):
    """Page terms follow ingest: once the second page is rewritten, it is no copy and is listed again."""
    got = {s.id for s in search(faq_store, QUESTION, k=4, threshold=-1.0)}
    assert len({"faqs", "docs-faqs"} & got) == 1
    rewritten = _faq("docs-faqs", "FAQ", [("Deleting keys", FAQ_SECTIONS[0][1] + " Plans: the Lite "
                                           "plan holds 20 keys, billed per version; regions and quotas differ.")])
    ingest_documents(faq_store, [_faq("faqs", "FAQ", FAQ_SECTIONS), rewritten,
                                 *[d for d in (_doc("purge", "Purging keys", "## Purge a deleted key\nA deleted key is "
                                                    "purged after 30 days; you can restore it from the console until "
                                                    "then."),
                                               _doc("restore", "Restoring keys", "## Restore a key\nRestore a deleted "
                                                    "key from the console within 30 days of its deletion."))]],
                     origin="test")
    idx = lexical.index_for(faq_store)
    page = idx.page_words(lexical.page_key("docs-faqs", ""))
    assert "plan" in page and "rotat" not in page
    assert {"faqs", "docs-faqs"} <= {s.id for s in search(faq_store, QUESTION, k=4, threshold=-1.0)}


def test_a_page_is_one_brand_s_document(counting_store):
    """Two brands' documents sharing an id are two pages: neither scores with, nor reads, the other's sections."""
    store, _ = counting_store
    ingest_documents(store, [_doc("faq", "FAQ", "## Deleting keys\nA deleted key is purged after 30 days.", brand="101")],
                     origin="brand-101")
    ingest_documents(store, [_doc("faq", "FAQ", "## Vouchers\nThe TM26A voucher balance is shown online.", brand="202")],
                     origin="brand-202")
    idx = lexical.index_for(store)
    own, other = lexical.page_key("faq", "101"), lexical.page_key("faq", "202")
    assert "tm26a" not in idx.page_words(own) and "tm26a" in idx.page_words(other)
    assert idx.page_match("TM26A voucher", {own, other}).keys() == {other}
    got = search(store, "TM26A voucher balance", k=3, brand="101", threshold=-1.0)
    assert [s.id for s in got] == ["faq"] and "TM26A" not in got[0].text
