"""The triage vector: e5 alone by default; with SIDECAR_TRIAGE_MINILM, e5 and MiniLM side by side
(unit length), sentiment reading the e5 half."""

import numpy as np

from knowledge import embedding as ke
from pipeline import local_classifier as lc
from pipeline.sentiment import _first_model

TEXTS = ["Where is my parcel?", "Où est mon colis ?", ""]


def test_without_the_english_head_e5_alone():
    from app.settings import load_settings

    assert load_settings({}).triage_minilm is False
    assert load_settings({"SIDECAR_TRIAGE_MINILM": "1"}).triage_minilm is True
    ke.select_model("multilingual-e5-small")
    ke.select_companion(False)
    ke.select_english_triage(False)
    try:
        assert ke.get_classifier_companion() is None and ke.classifier_dim() == ke.DIM
        assert ke.classifier_features_id() == ke.e5_build_id() == f"{ke.E5_MODEL_ID}/graph{ke.E5_GRAPH_VERSION}"
        v = lc.embed_texts(TEXTS[:2])
        assert v.shape == (2, ke.DIM) and np.allclose(v, ke.get_classifier_embedder().embed(TEXTS[:2]), atol=1e-5)
    finally:
        ke.select_english_triage(ke.DEFAULT_ENGLISH_TRIAGE)


def test_pair_is_unit_length_and_keeps_each_model_direction():
    ke.select_model("multilingual-e5-small")
    ke.select_companion(True)
    try:
        _check_pair()
    finally:
        ke.select_companion(False)


def _check_pair():
    v = lc.embed_texts(TEXTS)
    assert v.shape == (len(TEXTS), ke.classifier_dim()) == (len(TEXTS), 2 * ke.DIM)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    e5 = ke.get_classifier_embedder().embed(TEXTS)
    mini = ke.get_classifier_companion().embed(TEXTS)
    assert np.allclose(_first_model(v), e5, atol=1e-4)  # sentiment sees e5 exactly
    tail = v[:, ke.DIM:] / np.linalg.norm(v[:, ke.DIM:], axis=1, keepdims=True)
    assert np.allclose(tail, mini, atol=1e-4)
    assert np.allclose(np.linalg.norm(v[:, ke.DIM:], axis=1), lc.MINILM_WEIGHT / np.sqrt(1 + lc.MINILM_WEIGHT**2),
                       atol=1e-4)
    assert ke.classifier_features_id() == (f"{ke.E5_MODEL_ID}/graph{ke.E5_GRAPH_VERSION}"
                                           f"+{ke.MINILM_MODEL_ID}/graph{ke.MINILM_GRAPH_VERSION}")


def test_minilm_alone_is_its_own_vector():
    try:
        ke.select_model("all-MiniLM-L6-v2")
        ke.select_companion(True)  # only ever beside e5
        assert ke.get_classifier_companion() is None and ke.classifier_dim() == ke.DIM
        v = lc.embed_texts(TEXTS[:1])
        assert v.shape == (1, ke.DIM) and np.allclose(v, ke.get_classifier_embedder().embed(TEXTS[:1]), atol=1e-5)
        assert _first_model(v) is v
    finally:
        ke.select_model("multilingual-e5-small")
        ke.select_companion(False)
