"""Shipped embedding seed: vectors of the default config's texts, so a first start does not embed them.

A fresh clone's first start used to spend most of its time embedding texts every clone embeds
alike: config/intents.yaml's examples and the sentiment examples (e5, ~750 texts) and the sample
knowledge base's chunks and sentences (MiniLM, ~650). Their vectors ship in
``knowledge/seed/<model id>.npz``, built by ``python -m app seed build``.

Content-addressed: an entry's key is the sha256 of the model id and the exact string the model
reads (after the length cut, with e5's ``query: `` / ``passage: `` prefix). A text is looked up
after the embedder's in-memory cache and before the model (:meth:`knowledge.embedding._BatchingEmbedder.embed`);
any other text — an operator's own intents, an edited example, their knowledge base — misses and is
embedded as before. A seed file records the model file's sha256 (for e5 with its graph version,
``knowledge.e5_onnx.E5_GRAPH_VERSION``) and is ignored, with a log line, when the installed model or
the graph that runs it differs, so correctness never depends on the seed being fresh; a stale
seed only costs time (``python -m app seed check`` and ``tests/knowledge/test_seed.py`` notice it
and name the command to rebuild it).

Vectors are stored as float16 (half the size in git; cosine to the float32 vector > 0.99999,
far below onnxruntime's own differences between CPUs) and returned as float32, renormalised.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SEED_DIR = Path(__file__).resolve().parent / "seed"
FORMAT = 1
BUILD_COMMAND = "python -m app seed build"


def key(model_id: str, model_input: str) -> bytes:
    """The seed key of ``model_input`` (the exact string the model reads) for ``model_id``."""
    return hashlib.sha256(f"{model_id}\x00{model_input}".encode()).digest()


def path_for(model_id: str, folder: Path | None = None) -> Path:
    return (folder or SEED_DIR) / f"{model_id}.npz"


def enabled() -> bool:
    """``SIDECAR_EMBEDDING_SEED=0`` turns the seed off (benchmarks timing the models themselves).

    On when unset, ``auto``, 1, true, yes or on; off for 0, false, no or off; anything else is a
    ``ValueError`` naming the variable (``app.settings`` refuses it at start): a typo such as ``of``
    used to leave the seed on silently.
    """
    raw = os.environ.get("SIDECAR_EMBEDDING_SEED", "").strip().lower()
    if raw in ("", "auto", "1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"SIDECAR_EMBEDDING_SEED must be 1, 0 or auto (got {raw!r})")


class Seed:
    """One model's shipped vectors: ``get(model_input)`` -> float32 vector or None."""

    def __init__(self, model_id: str, keys: np.ndarray, vectors: np.ndarray):
        self.model_id = model_id
        self._rows = {bytes(k): i for i, k in enumerate(keys)}
        v = np.asarray(vectors, dtype=np.float32)
        self._vectors = v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, model_input: str) -> bool:
        return key(self.model_id, model_input) in self._rows

    def get(self, model_input: str) -> np.ndarray | None:
        row = self._rows.get(key(self.model_id, model_input))
        return None if row is None else self._vectors[row]


_EMPTY = object()
_loaded: dict[tuple[str, str, Path], object] = {}
_lock = threading.Lock()


def load(model_id: str, model_sha256: str, folder: Path | None = None) -> Seed | None:
    """The seed for this model (loaded once per process), or None: no file, another model file, unreadable."""
    path = path_for(model_id, folder)
    cache_key = (model_id, model_sha256, path)
    with _lock:
        got = _loaded.get(cache_key)
        if got is None:
            got = _read(path, model_id, model_sha256) or _EMPTY
            _loaded[cache_key] = got
    return got if isinstance(got, Seed) else None


def _read(path: Path, model_id: str, model_sha256: str) -> Seed | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:  # plain arrays, never pickles
            fmt, mid, sha = int(z["format"]), str(z["model_id"]), str(z["model_sha256"])
            keys, vectors = z["keys"], z["vectors"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        # Empty or cut short (a failed checkout, a full disk): the start goes on without the seed.
        log.warning("embedding seed %s unreadable (%s): every text is embedded", path, type(exc).__name__)
        return None
    if fmt != FORMAT or mid != model_id or sha != model_sha256:
        log.warning("embedding seed %s is for another model file or format (%s, %s): ignored; "
                    "rebuild it with `%s`", path, mid, sha[:12], BUILD_COMMAND)
        return None
    if keys.ndim != 2 or keys.shape[1] != 32 or len(keys) != len(vectors):
        log.warning("embedding seed %s malformed: ignored", path)
        return None
    return Seed(model_id, keys, vectors)


def forget() -> None:
    """Drop loaded seeds (tests, and the build command after writing)."""
    with _lock:
        _loaded.clear()


def write(path: Path, model_id: str, model_sha256: str, model_inputs: list[str], vectors: np.ndarray) -> None:
    """Write a seed file: entries sorted by key (a rebuild of the same texts gives the same file)."""
    keys = np.array([np.frombuffer(key(model_id, t), dtype=np.uint8) for t in model_inputs], dtype=np.uint8)
    order = np.lexsort(keys.T[::-1]) if len(keys) else np.zeros(0, dtype=int)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, format=np.array(FORMAT), model_id=np.array(model_id), model_sha256=np.array(model_sha256),
             keys=keys[order].reshape(-1, 32), vectors=np.asarray(vectors, dtype=np.float16)[order])
    os.replace(tmp, path)
