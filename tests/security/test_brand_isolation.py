"""Brand isolation: a ticket never gets another brand's article or past ticket, on any retrieval path.

The store holds two Zendesk brands' articles, a Freshdesk product with the *same number* as a Zendesk
brand, past tickets of each, and a Gorgias (brandless) past ticket. Every attack searches with a very
low threshold, so whatever the brand filter lets through comes back: the sets must be exact.
"""

from __future__ import annotations

import logging

import pytest

from knowledge import brands, lexical, multilingual
from knowledge.chunking import Document
from knowledge.ingest import ingest_documents
from knowledge.retrieve import Retriever, hybrid_hits, search
from knowledge.store import KnowledgeStore
from knowledge.tickets import ingest_ticket
from pipeline.models import AGENT, CUSTOMER, Message, Ticket, brand_scope

LOW = -10.0  # below any calibrated cosine: the brand filter alone decides what comes back
ARTICLES = [
    Document("north-warranty", "Zorblax kettle warranty", "## Warranty\nNorth replaces any Zorblax kettle within "
             "seven years, free of charge, with the Quillfeather receipt.", brand="101"),
    Document("south-warranty", "Vantrope blender warranty", "## Warranty\nSouth repairs every Vantrope blender for "
             "three years; keep the Brimbleton warranty card.", brand="202"),
    Document("shipping", "Shipping times", "## Delivery\nParcels arrive in two to four working days."),
]
UNBRANDED = {"shipping"}


def _past(platform: str, tid: str, brand: str | None, question: str, answer: str) -> Ticket:
    return Ticket(platform=platform, id=tid, subject=question[:40], brand=brand, messages=[
        Message(id="1", author_role=CUSTOMER, body_text=question),
        Message(id="2", author_role=AGENT, body_text=answer)])


PAST = [
    _past("zendesk", "11", "101", "My Zorblax kettle leaks from the lid, what now?",
          "We send a new Zorblax lid seal by post within five days, no need to return the kettle."),
    _past("freshdesk", "12", "101", "The Glimmerwick lamp flickers since yesterday.",
          "Reset the Glimmerwick lamp by holding its switch for ten seconds."),
    _past("gorgias", "13", None, "Can I pay my Snorkeldash order with a voucher?",
          "Snorkeldash vouchers are accepted at checkout in the payment step."),
]
ZENDESK_101_PAST = "ticket:zendesk:11"
FRESHDESK_101_PAST = "ticket:freshdesk:12"
GORGIAS_PAST = "ticket:gorgias:13"
EVERYTHING = {"north-warranty", "south-warranty", "shipping", ZENDESK_101_PAST, FRESHDESK_101_PAST, GORGIAS_PAST}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = KnowledgeStore(path=str(tmp_path_factory.mktemp("brands") / "chroma"))
    ingest_documents(s, ARTICLES, origin="test", progress=False)
    for t in PAST:
        ingest_ticket(t, s)
    return s


def _ids(store, text, brand, **kw) -> set[str]:
    return {h.id for h in search(store, text, k=20, brand=brand, threshold=LOW, **kw)}


QUESTIONS = [
    "my Zorblax kettle broke, is it under warranty?",  # only brand 101's article answers
    "Brimbleton warranty card lost, Vantrope blender repair?",  # only brand 202's
    "my kettle lid leaks",  # only the Zendesk brand 101 past ticket
    "Glimmerwick lamp flickering",  # only the Freshdesk product 101 past ticket
    "pay with a Snorkeldash voucher",  # only the Gorgias past ticket
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_brandless_ticket_gets_no_other_brand_s_article_or_past_ticket(store, text):
    # Gorgias never sends a brand: unbranded documents and Gorgias' own brandless past tickets only.
    assert _ids(store, text, brand_scope("gorgias", None)) == UNBRANDED | {GORGIAS_PAST}
    # Freshdesk without a product, or a caller that knows no platform: unbranded (and its platform's) only.
    assert _ids(store, text, brand_scope("freshdesk", "")) == UNBRANDED
    assert _ids(store, text, None) == UNBRANDED


@pytest.mark.parametrize("text", QUESTIONS)
def test_brand_ids_are_scoped_by_platform(store, text):
    # Zendesk brand 101 and Freshdesk product 101 share the front matter's bare "101" article, never each
    # other's past tickets; neither sees brand 202 or the Gorgias ticket.
    assert _ids(store, text, brand_scope("zendesk", "101")) == UNBRANDED | {"north-warranty", ZENDESK_101_PAST}
    assert _ids(store, text, brand_scope("freshdesk", "101")) == UNBRANDED | {"north-warranty", FRESHDESK_101_PAST}
    assert _ids(store, text, brand_scope("zendesk", "202")) == UNBRANDED | {"south-warranty"}


SEES = {  # what each scope may read, on any path
    brand_scope("gorgias", None): UNBRANDED | {GORGIAS_PAST},
    brand_scope("zendesk", "101"): UNBRANDED | {"north-warranty", ZENDESK_101_PAST},
    brand_scope("zendesk", "202"): UNBRANDED | {"south-warranty"},
}


def test_the_lexical_side_alone_keeps_the_brand_filter(store):
    # BM25 finds the rare words; its candidates must pass the same filter as the dense side's.
    for text, brand in [("Quillfeather Zorblax", brand_scope("gorgias", None)),
                        ("Brimbleton Vantrope", brand_scope("zendesk", "101")),
                        ("Glimmerwick", brand_scope("zendesk", "101")),
                        ("Snorkeldash voucher", brand_scope("zendesk", "202"))]:
        got = {h.doc_id for h in hybrid_hits(store, text, brand=brand, threshold=LOW, dense=False)}
        assert got <= SEES[brand], (text, got)
    idx = lexical.index_for(store)
    assert idx.search("Brimbleton Vantrope", 20) != []  # the words are in the index ...
    assert idx.search("Brimbleton Vantrope", 20, brands=brands.allowed(brand_scope("gorgias", None), idx.brands)) == []


def test_the_multilingual_index_keeps_the_brand_filter(store):
    assert multilingual.searchable(store, "fr") is not None  # the e5 path is the one searched here
    for text in ["ma bouilloire Zorblax est cassée, garantie ?", "le mixeur Vantrope ne marche plus",
                 "payer avec un bon Snorkeldash"]:
        assert _ids(store, text, brand_scope("gorgias", None), language="fr") == UNBRANDED | {GORGIAS_PAST}
        assert _ids(store, text, brand_scope("zendesk", "202"), language="fr") == UNBRANDED | {"south-warranty"}


@pytest.mark.parametrize("variant", ["１０１", "101\u200b", "1O1", "l01", "10", "1011", "101,202", "*", "101|202"])
def test_look_alike_and_partial_brand_ids_are_other_brands(store, variant):
    # Full-width digits, a zero-width space, a letter O or l for a digit, prefixes and lists: exact values only.
    got = _ids(store, "Zorblax kettle warranty lid Glimmerwick", brand_scope("zendesk", variant))
    assert got == UNBRANDED


@pytest.mark.parametrize("variant", [" 101", "101 ", "\t101\n"])
def test_surrounding_whitespace_is_not_part_of_a_brand_id(store, variant):
    got = _ids(store, "Zorblax kettle warranty", brand_scope("zendesk", variant))
    assert got == UNBRANDED | {"north-warranty", ZENDESK_101_PAST}


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_a_blank_brand_is_a_ticket_without_a_brand_not_a_wildcard(store, blank):
    assert _ids(store, "Zorblax kettle warranty", brand_scope("zendesk", blank)) == UNBRANDED
    assert _ids(store, "Zorblax kettle warranty", blank) == UNBRANDED


def test_case_variants_of_a_named_brand_are_other_brands(tmp_path):
    s = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_documents(s, [Document("acme", "Acme returns", "## Returns\nAcme takes returns for 60 days.", brand="acme"),
                         Document("globex", "Globex returns", "## Returns\nGlobex takes returns for 14 days.",
                                  brand="globex")], origin="test", progress=False)
    assert {h.id for h in search(s, "returns", k=5, brand="acme", threshold=LOW)} == {"acme"}
    for variant in ["ACME", "Acme", "аcme"]:  # the last with a Cyrillic а
        assert search(s, "returns", k=5, brand=variant, threshold=LOW) == []


@pytest.mark.parametrize("platform,brand", [("gorgias", None), ("freshdesk", None), ("zendesk", "202")])
def test_the_pipeline_searches_with_the_ticket_s_scope(store, platform, brand):
    # The whole decision: before, the flow passed the bare brand (None for Gorgias: no filter at all).
    from pipeline.config import load_config
    from pipeline.flow import Capabilities, decide_message
    from tests.conftest import ROOT

    cfg = load_config(ROOT / "config")
    ticket = Ticket(platform=platform, id="99", brand=brand, subject="Kettle", messages=[
        Message(id="m1", author_role=CUSTOMER, body_text="Is my Zorblax kettle still under warranty? The lid leaks "
                "and the Glimmerwick lamp flickers. Can I pay the repair with a Snorkeldash voucher?")])
    d = decide_message(ticket, "m1", cfg, platform, Capabilities(kb=Retriever(store, threshold=LOW)))
    assert d.plan.draft and d.sources  # it did search
    assert {s.id for s in d.sources} <= SEES.get(ticket.brand_scope, UNBRANDED)


def test_a_single_brand_knowledge_base_keeps_working_for_brandless_tickets(tmp_path):
    s = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_documents(s, [ARTICLES[0], ARTICLES[2]], origin="test", progress=False)
    ingest_ticket(PAST[0], s)  # stored as "zendesk:101": the same brand as the bare "101" article
    assert brands.single_brand(lexical.index_for(s).brands)
    got = {h.id for h in search(s, "Zorblax kettle warranty lid", k=10, brand=brand_scope("gorgias", None),
                                threshold=LOW)}
    assert got == {"north-warranty", "shipping", ZENDESK_101_PAST}


def test_a_brandless_search_on_several_brands_is_logged_once(store, caplog, monkeypatch):
    monkeypatch.setattr(brands, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="knowledge.brands"):
        _ids(store, "kettle", brand_scope("gorgias", None))
        _ids(store, "blender", brand_scope("gorgias", None))
    warned = [r for r in caplog.records if "several brands" in r.getMessage()]
    assert len(warned) == 1 and "101" in warned[0].getMessage()


def test_past_tickets_stored_before_scopes_are_re_tagged(tmp_path):
    # A store written by the previous version: a Gorgias past ticket as "" (every brand read it) and a
    # Freshdesk one under the bare product id (Zendesk brand 101 read it).
    s = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_documents(s, [ARTICLES[1], ARTICLES[2]], origin="test", progress=False)
    legacy = [Document(f"ticket:{p}:{i}", f"Resolved ticket: {q}", f"# {q}\n\n## Customer question\n{q}\n\n"
                       f"## Agent answer\n{a}", source_type="ticket", brand=b)
              for p, i, b, q, a in [("gorgias", "13", "", "Snorkeldash voucher?", "Vouchers work at checkout."),
                                    ("freshdesk", "12", "101", "Glimmerwick lamp flickers", "Hold the switch.")]]
    ingest_documents(s, legacy, origin="tickets", prune=False, progress=False)
    before = _ids(s, "Snorkeldash voucher Glimmerwick lamp", brand_scope("zendesk", "101"))
    assert {"ticket:gorgias:13", "ticket:freshdesk:12"} <= before  # the leak this fixes

    n = brands.scope_legacy_tickets(s)
    metas = s.collection.get(where={"source_type": "ticket"}, include=["metadatas"])["metadatas"]
    assert n == len(metas) > 0
    assert {m["brand"] for m in metas} == {"gorgias:", "freshdesk:101"}
    assert brands.scope_legacy_tickets(s) == 0  # idempotent
    for extra in ("sentences", "multilingual"):
        mod = __import__(f"knowledge.{extra}", fromlist=["collection"])
        col = mod.collection(s, create=False)
        if col is not None:
            rows = col.get(where={"source_type": "ticket"}, include=["metadatas"])["metadatas"]
            assert rows and {m["brand"] for m in rows} <= {"gorgias:", "freshdesk:101"}, extra
    assert _ids(s, "Snorkeldash voucher Glimmerwick lamp", brand_scope("zendesk", "101")) == UNBRANDED
    assert _ids(s, "Glimmerwick lamp", brand_scope("freshdesk", "101")) == UNBRANDED | {"ticket:freshdesk:12"}
    assert _ids(s, "Snorkeldash voucher", brand_scope("gorgias", None)) == UNBRANDED | {"ticket:gorgias:13"}
