"""Where a fresh ingest's CPU goes: each model pass alone, its runs, tokens and padding.

    python bench/ingest_profile.py [--docs 150] [--kb config/knowledge] [--ops]

Takes ``bench/kb_bench.py``'s synthetic articles (or the Markdown folder ``--kb``), chunks them as
``knowledge.ingest`` does and times, one after the other with the models' caches emptied: MiniLM's
chunk pass, MiniLM's sentence pass ("heading: sentence", distinct texts), e5's chunk pass and its
heading-line pass (the multilingual index), each model's tokenising alone, chromadb's upserts into the
three collections (random vectors) and the BM25 index build. Per pass: process CPU (user + system) per
chunk, onnxruntime runs, rows per run, real and padded tokens. ``--ops``: onnxruntime's profiler on one
thread, each model's kernel time by operator. The models run as the product runs them (length groups,
one thread per run, runs side by side), without the shipped seed (``SIDECAR_EMBEDDING_SEED=0``: the demo
knowledge base's vectors are in it, and a pass served from it would time nothing); nothing is written
outside a temporary folder.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class _Shapes:
    """Wraps a session's ``run`` to count runs, rows and real / padded tokens."""

    def __init__(self, session, ids: str, mask: str) -> None:
        self.runs: list[tuple[int, int, int]] = []  # rows, padded width, real tokens
        real = session.run

        def run(output_names, feeds, run_options=None):
            m = feeds[mask]
            self.runs.append((int(m.shape[0]), int(m.shape[1]), int(m.sum())))
            return real(output_names, feeds, run_options)

        session.run = run

    def take(self) -> str:
        runs, self.runs = self.runs, []
        if not runs:
            return "no model run"
        padded = sum(r * w for r, w, _ in runs)
        real = sum(t for _, _, t in runs)
        return (f"{len(runs)} runs, {sum(r for r, _, _ in runs) / len(runs):.1f} rows a run, tokens {real} "
                f"(+{padded - real} padding, {100 * (padded - real) / padded:.1f}%)")


def _timed(label: str, n_chunks: int, fn) -> float:
    from knowledge.embedding import forget_recent

    forget_recent()
    t0, w0 = os.times(), time.perf_counter()
    fn()
    t1 = os.times()
    user, system = t1.user - t0.user, t1.system - t0.system
    print(f"{label:34s} CPU {user + system:6.2f} s (system {system:4.2f}) = {1000 * (user + system) / n_chunks:6.1f} ms "
          f"a chunk; wall {time.perf_counter() - w0:5.1f} s")
    return user + system


def _op_shares(graph, disabled: list[str], work, label: str, swap) -> None:
    """Runs ``work`` on a profiling session of ``graph`` (one thread) put in place by ``swap``."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "ort")
        sess = ort.InferenceSession(graph, sess_options=opts, providers=["CPUExecutionProvider"],
                                    disabled_optimizers=disabled)
        restore = swap(sess)
        try:
            work()
        finally:
            restore()
        events = json.loads(Path(sess.end_profiling()).read_text(encoding="utf-8"))
    by_op: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            by_op[e["args"]["op_name"]] += e["dur"]
    total = sum(by_op.values()) or 1
    print(f"{label}: kernels {total / 1e6:.2f} s wall (shares only: a busy machine stretches every kernel), by operator: "
          + ", ".join(f"{op} {100 * d / total:.1f}%" for op, d in by_op.most_common(10)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=150, help="synthetic articles (kb_bench's)")
    ap.add_argument("--kb", help="a Markdown / HTML / text folder instead of the synthetic articles")
    ap.add_argument("--ops", action="store_true", help="onnxruntime's profiler: each model's kernel time by operator")
    args = ap.parse_args(argv)
    os.environ["SIDECAR_EMBEDDING_SEED"] = "0"  # the models are what is timed (the demo KB is in the seed)

    from app.settings import get_settings

    get_settings()
    import numpy as np

    from bench.kb_bench import synthetic_docs
    from knowledge import e5_onnx, lexical, multilingual, sentences
    from knowledge import embedding as ke
    from knowledge.chunking import chunk_document, load_folder
    from knowledge.store import KnowledgeStore

    docs = load_folder(Path(args.kb).resolve()) if args.kb else synthetic_docs(args.docs)
    chunks = [c for d in docs for c in chunk_document(d)]
    texts = [c.embed_text for c in chunks]
    rows = [s for c in chunks for s in sentences.sentence_texts(c.doc.title, c.heading, c.body)]
    sent = list(dict.fromkeys(rows))
    heads = [multilingual.heading_line(t) for t in texts]
    n = len(chunks)
    print(f"{len(docs)} documents, {n} chunks, {len(rows)} sentence rows ({len(sent)} distinct texts, "
          f"{len(rows) / max(n, 1):.2f} a chunk)")
    mini, e5 = ke.get_embedder(), ke.get_multilingual_embedder()
    mini.embed(["warm up"])
    e5.embed_passages(["warm up"])  # model loads are not ingest
    m_runs = _Shapes(mini.session, "input_ids", "attention_mask")
    e_runs = _Shapes(e5._model._session, "emb", "mask")
    total = _timed("MiniLM, chunks", n, lambda: mini.embed_passages(texts))
    print(f"    {m_runs.take()}")
    total += _timed("MiniLM, sentences", n, lambda: mini.embed_passages(sent))
    print(f"    {m_runs.take()}")
    total += _timed("e5, chunks (multilingual index)", n, lambda: e5.embed_passages(texts))
    print(f"    {e_runs.take()}")
    total += _timed("e5, heading lines", n, lambda: e5.embed_passages(heads))
    print(f"    {e_runs.take()}")
    print(f"{'the four model passes':34s} CPU {total:6.2f} s = {1000 * total / max(n, 1):6.1f} ms a chunk")
    _timed("MiniLM tokenising (both passes)", n, lambda: (mini.tokenizer.encode_batch(texts),
                                                        mini.tokenizer.encode_batch(sent)))
    e5._model._words.clear()
    _timed("e5 tokenising (both passes)", n, lambda: (e5._model.token_ids(texts, "passage: "),
                                                     e5._model.token_ids(heads, "passage: ")))
    with tempfile.TemporaryDirectory() as tmp:
        store = KnowledgeStore(path=tmp)
        rng = np.random.default_rng(0)

        def unit(k: int) -> np.ndarray:
            v = rng.normal(size=(k, ke.DIM)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

        ids = [f"c{i}" for i in range(n)]
        metas = [{**c.metadata(), "origin": "bench"} for c in chunks]
        vecs, e5vecs = unit(n), unit(n)

        def writes() -> None:
            for s in range(0, n, 256):
                sl = slice(s, s + 256)
                store.collection.upsert(ids=ids[sl], embeddings=vecs[sl], documents=[c.body for c in chunks[sl]],
                                        metadatas=metas[sl])
                sentences.add(store, [(cid, c.body, m) for cid, c, m in zip(ids[sl], chunks[sl], metas[sl], strict=True)],
                              known=_Known(unit))
                multilingual.add(store, [(cid, t, c.body, m) for cid, t, c, m in
                                         zip(ids[sl], texts[sl], chunks[sl], metas[sl], strict=True)], vectors=e5vecs[sl])

        _timed("chromadb upserts (3 collections)", n, writes)
        _timed("BM25 index build (first search)", n, lambda: lexical.index_for(store))
    if args.ops:
        from knowledge.embedding import _minilm_files, minilm_session_graph
        from knowledge.graph_cache import cached_graph

        def swap_minilm(sess):
            old, runners = mini.session, mini._runners
            mini.session, mini._runners = sess, 1
            return lambda: (setattr(mini, "session", old), setattr(mini, "_runners", runners))

        def swap_e5(sess):
            old, runners = e5._model._session, e5._model._runners
            e5._model._session, e5._model._runners = sess, 1
            return lambda: (setattr(e5._model, "_session", old), setattr(e5._model, "_runners", runners))

        ke.forget_recent()
        _op_shares(minilm_session_graph(_minilm_files()[0]), [], lambda: (mini.embed_passages(texts),
                                                                         mini.embed_passages(sent)),
                   "MiniLM (chunks + sentences)", swap_minilm)
        graph = cached_graph(f"e5-{e5_onnx.WEIGHT_BITS}bit", ke.E5_SHA256, e5_onnx.E5_GRAPH_VERSION,
                             lambda: e5_onnx.build_graph(e5._model._file), as_path=True)
        ke.forget_recent()
        _op_shares(graph, e5_onnx.DISABLED_OPTIMIZERS, lambda: multilingual.chunk_vectors(texts),
                   "e5 (chunks + heading lines)", swap_e5)
    return 0


class _Known(dict):
    """Every sentence text "known" with a random vector: the upsert is timed without the model."""

    def __init__(self, unit) -> None:
        super().__init__()
        self._unit = unit

    def __contains__(self, key: object) -> bool:
        return True

    def __bool__(self) -> bool:
        return True

    def __missing__(self, key: str):
        v = self[key] = self._unit(1)[0]
        return v


if __name__ == "__main__":
    raise SystemExit(main())
