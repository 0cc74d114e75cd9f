"""Extractive answers for template drafts: the sentences of a passage that answer the question.

A retrieved section usually holds three to six sentences about one topic; the customer asked
about one of them. Quoting the section's first lines ("click Forgot password?") next to a
question they do not answer ("the reset email never arrives") is what made template drafts
look wrong. Here every sentence (or list item) of the chosen passages is scored against the
customer's question:

- meaning: cosine between the sentence and the question, with the local embedding model
  (sentence vectors are cached per process, so a knowledge base's sentences are embedded once);
- words: the share of the question's content words (stemmed, accent-folded, as BM25 sees them)
  that the sentence contains, weighted by rarity among the candidate sentences;
- section: a share of the mean score of the sentence's section (:func:`with_section_share`).

The best sentence is kept with the ones scoring close to it, in the passage's own order (its
whole section when that is short), plus the sentence before it when the best one leans on it ("Only one is actually charged" needs "your
bank may show both attempts"). Also here: finding an order number in the customer's message.

Pure functions over text; the embedder is passed in (or the process-wide local one is used).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from pipeline.lookalikes import fold_lookalikes
from pipeline.order_words import ORDER_HASH, ORDER_WORD

log = logging.getLogger(__name__)

MAX_SENTENCES = 4  # per passage; eval_tune.yaml (210 labels): 2 -> 164, 3 -> 182, 4 -> 185 answers present
HEADING_CONTEXT = True  # embed "heading: sentence"; same on eval_tune.yaml, fixes the reset-email example
LEAD_BONUS = 0.0  # first sentence of a section: 0.03-0.1 tried on eval_tune.yaml, all worse
FOLLOW_ON = True  # keep the sentence after the best one (tuned on eval_tune.yaml)
# Sentences within this share of the best score are kept too. 0.7 puts 4 more answers in (189/210)
# but makes drafts 10% longer (547 vs 497 characters on average): not taken.
KEEP_RATIO = 0.8
# Tried on eval_tune.yaml and not kept: always quoting the sentence before the best one (-1), the
# whole section when it has at most 3 sentences (-1), an edge for the best-retrieved section (-3 to
# -5), a third section per article (-2), choosing the passage by its best sentence rather than by
# retrieval rank (-7 to -19).
# Share of the score from word overlap: 0.35 was chosen on the first 60 tuning messages; on the 210
# labels 0 / 0.1 / 0.15 / 0.25 / 0.35 / 0.5 gave 182 / - / 180 / 179 / 178 / 174 answers present with 3
# sentences, 185 / 185 with 4 (0 / 0.1). A little is kept for exact terms ("3-D Secure", a batch number).
WORD_WEIGHT = 0.1
# Help-centre sections are short answers written to be read whole ("If X, send us photos. Once we have
# them we replace it. Do not throw away the packaging."): when the best sentence's section has at most
# this many sentences it is quoted whole. eval_tune.yaml (236 labels): 0 -> 203, 3 -> 208, 4 -> 209
# answers present; drafts 506 -> 550 characters on average.
WHOLE_SECTION = 4
# Two kept sentences of one section with one sentence between them: the one between is kept too, so
# the quote reads as the article does (205 vs 203).
GAP_FILL = True
# Each sentence's score gains this share of its section's mean score: a help-centre section answers one
# question, so the sentences of the section that answers score well together, where a lone sentence of
# another section can score high by sharing a few of the question's words (sleeves too long, "can i still send
# it back and get the money back on my card?" chose "To get a different size or colour, return the item for a
# refund ..." of the two-sentence Exchanges section over the 30-day section's answer). Answer sentences in template drafts
# (with the passage-choice steps of pipeline.draft) eval_tune / eval_tune2 / eval_ml_tune, 277 / 223 / 134
# labels: 0 -> 254 / 184 / 97, 0.05 -> 254 / 184 / 98, 0.1 -> 255 / 185 / 97, 0.2 -> 255 / 185 / 97,
# 0.3 -> 255 / 185 / 98; median draft length unchanged (562-568 / 639 / 634 characters).
SECTION_SHARE = 0.2
_CACHE_SIZE = 8192
# The cross-encoder (knowledge.cross_encoder) reads the question and a sentence together and chooses the
# best sentence among the CROSS_CANDIDATES that score highest here, when it rates one more than
# CROSS_MARGIN (logits) above the one chosen here; English questions only (it was trained on English
# search). eval_tune.yaml / eval_tune2.yaml answer sentences in template drafts, against 254 / 184 without:
# candidates 3, margin 1: 255 / 187; 4 / 1: 255 / 187 (longer drafts); 4 / 2: 254 / 187; 4 / 0: 254 / 188;
# 6 / 2: 254 / 187; 2 / 1: 254 / 186. Used for the draft's first passage only (pipeline.draft): 255 / 186, one
# model run of at most 3 pairs per draft instead of up to three (with every passage, bench/e2e_latency.py at
# load 5-9 gave webhook -> note p50 714-1220 ms against 224 without: jobs outgrew the 0.25 s between tickets).
# Only calling it when the embedding's two best are within 0.1: the same answers, and it still ran for 4 drafts in 5. Its logit added to every sentence's score instead (0.1 / 0.2 x its
# sigmoid, 8 candidates): 252 / 180 and 250 / 180 — it rates a sentence stuffed with the question's words
# ("... or a charger that stops working") above the one that answers.
CROSS_CHOICE = True
CROSS_CANDIDATES = 3
CROSS_MARGIN = 1.0
# A passage answering several questions of one message (pipeline.draft.passages_and_questions) also quotes each
# question's own best sentence (select_sentences' ``parts``): scored as one question, the part with the closer
# words took every sentence ("stuck at customs in the UK? and will I have to pay VAT" quoted the VAT section
# only). eval_tune / eval_tune2 / eval_ml_tune answer sentences in template drafts: 254 / 185 / 98 -> 255 /
# 185 / 98, median draft length unchanged (570-576 / 639 / 634-637). Answering each part alone with its share
# of the sentences: 254 / 186 / 96 (a part such as "voi sapete il motivo?" says little alone).
PER_PART = True
# A passage often joins two or three sections of one article (knowledge.retrieve.merge_sections), and the
# answer is in the runner-up one about as often as the best one's other sentences are: the best sentence
# of the best other section is quoted too when it scores at least SECOND_RATIO of the best sentence, and
# that whole section when it has at most SECOND_WHOLE sentences. eval_tune / eval_tune2 / eval_ml_tune
# (with PER_PART and the introduction's heading, knowledge.retrieve.merge_sections), answers from 255 / 185 / 98,
# median draft characters from 576 / 639 / 634: ratio 0.8, whole up to 2: 256 / 189 / 99, 592 / 640 / 666;
# 0.75 / 2: 257 / 189 / 101, 620 / 667 / 687; 0.7 / 2: 258 / 190 / 102, 624 / 694 / 687; 0.7 / 3: 259 / 188 /
# 103, 646 / 708 / 701; 0.7, best sentence only: 256 / 186 / 100, 599 / 661 / 658; 0.7 / 2 for a lone
# passage only: 255 / 188 / 99, 599 / 643 / 644. 0.8 / 2 is taken: drafts stay about as long.
SECOND_RATIO = 0.8
SECOND_WHOLE = 2
# A passage that joins an article's introduction (scored under the article's title, which names the
# article's topic) to sections with headings of their own: the introduction's sentences lose this much. The
# title's words match every question about the article, so "Demo Plus is our paid membership. It costs 39 EUR a
# year" outscored the section that answers "when is the first fee taken, can I cancel before?" (the free trial)
# and "can I get my money back?". Answer sentences in template drafts, eval_tune / eval_tune2 / eval_ml_tune
# (with CROSS_GLOSSARY): 0 -> 256 / 191 / 102; 0.05 -> 256 / 191 / 103; 0.1 -> 256 / 191 / 104 but tune2's median per label
# draft 665 -> 686 characters (656 at 0). Not one English draft's answer changed either way.
INTRO_PENALTY = 0.05
# A question in another language shares hardly a word with English sentences, so the word part of the score was
# about 0 for every sentence and e5's cosine alone chose: the support glossary's English terms for the question's words
# (knowledge.glossary, as retrieval's BM25 reads them) are its words too ("remboursez" -> refund, "garantie" ->
# warranty). eval_ml_tune 101 -> 103 of 134 with INTRO_PENALTY, 100 -> 102 without (English untouched); a word
# share of 0.2 / 0.3 instead of WORD_WEIGHT for such questions: no better (±1).
CROSS_GLOSSARY = True
ECHO_NEW_WORDS = 2  # a sentence with fewer content words of its own than this only echoes the question
_cross_warned = False

_HEADING_LINE = re.compile(r"^\s*#{1,6}\s")
_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[¿¡]?[A-ZÀ-ÖØ-Þ0-9*])")
# A sentence that leans on the one before it ("Only one is actually charged"), in the seven languages a
# knowledge base may be written in (English, French, Spanish, German, Italian, Dutch, Portuguese).
_LEADS_ON_PREVIOUS = re.compile(
    r"^\W*(this|that|these|those|it|they|them|only one|the other|otherwise|then|after that|once done|if so|"
    r"in that case|ce|cela|celui|celle|ceux|ceci|ensuite|sinon|dans ce cas|esto|eso|este|esta|estos|estas|entonces|"
    r"después|de lo contrario|en ese caso|dies|das|diese|dieser|dieses|danach|dann|sonst|andernfalls|in diesem fall|"
    r"questo|questa|questi|queste|ciò|poi|altrimenti|in tal caso|in questo caso|dit|dat|deze|daarna|dan|anders|"
    r"in dat geval|isso|isto|estes|então|depois disso|caso contrário|nesse caso)\b", re.I)


def section_headings(passage: str, first: str = "") -> list[str]:
    """Heading of each section of a passage: ``first`` (from the source title) then the ``### `` lines."""
    return [first] + [ln.lstrip("#").strip() for ln in (passage or "").splitlines() if _HEADING_LINE.match(ln)]


def sentence_blocks(passage: str) -> list[tuple[int, str]]:
    """(section number, sentence) for every sentence and list item of a passage, in order.

    A passage may join several sections of one article (``### heading`` lines separate them);
    heading lines are not sentences. Repeated sentences are kept once.
    """
    out: list[tuple[int, str]] = []
    seen: set[str] = set()
    section = 0
    for block in re.split(r"\n\s*\n|\n(?=\s*[-*•]\s)|\n(?=\s*\d+[.)]\s)|\n(?=\s*#{1,6}\s)", passage or ""):
        lines = []
        for ln in block.splitlines():
            if _HEADING_LINE.match(ln):
                section += 1
            elif ln.strip():
                lines.append(ln.strip())
        text = " ".join(lines).strip()
        if not text:
            continue
        pieces = [text] if re.match(r"^[-*•]\s|^\d+[.)]\s", text) else [x.strip() for x in _SENT_END.split(text)]
        for piece in pieces:
            key = re.sub(r"\W+", " ", piece.lower()).strip()
            if piece and key not in seen:
                seen.add(key)
                out.append((section, piece))
    return out


def sentences(passage: str) -> list[str]:
    """Sentences and list items of a passage, in order (heading lines dropped, repeats once)."""
    return [s for _, s in sentence_blocks(passage)]


def sentence_contexts(blocks: Sequence[tuple[int, str]], passage: str, heading: str = "", title: str = "",
                      stored: Mapping[str, Any] | None = None) -> list[str]:
    """The context each sentence is embedded with: its section's heading, else the article title.

    The same context the knowledge base stored the sentence with (``knowledge.sentences``: "heading
    or title: sentence"), so its stored vector is read back instead of embedding a bare sentence.
    A passage whose first section has no heading is titled after its second one ("Demo Plus
    membership - What members get"): when the stored rows say the sentence was stored under the
    title, the title is used.
    """
    heads = section_headings(passage, heading)
    out = []
    for b, sent in blocks:
        c = heads[b] if b < len(heads) else ""
        if title and title != c and (not c or (stored and stored.get(f"{c}: {sent}") is None
                                              and stored.get(f"{title}: {sent}") is not None)):
            c = title
        out.append(c)
    return out


class _VectorCache:
    """Process-wide LRU of sentence vectors (knowledge base sentences repeat across tickets).

    Keyed by the embedding function *and* the text: two functions (two models, a test fake and a
    real model, an OpenAI-compatible server and the local model) give vectors in different spaces,
    so one must never be served the other's vectors. The function itself is in the key (a bound
    method is equal to another of the same object and function), which also keeps it alive while
    its vectors are cached, so its identity cannot be reused by another function. A function that
    cannot be hashed is not cached at all.
    """

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._d: OrderedDict[tuple[Any, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str], embed: Callable[[list[str]], Any]) -> np.ndarray:
        try:
            hash(embed)
        except TypeError:
            return np.asarray(embed(texts), dtype=np.float32)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if (embed, t) not in self._d))
        if missing:
            vecs = np.asarray(embed(missing), dtype=np.float32)
            with self._lock:
                for t, v in zip(missing, vecs, strict=True):
                    self._d[(embed, t)] = v
                    self._d.move_to_end((embed, t))
                while len(self._d) > self.size:
                    self._d.popitem(last=False)
        with self._lock:
            got = [self._d.get((embed, t)) for t in texts]
        if any(v is None for v in got):  # evicted meanwhile by a concurrent caller: embed again
            return np.asarray(embed(texts), dtype=np.float32)
        return np.stack(got) if got else np.zeros((0, 1), dtype=np.float32)


_cache = _VectorCache()


def _default_embed(texts: list[str]) -> Any:
    from knowledge.embedding import get_embedder

    return get_embedder().embed(texts)


def _default_embed_passages(texts: list[str]) -> Any:
    # Sentences are knowledge passages: e5 embeds them with its "passage: " prefix.
    from knowledge.embedding import get_embedder

    emb = get_embedder()
    return emb.embed_passages(texts) if hasattr(emb, "embed_passages") else emb.embed(texts)


def _local_vectors(texts: list[str], stored: Mapping[str, Any] | None) -> np.ndarray:
    """Vectors of ``texts`` from the local model: read from ``stored`` when there, embedded otherwise.

    ``stored`` holds the knowledge base's own sentence vectors ("heading: sentence", embedded at
    ingest by this same model): reading them back costs a lookup, embedding them again ~1 ms each.
    """
    if not stored:
        return np.asarray(_default_embed_passages(texts), dtype=np.float32)
    missing = [t for t in dict.fromkeys(texts) if stored.get(t) is None]
    fresh = dict(zip(missing, np.asarray(_default_embed_passages(missing), dtype=np.float32), strict=True)) \
        if missing else {}
    return np.stack([np.asarray(stored[t], dtype=np.float32) if t not in fresh else fresh[t] for t in texts])


def _calibrate(dense: Any) -> Any:
    from knowledge.embedding import calibrate

    return calibrate(dense)


def _cross_lingual(language: str | None) -> bool:
    """Whether a question in ``language`` is matched with e5 (the knowledge base's multilingual index
    is on and the question is not English): MiniLM reads English only, so its cosines between a
    French question and English sentences chose the sentence to quote by chance."""
    lang = (language or "").split("-")[0].lower()
    if lang in ("", "en"):
        return False
    from knowledge.embedding import kb_multilingual

    return kb_multilingual()


def _cross_scores(question: str, texts: list[str]) -> np.ndarray:
    """e5 cosines of ``texts`` (as passages) to ``question``, calibrated like retrieval's (bounded by
    the passages quoted: a few dozen sentences, cached by e5 for the next draft)."""
    from knowledge.embedding import calibrate_cross, get_multilingual_embedder

    e5 = get_multilingual_embedder()
    vecs = np.asarray(e5.embed_passages(texts), dtype=np.float32)
    q = np.asarray(e5.embed([question])[0], dtype=np.float32)
    return calibrate_cross(vecs @ q / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(q) + 1e-12))


# Longer texts (a whole customer message can be 8k characters) are tokenized without the cache, so
# its 2048 keys stay the few MB it is meant to hold: what repeats is knowledge-base sentences.
TOKENS_CACHE_CHARS = 2000


def _tokens(text: str) -> frozenset[str]:
    # The knowledge base's sentences are scored again for every part of a message and every ticket
    # that retrieves them: tokenizing (accent folding, stemming) cost ~4 ms of CPU per draft.
    if len(text) > TOKENS_CACHE_CHARS:
        return _tokenize(text)
    return _tokens_cached(text)


@functools.lru_cache(maxsize=2048)  # a draft scores ~30-100 sentences: a few dozen drafts' worth
def _tokens_cached(text: str) -> frozenset[str]:
    return _tokenize(text)


def _tokenize(text: str) -> frozenset[str]:
    from knowledge.lexical import tokenize

    return frozenset(tokenize(text))


def score_sentences(question: str, sents: Sequence[str], embed: Callable[[list[str]], Any] | None = None,
                    question_vec: Any = None, contexts: Sequence[str] | None = None,
                    stored: Mapping[str, Any] | None = None, language: str | None = None) -> list[float]:
    """How well each sentence answers ``question`` (0..1-ish; meaning and shared rare words).

    ``contexts`` (a heading per sentence) are embedded with the sentence: "The reset email does
    not arrive: Wait a few minutes..." says what the sentence is about better than the sentence.
    ``stored``: vectors the knowledge base already holds, by text (used with the local model only).
    ``language``: the customer's; another than English is matched with e5 (:func:`_cross_lingual`).
    """
    if not sents:
        return []
    cross = embed is None and question_vec is None and _cross_lingual(language)
    local = embed is None  # the process's model: its cosines are put on the knowledge base's scale
    embed = embed or _default_embed
    dense = np.zeros(len(sents), dtype=np.float32)
    texts = [f"{c}: {x}" if c else x for c, x in zip(contexts, sents, strict=True)] if contexts else list(sents)
    try:
        # The local embedder caches its own vectors (per model and prefix); others go through ours.
        if cross:
            dense = _cross_scores(question, texts)
        else:
            vecs = _local_vectors(texts, stored) if local else _cache.embed(texts, embed)
            q = np.asarray(question_vec if question_vec is not None else embed([question])[0], dtype=np.float32)
            dense = vecs @ q / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(q) + 1e-12)
            if local:
                dense = _calibrate(dense)
    except Exception as exc:  # no model: words alone still choose better than "the first lines"
        log.warning("sentence scoring without embeddings: %s", exc)
    q_tok = _tokens(question)
    if cross and CROSS_GLOSSARY:
        q_tok = q_tok | _tokens(" ".join(_glossary_terms(question, language)))
    # The heading's words count for each of its sentences (a French heading "L'e-mail de
    # réinitialisation n'arrive pas" is what matches "je ne reçois pas l'e-mail").
    toks = [_tokens(f"{c} {x}") for c, x in zip(contexts, sents, strict=True)] if contexts else [_tokens(x) for x in sents]
    words = np.zeros(len(sents), dtype=np.float32)
    if q_tok:
        n = len(sents)
        idf = {t: math.log(1 + n / (1 + sum(1 for ts in toks if t in ts))) for t in q_tok}
        total = sum(idf.values()) or 1.0
        words = np.array([sum(idf[t] for t in q_tok if t in ts) / total for ts in toks], dtype=np.float32)
    return [float(x) for x in (1 - WORD_WEIGHT) * dense + WORD_WEIGHT * words]


def _glossary_terms(question: str, language: str | None) -> list[str]:
    """English terms for the words of a question in another language (:func:`knowledge.glossary.english_terms`;
    [] when the glossary is off or cannot be read: the words part is then the question's own, as before)."""
    try:
        from knowledge.glossary import english_terms

        # Read as triage reads it: "rеmboursez" spelled with a Cyrillic "е" is the French word.
        return english_terms(fold_lookalikes(question), language)
    except Exception as exc:  # a better word match, never a lost draft
        log.warning("glossary unavailable for sentence scoring: %s", type(exc).__name__)
        return []


def scored_sentences(passage: str, heading: str = "", title: str = "",
                     stored: Mapping[str, Any] | None = None) -> tuple[list[str], list[str] | None]:
    """(sentences, the context each is scored with or None) of a passage, as :func:`best_sentence_score`
    and :func:`select_sentences` score them: split once, scored against any number of questions."""
    blocks = sentence_blocks(passage)
    contexts = sentence_contexts(blocks, passage, heading, title, stored) if HEADING_CONTEXT and blocks else None
    return [x for _, x in blocks], contexts


def best_sentence_score(question: str, passage: str, heading: str = "",
                        embed: Callable[[list[str]], Any] | None = None,
                        stored: Mapping[str, Any] | None = None, title: str = "",
                        language: str | None = None,
                        prepared: tuple[list[str], list[str] | None] | None = None) -> float:
    """How well the passage's best sentence (with its heading) answers ``question``.

    ``prepared``: the passage's :func:`scored_sentences`, when the caller scores it for several questions.
    """
    sents, contexts = prepared if prepared is not None else scored_sentences(passage, heading, title, stored)
    if not sents:
        return 0.0
    return max(score_sentences(question, sents, embed, None, contexts, stored, language))


def embed_ahead(questions: Sequence[str], passages: Sequence[tuple[list[str], list[str] | None]],
                language: str | None) -> None:
    """Embed in one run of e5 what scoring these passages' sentences (:func:`scored_sentences`) for a
    question in ``language`` will embed, when that is e5's work (:func:`_cross_lingual`); else nothing.

    Scored passage by passage, each passage's new sentences were a run of their own: one run for all
    pads less, starts the model once and spreads over the cores. Only a speed-up: scoring reads the
    vectors from e5's cache, and embeds anything missing there itself (the same vectors, whatever the
    batch: :meth:`knowledge.e5_onnx.OrtE5.encode`).
    """
    if not _cross_lingual(language):
        return
    texts = [f"{c}: {x}" if c else x for sents, contexts in passages
             for c, x in zip(contexts or [""] * len(sents), sents, strict=True)]
    try:
        from knowledge.embedding import get_multilingual_embedder

        e5 = get_multilingual_embedder()
        if texts:
            e5.embed_passages(list(dict.fromkeys(texts)))
        if questions:
            e5.embed(list(dict.fromkeys(questions)))
    except Exception as exc:  # scoring embeds (or falls back to words) on its own
        log.warning("sentence vectors not embedded ahead: %s", exc)


def _cross_enabled() -> bool:
    """Whether the process chose the cross-encoder for drafts (``SIDECAR_DRAFT_CROSS_ENCODER``; off by default)."""
    from knowledge.cross_encoder import enabled

    return enabled()


def _echoes(question: str, sentence: str) -> bool:
    """Whether ``sentence`` says (almost) nothing but the question's own words: no answer, whatever it scores."""
    from pipeline.guards import fold  # look-alike letters read as the letters they imitate

    return len(_tokens(fold(sentence)) - _tokens(fold(question))) < ECHO_NEW_WORDS


def cross_order(question: str, texts: Sequence[str],
                sentences: Sequence[str] | None = None) -> tuple[list[int], list[float]] | None:
    """(indices of ``texts``, best answer to ``question`` first; their logits) by the cross-encoder.

    ``texts`` are "heading: sentence".

    At most ``knowledge.cross_encoder.MAX_PAIRS`` texts (the caller picks its candidates). A sentence
    that only repeats the question's words (``sentences``: the texts without their heading) comes last:
    the model rates "reset email never arrives reset email ..." above the sentence that answers. None
    when the model is not available (the caller keeps its own order).
    """
    global _cross_warned
    try:
        from knowledge.cross_encoder import get_cross_encoder
        from knowledge.query import clean_query

        # Without greeting, sign-off and order numbers, as retrieval reads it: the model was trained on
        # search queries, and reads only the first 64 tokens of the question.
        ce = get_cross_encoder().score(clean_query(question), list(texts))
    except Exception as exc:  # an improvement, never a failure
        if not _cross_warned:
            _cross_warned = True
            log.warning("cross-encoder unavailable, sentences chosen by embedding only: %s", exc)
        return None
    plain = list(sentences) if sentences is not None else list(texts)
    echo = [_echoes(question, x) for x in plain]
    return sorted(range(len(texts)), key=lambda i: (echo[i], -float(ce[i]))), [float(x) for x in ce]


def _cross_best(ask: str, sents: Sequence[str], contexts: Sequence[str] | None, scores: Sequence[float],
                language: str | None, best: int) -> int:
    """The best sentence by the cross-encoder among the top :data:`CROSS_CANDIDATES` (``best`` otherwise).

    Bounded: at most CROSS_CANDIDATES pairs per passage, each cut to the model's pair limit. It only
    replaces the embedding's choice by a sentence it rates :data:`CROSS_MARGIN` higher that is not an
    echo of the question. Without the model (not installed, wrong file) the embedding's choice stands:
    a draft is never lost over it; the warning is logged once per process, and the worker's warm-up
    reports it at start. ``ask``: the customer's request, as the model reads it.
    """
    if (language or "en").split("-")[0].lower() != "en":
        return best
    cand = sorted(range(len(sents)), key=lambda i: -scores[i])[:CROSS_CANDIDATES]
    if len(cand) < 2 or cand[0] != best:
        return best
    ctx = contexts or [""] * len(sents)
    got = cross_order(ask, [f"{ctx[i]}: {sents[i]}" if ctx[i] else sents[i] for i in cand],
                      [sents[i] for i in cand])
    if got is None:
        return best
    order, ce = got
    j = order[0]
    return cand[j] if j != 0 and not _echoes(ask, sents[cand[j]]) and ce[j] - ce[0] > CROSS_MARGIN else best


def with_section_share(scores: Sequence[float], sections: Sequence[int], share: float | None = None) -> list[float]:
    """Each score plus ``share`` (default :data:`SECTION_SHARE`) of the mean score of its section.

    ``sections``: each sentence's section number (:func:`sentence_blocks`). Within one section every
    sentence gains the same amount, so only the choice between sections changes.
    """
    share = SECTION_SHARE if share is None else share
    if not share:
        return list(scores)
    total: dict[int, float] = {}
    count: dict[int, int] = {}
    for sc, sec in zip(scores, sections, strict=True):
        total[sec] = total.get(sec, 0.0) + sc
        count[sec] = count.get(sec, 0) + 1
    return [sc + share * total[sec] / count[sec] for sc, sec in zip(scores, sections, strict=True)]


def _kept(scores: Sequence[float], blocks: Sequence[tuple[int, str]], best: int, max_sentences: int) -> set[int]:
    """The sentences kept with the ``best`` one for a question (see :func:`select_sentences`)."""
    sents = [x for _, x in blocks]
    keep = {best}
    if best > 0 and blocks[best - 1][0] == blocks[best][0] and _LEADS_ON_PREVIOUS.match(sents[best]):
        keep.add(best - 1)
    if (FOLLOW_ON and best + 1 < len(sents) and blocks[best + 1][0] == blocks[best][0]
            and not re.match(r"^[-*•]\s|^\d+[.)]\s", sents[best + 1])):
        # Help-centre answers run "if X, do Y." then "we then Z.": the outcome is the next sentence.
        keep.add(best + 1)
    same = [i for i in range(len(sents)) if blocks[i][0] == blocks[best][0]]
    if len(same) <= WHOLE_SECTION:
        keep.update(same)
    # The passage's runner-up section (see SECOND_RATIO): its best sentence, or all of it when it is short.
    others = [i for i in range(len(sents)) if blocks[i][0] != blocks[best][0]]
    if SECOND_RATIO and others:
        two = max(others, key=lambda i: scores[i])
        if scores[two] >= SECOND_RATIO * scores[best]:
            keep.add(two)
            section = [i for i in others if blocks[i][0] == blocks[two][0]]
            if len(section) <= SECOND_WHOLE:
                keep.update(section)
    for i in sorted(range(len(sents)), key=lambda i: -scores[i]):
        if len(keep) >= max_sentences:
            break
        if scores[i] >= KEEP_RATIO * scores[best]:
            keep.add(i)
    if GAP_FILL:
        for i in sorted(keep):
            if i + 2 in keep and i + 1 not in keep and blocks[i][0] == blocks[i + 2][0]:
                keep.add(i + 1)
    return keep


def _scored(question: str, blocks: Sequence[tuple[int, str]], contexts: Sequence[str] | None,
            embed: Callable[[list[str]], Any] | None, question_vec: Any, stored: Mapping[str, Any] | None,
            language: str | None, intro: frozenset[int] = frozenset()) -> list[float]:
    """Each sentence's score for ``question``, with the lead bonus and its section's share."""
    scores = score_sentences(question, [x for _, x in blocks], embed, question_vec, contexts, stored, language)
    # Help-centre sections lead with their answer: a small edge for each section's first sentence.
    scores = [sc + (LEAD_BONUS if i == 0 or blocks[i - 1][0] != blocks[i][0] else 0.0) for i, sc in enumerate(scores)]
    if INTRO_PENALTY and intro:
        scores = [sc - INTRO_PENALTY if i in intro else sc for i, sc in enumerate(scores)]
    return with_section_share(scores, [b for b, _ in blocks])


def _intro_sentences(blocks: Sequence[tuple[int, str]], contexts: Sequence[str] | None, title: str) -> frozenset[int]:
    """The sentences of the article's introduction (scored under the article's title) in a passage that
    also quotes sections with headings of their own; none otherwise."""
    if not contexts or not title or len({b for b, _ in blocks}) < 2:
        return frozenset()
    intro = frozenset(i for i, c in enumerate(contexts) if c == title)
    return intro if len(intro) < len(blocks) else frozenset()


def select_sentences(question: str, passage: str, *, limit_chars: int = 600, max_sentences: int | None = None,
                     embed: Callable[[list[str]], Any] | None = None, question_vec: Any = None,
                     heading: str = "", stored: Mapping[str, Any] | None = None, title: str = "",
                     language: str | None = None, ask: str | None = None,
                     parts: Sequence[str] | None = None) -> str:
    """The sentences of ``passage`` that answer ``question``, in the passage's order, within ``limit_chars``.

    ``ask``: the customer's request as the cross-encoder reads it (the message's requests without its
    context sentences); when given, the cross-encoder may choose the best sentence (:func:`_cross_best`).

    ``parts``: the separate questions this passage answers (a message asking two things the same
    article answers, :func:`pipeline.draft.passages_for_parts`). Each is answered on its own: its best
    sentence and the ones around it, sharing ``max_sentences``; scored as one question, the part with
    the closer words took every sentence ("stuck at customs? and will I pay VAT" quoted the VAT section
    only).

    ``heading`` is the heading of the passage's first section (later ones are ``### `` lines),
    ``title`` the article's; ``stored``: the knowledge base's sentence vectors by text, ``language``
    the customer's (see
    :func:`score_sentences`).
    """
    max_sentences = MAX_SENTENCES if max_sentences is None else max_sentences
    blocks = sentence_blocks(passage)
    sents = [x for _, x in blocks]
    if len(sents) <= 1:
        return sents[0][:limit_chars] if sents else ""
    contexts = sentence_contexts(blocks, passage, heading, title, stored) if HEADING_CONTEXT else None
    # The question as a whole, then each of its parts (when it has several) for its own best sentence.
    asks = list(dict.fromkeys(p for p in (parts or []) if p.strip())) if PER_PART else []
    questions = [question] + (asks if len(asks) > 1 else [])
    intro = _intro_sentences(blocks, contexts, title)
    bests: list[int] = []
    scores: list[float] = []
    keep: set[int] = set()
    for n, q in enumerate(questions):
        got = _scored(q, blocks, contexts, embed, question_vec if n == 0 else None, stored, language, intro)
        best = max(range(len(sents)), key=lambda i: got[i])
        if CROSS_CHOICE and ask and embed is None and question_vec is None and _cross_enabled():  # as in drafts
            best = _cross_best(ask if n == 0 else q, sents, contexts, got, language, best)
        bests.append(best)
        if n == 0:
            scores = got
            keep = _kept(scores, blocks, best, max_sentences)
    first = list(dict.fromkeys(bests))
    # Add the bests first, then the others in score order while they fit; print in the passage's order.
    chosen: list[int] = []
    used = 0
    for i in first + sorted(keep - set(first), key=lambda i: -scores[i]):
        if used + len(sents[i]) > limit_chars and chosen:
            continue
        chosen.append(i)
        used += len(sents[i]) + 1
    out = [sents[i] for i in sorted(chosen)]
    return " ".join(out)[: max(limit_chars, len(sents[bests[0]]))]


# ---------------------------------------------------------------- order numbers

# The vocabulary (order words, number marks, compounds, what ends a number) lives in pipeline.order_words,
# shared with the retrieval query's clean-up and the redaction of past tickets.

MAX_ORDER_TEXT = 8_000  # the pipeline's text limit (pipeline.normalize.MAX_TEXT_CHARS)


def order_number(*texts: str | None) -> str | None:
    """The first order number in the texts, as customers write it in the seven languages: "#1234",
    "order no. 55123", "commande n° 4521", "numéro de commande 4521", "número de pedido 1234",
    "Bestellnummer 88231", "Bestell-Nr. 88231", "numero d'ordine 1234", "bestelnummer 1234",
    "encomenda n.º 1234", "número da encomenda 1234".

    The text is read as triage reads it (:func:`pipeline.lookalikes.fold_lookalikes`): invisible
    characters dropped, full-width and mathematical digits and letters as the ASCII ones they are, look-
    alike letters of a Latin word as Latin. Only ASCII letters, digits and a dash are kept, so nothing
    else from the message reaches the draft; digits of other scripts (Arabic-Indic "٤٥٢١") are no order
    number here. Not an order number: a year, a date, an amount or a quantity after the word ("order of
    1200 EUR", "orders in 2024", "order 3 items", "order 2024-05-12"), a run of more than 12 digits.
    """
    for text in texts:
        if not text:
            continue
        folded = fold_lookalikes(text[:MAX_ORDER_TEXT])
        for rx in (ORDER_HASH, ORDER_WORD):
            m = rx.search(folded)
            if m and re.fullmatch(r"[A-Za-z0-9-]+", m.group("number")):
                return "#" + m.group("number").upper()
    return None
