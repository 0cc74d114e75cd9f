"""The knowledge base's multilingual index (knowledge.multilingual): customers writing in another
language than English get the English article that answers them, quoted in the draft, or the
article in their own language when the knowledge base has it; English keeps MiniLM's path; the
e5 rows follow their chunks through incremental ingest, backfill and rebuild."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import embedding as ke
from knowledge import multilingual
from knowledge.chunking import chunk_document, load_folder
from knowledge.ingest import delete_documents, ingest_folder
from knowledge.retrieve import search
from knowledge.store import KnowledgeStore, drop_collection
from pipeline.config import load_config
from pipeline.draft import retrieve, template_draft
from pipeline.models import Person, Plan, Ticket, Triage
from tests.knowledge.kbfixtures import demo_env, env_kb  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config")


def _draft(text: str, intent: str, language: str, cfg):
    triage = Triage(intent=intent, confidence=0.7, language=language)
    sources = retrieve(text, triage, cfg, env_kb())
    ticket = Ticket(platform="zendesk", id="7", subject="", requester=Person(name="Camille Roy"))
    return template_draft(ticket, text, triage, Plan(intent=intent, draft=True), sources, cfg, kb=env_kb())


def test_the_index_is_on_by_default_beside_minilm():
    assert ke.kb_model() == ke.MINILM_MODEL and ke.selected_model() == ke.E5_MODEL
    assert ke.kb_multilingual()


FR_TRACKING = "Bonjour, où est ma commande #4411 ? Elle est expédiée mais le numéro de suivi n'affiche rien depuis hier."


def test_a_french_message_about_an_english_only_article_quotes_it(cfg, demo_env):  # noqa: F811
    text = FR_TRACKING
    d = _draft(text, "order_status", "fr", cfg)
    # With MiniLM alone: the French reset-password and return-policy articles, never this one. With e5
    # they still came first (a second search in French put them ahead on their cosine). Which of the
    # two order_status articles (tracking, express delivery) leads is below e5's rounding: not asserted.
    assert d.used_source_ids and d.used_source_ids[0] not in ("return-policy-fr", "reset-password-fr"), \
        d.used_source_ids
    assert "track-your-order" in d.used_source_ids, d.used_source_ids
    assert "we send a shipping confirmation email with the tracking number" in d.text or \
        "tracking can take up to 24 hours to show the first scan" in d.text, d.text
    assert "#4411" in d.text


def test_a_german_message_about_an_english_only_article_quotes_it(cfg, demo_env):  # noqa: F811
    text = "Hallo, ich war beim Zustellversuch nicht zuhause. Versucht der Paketdienst es noch einmal?"
    d = _draft(text, "delivery_problem", "de", cfg)
    assert "missed-delivery" in d.used_source_ids, d.used_source_ids
    assert "Most carriers try again on the next working day" in d.text, d.text


def test_a_message_in_the_language_of_a_translated_article_quotes_the_translation(cfg, demo_env):  # noqa: F811
    text = "Hola, pagué el lunes y el número de seguimiento sigue sin mostrar nada. ¿Es normal?"
    d = _draft(text, "order_status", "es", cfg)
    assert d.used_source_ids and d.used_source_ids[0] == "track-your-order-es", d.used_source_ids
    assert "El seguimiento puede tardar hasta 24 horas" in d.text, d.text
    assert "track-your-order" not in d.used_source_ids  # not the English original beside it


def test_a_translation_never_answers_an_unrelated_question_in_its_language(cfg, demo_env):  # noqa: F811
    # e5 rates any French passage close to a French question: the four translated articles used to
    # answer every question in their language (CROSS_OWN_LANGUAGE_BIAS).
    text = "Bonjour, est-ce que je peux faire graver un prénom sur une gourde, et combien ça coûte ?"
    d = _draft(text, "product_question", "fr", cfg)
    assert d.used_source_ids and d.used_source_ids[0] == "engraving-personalisation", d.used_source_ids
    assert not {"reset-password-fr", "return-policy-fr"} & set(d.used_source_ids)


def test_the_intent_outweighs_an_article_on_another_topic_in_the_customers_language(demo_store):
    # e5 scores the tracking article (intent order_status) no higher than the French return policy for
    # this question, and BM25 matches French words in French articles only: the classifier's intent is
    # the topic evidence that holds in every language (CROSS_INTENT_BOOST).
    got = [s.id for s in search(demo_store, FR_TRACKING, language="fr", intent="order_status", k=10)]
    assert "track-your-order" in got[:2], got
    for off_topic in ("return-policy-fr", "reset-password-fr"):
        assert off_topic not in got or got.index(off_topic) > got.index("track-your-order"), got


def test_a_translation_outranks_its_english_original_in_one_search(demo_store):
    # Equally relevant (the same article in two languages): the customer's language comes first from
    # the search itself, with no second search in that language alone.
    got = [s.id for s in search(demo_store, "Hola, pagué el lunes y el número de seguimiento sigue sin mostrar nada.",
                                language="es", intent="order_status", k=5)]
    assert got and got[0] == "track-your-order-es", got
    assert "track-your-order" not in got[:1]


# A translated article in the customer's language on another topic than the question (knowledge.retrieve,
# CROSS_TRANSLATION_EDGE / CROSS_TRANSLATION_FLOOR): the flat own-language bias lifted the French reset-password
# article ("L'e-mail de réinitialisation n'arrive pas") over the tracking article for an order that has not
# arrived, and left the German refund-timing article under "Return rejected" for a refund that has not come.
FR_NOT_ARRIVED = "Bonjour, ma commande n'est toujours pas arrivée, le suivi ne bouge plus depuis 6 jours. Que faire ?"
DE_NO_REFUND = "Ich habe die Schuhe vor drei Wochen zurückgeschickt und immer noch kein Geld bekommen!!"
TRANSLATIONS = ("reset-password-fr", "return-policy-fr", "refund-timing-de", "track-your-order-es")


def _ids(store, text: str, language: str, intent: str, k: int = 5) -> list[str]:
    return [s.id for s in search(store, text, language=language, intent=intent, k=k)]


def test_a_translation_on_another_topic_does_not_outrank_the_answer(demo_store):
    got = _ids(demo_store, FR_NOT_ARRIVED, "fr", "order_status")
    assert got and got[0] == "track-your-order", got
    # It may stand in for its English original, in the original's place: never above it by more.
    assert got.index("reset-password-fr") > got.index("track-your-order"), got


@pytest.mark.parametrize(("language", "text"), [
    ("de", "Meine Bestellung ist immer noch nicht da, die Sendungsverfolgung bewegt sich seit 6 Tagen nicht."),
    ("fr", "Bonjour, ma commande n'est toujours pas arrivée et le suivi n'avance plus. Que dois-je faire ?"),
])
def test_a_translation_on_another_topic_does_not_lead_a_look_alike_question(demo_store, language, text):
    got = _ids(demo_store, text, language, "order_status")
    assert got and got[0] not in TRANSLATIONS, got
    assert "track-your-order" in got[:3], got


def test_a_translation_on_another_topic_whose_original_is_not_listed_goes_last(demo_store):
    # With a sign-off the French return policy came first and its English original was not among the
    # candidates at all: the original ranks below every listed passage, so the translation goes there too.
    got = _ids(demo_store, FR_NOT_ARRIVED + "\n\nCordialement,\nCamille", "fr", "order_status", k=10)
    assert got and "return-policy-fr" not in got[:3], got


def test_a_translation_on_the_questions_topic_comes_first(demo_store):
    # The German refund-timing article answers; e5's edge for German was smaller here than the bias takes
    # off, so it sat under the English "Return rejected" (and under its own original's cosine).
    got = _ids(demo_store, DE_NO_REFUND, "de", "return_refund")
    assert got and got[0] == "refund-timing-de", got
    assert "refund-timing" not in got[:1]


@pytest.mark.parametrize(("language", "intent", "text", "answer"), [
    # The translation is the answer, the triage intent agrees.
    ("es", "order_status", "Hola, mi pedido todavía no ha llegado y el seguimiento no se mueve desde hace 6 días. ¿Qué hago?",
     "track-your-order-es"),
    ("fr", "account_access", "le lien pour changer mon mot de passe n'arrive pas, j'ai regardé dans les spams",
     "reset-password-fr"),
    ("de", "return_refund", "Hab die Jacke vor 20 Tagen zurückgesendet, das Geld ist immer noch nicht auf meinem Konto.",
     "refund-timing-de"),
    # The translation is the answer and the triage intent is wrong: it keeps its original's place (first).
    ("de", "order_status", "wie lange dauert die erstattung auf paypal? hab gestern die bestätigung bekommen dass die "
     "rücksendung angekommen ist", "refund-timing-de"),
    ("fr", "change_order", "je voudrais échanger mes baskets contre une pointure au dessus, comment on fait svp",
     "return-policy-fr"),
])
def test_a_translation_that_answers_still_comes_first(demo_store, language, intent, text, answer):
    got = _ids(demo_store, text, language, intent)
    assert got and got[0] == answer, got
    assert answer.rsplit("-", 1)[0] not in got[:1]


@pytest.mark.parametrize(("language", "intent", "text"), [
    ("es", "return_refund", "Devolví las zapatillas hace tres semanas y todavía no me han devuelto el dinero!!"),
    ("it", "order_status", "Buongiorno, il mio ordine non è ancora arrivato, il tracciamento è fermo da 6 giorni. Cosa devo fare?"),
    ("it", "return_refund", "Ho rispedito le scarpe tre settimane fa e non ho ancora ricevuto i soldi!!"),
    ("nl", "order_status", "Hallo, mijn bestelling is nog steeds niet aangekomen, de track & trace staat al 6 dagen stil."),
    ("nl", "return_refund", "Ik heb de schoenen drie weken geleden teruggestuurd en nog steeds geen geld gekregen!!"),
    ("pt", "order_status", "Olá, a minha encomenda ainda não chegou e o seguimento está parado há 6 dias. O que faço?"),
    ("pt", "return_refund", "Devolvi os sapatos há três semanas e ainda não recebi o dinheiro!!"),
])
def test_the_two_messages_in_other_languages_get_no_translation_on_another_topic(demo_store, language, intent, text):
    # Spanish has only the tracking article translated (another topic than a refund); Italian, Dutch and
    # Portuguese have none: no translation in any language may answer them. (Which English article leads is
    # e5's cross-language ranking, not asserted here: "reset email does not arrive" reads close to "has not
    # arrived" in Portuguese too.)
    got = _ids(demo_store, text, language, intent)
    assert got and not set(got[:3]) & set(TRANSLATIONS), got
    if intent == "order_status":
        assert "track-your-order" in got[:3], got


def test_the_french_draft_for_an_order_that_has_not_arrived_quotes_tracking(cfg, demo_env):  # noqa: F811
    d = _draft(FR_NOT_ARRIVED, "order_status", "fr", cfg)
    assert d.used_source_ids and d.used_source_ids[0] == "track-your-order", d.used_source_ids
    assert "If tracking has not moved for more than 5 working days" in d.text, d.text
    # The tracking passage is quoted first; a reset-password passage, if listed at all, only after it.
    assert "Réinitialiser" not in d.text[:d.text.index("How to track your order")], d.text


def test_the_german_draft_for_a_refund_that_has_not_come_quotes_the_german_article(cfg, demo_env):  # noqa: F811
    d = _draft(DE_NO_REFUND, "return_refund", "de", cfg)
    assert d.used_source_ids and d.used_source_ids[0] == "refund-timing-de", d.used_source_ids


def test_a_translations_original_is_named_by_the_id_convention():
    from knowledge.retrieve import original_id

    assert original_id("reset-password-fr", "fr") == "reset-password"
    assert original_id("refund-timing-de", "de") == "refund-timing"
    assert original_id("reset-password-fr", "de") is None  # another language's suffix
    assert original_id("reset-password", "fr") is None
    assert original_id("-fr", "fr") is None and original_id("fr", "fr") is None
    assert original_id("zendesk:article:42", "fr") is None
    assert original_id("return-policy-fr", "") is None


def test_english_questions_never_read_the_multilingual_index(demo_store, monkeypatch):
    def boom():
        raise AssertionError("e5 used for an English question")

    monkeypatch.setattr(multilingual, "embedder", boom)
    got = search(demo_store, "my tracking number shows nothing since yesterday", language="en")
    assert got and got[0].id == "track-your-order"
    with pytest.raises(AssertionError):
        search(demo_store, "le numéro de suivi n'affiche rien depuis hier", language="fr")


def test_an_llm_translation_is_searched_as_english_under_the_customers_filter(cfg, demo_env, monkeypatch):  # noqa: F811
    import pipeline.draft as pd

    asked: list[str] = []
    real = multilingual.embedder

    class Spy:
        def embed(self, texts):
            asked.extend(texts)
            return real().embed(texts)

    monkeypatch.setattr(multilingual, "embedder", Spy)
    text = "Bonjour, est-ce que vous acceptez American Express ou seulement Visa ?"
    monkeypatch.setattr(pd, "search_text", lambda *a, **k: "Do you accept American Express or only Visa?")
    got = retrieve(text, Triage(intent="billing", confidence=0.9, language="fr"), cfg, env_kb())
    assert "payment-methods" in [s.id for s in got]
    assert not asked  # MiniLM's path, as before the multilingual index, for the translation and the original


def _write(folder: Path, doc_id: str, body: str, brand: str = "") -> None:
    front = f"---\nid: {doc_id}\ntitle: {doc_id}\n" + (f"brand: {brand}\n" if brand else "") + "---\n"
    (folder / f"{doc_id}.md").write_text(front + body, encoding="utf-8")


def _ingested(tmp_path: Path, doc_id: str, body: str) -> tuple[Path, KnowledgeStore]:
    """A docs folder holding one article, ingested into a store in ``tmp_path``."""
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, doc_id, body)
    store = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_folder(store, docs, progress=False)
    return docs, store


def _rows(store) -> dict[str, dict]:
    got = multilingual.collection(store, create=False).get(include=["metadatas"])
    return dict(zip(got["ids"], got["metadatas"], strict=True))


def test_the_e5_rows_follow_their_chunks_through_incremental_ingest(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "gift-wrap", "# Gift wrap\n\n## Wrapping\n\nTick Gift wrap at checkout for 3.50 EUR per order.\n")
    _write(docs, "pickup", "# Pickup\n\n## Lockers\n\nParcels stay 3 days in a locker before they come back to us.\n")
    store = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_folder(store, docs, progress=False)
    main = set(store.collection.get(include=[])["ids"])
    assert set(_rows(store)) == main and len(main) == 2

    _write(docs, "pickup", "# Pickup\n\n## Lockers\n\nParcels stay 5 days in a locker before they come back to us.\n")
    _write(docs, "gift-wrap", "# Gift wrap\n\n## Wrapping\n\nTick Gift wrap at checkout for 3.50 EUR per order.\n",
           brand="north")
    rep = ingest_folder(store, docs, progress=False)
    assert rep.added == 1 and rep.deleted == 1 and rep.metadata_updated == 1
    rows = _rows(store)
    assert set(rows) == set(store.collection.get(include=[])["ids"]) != main
    assert [m["brand"] for m in rows.values() if m["doc_id"] == "gift-wrap"] == ["north"]
    # A French question finds the edited passage, and the brand filter applies to the e5 side too.
    hits = search(store, "combien de jours le colis reste-t-il dans la consigne ?", language="fr", threshold=0.0)
    assert hits and hits[0].id == "pickup" and "5 days" in hits[0].text
    assert "gift-wrap" not in [s.id for s in search(store, "emballage cadeau", language="fr", brand="south",
                                                    threshold=0.0)]

    assert delete_documents(store, ["pickup"]) == 1
    assert [m["doc_id"] for m in _rows(store).values()] == ["gift-wrap"]


def test_a_store_from_before_the_index_is_backfilled_without_re_embedding_minilm(tmp_path, counting_store):
    store, counter = counting_store
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "a", "# A\n\n## One\n\nReturns from Switzerland are paid by the customer, keep the receipt.\n")
    ke.select_kb_multilingual(False)
    try:
        ingest_folder(store, docs, progress=False)
        assert multilingual.collection(store, create=False) is None
    finally:
        ke.select_kb_multilingual(None)
    before = len(counter.texts)
    rep = ingest_folder(store, docs, progress=False)
    assert rep.multilingual_backfilled == 1 and rep.added == 0 and len(counter.texts) == before
    assert set(_rows(store)) == set(store.collection.get(include=[])["ids"])
    assert ingest_folder(store, docs, progress=False).multilingual_backfilled == 0


def test_rebuild_drops_the_index_with_its_collection(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "a", "# A\n\n## One\n\nOrders to Norway pay local VAT and a clearance fee on delivery.\n")
    path = str(tmp_path / "chroma")
    ingest_folder(KnowledgeStore(path=path), docs, progress=False)
    assert drop_collection(path)
    store = KnowledgeStore(path=path)
    assert multilingual.collection(store, create=False) is None


def test_switched_off_no_e5_rows_and_other_languages_use_minilm(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "a", "# A\n\n## One\n\nOrders to Norway pay local VAT and a clearance fee on delivery.\n")
    ke.select_kb_multilingual(False)
    try:
        store = KnowledgeStore(path=str(tmp_path / "chroma"))
        ingest_folder(store, docs, progress=False)
        assert multilingual.collection(store, create=False) is None
        monkeypatch.setattr(multilingual, "embedder", lambda: pytest.fail("e5 used with the index off"))
        search(store, "frais de douane en Norvège", language="fr", threshold=0.0)
    finally:
        ke.select_kb_multilingual(None)


def test_deleted_documents_leave_an_index_of_another_e5_build_too(tmp_path, monkeypatch):
    # Such an index is not searched, but a deleted document (a past ticket erased on request) must
    # not stay on disk in it.
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "a", "# A\n\n## One\n\nOrders to Norway pay local VAT and a clearance fee on delivery.\n")
    _write(docs, "b", "# B\n\n## Two\n\nParcels stay 3 days in a locker before they come back to us.\n")
    path = str(tmp_path / "chroma")
    ingest_folder(KnowledgeStore(path=path), docs, progress=False)
    monkeypatch.setattr(multilingual, "SIGNATURE", "another-e5-build")
    store = KnowledgeStore(path=path)
    assert multilingual.collection(store, create=False) is None  # not searched
    assert delete_documents(store, ["a"]) == 1
    left = store.client.get_collection(f"{store.name}{multilingual.SUFFIX}").get(include=["metadatas"])["metadatas"]
    assert [m["doc_id"] for m in left] == ["b"]


def test_an_index_of_another_e5_build_is_replaced_and_refilled_by_the_next_ingest(tmp_path, monkeypatch):
    # Its vectors are not comparable (another graph: E5_GRAPH_VERSION): it was never searched, so
    # non-English questions fell back to MiniLM until `kb ingest --rebuild`. The next ingest replaces
    # it, with rows for every origin's chunks, once; the ingest after changes nothing.
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    _write(a, "norway", "# Norway\n\n## Fees\n\nOrders to Norway pay local VAT and a clearance fee on delivery.\n")
    _write(b, "lockers", "# Lockers\n\n## Days\n\nParcels stay 3 days in a locker before they come back to us.\n")
    path = str(tmp_path / "chroma")
    first = KnowledgeStore(path=path)
    ingest_folder(first, a, progress=False)
    ingest_folder(first, b, progress=False)
    before = _rows(first)
    monkeypatch.setattr(multilingual, "SIGNATURE", "the-next-e5-build")
    store = KnowledgeStore(path=path)
    assert multilingual.collection(store, create=False) is None  # not searched
    gen = store.current_generation()
    rep = ingest_folder(store, a, progress=False)
    assert rep.multilingual_backfilled == 2 and rep.added == 0
    assert store.current_generation() != gen
    col = multilingual.collection(store, create=False)
    assert col is not None and col.metadata["embedding"] == "the-next-e5-build"
    assert set(_rows(store)) == set(before) == set(store.collection.get(include=[])["ids"])
    assert search(store, "combien de jours le colis reste-t-il dans la consigne ?", language="fr",
                  threshold=0.0)[0].id == "lockers"
    again = KnowledgeStore(path=path)
    gen = again.current_generation()
    rep = ingest_folder(again, a, progress=False)
    assert rep.multilingual_backfilled == 0 and again.current_generation() == gen


class _Counting:
    """Delegates to a chromadb object and counts the calls of the named methods."""

    def __init__(self, inner, *names: str) -> None:
        self._inner, self._names, self.calls = inner, names, []

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name not in self._names:
            return attr

        def counted(*a, **k):
            self.calls.append(name if not a else f"{name}:{a[0]}")
            return attr(*a, **k)

        return counted


def test_whether_the_index_is_searchable_is_asked_once_per_store_change(tmp_path):
    # chromadb's count() on every non-English question cost 1-3 ms at 10k chunks (two per draft).
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "a", "# A\n\n## One\n\nOrders to Norway pay local VAT and a clearance fee on delivery.\n")
    store = KnowledgeStore(path=str(tmp_path / "chroma"))
    ingest_folder(store, docs, progress=False)
    spy = _Counting(multilingual.collection(store, create=False), "count")
    store._multilingual_collection = spy
    assert all(multilingual.searchable(store, lang) is spy for lang in ("fr", "de", "fr", "es"))
    assert spy.calls == ["count"]
    assert search(store, "frais de douane en Norvège", language="fr", threshold=0.0)
    assert spy.calls == ["count"]
    # An ingest through this process is seen at once: everything deleted, the index is empty.
    assert delete_documents(store, ["a"]) == 1
    assert multilingual.searchable(store, "fr") is None and spy.calls == ["count", "count"]


def test_an_index_of_another_e5_build_is_not_looked_up_on_every_question(tmp_path, monkeypatch, caplog):
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "a", "# A\n\n## One\n\nOrders to Norway pay local VAT and a clearance fee on delivery.\n")
    path = str(tmp_path / "chroma")
    ingest_folder(KnowledgeStore(path=path), docs, progress=False)
    monkeypatch.setattr(multilingual, "SIGNATURE", "another-e5-build")
    store = KnowledgeStore(path=path)
    store.client = spy = _Counting(store.client, "get_collection")
    for _ in range(3):
        assert search(store, "frais de douane en Norvège", language="fr", threshold=0.0)  # MiniLM's path
    assert spy.calls.count(f"get_collection:{store.name}{multilingual.SUFFIX}") == 1, spy.calls
    assert caplog.text.count("not used") == 1


def test_the_parts_of_a_message_in_another_language_are_not_embedded_with_minilm(cfg, demo_env, monkeypatch):  # noqa: F811
    # Its searches read e5's vectors (the multilingual index): MiniLM's were computed and thrown away.
    from knowledge.embedding import get_embedder
    from pipeline.draft import split_parts

    text = "Où est ma commande, le suivi n'affiche rien ? Et comment puis-je changer mon adresse de livraison ?"
    parts = split_parts(text)
    assert len(parts) == 2
    minilm = get_embedder()
    monkeypatch.setattr(minilm, "embed", lambda texts: pytest.fail(f"MiniLM embedded {texts}"))
    asked: list[list[str]] = []
    real = multilingual.embedder

    class Spy:
        def embed(self, texts):
            asked.append(list(texts))
            return real().embed(texts)

    monkeypatch.setattr(multilingual, "embedder", Spy)
    got = retrieve(text, Triage(intent="order_status", confidence=0.8, language="fr"), cfg, env_kb())
    assert "track-your-order" in [s.id for s in got]
    assert parts in asked  # in one run, which the searches of each part then read from e5's cache


@pytest.mark.parametrize("text", [
    "Bonjour, où est ma commande ? Le suivi n'affiche rien. Et comment puis-je changer mon adresse de livraison ?",
    "Bonjour, le colis est marqué expédié depuis hier soir mais sur le site du transporteur il n'y a rien du tout.",
])
def test_a_drafts_sentences_are_embedded_with_e5_in_one_run(text, cfg, demo_env, monkeypatch):  # noqa: F811
    # Passage by passage, each passage's sentences were a run of e5 of their own (~0.5 ms of CPU per
    # token either way, but each run pads to its longest and starts the model again).
    e5 = ke.get_multilingual_embedder()
    triage = Triage(intent="order_status", confidence=0.7, language="fr")
    sources = retrieve(text, triage, cfg, env_kb())
    with e5._cache_lock:
        e5._cache.clear()  # every sentence new to this process, as in a fresh worker
    runs: list[list[str]] = []
    real = e5._model.passage

    def spy(texts):
        runs.append(list(texts))
        return real(texts)

    monkeypatch.setattr(e5._model, "passage", spy)
    ticket = Ticket(platform="zendesk", id="7", subject="", requester=Person(name="Camille Roy"))
    d = template_draft(ticket, text, triage, Plan(intent="order_status", draft=True), sources, cfg, kb=env_kb())
    assert len(d.used_source_ids) > 1, d.used_source_ids  # what this test is about: several passages
    assert len(runs) == 1, [len(r) for r in runs]


def test_ingest_runs_e5_beside_minilm_and_stores_the_same_vectors(tmp_path, monkeypatch):
    """The multilingual index's e5 pass runs on a thread of its own while MiniLM embeds the same
    chunks (both passes wait for each other at a barrier: run one after the other, it breaks), and
    stores what e5 gives for those chunks alone."""
    import threading

    import numpy as np

    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "gift-wrap", "# Gift wrap\n\n## Wrapping\n\nTick Gift wrap at checkout for 3.50 EUR per order.\n")
    _write(docs, "pickup", "# Pickup\n\n## Lockers\n\nParcels stay 3 days in a locker before they come back to us.\n")
    store = KnowledgeStore(path=str(tmp_path / "chroma"))
    meet = threading.Barrier(2, timeout=60)  # a guard against a hang, not a timing
    threads: dict[str, int] = {}
    real_e5, real_minilm = multilingual.chunk_vectors, store.embed_passages

    def first_call_meets(name, real):
        def call(texts):
            if name not in threads:  # the chunks' pass (MiniLM's sentences come after it)
                threads[name] = threading.get_ident()
                meet.wait()
            return real(texts)
        return call

    e5_pass, minilm_pass = first_call_meets("e5", real_e5), first_call_meets("minilm", real_minilm)

    monkeypatch.setattr(multilingual, "chunk_vectors", e5_pass)
    monkeypatch.setattr(store, "embed_passages", minilm_pass)
    ingest_folder(store, docs, progress=False)
    assert threads["e5"] != threads["minilm"] and not meet.broken
    got = multilingual.collection(store, create=False).get(include=["embeddings", "metadatas"])
    texts = {c.content_hash: c.embed_text for d in load_folder(docs) for c in chunk_document(d)}
    want = real_e5([texts[m["content_hash"]] for m in got["metadatas"]])
    assert np.abs(np.asarray(got["embeddings"]) - want).max() < 1e-6


def test_an_ingest_that_fails_after_writing_marks_the_store_changed(tmp_path, monkeypatch):
    # MiniLM's rows (chunk, sentences) are written before e5's; when e5's step fails, other processes
    # must still reopen their view. Unmarked, they never saw those rows: a rerun finds the chunks stored
    # and only retries the failing e5 step, which fails again when e5 is missing or broken.
    docs, store = _ingested(tmp_path, "gift-wrap", "# Gift wrap\n\n## Wrapping\n\nTick Gift wrap at checkout for 3.50 EUR per order.\n")
    before = store.current_generation()
    _write(docs, "pickup", "# Pickup\n\n## Lockers\n\nParcels stay 3 days in a locker before they come back to us.\n")

    def broken(texts):
        raise RuntimeError("e5 unavailable")

    monkeypatch.setattr(multilingual, "chunk_vectors", broken)
    with pytest.raises(RuntimeError, match="e5 unavailable"):
        ingest_folder(store, docs, progress=False)
    assert "pickup" in {m["doc_id"] for m in store.collection.get(include=["metadatas"])["metadatas"]}
    assert store.current_generation() != before
    before = store.current_generation()
    with pytest.raises(RuntimeError, match="e5 unavailable"):  # the rerun: only e5's backfill is left, and fails
        ingest_folder(store, docs, progress=False)
    assert store.current_generation() != before


def test_a_deletion_that_fails_half_way_marks_the_store_changed(tmp_path, monkeypatch):
    # An erased document's chunks are gone from the main collection: other processes must stop serving them.
    _, store = _ingested(tmp_path, "pickup", "# Pickup\n\n## Lockers\n\nParcels stay 3 days in a locker before they come back to us.\n")
    before = store.current_generation()

    def broken(store, chunk_ids):
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(multilingual, "delete", broken)
    with pytest.raises(RuntimeError, match="index unavailable"):
        delete_documents(store, ["pickup"])
    assert store.collection.get(include=[])["ids"] == []
    assert store.current_generation() != before


def test_an_index_of_the_previous_e5_graph_is_searched_until_the_next_ingest_replaces_it(tmp_path, monkeypatch):
    # Graph 1 -> 2 moved e5's vectors by a cosine of 1e-4 at most: ignoring that index sent every
    # non-English question of an upgraded store to MiniLM until an operator ran an ingest.
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "lockers", "# Lockers\n\n## Days\n\nParcels stay 3 days in a locker before they come back to us.\n")
    path = str(tmp_path / "chroma")
    graph1 = f"{ke.E5_MODEL_ID}/passage+heading{multilingual.HEADING_SHARE}"  # what the index said before graph 2
    with monkeypatch.context() as m:
        m.setattr(multilingual, "SIGNATURE", graph1)
        ingest_folder(KnowledgeStore(path=path), docs, progress=False)
    store = KnowledgeStore(path=path)
    col = multilingual.searchable(store, "fr")
    assert col is not None and col.metadata["embedding"] == graph1
    assert search(store, "combien de jours le colis reste-t-il dans la consigne ?", language="fr",
                  threshold=0.0)[0].id == "lockers"
    # The next ingest through this same process (the old index cached by the search) still replaces it.
    rep = ingest_folder(store, docs, progress=False)
    assert rep.multilingual_backfilled == 1 and rep.added == 0
    col = multilingual.searchable(store, "fr")
    assert col is not None and col.metadata["embedding"] == multilingual.SIGNATURE
    assert col.count() == 1
