"""Building and checking the shipped embedding seed (:mod:`knowledge.seed`) from the default config.

``python -m app seed build`` writes it, ``python -m app seed check`` (and ``tests/knowledge/test_seed.py``)
says which default texts it lacks. The texts come from the same functions a start uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from knowledge import seed


def default_texts(config_dir: str | Path = "config") -> dict[str, dict[str, list[str]]]:
    """What a first start on ``config_dir`` embeds with the default models, without embedding it.

    ``{model name: {"query": texts, "passage": texts, "sentiment": texts}}`` as the callers hand
    them to ``embed`` / ``embed_passages`` / ``embed_sentiment``: the triage model's intent and sentiment training texts (as
    :func:`pipeline.local_classifier.embed_texts` passes them), the knowledge base model's chunks
    and sentences of ``<config_dir>/knowledge``, and those chunks for the triage model too when it
    keeps the knowledge base's multilingual index (:mod:`knowledge.multilingual`, on by default).
    Built from the same functions the start uses.
    """
    from knowledge.chunking import chunk_document, load_folder
    from knowledge.embedding import (
        BGE_MODEL,
        DEFAULT_ENGLISH_TRIAGE,
        DEFAULT_KB_MODEL,
        DEFAULT_MODEL,
        E5_MODEL,
        MINILM_MODEL,
    )
    from knowledge.sentences import sentence_texts
    from pipeline.config import load_config
    from pipeline.local_classifier import _unshout, training_data
    from pipeline.sentiment import training_examples

    cfg = load_config(config_dir)
    intents, _ = training_data(cfg)
    triage = _unique(_unshout(t or "") for t in intents)
    # The sentiment model reads e5's sentiment vectors (knowledge.embedding.E5Embedder.embed_pair).
    sentiment = _unique(_unshout(t or "") for t, _ in training_examples(cfg))
    passages: list[str] = []
    chunks: list[str] = []
    kb = Path(config_dir) / "knowledge"
    if kb.is_dir():
        for doc in load_folder(kb.resolve()):
            for ch in chunk_document(doc):
                meta = ch.metadata()
                chunks.append(ch.embed_text)
                passages.append(ch.embed_text)
                passages += sentence_texts(str(meta.get("title") or ""), str(meta.get("heading") or ""), ch.body)
    out: dict[str, dict[str, list[str]]] = {DEFAULT_MODEL: {"query": triage, "passage": [], "sentiment": sentiment}}
    if DEFAULT_MODEL == E5_MODEL and DEFAULT_ENGLISH_TRIAGE:  # the English head's vectors of the same examples
        out[BGE_MODEL] = {"query": list(triage), "passage": [], "sentiment": []}
    out.setdefault(DEFAULT_KB_MODEL, {"query": [], "passage": [], "sentiment": []})["passage"] += _unique(passages)
    if DEFAULT_MODEL == E5_MODEL and DEFAULT_KB_MODEL == MINILM_MODEL:  # the multilingual index's defaults
        from knowledge.multilingual import heading_line

        out[DEFAULT_MODEL]["passage"] += _unique(chunks + [heading_line(t) for t in chunks])
    return out


def _unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def missing(config_dir: str | Path = "config", folder: Path | None = None) -> dict[str, list[str]]:
    """Default texts the shipped seed lacks, per model id (empty lists: the seed is current).

    Nothing is embedded and no model is loaded: the keys are computed from the texts.
    """
    from knowledge.embedding import _FACTORIES

    out: dict[str, list[str]] = {}
    for name, kinds in default_texts(config_dir).items():
        cls = _FACTORIES[name]
        loaded = seed._read(seed.path_for(cls.model_id, folder), cls.model_id, cls.seed_build)
        inputs = (cls.prepared(kinds["query"]) + cls.prepared(kinds["passage"], passages=True)
                  + cls.prepared(kinds["sentiment"], sentiment=True))
        wanted = [cls.model_input(t) for t in inputs]
        out[cls.model_id] = [t for t in wanted if loaded is None or t not in loaded]
    return out


def build(config_dir: str | Path = "config", folder: Path | None = None,
          cv_folder: Path | None = None) -> dict[str, int]:
    """Embed the default config's texts with the real models and write the seed files, then the
    default intents' calibration (from those vectors) -> entries per model id."""
    from knowledge.embedding import _FACTORIES

    written: dict[str, int] = {}
    for name, kinds in default_texts(config_dir).items():
        emb = _FACTORIES[name](cache_size=0)
        inputs: list[str] = []
        parts = []
        for kind, texts in kinds.items():
            if texts:
                got, vecs = emb.compute(texts, passages=kind == "passage", sentiment=kind == "sentiment")
                inputs += got
                parts.append(vecs)
        vectors = np.vstack(parts) if parts else np.zeros((0, emb.dim), dtype=np.float32)
        keep = dict(zip(inputs, range(len(inputs)), strict=True))  # one row per distinct model input
        seed.write(seed.path_for(emb.model_id, folder), emb.model_id, emb.seed_build, list(keep), vectors[list(keep.values())])
        written[emb.model_id] = len(keep)
    seed.forget()
    written[CALIBRATION] = _with_defaults(lambda: _write_calibration(config_dir, cv_folder))
    return written


CALIBRATION = "intent calibration"  # the CV pass of the default intents (pipeline.local_classifier)


def _write_calibration(config_dir: str | Path, cv_folder: Path | None) -> int:
    from pipeline.config import load_config
    from pipeline.local_classifier import write_shipped_cv

    write_shipped_cv(load_config(config_dir), cv_folder)
    return 1


def _with_defaults(run):
    # The calibration's key names the triage model: built for the defaults, whatever the env selects.
    from knowledge import embedding

    before = (embedding.selected_model(), embedding._companion, embedding._english_triage)
    embedding.select_model(None)
    embedding.select_companion(False)
    embedding.select_english_triage(embedding.DEFAULT_ENGLISH_TRIAGE)
    try:
        return run()
    finally:
        embedding.select_model(before[0])
        embedding.select_companion(before[1])
        embedding.select_english_triage(before[2])


def calibration_missing(config_dir: str | Path = "config", cv_folder: Path | None = None) -> bool:
    """Whether the default intents' shipped calibration is absent (the first start then runs the CV pass)."""
    from pipeline.config import load_config
    from pipeline.local_classifier import _cache_key, shipped_cv_path

    def paths() -> list[Path]:
        from pipeline.local_classifier import head_keys, new_model

        key = _cache_key(load_config(config_dir), None)
        return [shipped_cv_path(k, cv_folder) for _n, _h, k in head_keys(key, new_model())]

    return not all(p.is_file() for p in _with_defaults(paths))
