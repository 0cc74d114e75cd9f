"""Retrieval: top passages for a customer message, one per document, above a relevance threshold.

Hybrid: the dense ranking (chroma, cosine on the local embeddings, :func:`knowledge.embedding.calibrate`d) and the lexical ranking (BM25,
:mod:`knowledge.lexical`) are fused with reciprocal rank fusion (each list contributes
``1 / (RRF_K + rank)``), so a passage that either side ranks high comes up, and one that both
rank high comes first. Dense finds paraphrases; BM25 finds the exact terms customers copy from
pages and emails.

Every candidate keeps its cosine similarity (computed from the stored embedding when only BM25
found it). When no candidate's cosine reaches ``threshold``, the message gets nothing, so an off-topic
message gets nothing and the drafter says it found nothing instead of grounding a reply on a weak
match; otherwise a candidate below it is dropped unless BM25's share lifts its score over it (``BM25_LIFTS``).
``brand`` and ``language`` filter every side (chunks, sentences, BM25, the multilingual index; documents
tagged with no brand / language match every one; which brands a ticket may read, also a ticket without a
brand, is :mod:`knowledge.brands`'s rule); ``intent`` is a soft preference: documents tagged with the
intent get a small boost, because a wrong classification must not hide the right article.

The query is cleaned first (:func:`clean_query`: greeting, sign-off, order numbers). A sentence-level
re-ranking stage (:func:`rerank`) exists but is off by default: it did not pay for its latency on
the evaluation sets (see ``MODEL_TUNING``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from knowledge import glossary, multilingual
from knowledge.brands import allowed as allowed_brands
from knowledge.embedding import CROSS_RELEVANCE_THRESHOLD, calibrate, calibrate_cross, relevance_threshold
from knowledge.nearest import nearest
from knowledge.query import clean_query, strip_closing
from knowledge.rows import generation as row_generation
from knowledge.rows import reader as row_reader
from knowledge.store import KnowledgeStore, get_store
from pipeline.models import Source

log = logging.getLogger(__name__)

DEFAULT_K = 3
BASE_LANGUAGE = "en"  # the knowledge base's main language: always acceptable as a fallback
# The embedding's own relevance cut-off (model-specific, knowledge.embedding), raised by the margin
# sentence scoring adds: eval_tune.yaml with MiniLM: on-topic best >= 0.37, off-topic mostly < 0.28.
SENTENCE_MARGIN = 0.05


def default_threshold() -> float:
    """The relevance cut-off for the selected embedding model (chosen at the process edge)."""
    return relevance_threshold() + SENTENCE_MARGIN

INTENT_BOOST = 0.0005  # in RRF units: about two rank places near the top
RRF_K = 60  # the usual constant (Cormack et al. 2009); flat enough that rank 1 vs 3 matters little
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
FUSION = "score"  # cosine + SCORE_LEXICAL_WEIGHT * BM25 match (0..1, see knowledge.lexical); or "rrf"
SCORE_LEXICAL_WEIGHT: float | None = None  # None: the knowledge base model's tuned value (MODEL_TUNING)
SCORE_INTENT_BOOST = 0.04  # cosine units; 0-0.06 equal on eval_tune.yaml drafts, 0.04 puts "where is my order" first
# BM25's share scaled by how rare the question's words are in this knowledge base (LexicalIndex.rarity: the
# mean IDF of its known words over that of a stored chunk's word; ~0.85-1.3 on the tuning splits): the exact,
# rare terms customers copy ("Recurring IDR Requesters", "insurance lapse") are where BM25 knows better than
# the embedding, everyday words ("send it back and get my money") are where it does not. A rule, not a
# fitted weight. With FIELD_REPEAT (knowledge.lexical), article recall@1 / @3 / MRR@10 (bench/retrieval_eval.py):
# tune 0.838/0.960/0.900 -> 0.838/0.960/0.901, tune2 0.749/0.910/0.837 -> 0.762/0.915/0.844, ml-tune
# 0.679/0.881/0.774 -> 0.687/0.881/0.778. Alone (without FIELD_REPEAT): tune MRR -1 label, tune2 0.758/0.910/0.841.
RARITY_WEIGHTING = True
SENTENCES = True  # score chunks by their best sentence too (knowledge.sentences)
SENTENCE_PENALTY: float | None = None  # short sentences match short questions easily (MODEL_TUNING)
# Per knowledge base model, tuned on eval_tune.yaml in calibrated units (knowledge.embedding.calibrate).
# MiniLM: lexical weight 0.15, 0.3, 0.5 tried (0.3 = 0.5 > 0.15); sentence penalty 0, 0.03, 0.05, 0.06.
# e5: its best BM25 share is much larger (0.05-0.25 raw cosine units tried, 0.2 best = 1.14 calibrated),
# Sentence-level re-ranking (:func:`rerank`): with MiniLM +3 points of recall@1 on eval_tune.yaml but
# -1.3 on eval_report.yaml, and +22 ms at the median at 10k chunks (bench/kb_bench.py): off. With e5
# it lost 3-16 points of recall@1 on eval_tune.yaml.
MODEL_TUNING: dict[str, dict[str, Any]] = {
    "all-MiniLM-L6-v2": {"SCORE_LEXICAL_WEIGHT": 0.3, "SENTENCE_PENALTY": 0.05, "RERANK": False},
    "multilingual-e5-small": {"SCORE_LEXICAL_WEIGHT": 1.14, "SENTENCE_PENALTY": 0.11, "RERANK": False},
    # bge (SIDECAR_KB_EMBEDDING_MODEL=bge), eval_tune / eval_tune2 (2026-11-30): sentence penalty 0 / 0.05
    # / 0.10 article recall@1 0.783 / 0.794 / 0.805 and 0.695 / 0.776 / 0.789 (recall@3 and drafts +-1
    # label from 0.05 on); lexical weight 0.15 / 0.5 and re-ranking no better on both.
    "bge-small-en-v1.5": {"SCORE_LEXICAL_WEIGHT": 0.3, "SENTENCE_PENALTY": 0.1, "RERANK": False},
}


def _knob(name: str) -> Any:
    """A module override when set (benches), else the knowledge base model's tuned value."""
    value = globals()[name]
    if value is not None:
        return value
    from knowledge.embedding import kb_model

    return MODEL_TUNING.get(kb_model(), MODEL_TUNING["all-MiniLM-L6-v2"])[name]


# Questions in another language than English, searched in e5's index (knowledge.multilingual), tuned
# on eval_ml_tune.yaml. BM25 reads the customer's words against mostly English articles: its share
# is small. e5 puts a passage in the question's own language ~0.03 cosine higher than an English one
# saying the same (0.24 calibrated): without this, the four translated articles answered every French,
# German and Spanish question.
CROSS_LEXICAL_WEIGHT = 0.3
CROSS_OWN_LANGUAGE_BIAS = 0.24
# The triage intent's boost for them (calibrated units; SCORE_INTENT_BOOST for English). e5's cosines
# across languages barely tell topics apart ("où est ma commande ... le suivi n'affiche rien": the
# tracking article 0.46, reset-password and the French return policy 0.49), and e5's edge for the
# customer's own language varies by passage (0.12-0.43 calibrated between a translated section and its
# original, p10-p90), so a translated article on another topic came first. The classifier's intent is
# topic evidence in every language alike. eval_ml_tune.yaml, 0.04 / 0.06 / 0.07 / 0.08 / 0.10: article
# recall@3 0.888 / 0.896 / 0.896 / 0.881 / 0.881, answer sentence in drafts 89 / 89 / 92 / 92 / 92 of 134
# (higher ones lose where the intent is wrong: a currency question triaged as a return).
CROSS_INTENT_BOOST = 0.07
# A translated article (its id is its original's plus "-<language>": reset-password-fr translates
# reset-password) says what its original says, so the original's standing in the same search is topic evidence
# the own-language bias cannot give: e5's edge for the customer's language varies by passage (0.12-0.43
# calibrated, above), so a flat CROSS_OWN_LANGUAGE_BIAS lifted a translation on another topic over the answer
# (a French "ma commande n'est toujours pas arrivée, le suivi ne bouge plus", triaged order_status: the French
# reset-password article 0.78 over the English tracking one 0.76) and sank one on the right topic ("Schuhe
# zurückgeschickt und immer noch kein Geld": the German refund-timing article 0.67 under "Return rejected"
# 0.69). So (tests/knowledge/test_multilingual.py):
# - the article's intents tag disagrees with the triage intent: the translation's score is held at its
#   original's (+ CROSS_TRANSLATION_EDGE): it may stand in for its original, in its place, not rank above
#   what outranks the original; an original not listed at all ranks below every listed passage, and so does
#   the translation then (CROSS_TRANSLATION_UNLISTED; with a sign-off the French return policy led the
#   French message above, its original not among the candidates);
# - otherwise (it agrees, or either is unknown) and the original is among the candidates: the translation's
#   cosine moves CROSS_TRANSLATION_FLOOR of the way up to its original's best cosine when that is higher (the
#   bias took more than e5's edge gave).
# eval_ml_tune.yaml: article recall@1 / @3 / MRR@10 and drafts identical with the floor's share anywhere in
# 0-0.85 (1.0: 0.746 / 0.903 / 0.816: "Kreditkarte in Schweizer Franken" got the German refund article
# first); the lead's German message needs >= 0.27. The cap alone, and with it the floor: unchanged (the cap
# with an edge of 0 too: ties go to the higher cosine, the translation's). None / 0: off.
CROSS_TRANSLATION_FLOOR: float | None = 0.5
CROSS_TRANSLATION_EDGE: float | None = 0.001  # None: no cap
CROSS_TRANSLATION_UNLISTED = True

# The relevance cut-off for them (calibrated; English questions: default_threshold(), 0.30). On
# eval_ml_tune.yaml 0.30 / 0.25 / 0.20: article recall@3 0.851 / 0.866 / 0.881, messages with a passage
# 123 / 126 / 127 of 127, off-topic messages with none 9 / 9 / 9 of 12.
CROSS_THRESHOLD: float | None = CROSS_RELEVANCE_THRESHOLD  # 0.2
# English terms for their BM25 side from a hand-written support glossary (knowledge.glossary: "remboursement" ->
# refund; switched off with SIDECAR_KB_GLOSSARY=0: knowledge.glossary.select), and BM25's share when it
# added some (CROSS_LEXICAL_WEIGHT otherwise: the customer's own words against English articles say little).
# eval_ml_tune.yaml (122 of 127 messages get terms, 2.3 on average), article recall@1 / @3 / MRR@10, section
# recall@3, drafts of 134: off 0.687 / 0.881 / 0.778, 0.843, 98; on with weight 0.3 / 0.8 / 1.14 / 1.5 / 2.0:
# 0.687 / 0.910 / 0.786, 0.866, 97; 0.709 / 0.910 / 0.803, 0.873, 102; 0.739 / 0.910 / 0.820,
# 0.881, 102; 0.754 / 0.918 / 0.828, 0.888, 102; 0.769 / 0.918 / 0.836, 0.888, 100. Off-topic messages with no
# passage 9 / 12 in every run; BM25 weight 0.8 without the glossary: 0.679 / 0.881 / 0.774, 97 (no gain).
CROSS_GLOSSARY_LEXICAL_WEIGHT: float | None = 1.0  # None: CROSS_LEXICAL_WEIGHT; 1.5 with CROSS_GLOSSARY_UNKNOWN_SHARE 1
# How much the customer's words that no chunk holds count in BM25's ideal match (LexicalIndex.search's unknown_share)
# when glossary terms were added: each Dutch or Italian word no English chunk has counted as the rarest word missing,
# so the more the customer wrote, the less the English terms weighed ("Ik wil mijn abonnement opzeggen, hoe doe ik
# dat?" -> "subscription cancel", match 0.08: "Who can open one" of business accounts over "Cancel a subscription").
# Seventeenth session, eval_ml_tune.yaml, article recall@1 / @3 / MRR@10, section recall@3, drafts of 134; share 1
# with weight 1.5 (before): 0.754 / 0.918 / 0.825, 0.888, 100. Share 0 (known words only) with weight 0.2 / 0.3 /
# 0.4 / 0.5 / 0.75 / 1.0 / 1.5: 0.724 / 0.918 / 0.811, 0.888, 97; 0.754 / 0.933 / 0.835, 0.903, 100; 0.784 / 0.933
# / 0.852, 0.903, 102; 0.769 / 0.933 / 0.845, 0.903, 102; 0.754 / 0.925 / 0.832, 0.896, 103; 0.739 / 0.925 / 0.821,
# 0.888, 102; 0.716 / 0.903 / 0.800, 0.843, 98; but at 0.5 it lost three messages the tests guard (French and German,
# whose words the translated articles know: BM25 weighed less for them). Share 0.5 with weight 0.75 / 1.0 / 1.25:
# 0.761 / 0.933 / 0.837, 0.903, 100; 0.776 / 0.933 / 0.848, 0.903, 102; 0.776 / 0.925 / 0.846, 0.896, 101; share 0.7
# with weight 1.0 / 1.25: 0.754 / 0.910 / 0.825, 0.881, 99; 0.776 / 0.933 / 0.845, 0.903, 100. Off-topic messages
# with no passage 9 / 12 in every run.
CROSS_GLOSSARY_UNKNOWN_SHARE = 0.5

# The relevance cut-off decides whether the knowledge base answers a message at all (some passage's cosine
# clears it), not which passages of an answered message are listed: there, a passage under the cut-off is kept
# when BM25's share lifts its score over it (the exact rare words the embedding does not weigh: "What is the
# field of expertise of Cohasset Associates?" -> the page naming them, cosine 0.27; "How does version 6.15.0
# differ from 6.14.0?" -> the CLI release notes, 0.22). A message no passage's cosine reaches still gets
# nothing whatever BM25 says (off-topic messages sharing a word with an article). MTRAG cloud
# (bench/helpcentre_eval.py --domain cloud) document recall@1 / @3 / MRR@10 0.617 / 0.814 / 0.718 -> 0.617 /
# 0.824 / 0.721 (2 questions better, none worse); eval_tune / eval_tune2 / eval_ml_tune unchanged, drafts
# included, off-topic counts unchanged (unchanged by construction: who gets a passage is the same).
BM25_LIFTS = True

CANDIDATES = 30  # chunks taken from each ranking before fusion
SECTIONS_PER_DOC = 2  # a document's passage may join its two best sections (see best_per_document)
SECTION_WINDOW = 6  # ... when the second one ranks this high among all sections
# ... and a third one when the first three hits are all sections of that one article: eval_tune.yaml
# (277 labels) 249 -> 251 answers in the drafts (no answer lost; 17 drafts changed), draft length
# median 558 -> 579, mean 580 -> 585 characters; answering section recall@3 0.917 -> 0.931.
ONE_ARTICLE_EXTRA = True
# A document whose best passage says what a listed document's first passage says (the same words: Jaccard of
# their lower-cased word sets >= this) is left out of the list, so the next document takes its place. Help
# centres copy pages (a product's docs under two paths, a FAQ page repeating an article's answer); the
# drafter and the agent gain nothing from the same passage twice. MTRAG cloud (bench/helpcentre_eval.py
# --domain cloud, 188 questions) document recall@3 0.782 -> 0.814, MRR@10 0.711 -> 0.718 (12 questions
# better, none worse; exact copies only (1.0): 0.809; 0.6: 0.819; leaving out only the passage, not the
# document: 0.803); eval_tune / eval_tune2 unchanged (no copies there). None: off.
NEAR_DUPLICATE: float | None = 0.8
# The same test on whole pages (the distinct BM25 terms of all their chunks, knowledge.lexical.page_words): a copy
# of a page whose best passage differs from the listed copy's (the FAQ hub published under two paths, the entry
# matched in one not the one matched in the other; a copy cut into sections differently) gives its place too.
# MTRAG cloud 0.612 / 0.819 / 0.718 -> 0.612 / 0.824 / 0.720 (9 questions better, none worse; 0.7 the same, 0.9
# nothing); eval_tune / tune2 / ml-tune unchanged (no copies there). Translations, look-alike spellings and sibling
# pages sharing half their sections are no copies (tests/knowledge/test_hybrid.py). None: off.
PAGE_NEAR_DUPLICATE: float | None = 0.8
# A page-level BM25 match (knowledge.lexical.page_match: the question against the whole page, title and every
# section) added to each of the page's chunks, as this share of the chunk-level BM25 weight (rarity included): a
# chunk is one section, and the page that names the question's words across its sections ("custom domain" in one,
# "import DNS records" in another, "CIS" in the title) says more than the one section. Article recall@1 / @3 /
# MRR@10 (bench/retrieval_eval.py; MTRAG bench/helpcentre_eval.py --domain cloud), 0 -> 0.25: cloud 0.612 / 0.819 /
# 0.718 -> 0.617 / 0.830 / 0.724 (8 better, 1 worse), tune 0.838 / 0.960 / 0.901 -> 0.845 / 0.964 / 0.904, tune2
# 0.762 / 0.915 / 0.844 -> 0.771 / 0.910 / 0.848; drafts 256 / 190 -> 256 / 191. Not for questions searched in the
# multilingual index (see hybrid_hits; eval_ml_tune.yaml unchanged).
# 0.15 / 0.35 / 0.5 / 1.0: cloud r@3 0.824 / 0.819 / 0.819 / 0.830, tune MRR 0.901 / 0.907 / 0.910, tune2 r@3
# 0.910 / 0.910 / 0.910. 0: off.
PAGE_LEXICAL_WEIGHT = 0.25


@dataclass
class Hit:
    """One fused candidate chunk (internal to retrieval and the benches)."""

    chunk_id: str
    doc_id: str
    fused: float
    cosine: float
    body: str
    meta: dict[str, Any]
    page: frozenset[str] | None = None  # the whole page's BM25 terms (PAGE_NEAR_DUPLICATE), when known

    def source(self) -> Source:
        heading = str(self.meta.get("heading") or "")
        return Source(
            id=self.doc_id,
            title=str(self.meta.get("title") or self.doc_id) + (f" - {heading}" if heading else ""),
            url=str(self.meta["url"]) if self.meta.get("url") else None,
            score=round(min(max(self.cosine, 0.0), 1.0), 4),  # calibrated e5 scores may leave 0..1
            text=self.body or "",
            source_type=str(self.meta.get("source_type") or "article"),
            language=str(self.meta.get("language") or ""),
        )


CLEAN_QUERY: bool = True


def _where(brands: frozenset[str] | None, language: str | None, strict_language: bool = False) -> dict[str, Any] | None:
    conds: list[dict[str, Any]] = []
    if brands is not None:
        conds.append({"brand": {"$in": sorted(brands)}})
    if language:
        # Not strict: the language's articles, untagged ones and the base language's (English).
        conds.append({"language": language} if strict_language
                     else {"language": {"$in": sorted({language, "", BASE_LANGUAGE})}})
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else {"$and": conds}


def hybrid_hits(store: KnowledgeStore, text: str, *, intent: str | None = None, brand: str | None = None,
                language: str | None = None, strict_language: bool = False, threshold: float | None = None,
                embedding: Any = None, candidates: int = CANDIDATES, lexical: bool = True,
                dense: bool = True, query_language: str | None = None) -> list[Hit]:
    """Fused chunk candidates above ``threshold``, best first (several chunks per document possible).

    ``query_language``: the language ``text`` is in when it is not the customer's ``language`` (an
    LLM's English translation is searched with MiniLM, under the customer's language filter).
    """
    text = raw = (text or "").strip()
    if CLEAN_QUERY:
        # The closing ("Grazie mille, saluti,\nMarco", "Cumprimentos,\nAna Silva") off the message e5 reads too.
        raw = strip_closing(raw)
        text = clean_query(raw)
    if not text:
        return []
    from knowledge.lexical import index_for

    lex_index = None
    if lexical:
        lex_index = index_for(store)  # follows the collection: empty only when the store is
        if len(lex_index) == 0:
            return []
    # The same brand values on every side; the brands the store holds matter only to a ticket without one.
    held: frozenset[str] = frozenset()

    def stored_brands() -> frozenset[str]:
        nonlocal held
        held = (lex_index or index_for(store)).brands
        return held

    brands = allowed_brands(brand, stored_brands)
    # What a candidate's brand may be, checked on every hit whichever side found it. With one brand at most
    # the searches are unfiltered, and "everything" means what the BM25 snapshot the decision was made on
    # holds: the dense side reads the collection live, so a second brand another process is ingesting (a
    # chroma server shows its chunks at once; the change marker moves at the end of the ingest, and other
    # processes look at it every REFRESH_SECONDS) would otherwise reach a ticket without a brand before
    # this process knows the store holds several.
    readable = brands if brands is not None else held | {""}
    where = _where(brands, language, strict_language)
    fused: dict[str, float] = {}
    info: dict[str, tuple[float, str, dict[str, Any]]] = {}
    col = store.collection
    cal, lex_weight, own_bias = calibrate, _knob("SCORE_LEXICAL_WEIGHT"), 0.0
    cross = multilingual.searchable(store, query_language or language) if dense else None
    if cross is not None:
        # Another language than English: the dense side is e5's index (knowledge.multilingual). The
        # vector given is the main model's, so the question is embedded again (e5 caches it). The message
        # with its greeting and order numbers, as triage embedded it (a cache hit; the cleaned one read
        # eval_ml_tune.yaml identically on 2026-12-02, +-1 label before), but not its closing: e5 read "Cordialement,\nCamille" or "Obrigada desde já.
        # Cumprimentos, Ana Silva" into the question and ranked "The reset email does not arrive" first
        # (tests/knowledge/test_query_closings.py). A message with a closing costs one e5 run more (~8 ms of CPU).
        col, cal, lex_weight, own_bias = cross, calibrate_cross, CROSS_LEXICAL_WEIGHT, CROSS_OWN_LANGUAGE_BIAS
        vec = np.asarray(multilingual.embedder().embed([raw])[0], dtype=np.float32)
    else:
        vec = np.asarray(embedding if embedding is not None else store.embed([text])[0], dtype=np.float32)
    if threshold is None:
        threshold = CROSS_THRESHOLD if cross is not None and CROSS_THRESHOLD is not None else default_threshold()
    lang = (language or "").split("-")[0].lower()

    def cosine(c: float, meta: dict[str, Any]) -> float:
        # e5 rates a passage in the question's own language higher whatever it says (see CROSS_OWN_LANGUAGE_BIAS).
        return float(cal(c)) - (own_bias if own_bias and str(meta.get("language") or "") == lang else 0.0)

    # The rows' text and metadata, read through a cache kept per value of the store's change marker (knowledge.rows).
    marker = row_generation(store)
    rows = row_reader(store, col, marker)
    if dense:
        res = nearest(col, vec.tolist(), candidates, where, ["documents", "metadatas", "distances"],
                      reader=rows if rows.cached else None)  # uncached: chromadb's query reads them at once
        for rank, (cid, body, meta, dist) in enumerate(zip(res["ids"][0], res["documents"][0], res["metadatas"][0],
                                                           res["distances"][0], strict=True)):
            fused[cid] = fused.get(cid, 0.0) + DENSE_WEIGHT / (RRF_K + rank + 1)
            info[cid] = (cosine(1.0 - float(dist), meta or {}), body or "", meta or {})
    sent: dict[str, float] = {}
    if dense and SENTENCES and cross is None:  # the stored sentence vectors are MiniLM's
        from knowledge import sentences

        penalty = _knob("SENTENCE_PENALTY")
        sent = {c: float(calibrate(cos)) - penalty
                for c, cos in sentences.query(store, vec.tolist(), candidates, where, marker).items()}
        for cid, cos in sent.items():
            if cid in info:  # the chunk's dense score is the better of its own and its best sentence's
                info[cid] = (max(info[cid][0], cos), info[cid][1], info[cid][2])
    lex_norm: dict[str, float] = {}
    # Another language than English: BM25 also reads the English terms the support glossary gives its words
    # (knowledge.glossary, which knows whether it is on); the dense side keeps the question as written.
    lex_text = glossary.expand(text, query_language or language) if cross is not None else text
    if lex_text != text and CROSS_GLOSSARY_LEXICAL_WEIGHT is not None:
        lex_weight = CROSS_GLOSSARY_LEXICAL_WEIGHT
    if lex_index is not None and RARITY_WEIGHTING:
        lex_weight *= lex_index.rarity(lex_text)
    if lex_index is not None:
        lex = lex_index.search(lex_text, candidates, brands=brands, language=language, strict_language=strict_language,
                               unknown_share=CROSS_GLOSSARY_UNKNOWN_SHARE if lex_text != text else 1.0)
        for rank, (cid, match) in enumerate(lex):
            fused[cid] = fused.get(cid, 0.0) + LEXICAL_WEIGHT / (RRF_K + rank + 1)
            lex_norm[cid] = match
    missing = [cid for cid in list(lex_norm) + list(sent) if cid not in info]
    if missing:  # found by BM25 or a sentence only: the chunk's cosine comes from its stored embedding
        vec_norm = np.linalg.norm(vec)
        for cid, row in rows.read(missing, ["documents", "metadatas", "embeddings"]).items():
            e = row["embeddings"]
            meta = row["metadatas"] or {}
            cos = cosine(float(e @ vec / (np.linalg.norm(e) * vec_norm + 1e-12)), meta) if e is not None else 0.0
            info[cid] = (max(cos, sent.get(cid, -1.0)), row["documents"] or "", meta)
    for cid in sent:  # chunks found by a sentence only are candidates too
        fused.setdefault(cid, 0.0)
    if cross is not None and own_bias and CROSS_TRANSLATION_FLOOR:  # a translation's cosine, by its original's
        _floor_translations(info, lang, intent)
    # The message is answered at all only when some passage it may read has a cosine clearing the cut-off
    # (see BM25_LIFTS): another brand's passage must not decide it either.
    answered = BM25_LIFTS and FUSION == "score" and any(
        info[c][0] >= threshold and str(info[c][2].get("brand") or "") in readable for c in fused if c in info)
    hits = []
    for cid, score in fused.items():
        if cid not in info:  # deleted between the two lookups
            continue
        cos, body, meta = info[cid]
        if (cos < threshold and not answered) or str(meta.get("brand") or "") not in readable:
            continue
        if FUSION == "score":  # tried against RRF on the tuning split (bench/retrieval_eval.py --fusion)
            score = (cos if dense else 0.0) + lex_weight * lex_norm.get(cid, 0.0)
            if cos < threshold and score < threshold:  # BM25 did not lift it over the cut-off
                continue
        if intent and f",{intent}," in str(meta.get("intents") or ""):
            score += INTENT_BOOST if FUSION == "rrf" else (CROSS_INTENT_BOOST if cross is not None
                                                           else SCORE_INTENT_BOOST)
        hits.append(Hit(chunk_id=cid, doc_id=str(meta.get("doc_id") or cid), fused=score, cosine=cos, body=body,
                        meta=meta))
    if cross is not None and own_bias and CROSS_TRANSLATION_EDGE is not None and FUSION == "score":
        _cap_translations(hits, lang, intent)
    if lex_index is not None and FUSION == "score" and hits:  # the page-level signals (PAGE_*), after the cut-off
        from knowledge.lexical import page_key

        keys = {h.chunk_id: page_key(h.doc_id, str(h.meta.get("brand") or "")) for h in hits}
        # English questions only (MiniLM's path): against a page in the customer's language, a whole page's BM25
        # reads the language's common words more than the topic (a French tracking question matched the French
        # return policy page: tests/knowledge/test_multilingual.py), and for them the chunk's own BM25 share is kept
        # small for the same reason (CROSS_LEXICAL_WEIGHT).
        pages = lex_index.page_match(text, set(keys.values())) if PAGE_LEXICAL_WEIGHT and cross is None else {}
        for h in hits:
            h.fused += PAGE_LEXICAL_WEIGHT * lex_weight * pages.get(keys[h.chunk_id], 0.0)
            if PAGE_NEAR_DUPLICATE is not None:
                h.page = lex_index.page_words(keys[h.chunk_id])
    hits.sort(key=lambda h: (-h.fused, -h.cosine))
    if _knob("RERANK") and dense and cross is None and len(hits) > 1:
        rerank(store, text, vec, hits)
    return hits


def original_id(doc_id: str, language: str) -> str | None:
    """The id of the article that ``doc_id`` (an article in ``language``) translates, by the ``<id>-<language>``
    convention of the knowledge base's front matter ("reset-password-fr" -> "reset-password"); None otherwise."""
    suffix = f"-{language}"
    return doc_id[: -len(suffix)] if language and len(doc_id) > len(suffix) and doc_id.endswith(suffix) else None


def _disagrees(meta: dict[str, Any], intent: str | None) -> bool:
    """Whether a passage's article is tagged with intents and the triage intent is not one of them."""
    tags = str(meta.get("intents") or "")
    return bool(intent) and bool(tags.strip(",")) and f",{intent}," not in tags


def _floor_translations(info: dict[str, tuple[float, str, dict[str, Any]]], lang: str, intent: str | None) -> None:
    """A translated passage's cosine raised toward its original's best (CROSS_TRANSLATION_FLOOR; in place)."""
    own = [cid for cid, (_, _, meta) in info.items() if meta.get("language") == lang and not _disagrees(meta, intent)]
    if not own:  # most questions: no passage in the customer's language
        return
    best: dict[str, float] = {}
    for cid, (cos, _, meta) in info.items():
        if meta.get("language") != lang:
            doc = str(meta.get("doc_id") or cid)
            best[doc] = max(best.get(doc, cos), cos)
    for cid in own:
        cos, body, meta = info[cid]
        orig = original_id(str(meta.get("doc_id") or ""), lang)
        if orig is not None and best.get(orig, cos) > cos:
            info[cid] = (cos + float(CROSS_TRANSLATION_FLOOR or 0.0) * (best[orig] - cos), body, meta)


def _cap_translations(hits: list[Hit], lang: str, intent: str | None) -> None:
    """A translated passage on another topic than the triage intent held at its original's score (in place)."""
    off = [h for h in hits if h.meta.get("language") == lang and _disagrees(h.meta, intent)]
    if not off:
        return
    best: dict[str, float] = {}
    for h in hits:
        if h.meta.get("language") != lang:
            best[h.doc_id] = max(best.get(h.doc_id, h.fused), h.fused)
    lowest = min(best.values(), default=None)  # an original not listed ranks below every listed passage
    for h in off:
        orig = original_id(h.doc_id, lang)
        if orig is None:  # not a translation (an article written in this language): its score stands
            continue
        ceiling = best.get(orig, lowest if CROSS_TRANSLATION_UNLISTED else None)
        if ceiling is not None:
            h.fused = min(h.fused, ceiling + float(CROSS_TRANSLATION_EDGE or 0.0))


RERANK: bool | None = None  # None: per model (MODEL_TUNING: off); bench/kb_bench.py --rerank times it
RERANK_TOP = 12  # candidates re-scored (their stored sentence rows are read back: no embedding)
RERANK_WEIGHT = 0.3  # share of the final score from the best sentence's match (0.3, 0.5, 0.7 tried)
RERANK_SHORT_WORDS = 9
RERANK_SHORT_PENALTY = 0.05
RERANK_WORDS = 0.2  # share of a sentence's match from shared rare words (0.1, 0.2, 0.35 tried on eval_tune.yaml)


def rerank(store: KnowledgeStore, text: str, vec: Any, hits: list[Hit]) -> None:
    """Re-order the top candidates by how well their best sentence answers ``text`` (in place).

    A section's own score averages everything it says; the customer asked about one thing in
    it. Each of the top ``RERANK_TOP`` candidates is scored by its best stored sentence: cosine
    to the question plus the share of the question's rare words it holds (heading included).
    Uses the sentence vectors stored at ingest, so it costs one read, no model call.
    """
    import math

    from knowledge import sentences
    from knowledge.lexical import tokenize

    top = hits[:RERANK_TOP]
    try:
        rows = sentences.for_chunks(store, [h.chunk_id for h in top])
    except Exception as exc:  # re-ranking is an improvement, never a failure
        log.warning("re-ranking skipped: %s", exc)
        return
    if not rows:
        return
    q_tok = set(tokenize(text))
    q = np.asarray(vec, dtype=np.float32)
    q = q / (np.linalg.norm(q) + 1e-12)
    toks = {cid: [set(tokenize(t)) for t in texts] for cid, (texts, _) in rows.items()}
    all_rows = [ts for lst in toks.values() for ts in lst]
    n = len(all_rows)
    idf = {t: math.log(1 + n / (1 + sum(1 for ts in all_rows if t in ts))) for t in q_tok}
    total = sum(idf.values()) or 1.0
    for h in hits:  # past the top (or without sentence rows), a chunk's own cosine stands in
        got = rows.get(h.chunk_id)
        if got is None:
            best = h.cosine
        else:
            texts, vecs = got
            cos = calibrate(vecs @ q / (np.linalg.norm(vecs, axis=1) + 1e-12))
            words = np.array([sum(idf[t] for t in q_tok if t in ts) / total for ts in toks[h.chunk_id]])
            # Short sentences ("This takes 7 to 14 days.") match any "how long" question: a penalty.
            short = np.array([RERANK_SHORT_PENALTY if len(t.split(":", 1)[-1].split()) < RERANK_SHORT_WORDS else 0.0
                              for t in texts])
            best = float(np.max((1 - RERANK_WORDS) * cos + RERANK_WORDS * words - short))
        h.fused = (1 - RERANK_WEIGHT) * h.fused + RERANK_WEIGHT * best
    hits.sort(key=lambda h: (-h.fused, -h.cosine))


def best_per_document(hits: list[Hit], k: int, per_doc: int | None = None,
                      window: int | None = None) -> list[list[Hit]]:
    """At most ``k`` documents in fused order, each with up to ``per_doc`` of its sections.

    A document's extra sections must rank within the first ``window`` hits overall: when the
    question falls between two sections of the right article (the heading says "The reset
    email does not arrive", the answer is in "Request a reset link"), both reach the drafter.
    When the first ``per_doc + 1`` hits are all one article's, it gets that many sections.
    A document whose best passage near-duplicates a listed document's is skipped (``NEAR_DUPLICATE``), as is
    one whose whole page does (``PAGE_NEAR_DUPLICATE``, when the hits carry their pages' terms).
    """
    per_doc = SECTIONS_PER_DOC if per_doc is None else per_doc
    window = SECTION_WINDOW if window is None else window
    groups: dict[str, list[Hit]] = {}
    shown: list[frozenset[str]] = []  # the words of each listed document's first passage
    copies: set[str] = set()  # documents whose best passage repeats a listed one's
    for i, h in enumerate(hits):
        g = groups.get(h.doc_id)
        if g is None:
            if len(groups) >= k or h.doc_id in copies:
                continue
            if PAGE_NEAR_DUPLICATE is not None and h.page and any(
                    o.page and len(h.page & o.page) >= PAGE_NEAR_DUPLICATE * len(h.page | o.page)
                    for o in (grp[0] for grp in groups.values())):
                copies.add(h.doc_id)
                continue
            if NEAR_DUPLICATE is not None:
                words = frozenset((h.body or "").lower().split())
                if words and any(len(words & w) >= NEAR_DUPLICATE * len(words | w) for w in shown):
                    copies.add(h.doc_id)
                    continue
                shown.append(words)
            groups[h.doc_id] = [h]
        elif len(g) < per_doc and i < window:
            g.append(h)
        elif ONE_ARTICLE_EXTRA and len(groups) == 1 and i == len(g) == per_doc:
            # Every hit so far is a section of this one article: retrieval knows the article, not which
            # of its sections answers ("points went down" -> "Earning", "Spending", "Points expiry"),
            # so one more of them goes to the sentence choice (eval_tune.yaml, see ONE_ARTICLE_EXTRA).
            g.append(h)
    return list(groups.values())


def merge_sections(group: list[Hit]) -> Source:
    """One :class:`Source` per document: its best section first, other retrieved sections after it.

    Extra sections are marked with their heading (``### heading`` lines), so the drafter and the
    model know where each passage comes from; the title names every section used.
    """
    src = group[0].source()
    if len(group) == 1:
        return src
    headings = [str(h.meta.get("heading") or "") for h in group]
    title = str(group[0].meta.get("title") or group[0].doc_id)
    parts = [group[0].body]
    for h, head in zip(group[1:], headings[1:], strict=True):
        # The article's introduction (no heading of its own) is headed by the article's title: run on after
        # the section before it, it read as part of that section (pipeline.answer scored its sentences as that
        # section's, with that heading: "Demo Plus is our paid membership" under "Cancel or get a refund").
        head = head or title
        parts.append((f"### {head}\n" if head else "") + (h.body or ""))
    src.text = "\n\n".join(parts)
    named = [x for x in dict.fromkeys(headings) if x]
    src.title = title + (f" - {' / '.join(named)}" if named else "")
    return src


def search(store: KnowledgeStore, text: str, *, k: int = DEFAULT_K, intent: str | None = None,
           brand: str | None = None, language: str | None = None, threshold: float | None = None,
           embedding: Any = None, strict_language: bool = False, per_doc: int | None = None,
           query_language: str | None = None) -> list[Source]:
    """Top ``k`` documents from ``store`` for ``text``, each as its retrieved section(s)."""
    if k <= 0:
        return []
    hits = hybrid_hits(store, text, intent=intent, brand=brand, language=language, threshold=threshold,
                       embedding=embedding, strict_language=strict_language, query_language=query_language)
    groups = best_per_document(hits, k, per_doc)
    for g in groups:
        _answer_of_past_ticket(store, g)
    return [merge_sections(g) for g in groups]


def _has_answer(h: Hit) -> bool:
    return "agent answer" in str(h.meta.get("heading") or "").lower() or "agent answer:" in (h.body or "").lower()


def _answer_of_past_ticket(store: KnowledgeStore, group: list[Hit]) -> None:
    """A past ticket found by its customer question stands for its agent answer (in place).

    The question of a similar ticket is what a new question matches, but the drafter may only use
    the team's answer (another customer's words are never shown): without this, the passage
    would say nothing useful ("no agent answer in this passage").
    """
    first = group[0]
    if first.meta.get("source_type") != "ticket":
        return
    answers = [h for h in group if _has_answer(h)]
    if answers:  # the question section joined to it would only be dropped later: keep the answer
        group[:] = answers[:1]
        return
    try:
        # Its own brand's chunks only: a document id is chosen by whoever wrote the document (an article's
        # front matter may say ``id: ticket:zendesk:11``), and what comes back is shown as this ticket's answer.
        got = store.collection.get(where={"$and": [{"doc_id": first.doc_id},
                                                   {"brand": str(first.meta.get("brand") or "")}]},
                                   include=["documents", "metadatas"])
    except Exception as exc:  # the question alone is still listed for the agent
        log.warning("past ticket answer lookup failed: %s", exc)
        return
    for cid, body, meta in zip(got["ids"], got.get("documents") or [], got.get("metadatas") or [], strict=False):
        cand = Hit(chunk_id=cid, doc_id=first.doc_id, fused=first.fused, cosine=first.cosine, body=body or "",
                   meta=meta or {})
        if _has_answer(cand):
            group[:] = [cand]
            return


class Retriever:
    """The knowledge base as the pipeline sees it (``pipeline.models.KnowledgeBase``): one store, searched."""

    def __init__(self, store: KnowledgeStore, threshold: float | None = None) -> None:
        self.store = store
        self.threshold = threshold

    def count(self) -> int:
        return self.store.count()

    def embed(self, texts: list[str]) -> list[Any]:
        return self.store.embed(texts)

    def embed_questions(self, texts: list[str], *, language: str | None = None) -> list[Any]:
        """What :meth:`search` takes as ``embedding`` for each of these questions in ``language``.

        English (or no multilingual index): the store's vectors, one run for all. Another language
        is searched in the multilingual index, whose search embeds the question with e5 itself and
        would throw the store's (MiniLM) vector away: the texts are embedded with e5 here in one run,
        as the searches read them (e5's cache serves each), and None is handed back for each.
        """
        if multilingual.searchable(self.store, language) is None:
            return self.store.embed(texts)
        multilingual.embedder().embed([(t or "").strip() for t in texts])
        return [None] * len(texts)

    def sentence_vectors(self, doc_ids: list[str]) -> dict[str, Any]:
        """The sentence vectors stored at ingest for these documents, by text, for the template draft.

        Only when the store was embedded by the process's own local model (the one the draft
        scores sentences with): another model's vectors live in another space, so then {}.
        """
        from knowledge import sentences
        from knowledge.embedding import get_embedder
        from knowledge.store import LocalEmbeddingFunction

        ef = self.store.ef
        if not isinstance(ef, LocalEmbeddingFunction) or ef.embedder is not get_embedder():
            return {}
        return sentences.vectors_for_docs(self.store, doc_ids)

    def search(self, text: str, *, k: int = DEFAULT_K, intent: str | None = None, brand: str | None = None,
               embedding: Any = None, language: str | None = None, strict_language: bool = False,
               query_language: str | None = None) -> list[Source]:
        return search(self.store, text, k=k, intent=intent, brand=brand, threshold=self.threshold,
                      embedding=embedding, language=language, strict_language=strict_language,
                      query_language=query_language)


def retriever_for(settings: Any) -> Retriever:
    """A :class:`Retriever` on the process-wide store for ``settings``."""
    return Retriever(get_store(settings))
