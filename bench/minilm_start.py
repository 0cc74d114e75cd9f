"""MiniLM's share of a process start, with and without the graph cache (knowledge.graph_cache).

    .venv/bin/python bench/minilm_start.py [--rounds 7]

Each measurement is a fresh process building one ``LocalEmbedder`` (as a worker start does): its
whole construction, and within it the time to get the session's graph (rewrite, or read from
``<tmp>/model_cache``). ``onnx`` is imported before the clock starts in both modes. The two
modes alternate round by round, so a change of machine load hits both. Prints medians and the
load average; nothing is asserted (timings on a shared machine are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
import onnx  # imported beforehand in both modes: a worker has it anyway (e5 builds its graph with it)
from knowledge import embedding, graph_cache
graph_cache.set_folder(sys.argv[1] or None)
spent = []
real = embedding.minilm_session_graph
def timed(path):
    t = time.perf_counter(); g = real(path); spent.append(time.perf_counter() - t); return g
embedding.minilm_session_graph = timed
t = time.perf_counter(); embedding.LocalEmbedder(cache_size=0); total = time.perf_counter() - t
print(json.dumps({"graph": spent[0], "embedder": total}))
"""


def child(folder: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, folder], cwd=ROOT, check=True, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-model-cache-")
    child(folder)  # fills the cache (and the page cache for the model file), not counted
    runs: dict[str, list[dict[str, float]]] = {"rewrite (no cache)": [], "cached": []}
    for _ in range(args.rounds):
        runs["rewrite (no cache)"].append(child(""))
        runs["cached"].append(child(folder))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {args.rounds} rounds, fresh process each")
    for mode, rs in runs.items():
        g = statistics.median(r["graph"] for r in rs) * 1000
        e = statistics.median(r["embedder"] for r in rs) * 1000
        print(f"{mode:>20}: graph {g:6.0f} ms median (min {min(r['graph'] for r in rs) * 1000:.0f}), "
              f"LocalEmbedder() {e:6.0f} ms median (min {min(r['embedder'] for r in rs) * 1000:.0f})")


if __name__ == "__main__":
    main()
