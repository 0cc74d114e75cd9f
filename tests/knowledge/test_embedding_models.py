"""The two local embedding models: selection, shared instance, multilingual behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import embedding as emb


@pytest.fixture(autouse=True)
def _restore_selection():
    before = emb.selected_model()
    yield
    emb.select_model(before)


def test_resolve_names_and_reject_unknown():
    assert emb.resolve_model(None) == emb.DEFAULT_MODEL == "multilingual-e5-small"
    assert emb.resolve_model("minilm") == "all-MiniLM-L6-v2"
    assert emb.resolve_model("E5") == "multilingual-e5-small"
    with pytest.raises(ValueError, match="multilingual-e5-small or all-MiniLM-L6-v2"):
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
