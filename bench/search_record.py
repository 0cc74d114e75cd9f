"""Record every knowledge-base search a bench makes, to check that a speed change keeps retrieval's results.

    python bench/search_record.py --out a.json -- bench/retrieval_eval.py --split tune
    python bench/search_record.py --compare base.json a.json

The first form runs the bench script given after ``--`` with ``knowledge.retrieve.hybrid_hits`` and ``search``
wrapped: every call's question, options and results (each candidate's chunk id, fused score and cosine; each
returned source's id, score, title and text) go to the JSON file. Run it from two checkouts (``--code``:
import the project from another one) and ``--compare`` the files: identical ids and order, scores within 1e-6.
chromadb's HNSW graphs are built on one thread here (``_one_thread_hnsw``), so that two runs search the same graph.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _record(out: list[dict[str, Any]]) -> None:
    from knowledge import retrieve

    hybrid, search = retrieve.hybrid_hits, retrieve.search

    def hybrid_hits(store: Any, text: str, **kw: Any) -> Any:
        hits = hybrid(store, text, **kw)
        out.append({"call": "hybrid_hits", "text": text, "kw": repr(sorted(kw.items())),
                    "hits": [[h.chunk_id, h.fused, h.cosine] for h in hits]})
        return hits

    def searched(store: Any, text: str, **kw: Any) -> Any:
        got = search(store, text, **kw)
        out.append({"call": "search", "text": text, "kw": repr(sorted((k, v) for k, v in kw.items()
                                                                      if k != "embedding")),
                    "sources": [[s.id, s.score, s.title, s.text] for s in got]})
        return got

    retrieve.hybrid_hits, retrieve.search = hybrid_hits, searched


EF_SEARCH = 4000  # longer than the demo KB's sentence rows: the HNSW searches are exhaustive there


def _one_thread_hnsw() -> None:
    """chromadb's HNSW searches are approximate and differ from run to run: two ingests of the same knowledge base
    (the graph depends on how its insert threads interleave), and even two processes loading one stored folder
    (MTRAG cloud, the same code twice on one ``--store``: 21 of 752 calls differ in a candidate or its rank), give
    candidates that differ now and then. Built on one thread with a search list longer than the demo knowledge
    base's collections, the searches are exact, so a comparison of two versions sees only the code's changes
    (up to ties: help centres' copied sections have equal distances).
    """
    from knowledge import store as ks

    make = ks.make_client

    def make_client(*a: Any, **kw: Any) -> Any:
        client = make(*a, **kw)
        create = client.create_collection

        def create_collection(name: str, *ca: Any, configuration: Any = None, **ckw: Any) -> Any:
            conf = dict(configuration or {})
            conf["hnsw"] = {**(conf.get("hnsw") or {}), "num_threads": 1, "ef_search": EF_SEARCH}
            return create(name, *ca, configuration=conf, **ckw)

        client.create_collection = create_collection
        return client

    ks.make_client = make_client


def same_rows(base: list[list[Any]], mine: list[list[Any]], kind: str, tol: float = 1e-6) -> bool:
    """Whether two ranked result lists match: same ids in the same order, scores within ``tol``.

    ``kind`` "sources": rows ``[id, score, *fields]`` (a search's returned sources: the other fields equal);
    "hits": rows ``[id, fused, cosine]`` (``hybrid_hits``'s candidates: both scores within ``tol``).
    """
    if len(base) != len(mine):
        return False
    for x, y in zip(base, mine, strict=True):
        if x[0] != y[0] or abs(x[1] - y[1]) > tol:
            return False
        if kind == "sources" and x[2:] != y[2:]:
            return False
        if kind == "hits" and abs(x[2] - y[2]) > tol:
            return False
    return True


def compare(base: list[dict[str, Any]], mine: list[dict[str, Any]], tol: float = 1e-6) -> int:
    """0 when both runs made the same calls with the same results (scores within ``tol``)."""
    if len(base) != len(mine):
        print(f"different numbers of calls: {len(base)} against {len(mine)}")
        return 1
    bad = 0
    for b, m in zip(base, mine, strict=True):
        kind = "sources" if b["call"] == "search" else "hits"
        same = ((b["call"], b["text"], b["kw"]) == (m["call"], m["text"], m["kw"])
                and same_rows(b.get(kind) or [], m.get(kind) or [], kind, tol))
        if not same:
            bad += 1
            if bad <= 5:
                print(f"differs: {b['call']} {b['text'][:80]!r}")
    print(f"compared {len(base)} calls: {len(base) - bad} identical, {bad} different")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    rest: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, rest = argv[:at], argv[at + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="JSON file for the calls recorded")
    ap.add_argument("--code", help="import the project from this checkout")
    ap.add_argument("--compare", nargs=2, metavar=("BASE", "MINE"))
    args = ap.parse_args(argv)
    if args.compare:
        a, b = (json.loads(Path(p).read_text(encoding="utf-8")) for p in args.compare)
        return compare(a, b)
    if not rest or not args.out:
        ap.error("--out FILE -- SCRIPT [ARGS...] expected")
    code = Path(args.code).resolve() if args.code else ROOT
    sys.path.insert(0, str(code))
    calls: list[dict[str, Any]] = []
    _one_thread_hnsw()
    _record(calls)
    sys.argv = rest
    try:
        runpy.run_path(str(code / rest[0]) if not Path(rest[0]).is_absolute() else rest[0], run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        Path(args.out).write_text(json.dumps(calls), encoding="utf-8")
        print(f"{len(calls)} calls recorded in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
