"""e5's pair batches (triage + sentiment vectors) in 64-text calls vs one call: CPU, wall, same bits.

    python bench/pair_batch_ab.py [--rounds 6] [--n 600]

:meth:`knowledge.embedding.E5Embedder.embed_pair` hands the model ``pair_batch_size`` texts a call;
each call ends when its slowest core does. Alternates the old size (64) and the current one in one
process on ``bench/classifier_bench.py``'s messages (caches off), asserts that both give the same
vectors to the last bit, and prints CPU per message (process time, all threads), msg/s wall and the
load. Also prints the cost model's idle share of the cores (rows x longest + the run's fixed cost,
:data:`knowledge.e5_onnx.RUN_COST_TOKENS`), which the machine's load does not skew.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def modelled_idle(token_ids, texts: list[str], size: int, runners: int = 2) -> tuple[int, float]:
    """(token-units of work, idle share of ``runners`` cores) for calls of ``size`` texts."""
    from knowledge import e5_onnx

    order = sorted(texts, key=len)
    work = span = 0
    for start in range(0, len(order), size):
        lengths = [len(s) for s in token_ids(order[start : start + size])]
        groups = [g[k : k + e5_onnx.MAX_RUN_ROWS] for g in e5_onnx.length_groups(lengths)
                  for k in range(0, len(g), e5_onnx.MAX_RUN_ROWS)]
        costs = [len(g) * max(lengths[i] for i in g) + e5_onnx.RUN_COST_TOKENS
                 for g in e5_onnx.spread(groups, lengths, runners)]
        busy = [0] * runners
        for c in costs:  # side_by_side: the next free runner takes the next run
            busy[busy.index(min(busy))] += c
        work += sum(costs)
        span += max(busy)
    return work, 1 - work / runners / span


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--n", type=int, default=600)
    args = ap.parse_args()
    import numpy as np

    from app.settings import load_settings
    from bench.classifier_bench import messages
    from knowledge.embedding import (
        _prepare,
        get_classifier_embedder,
        get_english_triage_embedder,
        select_english_triage,
    )
    from pipeline.local_classifier import _unshout, embed_pair

    select_english_triage(load_settings().triage_english)
    e5 = get_classifier_embedder()
    for emb in (e5, get_english_triage_embedder()):
        emb.cache_size = 0
        emb._cache.clear()
        emb._seed = None
    texts = messages(args.n + 20, seed=7)
    embed_pair(texts[args.n :])  # first-call allocations out of the timing
    texts = texts[: args.n]
    current = e5.pair_batch_size
    clean = _prepare([_unshout(t) for t in texts])
    for size in (64, current):
        work, idle = modelled_idle(e5._model.token_ids, clean, size)
        print(f"cost model, e5 calls of {size:4d} texts: {work} token-units, cores idle {idle:.1%}")
    ref = None
    total = {64: [0.0, 0.0], current: [0.0, 0.0]}
    for _ in range(args.rounds):
        for size in (64, current):
            e5.pair_batch_size = size
            c, w = time.process_time(), time.perf_counter()
            v = np.concatenate(embed_pair(texts), axis=1)
            c, w = time.process_time() - c, time.perf_counter() - w
            ref = v if ref is None else ref
            assert np.array_equal(ref.view(np.uint32), v.view(np.uint32)), f"calls of {size} moved a vector"
            total[size][0] += c
            total[size][1] += w
            print(f"calls of {size:4d}: {c / len(texts) * 1000:.2f} ms CPU/msg, {len(texts) / w:4.0f} msg/s wall, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    for size, (c, w) in total.items():
        print(f"mean, calls of {size:4d}: {c / args.rounds / len(texts) * 1000:.2f} ms CPU/msg, "
              f"{len(texts) * args.rounds / w:.0f} msg/s wall")
    print("triage and sentiment vectors the same to the last bit in both")


if __name__ == "__main__":
    main()
