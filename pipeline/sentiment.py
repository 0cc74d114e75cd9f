"""Model-based sentiment on the shared sentence embeddings (all supported languages).

A small logistic regression over [sentiment vector | VADER compound | all-caps | "?!!" bursts]
with four classes — ``angry`` (complaints, threats, sarcasm, shouting), ``negative``
(mild dissatisfaction), ``neutral``, ``positive`` — trained at start-up on
``pipeline/data/sentiment_examples.csv`` (written for this project in EN/FR/ES/DE/IT/NL/PT) plus
the intents' own examples (``complaint`` → negative, the request intents and ``other`` →
neutral) and the shipped generic non-support text (neutral). The sentiment vector is e5's own,
the mean of its last two layers (computed in the same run as the triage vector,
:meth:`knowledge.embedding.E5Embedder.embed_pair`), or the selected model's only vector.
VADER is only a feature: it is English-centric and reads "Brilliant service, really" as praise.

The verdict maps to the triage labels: ``very_negative`` when P(angry) ≥ 0.5, ``negative`` when
P(angry) + P(negative) ≥ 0.5, ``positive`` when P(positive) ≥ 0.5, else ``neutral``; the score
is P(positive) − P(angry) − P(negative) in [-1, 1]. Threat signals (legal action, chargeback, going public)
make a message at least negative whatever the model says.

A negative verdict also needs the message to be near the angry/negative training examples, like the
intent classifier's kNN floor: when the mean cosine of its :data:`KNN_K` nearest angry/negative
examples falls more than :data:`KNN_MARGIN` below that of its nearest neutral/positive ones, the
regression is extrapolating (a thank-you closing read as the "Perfect, a broken lamp" sarcasm whose
nearest examples are all thanks) and the verdict is damped to neutral (score 0), unless the message
is shouting (folded before embedding, so invisible to the neighbours).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.cachefiles import prune, write_atomic
from pipeline.config import Config
from pipeline.linear import Head

log = logging.getLogger(__name__)

DATA_FILE = Path(__file__).resolve().parent / "data" / "sentiment_examples.csv"
CLASSES = ("angry", "negative", "neutral", "positive")
# Which intents' examples also teach sentiment: plain requests are neutral, complaints negative.
# Problem reports (delivery_problem, human_request) are left out: they can be calm or furious.
NEUTRAL_INTENTS = ("order_status", "return_refund", "cancel_order", "change_order", "billing", "account_access",
                   "account_change", "product_question", "discount_promo")
NEGATIVE_INTENTS = ("complaint",)
# Weak regularisation: the embedding carries the signal. 64 rather than 16, chosen on the sentiment
# examples' 5-fold CV (neutral rows read negative 3.9 -> 3.0%, angry rows 96.5 -> 97.9%) and the
# tuning set (bench/sentiment_tuning.py: neutral 1.8 -> 0.4%, angry the same); ~+0.6 s CPU per fit.
C = 64.0
# What a cached head was fitted with besides its examples and embedding model (the cache key): another
# regularisation or feature recipe must refit, not reuse it (get_sentiment_model).
HEAD_RECIPE = f"logreg-C{C}-balanced+vader+shouting+burst"
# The neighbour check (module docstring), chosen on the tuning set and the examples' grouped CV
# (docs/measurements.md, fifteenth session): tuning neutral read negative 10 -> 3 of 329, angry 125 -> 124
# of 140; CV neutral 4 -> 1 of 198, angry 98 of 142 both. It reads the training vectors at prediction
# time, not the fitted head, so the head's cache key (HEAD_RECIPE) is unchanged.
KNN_K = 5
KNN_MARGIN = 0.05
NEGATIVE_CLASSES = ("angry", "negative")
_BURST = re.compile(r"[!?]{2,}")


def is_shouting(text: str) -> bool:
    """Mostly upper-case letters over a reasonable length (a single acronym is not shouting)."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) > 10 and sum(c.isupper() for c in letters) / len(letters) > 0.6


def load_examples(path: Path = DATA_FILE) -> list[tuple[str, str]]:
    """(text, class) rows of the shipped sentiment examples."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [(r["text"].strip(), r["label"].strip()) for r in csv.DictReader(fh)]
    bad = sorted({lab for _, lab in rows if lab not in CLASSES})
    if bad:
        raise ValueError(f"{path}: unknown sentiment label(s) {', '.join(bad)} (expected {', '.join(CLASSES)})")
    return [(t, lab) for t, lab in rows if t]


def training_examples(cfg: Config | None, path: Path = DATA_FILE) -> list[tuple[str, str]]:
    """Shipped examples plus the configured intents' examples mapped to sentiment classes."""
    from pipeline.local_classifier import generic_non_support

    rows = load_examples(path)
    rows += [(t, "neutral") for t in generic_non_support()]  # off-topic chatter is not anger
    if cfg is not None:
        oos = cfg.intents.oos_intent
        for name, idef in cfg.intents.intents.items():
            cls = "negative" if name in NEGATIVE_INTENTS else "neutral" if name in NEUTRAL_INTENTS or name == oos else None
            if cls:
                rows += [(ex, cls) for ex in idef.examples]
    return rows


_vader = None
_vader_lock = threading.Lock()
VADER_MAX_CHARS = 20_000  # bounded work per message


def vader_compound(text: str) -> float:
    """VADER's compound score (-1..1). English-centric: a feature of the model, not a verdict."""
    global _vader
    if _vader is None:
        with _vader_lock:
            if _vader is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _vader = SentimentIntensityAnalyzer()
    return float(_vader.polarity_scores((text or "")[:VADER_MAX_CHARS])["compound"])


def _vader_scores(texts: Sequence[str]) -> np.ndarray:
    return np.array([vader_compound(t) for t in texts], dtype=np.float32)


def features(texts: Sequence[str], emb: np.ndarray) -> np.ndarray:
    """[embedding | VADER compound | shouting | ?!! burst] for each text."""
    extra = np.stack(
        [_vader_scores(texts),
         np.array([float(is_shouting(t)) for t in texts], dtype=np.float32),
         np.array([float(bool(_BURST.search(t))) for t in texts], dtype=np.float32)],
        axis=1,
    )
    return np.hstack([_first_model(np.asarray(emb, dtype=np.float32)), extra])


def _first_model(emb: np.ndarray) -> np.ndarray:
    """The triage vector's first model only (e5 when MiniLM sits beside it), back to unit length.

    MiniLM reads English only; with the pair, neutral questions scored negative rose from 4.8% to
    5.2% of 210 on bench/triage_quality.py, so sentiment keeps to the multilingual half.
    """
    from knowledge.embedding import DIM

    if emb.ndim != 2 or emb.shape[1] <= DIM:
        return emb
    head = emb[:, :DIM]
    return head / np.clip(np.linalg.norm(head, axis=1, keepdims=True), 1e-12, None)


class SentimentModel:
    """Four-class logistic regression over :func:`features`: fitted by scikit-learn, predicting from its
    weights in numpy (:class:`pipeline.linear.Head`; a worker with a cached head never imports scikit-learn)."""

    def __init__(self, head: Head | None = None) -> None:
        self.head = head
        self.classes_: list[str] = [str(c) for c in head.classes] if head is not None else []
        # Unit training vectors of the angry/negative examples and of the others (the neighbour check).
        self._near: tuple[np.ndarray, np.ndarray] | None = None

    def set_neighbours(self, labels: Sequence[str], emb: np.ndarray) -> SentimentModel:
        """Keep the training vectors the neighbour check compares a message with (module docstring)."""
        vecs = _unit(_first_model(np.asarray(emb, dtype=np.float32)))
        neg = np.isin(np.asarray(list(labels)), NEGATIVE_CLASSES)
        self._near = (vecs[neg], vecs[~neg]) if neg.sum() >= KNN_K and (~neg).sum() >= KNN_K else None
        return self

    def neighbour_margin(self, emb: np.ndarray) -> np.ndarray | None:
        """Per text: mean cosine of its KNN_K nearest angry/negative examples minus that of its KNN_K
        nearest others (None without training vectors)."""
        if self._near is None:
            return None
        q = _unit(_first_model(np.asarray(emb, dtype=np.float32)))

        def top(vecs: np.ndarray) -> np.ndarray:
            sims = q @ vecs.T
            return -np.sort(-sims, axis=1)[:, :KNN_K].mean(axis=1)

        return top(self._near[0]) - top(self._near[1])

    def fit(self, texts: Sequence[str], labels: Sequence[str], emb: np.ndarray) -> SentimentModel:
        """Fit on ``texts``/``labels`` with their precomputed embeddings."""
        from pipeline.local_classifier import fit_libraries

        fit_libraries()  # scipy's OpenBLAS held to one thread like numpy's when the process asked for it
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
        clf.fit(features(texts, emb), list(labels))
        self.head = Head.from_sklearn(clf)
        self.classes_ = [str(c) for c in self.head.classes]
        return self.set_neighbours(labels, emb)

    def proba(self, texts: Sequence[str], emb: np.ndarray) -> dict[str, np.ndarray]:
        """Class probabilities per text, keyed by class name (absent classes are zeros)."""
        if self.head is None:
            raise RuntimeError("sentiment model is not fitted")
        P = self.head.predict_proba(features(texts, emb))
        out = {c: np.zeros(len(texts)) for c in CLASSES}
        for j, c in enumerate(self.classes_):
            out[c] = P[:, j]
        return out

    def verdicts(self, texts: Sequence[str], emb: np.ndarray) -> list[tuple[str, float]]:
        """(label, score) per text; see the module docstring for the mapping."""
        p = self.proba(texts, emb)
        margin = self.neighbour_margin(emb)
        out = []
        for i in range(len(texts)):
            angry, neg, pos = float(p["angry"][i]), float(p["negative"][i]), float(p["positive"][i])
            if angry >= 0.5:
                label = "very_negative"
            elif angry + neg >= 0.5:
                label = "negative"
            elif pos >= 0.5:
                label = "positive"
            else:
                label = "neutral"
            score = round(pos - angry - neg, 4)
            # Shouting is folded before embedding (local_classifier._unshout), so the neighbours cannot see it.
            if label in ("negative", "very_negative") and margin is not None and margin[i] < -KNN_MARGIN \
                    and not is_shouting(texts[i]):
                label, score = "neutral", 0.0  # nearer the calm examples than the regression says
            out.append((label, score))
        return out


def _unit(vecs: np.ndarray) -> np.ndarray:
    return vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)


def _embed_reusing(texts: list[str], embed, known: tuple[Sequence[str], np.ndarray] | None) -> np.ndarray:
    index = {t: i for i, t in enumerate(known[0])} if known is not None else {}
    missing = [t for t in dict.fromkeys(texts) if t not in index]
    fresh = dict(zip(missing, embed(missing), strict=True)) if missing else {}
    return np.stack([known[1][index[t]] if t in index else fresh[t] for t in texts]).astype(np.float32)


_models: dict[str, SentimentModel] = {}
_lock = threading.Lock()
# The config object the last verdict was asked for, with its model id, content key and model:
# per message, an identity check instead of re-reading the examples and hashing them (~5 ms).
_last: tuple[object, str, str, SentimentModel] | None = None


def _key(rows: list[tuple[str, str]], model_id: str) -> str:
    h = hashlib.sha256(model_id.encode())
    for t, lab in rows:
        h.update(f"{lab}\t{t}\n".encode())
    return h.hexdigest()


KEEP_CACHED = 3  # embedding files kept on disk (an edit of the examples is often reverted)


def _disk_embeddings(cache_dir: Path, key: str, n: int) -> np.ndarray | None:
    try:
        emb = np.load(cache_dir / f"{key[:32]}.npy", allow_pickle=False)  # plain floats, never pickles
    except (OSError, ValueError):
        return None
    return emb if emb.ndim == 2 and emb.shape[0] == n else None


def _save_embeddings(cache_dir: Path, key: str, emb: np.ndarray) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        prune(cache_dir, KEEP_CACHED - 1, companions=(".head.npz",))
        write_atomic(cache_dir / f"{key[:32]}.npy", lambda tmp: np.save(tmp, emb.astype(np.float32), allow_pickle=False))
    except OSError as exc:  # a read-only var/ only costs start-up time
        log.info("sentiment cache not written (%s)", exc)


def _disk_head(cache_dir: Path, key: str, dim: int) -> Head | None:
    """The head fitted by an earlier process on the same examples (``dim`` embedding columns), or None:
    missing (a cache from before heads were kept), another recipe, or not a head of these classes."""
    try:
        with np.load(cache_dir / f"{key[:32]}.head.npz", allow_pickle=False) as z:
            recipe = bytes(np.asarray(z["recipe"], dtype=np.uint8)).decode("utf-8")
            head = Head.from_arrays(z)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    classes = list(head.classes)
    rows = 1 if len(classes) == 2 else len(classes)
    if recipe != HEAD_RECIPE or head.ngrams is not None or not set(classes) <= set(CLASSES) \
            or classes != sorted(classes) or head.coef.shape != (rows, dim + 3):
        return None
    return head


def _save_head(cache_dir: Path, key: str, head: Head) -> None:
    recipe = np.frombuffer(HEAD_RECIPE.encode("utf-8"), dtype=np.uint8)
    try:
        write_atomic(cache_dir / f"{key[:32]}.head.npz", lambda tmp: np.savez(tmp, recipe=recipe, **head.to_arrays()))
    except OSError as exc:
        log.info("sentiment head not cached (%s)", exc)


def get_sentiment_model(cfg: Config | None, embed, known: tuple[Sequence[str], np.ndarray] | None = None,
                        cache_dir: Path | None = None) -> SentimentModel:
    """The fitted model for this config's examples (one per content, cached per process).

    ``embed`` is the caller's function for sentiment vectors (``texts -> [n, dim]``,
    :func:`pipeline.local_classifier.embed_sentiment`), so the intent model and sentiment share
    one embedder. ``known`` = (texts, embeddings) already computed — the intent model's training
    examples — reused instead of embedded again when the sentiment vectors are the triage vectors
    (a model with one vector; e5's sentiment vector reads two layers, its own).
    ``cache_dir``: where the training embeddings are kept between processes (keyed by the
    examples and the embedding model), and so is the fitted regression (plain arrays): a restarted
    worker reads both and imports no scikit-learn.
    """
    global _last
    from knowledge.embedding import classifier_features_id, sentiment_features_id

    model_id = sentiment_features_id()
    if model_id != classifier_features_id():
        known = None
    last = _last
    if last is not None and last[0] is cfg and last[1] == model_id and _models.get(last[2]) is last[3]:
        return last[3]
    rows = training_examples(cfg)
    key = _key(rows, model_id)
    with _lock:
        model = _models.get(key)
        if model is None:
            texts = [t for t, _ in rows]
            emb = _disk_embeddings(cache_dir, key, len(texts)) if cache_dir is not None else None
            cached = emb is not None
            if emb is None:
                emb = _embed_reusing(texts, embed, known)
                if cache_dir is not None:
                    _save_embeddings(cache_dir, key, emb)
            head = _disk_head(cache_dir, key, _first_model(emb).shape[1]) if cached else None
            if head is not None:
                model = SentimentModel(head).set_neighbours([lab for _, lab in rows], emb)
            else:
                model = SentimentModel().fit(texts, [lab for _, lab in rows], emb)
                if cache_dir is not None:
                    _save_head(cache_dir, key, model.head)
            log.info("sentiment model fitted: %d examples%s", len(rows),
                     " (cached fit)" if head is not None else " (cached embeddings)" if cached else "")
            _models.clear()  # one config at a time is enough; a reload refits
            _models[key] = model
        _last = (cfg, model_id, key, model)
    return model
