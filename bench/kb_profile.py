"""Where a knowledge-base search's CPU goes, and whether a change keeps its results.

    python bench/kb_profile.py --store /tmp/kb10k [--build] [--queries 200] [--profile cprofile|off]
                               [--dump results.json] [--compare other.json]

``--build`` fills a chroma folder as ``bench/kb_bench.py`` does (``--ingest-docs`` synthetic articles ingested
for real, then random-vector filler up to ``--chunks``), once; later runs reuse the folder, so two versions
of the code (``--code DIR``: a checkout to import the project from) are timed and compared on the very same
store. Each run times the bench's English questions unfiltered and language-filtered and its French ones
(multilingual index), CPU per search p50 / p95; ``--profile cprofile`` prints the top functions by
cumulative time; ``--dump`` writes every search's ranked (document id, score, text) and every
``hybrid_hits`` candidate (chunk id, fused, cosine) to a JSON file, and ``--compare`` checks them against
another run's dump (equal ids and order, scores within 1e-6).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.search_record import same_rows  # noqa: E402


def _searches(queries: int) -> list[tuple[str, str, str | None]]:
    from bench.kb_bench import CROSS_QUERIES, QUERIES

    out: list[tuple[str, str, str | None]] = []
    for i in range(queries):
        out.append(("unfiltered", QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}"), None))
    for i in range(queries):
        out.append(("en", QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}"), "en"))
    for i in range(queries):
        out.append(("fr", CROSS_QUERIES[i % len(CROSS_QUERIES)] + ("" if i < len(CROSS_QUERIES) else f" {i}"), "fr"))
    return out


def _tuning_messages(queries: int) -> list[tuple[str, str, str | None]]:
    """Distinct customer messages (the English tuning splits, tune then tune2), each searched once unfiltered:
    unlike the bench's 15 questions with a number appended, their candidates repeat only as real topics do."""
    import yaml

    out: list[tuple[str, str, str | None]] = []
    for name in ("eval_tune.yaml", "eval_tune2.yaml"):
        data = yaml.safe_load((ROOT / "tests/fixtures/knowledge" / name).read_text(encoding="utf-8"))
        out += [("messages", str(it["msg"]), None) for it in data["items"]]
    return out[:queries]


def build(path: str, ingest_docs: int, chunks: int) -> None:
    from bench.kb_bench import fill, synthetic_docs
    from knowledge.ingest import ingest_documents
    from knowledge.store import KnowledgeStore

    store = KnowledgeStore(path=path)
    ingest_documents(store, synthetic_docs(ingest_docs), origin="bench", progress=False)
    if store.count() < chunks:
        fill(store, chunks)
    print(f"built {path}: {store.count()} chunks")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, help="chroma folder (filled once with --build)")
    ap.add_argument("--build", action="store_true")
    ap.add_argument("--ingest-docs", type=int, default=400)
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--only", choices=["unfiltered", "en", "fr"], action="append", help="time only these runs")
    ap.add_argument("--messages", action="store_true",
                    help="search the tuning splits' distinct messages instead (up to --queries of them)")
    ap.add_argument("--profile", choices=["off", "cprofile"], default="off")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--dump", help="write the results to this JSON file")
    ap.add_argument("--compare", help="compare the results with this JSON file (another run's --dump)")
    ap.add_argument("--cold", action="store_true",
                    help="forget the rows kept between searches (knowledge.rows) before each search: the worst case")
    ap.add_argument("--code", help="import the project from this checkout instead (a base to compare with)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.code:
        sys.path.insert(0, str(Path(args.code).resolve()))
    for name in list(sys.modules):  # bench (this file's package) must come from the same checkout
        if name == "bench" or name.startswith("bench."):
            del sys.modules[name]

    from app.settings import get_settings

    get_settings()
    import knowledge

    print(f"code: {Path(knowledge.__file__).resolve().parent.parent}")
    if args.build:
        build(args.store, args.ingest_docs, args.chunks)
    from knowledge import retrieve
    from knowledge.store import KnowledgeStore

    store = KnowledgeStore(path=args.store)
    retrieve.RERANK = False
    for q, lang in (("where is my parcel", None), ("where is my parcel", "en"), ("où est mon colis", "fr")):
        retrieve.search(store, q, k=3, language=lang)  # warm: models, BM25 index, e5
    searches = _tuning_messages(args.queries) if args.messages else \
        [s for s in _searches(args.queries) if not args.only or s[0] in args.only]
    read_rows = _count_reads(store)
    results: list[dict] = []
    cpu: dict[str, list[float]] = {}
    prof = None
    if args.profile == "cprofile":
        import cProfile

        prof = cProfile.Profile()
    for run, q, lang in searches:
        if args.cold:
            store.__dict__.pop("_row_readers", None)
        c0 = time.process_time()
        if prof is not None:
            prof.enable()
        got = retrieve.search(store, q, k=3, language=lang)
        if prof is not None:
            prof.disable()
        cpu.setdefault(run, []).append((time.process_time() - c0) * 1000)
        if args.dump or args.compare:
            hits = retrieve.hybrid_hits(store, q, language=lang)
            results.append({"run": run, "q": q, "sources": [[s.id, s.score, s.title, s.text] for s in got],
                            "hits": [[h.chunk_id, h.fused, h.cosine] for h in hits]})
    if read_rows:
        print(f"rows read from chroma by id: {read_rows[0]} over {len(searches)} searches")
    for run, ms in cpu.items():
        ms.sort()
        print(f"{run}: {len(ms)} searches, CPU p50 {statistics.median(ms):.2f} ms, "
              f"p95 {ms[int(0.95 * (len(ms) - 1))]:.2f} ms, mean {statistics.fmean(ms):.2f} ms")
    if prof is not None:
        import pstats

        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
    if args.dump:
        Path(args.dump).write_text(json.dumps(results), encoding="utf-8")
    if args.compare:
        return compare(json.loads(Path(args.compare).read_text(encoding="utf-8")), results)
    return 0


def _count_reads(store) -> list[int]:
    """Counts the rows the chunk collection is asked for by id (what knowledge.rows saves), in a one-item list."""
    count = [0]
    col = store.collection
    real = col.get

    def get(*a, **kw):
        count[0] += len(kw.get("ids") or [])
        return real(*a, **kw)

    col.get = get
    return count


def compare(base: list[dict], mine: list[dict], tol: float = 1e-6) -> int:
    """0 when every search returned the same ranked documents and candidates (scores within ``tol``)."""
    bad = 0
    if len(base) != len(mine):
        print(f"different numbers of searches: {len(base)} against {len(mine)}")
        return 1
    for b, m in zip(base, mine, strict=True):
        same = (b["q"] == m["q"] and same_rows(b["sources"], m["sources"], "sources", tol)
                and same_rows(b["hits"], m["hits"], "hits", tol))
        if not same:
            bad += 1
            if bad <= 5:
                print(f"differs: {b['run']} {b['q']!r}")
    print(f"compared {len(base)} searches: {len(base) - bad} identical, {bad} different")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
