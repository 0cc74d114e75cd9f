"""End to end, as an operator runs it: signed Zendesk webhook → gunicorn → Redis → `python -m app worker`
(local models, demo knowledge base) → internal note PUT on a stub Zendesk API on loopback.

Prints p50/p95/max of webhook-to-note time, the number of helpdesk API calls per ticket, and the
worker's resident memory (RSS) after the run.

    .venv/bin/python bench/e2e_latency.py [--tickets 60] [--interval 0.25] [--kb-chunks 10000]

The knowledge base is the demo one, filled up to ``--kb-chunks`` chunks with synthetic articles
(random vectors, realistic text for BM25; see ``bench/kb_bench.py``), as a store of that size costs.

Every ticket carries a different customer message (``--messages tune``: the tuning split of the
drafts evaluation set, 264 messages), and the sidecar runs without the shipped embedding seed
(``SIDECAR_EMBEDDING_SEED=0``): a store's own knowledge base is not in the seed, and six repeated
messages (``--messages fixed``, the rig's) are answered from the embedders' caches after the sixth
ticket, which flatters the warm figures.

Needs Redis (DB 7 of $BENCH_REDIS, default redis://127.0.0.1:6379/7, flushed).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rig import (  # noqa: E402
    ROOT,
    StubZendesk,
    free_port,
    rss_mb,
    sidecar_env,
    start_web,
    start_worker,
    tuning_messages,
    use_messages,
    zendesk_webhook,
)

SECRET = "bench-signing-secret"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=60)
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between webhooks")
    ap.add_argument("--kb-chunks", type=int, default=10_000, help="knowledge base size (demo KB + synthetic filler)")
    ap.add_argument("--messages", choices=("tune", "ml-tune", "fixed"), default="tune",
                    help="tune: a different message per ticket; ml-tune: the same in FR/DE/ES/IT/NL/PT "
                         "(the knowledge base's multilingual index); fixed: the rig's six, repeated")
    ap.add_argument("--with-seed", action="store_true", help="let the sidecar use the shipped embedding seed")
    ap.add_argument("--warm-cache", action="store_true",
                    help="fit the classifier in another process first: the worker starts from a warm classifier "
                         "cache, as every start after a deployment's first does (it then imports no scikit-learn)")
    args = ap.parse_args()
    import redis

    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/7")
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    stub = StubZendesk()
    api_port = stub.serve()
    web_port = free_port()
    var = tempfile.mkdtemp(prefix="bench-e2e-")
    if args.messages in ("tune", "ml-tune"):
        use_messages(tuning_messages(args.messages))
    env = sidecar_env(redis_url, var, api_port, SECRET)
    if not args.with_seed:
        env["SIDECAR_EMBEDDING_SEED"] = "0"
    multilingual = os.environ.get("SIDECAR_KB_MULTILINGUAL")
    if multilingual:  # A/B of the knowledge base's multilingual index: for the sidecar and the filler below
        from knowledge.embedding import select_kb_multilingual

        env["SIDECAR_KB_MULTILINGUAL"] = multilingual
        from app.settings import _tristate

        select_kb_multilingual(_tristate("SIDECAR_KB_MULTILINGUAL", env))
    py = sys.executable
    subprocess.run([py, "-m", "app", "kb", "ingest", "config/knowledge"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    if args.kb_chunks:
        from bench.kb_bench import fill
        from knowledge.store import KnowledgeStore

        store = KnowledgeStore(path=str(Path(var) / "chroma"), create=False)
        rows = fill(store, args.kb_chunks)
        print(f"knowledge base: {store.count()} chunks, {rows} sentence rows (demo KB + synthetic filler)")
        del store
    if args.warm_cache:
        fit = ("from app.settings import get_settings; from pipeline.config import get_config; "
               "from pipeline.classify import warm_up; from pipeline.local_classifier import learned_path; "
               "s = get_settings(); warm_up(get_config(), learned_path(s.var_dir))")
        subprocess.run([py, "-c", fit], cwd=ROOT, env=env, check=True, capture_output=True)
        print("classifier cache warmed by another process (the worker starts as a restarted one does)")
    web = start_web(env, web_port, Path(var) / "web.log")
    t_start = time.time()
    worker = start_worker(env, Path(var) / "worker.log")
    print(f"logs: {var}/web.log, {var}/worker.log")
    try:
        from rq import Worker

        while not Worker.all(connection=r):
            if worker.poll() is not None:
                raise RuntimeError("worker exited")
            time.sleep(0.1)
        print(f"worker ready in {time.time() - t_start:.1f} s (models loaded, knowledge base open); RSS {rss_mb(worker.pid):.0f} MB")
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        sent: dict[str, float] = {}
        for i in range(args.tickets):
            tid = str(100000 + i)
            body, headers = zendesk_webhook(SECRET, tid, f"01BENCH{i:019d}")
            sent[tid] = time.time()
            resp = requests.post(f"http://127.0.0.1:{web_port}/webhooks/zendesk", data=body, headers=headers, timeout=5)
            assert resp.status_code == 202, resp.text
            time.sleep(args.interval)
        deadline = time.time() + 60
        while any(stub.first_note_at(t) is None for t in sent) and time.time() < deadline:
            time.sleep(0.05)
        lat = sorted((stub.first_note_at(t) - sent[t]) * 1000 for t in sent if stub.first_note_at(t) is not None)
        if not lat:
            print("no note arrived")
            return 1
        p = lambda q: lat[min(len(lat) - 1, int(round(q * (len(lat) - 1))))]  # noqa: E731
        calls = statistics.mean(stub.calls.get(t, 0) for t in sent)
        print(f"{len(lat)}/{len(sent)} notes posted; webhook → note: p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, "
              f"max {lat[-1]:.0f} ms (target p95 <= 300 ms with a 10k-chunk knowledge base)")
        kinds = ", ".join(f"{k} {n / len(sent):.1f}" for k, n in sorted(stub.call_kinds.items()))
        print(f"helpdesk API calls per ticket: {calls:.1f} ({kinds})")
        print(f"worker RSS after {len(sent)} tickets: {rss_mb(worker.pid):.0f} MB (target <= 600)")
        return 0
    finally:
        for proc in (web, worker):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in (web, worker):
            proc.wait(timeout=20)
        stub.shutdown()
        r.flushdb()


if __name__ == "__main__":
    sys.exit(main())
