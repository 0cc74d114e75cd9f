"""The sentiment model's training embeddings are kept on disk: a restart embeds nothing.

Keyed by the embedding model id and the training rows; a changed row, another model or a
damaged file means embedding again, never a wrong or crashing model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import knowledge.embedding as ke
from pipeline import local_classifier as lc
from pipeline import sentiment as sent
from pipeline.classify import warm_up
from pipeline.config import Config, load_config
from pipeline.local_classifier import embed_texts

ROOT = Path(__file__).resolve().parents[2]
PROBE = ["This is a disgrace, I want my money back now.", "Thank you so much, it arrived and it's perfect!",
         "Could you tell me if the lamp ships to Ireland?"]


@pytest.fixture
def rows(monkeypatch):
    """A small slice of the shipped examples (a few per class), so each fit takes a moment."""
    shipped = sent.load_examples()
    pick = [r for c in sent.CLASSES for r in [x for x in shipped if x[1] == c][:6]]
    current = {"rows": pick}
    monkeypatch.setattr(sent, "training_examples", lambda cfg, path=sent.DATA_FILE: list(current["rows"]))
    restart(monkeypatch)
    return current


def restart(monkeypatch):
    """Forget every fitted model, as a new worker process would."""
    monkeypatch.setattr(sent, "_models", {})
    monkeypatch.setattr(sent, "_last", None)


class Counting:
    """The real embedding function, counting the texts it is asked for."""

    def __init__(self):
        self.texts: list[str] = []

    def __call__(self, texts):
        self.texts += list(texts)
        return embed_texts(texts)


def refuse(texts):
    raise AssertionError(f"embedded {len(texts)} texts: the disk cache should have answered")


def _cached(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.npy"))


def test_restart_reads_the_training_embeddings_from_disk(rows, tmp_path, monkeypatch):
    embed = Counting()
    first = sent.get_sentiment_model(None, embed, cache_dir=tmp_path)
    assert sorted(set(embed.texts)) == sorted({t for t, _ in rows["rows"]})
    assert len(_cached(tmp_path)) == 1

    restart(monkeypatch)
    again = sent.get_sentiment_model(None, refuse, cache_dir=tmp_path)
    assert again is not first
    e = embed_texts(PROBE)
    assert again.verdicts(PROBE, e) == first.verdicts(PROBE, e)


def test_without_a_cache_dir_nothing_is_written_and_a_restart_embeds_again(rows, tmp_path, monkeypatch):
    sent.get_sentiment_model(None, Counting())
    restart(monkeypatch)
    embed = Counting()
    sent.get_sentiment_model(None, embed)
    assert embed.texts
    assert not list(tmp_path.iterdir())


def test_changed_rows_are_embedded_again(rows, tmp_path, monkeypatch):
    sent.get_sentiment_model(None, Counting(), cache_dir=tmp_path)
    rows["rows"] = rows["rows"] + [("The courier left my parcel in the rain, everything is soaked.", "negative")]
    restart(monkeypatch)
    embed = Counting()
    model = sent.get_sentiment_model(None, embed, cache_dir=tmp_path)
    assert "The courier left my parcel in the rain, everything is soaked." in embed.texts
    assert len(_cached(tmp_path)) == 2  # the previous content is kept: edits are often reverted
    assert model.classes_ == list(sent.CLASSES)


def test_another_embedding_model_does_not_use_the_cache(rows, tmp_path, monkeypatch):
    sent.get_sentiment_model(None, Counting(), cache_dir=tmp_path)
    restart(monkeypatch)
    monkeypatch.setattr(ke, "current_model_id", lambda: "another-model")
    embed = Counting()
    sent.get_sentiment_model(None, embed, cache_dir=tmp_path)
    assert embed.texts  # vectors of one model are meaningless to another


@pytest.mark.parametrize("damage", ["garbage", "wrong_shape", "pickle"])
def test_a_damaged_cache_file_is_ignored_and_rewritten(rows, tmp_path, monkeypatch, damage):
    first = sent.get_sentiment_model(None, Counting(), cache_dir=tmp_path)
    (path,) = _cached(tmp_path)
    if damage == "garbage":
        path.write_bytes(b"not a numpy file")
    elif damage == "wrong_shape":
        np.save(path, np.zeros((3, 384), dtype=np.float32))
    else:  # an object array would need pickle to load: refused, never executed
        np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    restart(monkeypatch)
    embed = Counting()
    again = sent.get_sentiment_model(None, embed, cache_dir=tmp_path)
    assert embed.texts
    e = embed_texts(PROBE)
    assert again.verdicts(PROBE, e) == first.verdicts(PROBE, e)
    assert np.load(path, allow_pickle=False).shape == (len(rows["rows"]), embed_texts(["x"]).shape[1])  # repaired


def test_an_unwritable_cache_dir_only_costs_time(rows, tmp_path):
    blocker = tmp_path / "classifier_cache"
    blocker.write_text("a file where the folder should be")
    model = sent.get_sentiment_model(None, Counting(), cache_dir=blocker)
    assert model.verdicts(PROBE, embed_texts(PROBE))


def test_same_config_object_skips_reading_the_examples(rows, monkeypatch):
    calls = []
    real = sent.training_examples
    monkeypatch.setattr(sent, "training_examples", lambda cfg, path=sent.DATA_FILE: calls.append(cfg) or real(cfg))
    cfg = load_config(ROOT / "config")
    m1 = sent.get_sentiment_model(cfg, Counting())
    m2 = sent.get_sentiment_model(cfg, refuse)
    assert m1 is m2 and len(calls) == 1  # per message: an identity check, not a re-hash
    other = load_config(ROOT / "config")  # a reload: same content, read again, same model
    assert sent.get_sentiment_model(other, refuse) is m1
    assert len(calls) == 2


def test_warm_up_writes_both_caches_and_a_restart_embeds_nothing(rows, tmp_path, monkeypatch):
    full = load_config(ROOT / "config")
    keep = {n: full.intents.intents[n] for n in ("order_status", "billing", "other")}
    cfg = Config(intents=full.intents.model_copy(update={"intents": keep}), rules=full.rules, folder=full.folder)
    learned = tmp_path / lc.LEARNED_FILE
    warm_up(cfg, learned)
    assert len(_cached(tmp_path / "classifier_cache" / "sentiment")) == 1
    restart(monkeypatch)
    lc._models.pop(lc._cache_key(cfg, learned))  # the intent model too: a new process

    def no_embed(texts):
        if texts != ["warm up"]:  # the one probe message warm_up classifies
            raise AssertionError(f"embedded {len(texts)} texts after a restart")
        return embed_texts(texts)

    monkeypatch.setattr(lc, "_embed", no_embed)
    monkeypatch.setattr(lc, "embed_texts", no_embed)
    assert warm_up(cfg, learned) is not None


def test_with_minilm_for_triage_its_vectors_are_the_sentiment_vectors_and_carry_its_graph_version(rows, tmp_path,
                                                                                                  monkeypatch):
    # MiniLM has one vector: the intent model's training vectors are the sentiment model's, and both
    # move with its rewritten graph. The sentiment key lacked the graph version, so the two ids never
    # compared equal: the vectors were embedded again, and a cache from the old graph stayed valid.
    try:
        ke.select_model("all-MiniLM-L6-v2")
        assert ke.sentiment_features_id() == ke.classifier_features_id()
        texts = [t for t, _ in rows["rows"]]
        model = sent.get_sentiment_model(None, refuse, known=(texts, embed_texts(texts)), cache_dir=tmp_path)
        e = embed_texts(PROBE)
        restart(monkeypatch)
        assert sent.get_sentiment_model(None, Counting(), cache_dir=tmp_path).verdicts(PROBE, e) == model.verdicts(PROBE, e)
        restart(monkeypatch)
        monkeypatch.setattr(ke, "MINILM_GRAPH_VERSION", ke.MINILM_GRAPH_VERSION + 1)
        embed = Counting()
        sent.get_sentiment_model(None, embed, cache_dir=tmp_path)
        assert embed.texts  # another graph: its vectors, not the old ones from disk
    finally:
        ke.select_model("multilingual-e5-small")


def refuse_fit(self, *a, **k):
    raise AssertionError("the regression was fitted again: its cached head should have answered")


def test_restart_predicts_from_the_cached_head_without_fitting(rows, tmp_path, monkeypatch):
    first = sent.get_sentiment_model(None, Counting(), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.head.npz"))) == 1
    restart(monkeypatch)
    monkeypatch.setattr(sent.SentimentModel, "fit", refuse_fit)
    again = sent.get_sentiment_model(None, refuse, cache_dir=tmp_path)
    e = embed_texts(PROBE)
    np.testing.assert_array_equal(again.head.coef, first.head.coef)
    for c in sent.CLASSES:
        np.testing.assert_allclose(again.proba(PROBE, e)[c], first.proba(PROBE, e)[c], rtol=0, atol=1e-12)


def test_a_cache_from_before_heads_were_kept_is_fitted_once_then_reused(rows, tmp_path, monkeypatch):
    # What the previous code left: the embeddings only. The head is fitted from them (no embedding) and
    # saved, and the start after that fits nothing.
    first = sent.get_sentiment_model(None, Counting(), cache_dir=tmp_path)
    for f in tmp_path.glob("*.head.npz"):
        f.unlink()
    restart(monkeypatch)
    refit = sent.get_sentiment_model(None, refuse, cache_dir=tmp_path)
    np.testing.assert_allclose(refit.head.coef, first.head.coef)
    assert len(list(tmp_path.glob("*.head.npz"))) == 1
    restart(monkeypatch)
    monkeypatch.setattr(sent.SentimentModel, "fit", refuse_fit)
    sent.get_sentiment_model(None, refuse, cache_dir=tmp_path)


@pytest.mark.parametrize("damage", ["recipe", "shape", "classes", "garbage", "nan"])
def test_a_head_that_does_not_match_is_refit_never_used(rows, tmp_path, monkeypatch, damage):
    first = sent.get_sentiment_model(None, Counting(), cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.head.npz")
    h = first.head
    arrays = {"coef": h.coef, "intercept": h.intercept, "classes": h.classes,
              "recipe": np.frombuffer(sent.HEAD_RECIPE.encode(), dtype=np.uint8)}
    if damage == "recipe":  # another C or feature set: the weights are not this recipe's
        arrays["recipe"] = np.frombuffer(b"logreg-C16.0-balanced+vader+shouting+burst", dtype=np.uint8)
    elif damage == "shape":
        arrays["coef"] = h.coef[:, :-1]
    elif damage == "classes":
        arrays["classes"] = np.array(["angry", "calm", "neutral", "positive"])
    elif damage == "nan":
        arrays["coef"] = np.where(np.arange(h.coef.size).reshape(h.coef.shape) == 3, np.nan, h.coef)
    if damage == "garbage":
        path.write_bytes(b"not an npz")
    else:
        np.savez(path, **arrays)
    restart(monkeypatch)
    fits = []
    real_fit = sent.SentimentModel.fit
    monkeypatch.setattr(sent.SentimentModel, "fit", lambda self, *a, **k: fits.append(1) or real_fit(self, *a, **k))
    again = sent.get_sentiment_model(None, refuse, cache_dir=tmp_path)
    assert fits == [1]
    np.testing.assert_allclose(again.head.coef, first.head.coef)
