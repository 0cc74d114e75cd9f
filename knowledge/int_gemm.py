"""Matrix products on onnxruntime's integer GEMM whose integers are the same on every x86 CPU.

``com.microsoft.MatMulIntegerToFloat`` with uint8 activations and int8 weights is onnxruntime's
fastest CPU product here (one thread, 6,400 x 384 x 1,536 on Zen 4 with AVX-512 VNNI: 20.8 ms
against 85 ms in float32 and 48 ms for uint8 x uint8). Its kernel differs by CPU: with VNNI or AMX
each product is added in int32, but on AVX2 alone ``vpmaddubsw`` adds each *pair* of uint8 x int8
products in saturating int16, so a pair above 32,767 would be clipped there and nowhere else: the
same graph would give other vectors on another CPU. Here that cannot happen: weights are int8 in
[-W_LEVEL, W_LEVEL] (7 bits, a scale per output column) and activations uint8 0..255 (a scale per
row), so a pair is at most 2 x 255 x 63 = 32,130. (onnxruntime's own ``reduce_range`` quantization
makes the same choice; bge's shipped file has its weights in [-64, 63] for that reason.)

Measured against the other way to stay below the limit (7-bit activations 0..127 with 8-bit weights),
on e5 (bench/classifier_bench.py's messages, cosine to the ``MatMulNBits`` graph): 7-bit weights
0.99898 mean / 0.99836 worst, 7-bit activations 0.99742 / 0.99555 (docs/measurements.md).

Each row (token) of activations gets its own scale, from its own values only: a text's vector never
depends on the other texts of its batch, nor on its padding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

W_LEVEL = 63  # weights int8 in [-63, 63]
A_LEVELS = 255  # activations uint8 0..255
INT16_MAX = 32767
# The largest pair AVX2's vpmaddubsw adds in int16 (test_int_gemm checks every product of a built graph).
assert 2 * A_LEVELS * W_LEVEL <= INT16_MAX


def quantize_columns(w: np.ndarray, level: int = W_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """``w`` [K, N] float -> (int8 [K, N] in [-level, level], float32 scale per column [N]):
    ``q * scale`` is the nearest point of each column's grid (round half to even)."""
    top = np.abs(w).max(axis=0)
    scale = np.where(top > 0, top / level, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -level, level).astype(np.int8)
    return q, scale


def shared_inits(init: Callable[[str, np.ndarray], str]) -> None:
    """The constants every :func:`product` reads (once per graph)."""
    init("ig.one", np.array(1.0, np.float32))
    init("ig.tiny", np.array(1e-30, np.float32))  # an all-zero row: scale tiny, integers 0
    init("ig.half", np.array(float(A_LEVELS // 2), np.float32))
    init("ig.full", np.array(float(A_LEVELS), np.float32))
    init("ig.zp_mid", np.array(A_LEVELS // 2 + 1, np.uint8))
    init("ig.zp_0", np.array(0, np.uint8))


def product(node: Callable[..., str], init: Callable[[str, np.ndarray], str], x: str, name: str, w: np.ndarray,
            bias: np.ndarray, shift: float = 0.0) -> str:
    """Nodes computing ``x @ w + bias`` (``x`` [..., K] float, ``w`` [K, N]) as an integer product;
    returns the output's name. ``node(op, inputs, output, domain=None, **attrs)`` and
    ``init(name, array)`` add to the graph being built (:func:`shared_inits` first).

    Each row of ``x`` is quantized on its own: symmetric around level 128 (1..255, scale
    max|x| / 127), or, with ``shift`` (a value with ``x + shift >= 0`` everywhere, e.g. after GELU),
    ``x + shift`` on the whole 0..255 (scale max / 255): twice the levels for an input that is almost
    never negative; ``shift`` times the weights' column sums is taken out through the bias. The row's
    scale multiplies the product's float output; the weights' column scales are applied by the kernel.
    """
    wq, w_scale = quantize_columns(w)
    if shift:
        levels, zp = "ig.full", "ig.zp_0"
        xs = node("Add", [x, init(name + ".shift", np.array(shift, np.float32))], name + ".xs")
        top = node("ReduceMax", [xs], name + ".top", axes=[-1], keepdims=1)
        # (x + shift) W = x W + shift * column sums of W (as quantized: the product's own weights).
        bias = bias - shift * (wq.astype(np.float64).sum(axis=0) * w_scale).astype(np.float32)
    else:
        levels, zp = "ig.half", "ig.zp_mid"
        xs = x
        top = node("ReduceMax", [node("Abs", [x], name + ".abs")], name + ".top", axes=[-1], keepdims=1)
    top = node("Max", [top, "ig.tiny"], name + ".top1")
    # QuantizeLinear rounds half to even and saturates; x * levels / top lies in [-levels, levels].
    xq = node("Mul", [xs, node("Div", [levels, top], name + ".inv")], name + ".xq")
    q = node("QuantizeLinear", [xq, "ig.one", zp], name + ".q")
    y = node("MatMulIntegerToFloat", [q, init(name + ".W", wq), "ig.one", init(name + ".ws", w_scale), zp],
             name + ".mm", domain="com.microsoft")
    y = node("Mul", [y, node("Div", [top, levels], name + ".rs")], name + ".my")
    return node("Add", [y, init(name + ".bias", np.asarray(bias, np.float32))], name + ".y")


def largest_pair(model: Any) -> int:
    """The largest |sum of two adjacent uint8 x int8 products| any ``MatMulIntegerToFloat`` of the
    ONNX ``model`` can form: 2 x (largest activation level) x (largest |weight|) over its products.
    An activation's levels are its type's (uint8: 0..255) unless it comes straight from a
    ``QuantizeLinear`` (which saturates to the type too). Raises ``ValueError`` for a product whose
    activations are not uint8 or whose weights are not a constant int8 tensor."""
    from onnx import TensorProto, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    made_by = {out: n for n in model.graph.node for out in n.output}
    worst = 0
    for n in model.graph.node:
        if n.op_type != "MatMulIntegerToFloat":
            continue
        q = made_by.get(n.input[0])
        if q is None or q.op_type != "QuantizeLinear" or inits[q.input[2]].data_type != TensorProto.UINT8:
            raise ValueError(f"{n.name or n.output[0]}: activations not from a uint8 QuantizeLinear")
        w = inits.get(n.input[1])
        if w is None or w.data_type != TensorProto.INT8:
            raise ValueError(f"{n.name or n.output[0]}: weights not a constant int8 tensor")
        worst = max(worst, 2 * A_LEVELS * int(np.abs(numpy_helper.to_array(w).astype(np.int32)).max()))
    return worst
