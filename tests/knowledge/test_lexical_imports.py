"""knowledge.lexical imports bm25s without scipy (bm25s imports scipy.sparse for a backend the index never
selects; ~23 MB of a worker's RSS), and without keeping scipy from anyone else. Subprocesses: what this
test process imported already must not decide the answer."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CODE = textwrap.dedent("""
    import json, sys, threading
    if sys.argv[1] == "scipy-first":
        import scipy.sparse  # noqa: F401 - a process that fitted a classifier before its first retrieval
    from knowledge import lexical
    bm25s = lexical._bm25s()
    out = {"scipy_after_bm25s": "scipy" in sys.modules, "finders_left": sum(
        isinstance(f, lexical._NoScipyForBm25s) for f in sys.meta_path)}
    r = bm25s.BM25(csc_backend="numpy")
    r.index([["refund", "policy"], ["shipping", "time"], ["refund", "refund", "card"]], show_progress=False)
    docs, scores = r.retrieve([["refund"]], k=3, show_progress=False)
    out["ranking"] = [int(d) for d in docs[0]]
    got = []
    t = threading.Thread(target=lambda: got.append(__import__("scipy.sparse").sparse.csr_matrix((1, 1)).shape))
    t.start(); t.join()
    out["scipy_elsewhere"] = list(got[0]) if got else None
    print(json.dumps(out))
""")


def _run(mode: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CODE, mode], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_bm25s_is_imported_without_scipy_and_ranks_the_same():
    got = _run("bm25s-first")
    assert got["scipy_after_bm25s"] is False
    assert got["finders_left"] == 0  # the refusal ends with bm25s's import
    assert got["ranking"][0] == 2  # the chunk saying "refund" twice first
    assert got["scipy_elsewhere"] == [1, 1]  # everyone else still imports scipy


def test_bm25s_after_scipy_was_imported_ranks_the_same():
    got = _run("scipy-first")
    assert got["scipy_after_bm25s"] is True and got["finders_left"] == 0
    assert got["ranking"][0] == 2
