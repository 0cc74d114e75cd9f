"""Retrieval quality on the demo knowledge base: recall@1/3/5 and MRR on a labeled question set.

    python bench/retrieval_eval.py [--kb config/knowledge] [--questions tests/fixtures/knowledge/retrieval_questions.yaml]

Ingests the KB into a temporary chroma folder (the real one is never touched), asks every
question with no intent hint (the hardest case) and prints the figures and the misses.
Target: recall@3 >= 0.9.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from knowledge.ingest import ingest_folder
    from knowledge.retrieve import DEFAULT_THRESHOLD, search
    from knowledge.store import KnowledgeStore

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", default=str(ROOT / "config/knowledge"))
    ap.add_argument("--questions", default=str(ROOT / "tests/fixtures/knowledge/retrieval_questions.yaml"))
    ap.add_argument("--k", type=int, default=5)
    args = ap.parse_args(argv)

    data = yaml.safe_load(Path(args.questions).read_text(encoding="utf-8"))
    qs, off_topic = data["questions"], data.get("off_topic") or []
    with tempfile.TemporaryDirectory() as tmp:
        store = KnowledgeStore(path=tmp)
        rep = ingest_folder(store, args.kb, progress=False)
        print(f"ingested: {rep.summary()}")
        ranks: list[int | None] = []
        misses = []
        t0 = time.perf_counter()
        for item in qs:
            got = [s.id for s in search(store, item["q"], k=args.k, threshold=0.0)]
            rank = got.index(item["expected"]) + 1 if item["expected"] in got else None
            ranks.append(rank)
            if rank is None or rank > 3:
                misses.append((item["q"], item["expected"], got[:3], rank))
        elapsed = time.perf_counter() - t0
        answered = sum(1 for item in qs if search(store, item["q"], k=1))
        silent = [q for q in off_topic if not search(store, q, k=1)]
    n = len(ranks)

    def recall(k: int) -> float:
        return sum(1 for r in ranks if r is not None and r <= k) / n

    mrr = sum(1.0 / r for r in ranks if r) / n
    print(f"questions: {n}  recall@1: {recall(1):.3f}  recall@3: {recall(3):.3f}  recall@5: {recall(5):.3f}  "
          f"MRR: {mrr:.3f}  ({1000 * elapsed / n:.1f} ms/question)")
    print(f"relevance threshold {DEFAULT_THRESHOLD:.2f}: {answered}/{n} on-topic questions get a passage, "
          f"{len(silent)}/{len(off_topic)} off-topic messages get none")
    for q, exp, got, rank in misses:
        print(f"  miss (rank {rank}): {q!r} expected {exp}, got {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
