"""Fitted linear heads as plain numpy arrays: what a worker needs to PREDICT, without scikit-learn or scipy.

scikit-learn fits the heads (:mod:`pipeline.local_classifier`, :mod:`pipeline.sentiment`); importing it pulls
scipy (``sklearn.base`` imports ``scipy.stats``), 77 MB of a worker's resident memory that a worker reading a
warm classifier cache never used (docs/measurements.md, fourteenth session). This module holds what prediction
reads of a fit — a logistic regression's weights (:class:`Head`) and a fitted char n-gram TF-IDF's vocabulary and
idf (:class:`CharNgrams`) — and computes what scikit-learn's ``decision_function`` / ``predict_proba`` /
``TfidfVectorizer.transform`` would, to 1e-9 (tests/pipeline/test_linear_parity.py compares them on thousands of
texts). It imports numpy only; the fit cache stores these arrays (npz, never a pickle).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# scikit-learn's CountVectorizer._white_spaces: runs of whitespace become one space before char_wb splits words.
_WHITE_SPACES = re.compile(r"\s\s+")


def softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """Row softmax, the same arithmetic as scipy.special.softmax and sklearn.utils.extmath.softmax
    (max subtracted, exp, divided by the sum), so the figures are the same to the last bit."""
    x = np.asarray(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function (scipy.special.expit), stable for large negative values."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


@dataclass(frozen=True)
class CharNgrams:
    """A fitted ``TfidfVectorizer(analyzer="char_wb", lowercase=True, strip_accents=None, norm="l2",
    use_idf=True)``'s transform: ``terms`` in column order, ``idf`` per column, ``ngram_range`` and
    ``sublinear_tf`` as fitted. Other analyzer settings are refused by :meth:`from_sklearn`."""

    terms: tuple[str, ...]
    idf: np.ndarray
    ngram_range: tuple[int, int] = (2, 4)
    sublinear_tf: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t: j for j, t in enumerate(self.terms)})

    @classmethod
    def from_sklearn(cls, vec: Any) -> CharNgrams:
        """The arrays of a fitted scikit-learn ``TfidfVectorizer`` (only the settings :meth:`analyze` reproduces)."""
        settings = (vec.analyzer, vec.lowercase, vec.strip_accents, vec.preprocessor, vec.tokenizer, vec.norm,
                    vec.use_idf, vec.binary, vec.input, vec.decode_error)
        if settings != ("char_wb", True, None, None, None, "l2", True, False, "content", "strict"):
            raise ValueError(f"TfidfVectorizer settings not reproduced by CharNgrams: {settings}")
        terms = [""] * len(vec.vocabulary_)
        for term, j in vec.vocabulary_.items():
            terms[j] = term
        return cls(tuple(terms), np.asarray(vec.idf_, dtype=np.float64), tuple(vec.ngram_range), bool(vec.sublinear_tf))

    def analyze(self, text: str) -> list[str]:
        """The n-grams of ``text``: scikit-learn's char_wb analyzer (lower case, whitespace runs folded,
        each word padded with a space, a word shorter than n counted once)."""
        lo, hi = self.ngram_range
        out: list[str] = []
        for w in _WHITE_SPACES.sub(" ", text.lower()).split():
            w = " " + w + " "
            size = len(w)
            for n in range(lo, hi + 1):
                out.append(w[:n])
                out.extend(w[i : i + n] for i in range(1, size - n + 1))
                if size - n <= 0:  # a short word (len < n) only once
                    break
        return out

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values) of ``text``'s TF-IDF row (L2-normalised; n-grams outside the vocabulary dropped)."""
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        counts: dict[int, int] = {}
        for g in self.analyze(text):
            j = index.get(g)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float64)
        cols = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        vals = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear_tf:
            vals = np.log(vals) + 1.0
        vals = vals * self.idf[cols]
        norm = np.sqrt(np.dot(vals, vals))
        if norm > 0:
            vals = vals / norm
        return cols, vals

    def dense(self, texts: Sequence[str]) -> np.ndarray:
        """[n, vocabulary] rows (tests and small batches only: a row is as wide as the vocabulary)."""
        out = np.zeros((len(texts), len(self.terms)))
        for i, t in enumerate(texts):
            cols, vals = self.row(t)
            out[i, cols] = vals
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for an npz (the terms as UTF-8 JSON bytes: any character, NUL included, survives)."""
        settings = {"ngram_range": list(self.ngram_range), "sublinear_tf": self.sublinear_tf}
        return {"ngram_terms": np.frombuffer(json.dumps(list(self.terms)).encode("utf-8"), dtype=np.uint8),
                "ngram_idf": self.idf,
                "ngram_settings": np.frombuffer(json.dumps(settings).encode("utf-8"), dtype=np.uint8)}

    @classmethod
    def from_arrays(cls, z: Any) -> CharNgrams | None:
        """What :meth:`to_arrays` wrote (None when the file has no n-grams); ValueError when it does not add up."""
        if "ngram_terms" not in z:
            return None
        terms = json.loads(bytes(np.asarray(z["ngram_terms"], dtype=np.uint8)).decode("utf-8"))
        settings = json.loads(bytes(np.asarray(z["ngram_settings"], dtype=np.uint8)).decode("utf-8"))
        idf = np.asarray(z["ngram_idf"], dtype=np.float64)
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms) or idf.shape != (len(terms),) \
                or len(set(terms)) != len(terms) or not np.isfinite(idf).all():
            raise ValueError("n-gram vocabulary and idf do not match")
        lo, hi = (int(v) for v in settings["ngram_range"])
        return cls(tuple(terms), idf, (lo, hi), bool(settings["sublinear_tf"]))


@dataclass(frozen=True)
class Head:
    """A fitted logistic regression as plain arrays: weights [k, d], intercepts [k], class names; with
    ``ngrams``, the fitted char n-gram TF-IDF whose columns follow the dense features (see :meth:`decision`)."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray
    ngrams: CharNgrams | None = None

    @classmethod
    def from_sklearn(cls, clf: Any, ngrams: CharNgrams | None = None) -> Head:
        return cls(np.asarray(clf.coef_, dtype=np.float64), np.asarray(clf.intercept_, dtype=np.float64),
                   np.asarray(clf.classes_).astype(str), ngrams)

    def decision(self, dense: np.ndarray, texts: Sequence[str] | None = None, ngram_weight: float = 1.0) -> np.ndarray:
        """scikit-learn's ``decision_function`` of [``dense`` | ``ngram_weight`` x TF-IDF(``texts``)]: [n, k]
        (a binary head's single column is returned as one, [n], like scikit-learn's)."""
        dense = np.asarray(dense, dtype=np.float64)
        d = dense @ self.coef[:, : dense.shape[1]].T + self.intercept
        if self.ngrams is not None:
            if texts is None or len(texts) != len(dense):
                raise ValueError("a head with n-gram columns needs the texts of its rows")
            weights = self.coef[:, dense.shape[1] :]
            for i, t in enumerate(texts):
                cols, vals = self.ngrams.row(t)
                if len(cols):
                    d[i] += weights[:, cols] @ (vals * ngram_weight)
        return d[:, 0] if d.shape[1] == 1 else d

    def predict_proba(self, dense: np.ndarray, texts: Sequence[str] | None = None, ngram_weight: float = 1.0) -> np.ndarray:
        """scikit-learn's ``LogisticRegression.predict_proba``: the logistic of a binary head's
        column, else the softmax of the decision values (multinomial, its default since 1.5)."""
        d = self.decision(dense, texts, ngram_weight)
        if d.ndim == 1:
            p = expit(d)
            return np.stack([1.0 - p, p], axis=1)
        return softmax(d, axis=1)

    def n_features(self) -> int:
        return self.coef.shape[1]

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"coef": self.coef, "intercept": self.intercept, "classes": np.asarray(self.classes).astype(str)}
        return {**arrays, **(self.ngrams.to_arrays() if self.ngrams is not None else {})}

    @classmethod
    def from_arrays(cls, z: Any) -> Head:
        """A head from :meth:`to_arrays`' arrays (an npz opened with ``allow_pickle=False``); ValueError
        (or KeyError) when they are not a head: wrong shapes, non-finite weights."""
        coef = np.asarray(z["coef"], dtype=np.float64)
        intercept = np.asarray(z["intercept"], dtype=np.float64)
        classes = np.asarray(z["classes"]).astype(str)
        if coef.ndim != 2 or intercept.shape != (coef.shape[0],) or not np.isfinite(coef).all() \
                or not np.isfinite(intercept).all():
            raise ValueError("not a fitted head")
        return cls(coef, intercept, classes, CharNgrams.from_arrays(z))
