"""The two local embedding models: selection, shared instance, multilingual behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import embedding as emb

pytestmark = pytest.mark.usefixtures("restore_embedding_selection")


def test_resolve_names_and_reject_unknown():
    assert emb.resolve_model(None) == emb.DEFAULT_MODEL == "multilingual-e5-small"
    assert emb.resolve_model("minilm") == "all-MiniLM-L6-v2"
    assert emb.resolve_model("E5") == "multilingual-e5-small"
    with pytest.raises(ValueError, match="multilingual-e5-small, all-MiniLM-L6-v2 or bge-small-en-v1.5"):
        emb.resolve_model("bert-large")


def test_settings_validate_the_env_var():
    from app.settings import SettingsError, load_settings

    assert load_settings({"SIDECAR_EMBEDDING_MODEL": "minilm"}).embedding_model == "all-MiniLM-L6-v2"
    assert load_settings({}).embedding_model == "multilingual-e5-small"
    with pytest.raises(SettingsError, match="SIDECAR_EMBEDDING_MODEL"):
        load_settings({"SIDECAR_EMBEDDING_MODEL": "nope"})


def test_minilm_selected_means_one_model_in_memory():
    emb.select_model("all-MiniLM-L6-v2")
    assert emb.get_classifier_embedder() is emb.get_embedder()
    assert emb.current_model_id() == emb.MINILM_MODEL_ID
    emb.select_model("multilingual-e5-small")
    e5 = emb.get_classifier_embedder()
    assert e5.model_id == emb.E5_MODEL_ID and e5 is not emb.get_embedder()


def test_e5_puts_translations_together_and_bounds_input():
    e5 = emb.E5Embedder(cache_size=0)
    v = e5.embed(["Where is my parcel?", "Où est mon colis ?", "Wo ist mein Paket?", "Can I pay by invoice?",
                  "", "x" * 50_000])
    assert v.shape == (6, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[3] and v[0] @ v[2] > v[0] @ v[3]


def test_tampered_model_file_is_refused(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"not a model")
    with pytest.raises(emb.EmbeddingModelMissing, match="sha256"):
        emb._check(bad, emb.E5_SHA256)


def test_knowledge_base_model_is_minilm_unless_chosen_and_can_share_e5():
    from app.settings import SettingsError, load_settings

    assert load_settings({}).kb_embedding_model == "all-MiniLM-L6-v2"
    assert load_settings({"SIDECAR_KB_EMBEDDING_MODEL": "e5"}).kb_embedding_model == "multilingual-e5-small"
    with pytest.raises(SettingsError, match="SIDECAR_KB_EMBEDDING_MODEL"):
        load_settings({"SIDECAR_KB_EMBEDDING_MODEL": "bert"})
    emb.select_model("multilingual-e5-small")
    emb.select_kb_model("multilingual-e5-small")
    assert emb.get_embedder() is emb.get_classifier_embedder()  # one model in memory
    assert emb.kb_signature().endswith("/passage")
    emb.select_kb_model(None)
    assert emb.kb_model() == "all-MiniLM-L6-v2" and emb.kb_signature() == emb.MINILM_MODEL_ID


def test_e5_passages_get_their_own_prefix_and_cache_entries():
    e5 = emb.E5Embedder()
    text = "Refunds reach your card within 5 to 10 working days."
    q, p = e5.embed([text])[0], e5.embed_passages([text])[0]
    assert not np.allclose(q, p)  # "query: " and "passage: " vectors differ
    assert np.allclose(e5.embed_passages([text])[0], p) and np.allclose(e5.embed([text])[0], q)  # cached, not mixed
    # Question vs passages: the answering passage ranks first.
    passages = e5.embed_passages([text, "Our shop opens at 9 on weekdays.", "Gift cards are valid for 12 months."])
    assert int(np.argmax(passages @ e5.embed(["when do I get my money back"])[0])) == 0


def test_calibration_puts_e5_on_minilm_scale_and_leaves_minilm_alone():
    emb.select_kb_model("all-MiniLM-L6-v2")
    assert emb.calibrate(0.42) == 0.42
    emb.select_kb_model("multilingual-e5-small")
    # e5's mean question-vs-unrelated-passage cosine (~0.805) lands near MiniLM's (~0.14), its best
    # matches (~0.885) near MiniLM's (~0.60); the order of scores is kept.
    assert 0.1 < emb.calibrate(0.805) < 0.2 and 0.55 < emb.calibrate(0.885) < 0.65
    assert emb.calibrate(0.9) > emb.calibrate(0.85)


def test_minilm_runs_a_batch_in_length_groups_and_keeps_each_vector():
    from knowledge.e5_onnx import length_groups
    from knowledge.embedding import MINILM_RUN_COST_TOKENS, LocalEmbedder

    model = LocalEmbedder(cache_size=0)
    model._seed = None  # the model itself, not the shipped seed
    texts = ["Refunds: ok.", "Refunds: we refund the item within 14 days of receiving it back.",
             "Damaged or wrong item: if an item arrives damaged, defective or is not the item you ordered, send us "
             "photos of the item and the packaging within 14 days and we will replace it or refund it in full.",
             "Short one.", "Refunds: we refund the item within 14 days of receiving it."]
    lengths = [len(e.ids) for e in model.tokenizer.encode_batch(texts)]
    assert len(length_groups([sum(e.attention_mask) for e in model.tokenizer.encode_batch(texts)],
                             MINILM_RUN_COST_TOKENS)) > 1, lengths
    together = model.embed(texts)
    alone = np.vstack([model.embed([t]) for t in texts])
    assert np.abs(together - alone).max() < 1e-5
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_minilm_matrices_run_in_int8_close_to_the_float32_file():
    """The rewrite keeps the 36 weight matrices in int8 (MatMulNBits, the file's own int8 values and
    scales): close to what the file computes with every weight folded to float32, and each vector
    independent of its batch (activations are quantized per row, not per batch)."""
    import onnx
    import onnxruntime as ort

    from knowledge.embedding import LocalEmbedder, _minilm_files, minilm_graph

    graph = onnx.load_from_string(minilm_graph(_minilm_files()[0]))
    assert sum(n.op_type == "MatMulNBits" for n in graph.graph.node) == 36
    model = LocalEmbedder(cache_size=0)
    model._seed = None
    texts = ["where is my parcel", "Refunds: we refund the item within 14 days of receiving it back.",
             "How to track your order - What the order statuses mean\nShipped: your parcel left our warehouse. "
             "Tracking can take up to 24 hours to show the first scan."]
    ours = model.embed(texts)
    shipped = LocalEmbedder(cache_size=0)
    shipped._seed = None
    shipped.session = ort.InferenceSession(str(_minilm_files()[0]), providers=["CPUExecutionProvider"])
    theirs = shipped.embed(texts)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.995
    assert not np.array_equal(ours, theirs)  # the int8 path is really taken
    alone = np.vstack([model.embed([t]) for t in texts[::-1]])[::-1]
    assert np.abs(ours - alone).max() == 0.0


class _MeetingSession:
    """An onnxruntime session whose first two runs each finish only once the other has started (a
    barrier of two): run one after the other, the barrier breaks."""

    def __init__(self, session) -> None:
        import threading

        self._session = session
        self.barrier = threading.Barrier(2, timeout=60)  # a guard against a hang, not a timing
        self._lock = threading.Lock()
        self.threads: list[int] = []

    def run(self, *args, **kwargs):
        import threading

        with self._lock:
            self.threads.append(threading.get_ident())
            meets = len(self.threads) <= 2
        if meets:
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                pass  # asserted by the test: the first run was alone
        return self._session.run(*args, **kwargs)


def test_minilm_runs_its_length_groups_side_by_side_with_the_same_vectors():
    """MiniLM's runs are single-threaded and go side by side, one per core, as e5's do: the
    vectors are those of the runs one after another, to the last bit."""
    from knowledge.embedding import LocalEmbedder

    texts = ["where is my parcel", "Refunds: ok.",
             "How to track your order - What the order statuses mean\nShipped: your parcel left our warehouse. "
             "Tracking can take up to 24 hours to show the first scan. " * 3,
             "Damaged or wrong item: if an item arrives damaged, defective or is not the item you ordered, send us "
             "photos of the item and the packaging within 14 days and we will replace it or refund it in full."]
    one = LocalEmbedder(cache_size=0, runners=1)
    one._seed = None
    two = LocalEmbedder(cache_size=0, runners=2)
    two._seed = None
    meeting = _MeetingSession(two.session)
    two.session = meeting
    side_by_side = two.embed(texts)
    assert not meeting.barrier.broken and len(set(meeting.threads)) == 2
    assert np.array_equal(side_by_side, one.embed(texts))


def test_minilm_graph_drops_the_softmax_nan_guards_and_keeps_every_vector():
    """The exporter's Where(IsNaN(p), 0, p) after each attention softmax is dropped from the rewritten
    graph; every hidden state is the same to the last bit as with the guards (padded batch included)."""
    import onnx
    import onnxruntime as ort

    from knowledge import embedding as ke

    path = ke._minilm_files()[0]
    graph = ke.minilm_graph(path)
    ops = [n.op_type for n in onnx.load_from_string(graph).graph.node]
    assert "IsNaN" not in ops
    real = ke._drop_nan_guards
    try:
        ke._drop_nan_guards = lambda nodes, model: nodes
        guarded = ke.minilm_graph(path)
    finally:
        ke._drop_nan_guards = real
    assert sum(n.op_type == "IsNaN" for n in onnx.load_from_string(guarded).graph.node) == 6
    model = ke.LocalEmbedder(cache_size=0)
    enc = model.tokenizer.encode_batch(["where is my parcel", "Refunds: we refund the item within 14 days of "
                                        "receiving it back, to the card you paid with.", "ok"])
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
             "token_type_ids": np.zeros_like(ids)}
    outs = [ort.InferenceSession(g, providers=["CPUExecutionProvider"]).run(None, feeds)[0] for g in (graph, guarded)]
    assert np.array_equal(outs[0], outs[1])
