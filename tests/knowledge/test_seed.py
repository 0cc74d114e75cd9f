"""The shipped embedding seed (knowledge/seed/): its vectors are the real models', a text it does not
hold is embedded, its keys are honest (model, prefix), and it covers the current default config."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import seed, seed_build
from knowledge.embedding import _FACTORIES, BGE_MODEL, E5_MODEL, MINILM_MODEL, E5Embedder, LocalEmbedder

SAMPLE = 12  # texts recomputed per model and kind (the whole seed takes ~40 s to rebuild)


class Counting:
    """Mixin: records what reaches the model."""

    def _embed_batch(self, texts):
        self.ran = [*getattr(self, "ran", []), *texts]
        return super()._embed_batch(texts)


class CountingE5(Counting, E5Embedder):
    pass


class CountingMiniLM(Counting, LocalEmbedder):
    pass


@pytest.fixture(scope="module")
def defaults():
    return seed_build.default_texts("config")


@pytest.fixture(scope="module")
def e5():
    return E5Embedder(cache_size=0)


@pytest.fixture(scope="module")
def minilm():
    return LocalEmbedder(cache_size=0)


def _spread(texts: list[str], n: int = SAMPLE) -> list[str]:
    # Evenly over the list (intents, then sentiment; chunks with their sentences), deterministic.
    if len(texts) <= n:
        return list(texts)
    return [texts[int(i)] for i in np.linspace(0, len(texts) - 1, n)]


@pytest.mark.parametrize("name,kind", [(E5_MODEL, "query"), (E5_MODEL, "sentiment"), (MINILM_MODEL, "passage")])
def test_seeded_vectors_are_what_the_model_computes(defaults, e5, minilm, name, kind):
    emb = e5 if name == E5_MODEL else minilm
    texts = _spread(defaults[name][kind])
    assert texts, f"no default {kind} texts for {name}"
    loaded = seed.load(emb.model_id, emb.seed_build)
    assert loaded is not None, f"no seed for {emb.model_id}: run `{seed.BUILD_COMMAND}`"
    inputs, fresh = emb.compute(texts, passages=kind == "passage", sentiment=kind == "sentiment")
    for text, model_input, v in zip(texts, inputs, fresh, strict=True):
        stored = loaded.get(model_input)
        assert stored is not None, f"{text[:60]!r} not seeded"
        # onnxruntime's numerics differ a little between CPUs: compare directions, never bytes. The
        # seed is built on an AVX-512 VNNI CPU; on an AVX2-only one the int8 kernels round otherwise:
        # every default text measured there lands at >= 0.99978 (MiniLM passages) / 0.99984 (e5), while a
        # wrong model, prefix or text gives < 0.99.
        assert float(stored @ v) >= 0.9995, f"{text[:60]!r}: cosine {float(stored @ v):.6f}"
        assert stored.dtype == np.float32 and abs(float(np.linalg.norm(stored)) - 1) < 1e-5


def test_a_changed_or_new_text_misses_the_seed_and_is_embedded(defaults):
    emb = CountingE5(cache_size=0)
    seeded = defaults[E5_MODEL]["query"][3]
    edited = seeded + " please"
    new = "my parcel arrived wet and the label came off"
    vecs = emb.embed([seeded, edited, new])
    assert sorted(emb.ran) == sorted([edited, new]), "only the texts the seed lacks reach the model"
    assert (emb.seeded, emb.computed) == (1, 2)
    assert np.allclose(vecs[0], seed.load(emb.model_id, emb.seed_build).get("query: " + seeded))
    # The prefix is part of the key: the same words as a passage are another input to e5.
    emb.ran = []
    emb.embed_passages([seeded])
    assert emb.ran and emb.ran[0].endswith(seeded)


def test_the_model_id_is_part_of_the_key(defaults):
    # A knowledge passage seeded for MiniLM is not served to e5 (which has it in no seed: e5's holds
    # the chunks, for the multilingual index, not their sentences).
    passage = next(p for p in defaults[MINILM_MODEL]["passage"] if p not in defaults[E5_MODEL]["passage"])
    e5 = CountingE5(cache_size=0)
    e5.embed_passages([passage])
    assert e5.computed == 1 and e5.seeded == 0
    mini = CountingMiniLM(cache_size=0)
    mini.embed_passages([passage])
    assert mini.computed == 0 and mini.seeded == 1 and not getattr(mini, "ran", [])


def test_a_seed_for_another_model_file_is_ignored(tmp_path, defaults):
    texts = defaults[MINILM_MODEL]["passage"][:3]
    vecs = np.eye(3, 384, dtype=np.float32)  # deliberately wrong vectors
    inputs = [LocalEmbedder.model_input(t) for t in texts]
    seed.write(seed.path_for(LocalEmbedder.model_id, tmp_path), LocalEmbedder.model_id, "0" * 64, inputs, vecs)
    assert seed.load(LocalEmbedder.model_id, LocalEmbedder.model_sha256, tmp_path) is None
    seed.write(seed.path_for(LocalEmbedder.model_id, tmp_path), LocalEmbedder.model_id,
               LocalEmbedder.model_sha256, inputs, vecs)
    seed.forget()
    got = seed.load(LocalEmbedder.model_id, LocalEmbedder.model_sha256, tmp_path)
    assert got is not None and len(got) == 3 and np.allclose(got.get(inputs[1]), vecs[1])
    seed.forget()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "wrong_arrays"])
def test_a_damaged_seed_file_is_ignored_with_a_log_line(tmp_path, defaults, damage, caplog):
    texts = defaults[MINILM_MODEL]["passage"][:3]
    inputs = [LocalEmbedder.model_input(t) for t in texts]
    path = seed.path_for(LocalEmbedder.model_id, tmp_path)
    seed.write(path, LocalEmbedder.model_id, LocalEmbedder.model_sha256, inputs, np.eye(3, 384, dtype=np.float32))
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x93NUMPY not really" * 50)
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a readable archive with the wrong arrays in it
        np.savez(path, format=np.array(seed.FORMAT), model_id=np.array(LocalEmbedder.model_id),
                 model_sha256=np.array(LocalEmbedder.model_sha256), keys=np.zeros((3, 7), np.uint8),
                 vectors=np.zeros((3, 384), np.float16))
    seed.forget()
    with caplog.at_level("WARNING", logger="knowledge.seed"):
        assert seed.load(LocalEmbedder.model_id, LocalEmbedder.model_sha256, tmp_path) is None
    assert any("embedding seed" in r.getMessage() for r in caplog.records), caplog.text
    seed.forget()


def test_the_switch_turns_the_seed_off(monkeypatch, defaults):
    monkeypatch.setenv("SIDECAR_EMBEDDING_SEED", "0")
    emb = CountingMiniLM(cache_size=0)
    emb.embed_passages(defaults[MINILM_MODEL]["passage"][:2])
    assert (emb.seeded, emb.computed) == (0, 2)


@pytest.mark.parametrize(("value", "on"), [("0", False), ("off", False), (" False ", False), ("no", False),
                                           ("1", True), ("on", True), ("yes", True), ("auto", True), ("", True)])
def test_the_switch_reads_on_off_and_auto(monkeypatch, value, on):
    monkeypatch.setenv("SIDECAR_EMBEDDING_SEED", value)
    assert seed.enabled() is on


def test_a_typo_in_the_switch_is_refused_naming_it(monkeypatch):
    """Benchmarks read the switch without the settings: a typo is an error there too, not the seed left on."""
    monkeypatch.setenv("SIDECAR_EMBEDDING_SEED", "of")
    with pytest.raises(ValueError, match="SIDECAR_EMBEDDING_SEED must be 1, 0 or auto"):
        seed.enabled()


def test_the_seed_covers_the_default_config():
    gaps = seed_build.missing("config")
    # e5 (triage, multilingual index), bge (the English triage head), MiniLM (knowledge base).
    assert set(gaps) == {_FACTORIES[E5_MODEL].model_id, _FACTORIES[BGE_MODEL].model_id, _FACTORIES[MINILM_MODEL].model_id}
    stale = {m: t[:3] for m, t in gaps.items() if t}
    assert not stale, (f"the shipped embedding seed lacks default texts (first start embeds them: slower, "
                       f"still correct): {stale}; rebuild it with `{seed.BUILD_COMMAND}` and commit knowledge/seed/")


def test_an_operators_own_article_is_a_gap_the_check_names(tmp_path):
    import shutil

    shutil.copytree("config", tmp_path / "config")
    (tmp_path / "config" / "knowledge" / "own.md").write_text(
        "# Gift wrapping\n\nWe wrap any order in recycled paper for two euros, chosen at checkout.\n", encoding="utf-8")
    gaps = seed_build.missing(tmp_path / "config")
    # e5 lacks only the new chunk (and its title line), for the multilingual index; no triage text.
    assert gaps[E5Embedder.model_id] and all(t.startswith("passage: Gift wrapping") for t in gaps[E5Embedder.model_id])
    assert gaps[LocalEmbedder.model_id] and all("Gift wrapping" in t or "wrap" in t
                                                for t in gaps[LocalEmbedder.model_id])


def test_the_shipped_calibration_is_what_the_cv_pass_measures():
    from pipeline import local_classifier as lc
    from pipeline.config import load_config

    cfg = load_config("config")
    key = lc._cache_key(cfg, None)
    texts, labels = lc.training_data(cfg)
    vectors: dict[int, np.ndarray] = {}
    # Each head of the default model has its own; e5's head first, as the seed build runs them: the English
    # head's CV pass reads its partner's vectors (the weight of e5's logits, 0.5 for the default intents
    # since the fourteenth session's examples), so a pass without them would measure another calibration.
    heads = sorted(lc.head_keys(key, lc.new_model()), key=lambda h: h[1].partner is not None)
    for name, head, hkey in heads:
        shipped = lc._shipped_cv(hkey)
        assert shipped is not None, f"no shipped calibration for the default intents' {name} head: run `{seed.BUILD_COMMAND}`"
        vectors[id(head)] = head.vectors(texts)
        partner = vectors[id(head.partner)] if head.partner is not None else None
        fresh = head._cross_validate(texts, labels, vectors[id(head)], cfg.intents.oos_intent, partner_emb=partner)
        assert fresh.folds == shipped.folds >= 3
        assert fresh.partner_weight == shipped.partner_weight
        assert abs(fresh.temperature - shipped.temperature) < 1e-3 * shipped.temperature
        assert fresh.in_scope_accuracy == pytest.approx(shipped.in_scope_accuracy, abs=0.005)
        assert fresh.threshold == pytest.approx(shipped.threshold, abs=0.01)
        assert np.allclose(fresh.conf_ref, shipped.conf_ref, atol=1e-3)
        assert np.allclose(fresh.sim_ref, shipped.sim_ref, atol=1e-3)


def test_only_the_default_intents_find_the_shipped_calibration(tmp_path, caplog):
    import logging

    from pipeline import local_classifier as lc
    from pipeline.config import Config, load_config

    cfg = load_config("config")
    assert not seed_build.calibration_missing("config")
    keep = {n: cfg.intents.intents[n] for n in ("order_status", "billing", "other")}
    mini = Config(intents=cfg.intents.model_copy(update={"intents": keep}), rules=cfg.rules, folder=cfg.folder)
    assert lc._shipped_cv(lc._cache_key(mini, None)) is None
    learned = tmp_path / lc.LEARNED_FILE
    learned.write_text('{"text": "my card statement shows a mystery debit", "label": "billing"}\n', encoding="utf-8")
    assert lc._shipped_cv(lc._cache_key(cfg, learned)) is None, "learned examples change what is calibrated"
    lc._models.pop(lc._cache_key(cfg, tmp_path / "none.jsonl"), None)
    with caplog.at_level(logging.INFO, logger="pipeline.local_classifier"):
        model = lc.get_local_model(cfg, tmp_path / "none.jsonl")  # a fresh var/: no cache, no learned file
    assert "(shipped calibration)" in caplog.text
    assert model.temperature == lc._shipped_cv(lc._cache_key(cfg, None)).temperature
