"""End to end, as an operator runs it: signed Zendesk webhook → gunicorn → Redis → `python -m app worker`
(local models, demo knowledge base) → internal note PUT on a stub Zendesk API on loopback.

Prints p50/p95/max of webhook-to-note time, the number of helpdesk API calls per ticket, and the
worker's resident memory (RSS) after the run.

    .venv/bin/python bench/e2e_latency.py [--tickets 60] [--interval 0.25] [--kb-chunks 10000]

The knowledge base is the demo one, filled up to ``--kb-chunks`` chunks with synthetic articles
(random vectors, realistic text for BM25; see ``bench/kb_bench.py``), as a store of that size costs.

Needs Redis (DB 7 of $BENCH_REDIS, default redis://127.0.0.1:6379/7, flushed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.zendesk import sign  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.ERROR)

SECRET = "bench-signing-secret"
MESSAGES = [
    "Where is my order? I ordered the trail shoes last week and the tracking number shows nothing.",
    "I want to return the jacket, it is too small. How do I get a refund?",
    "I forgot my password and the reset email never arrives.",
    "My discount code WELCOME10 does not work at checkout.",
    "The parcel arrived damaged, the mug is broken.",
    "Can I change the delivery address on my order? I moved last week.",
]


class StubZendesk:
    """Just enough of the Zendesk API: ticket, comments, ticket update (note), tags."""

    def __init__(self):
        self.notes: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        req = Request(environ)
        m = re.match(r"^/api/v2/tickets/(\d+)(/comments|/tags)?\.json$", req.path)
        if not m:
            return Response("not found", status=404)(environ, start_response)
        tid, sub = m.group(1), m.group(2)
        with self.lock:
            self.calls[tid] = self.calls.get(tid, 0) + 1
        n = int(tid) % len(MESSAGES)
        if req.method == "GET" and sub is None:
            body = {"ticket": {"id": int(tid), "subject": "Question", "status": "open", "priority": "normal",
                               "requester_id": 9001, "tags": [], "custom_fields": [], "brand_id": None,
                               "via": {"channel": "email"}, "created_at": "2026-11-25T10:00:00Z"},
                    "users": [{"id": 9001, "name": "Dana Customer", "email": "dana@example.com", "role": "end-user"}]}
        elif req.method == "GET" and sub == "/comments":
            body = {"comments": [{"id": int(tid) * 10, "author_id": 9001, "public": True, "body": MESSAGES[n],
                                  "html_body": f"<p>{MESSAGES[n]}</p>", "plain_body": MESSAGES[n],
                                  "via": {"channel": "email"}, "created_at": "2026-11-25T10:00:00Z"}],
                    "users": [{"id": 9001, "name": "Dana Customer", "role": "end-user"}],
                    "meta": {"has_more": False}, "links": {"next": None}}
        elif req.method == "PUT" and sub is None:
            data = json.loads(req.get_data() or b"{}")
            if (data.get("ticket") or {}).get("comment"):
                with self.lock:
                    self.notes.setdefault(tid, time.time())
            body = {"ticket": {"id": int(tid)}}
        elif req.method == "PUT" and sub == "/tags":
            body = {"tags": json.loads(req.get_data() or b"{}").get("tags", [])}
        else:
            return Response("method not allowed", status=405)(environ, start_response)
        return Response(json.dumps(body), content_type="application/json")(environ, start_response)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=60)
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between webhooks")
    ap.add_argument("--kb-chunks", type=int, default=10_000, help="knowledge base size (demo KB + synthetic filler)")
    args = ap.parse_args()
    import redis

    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/7")
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    stub = StubZendesk()
    api_port, web_port = free_port(), free_port()
    server = make_server("127.0.0.1", api_port, stub, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    var = tempfile.mkdtemp(prefix="bench-e2e-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENDESK_", "GORGIAS_", "FRESHDESK_", "OPENAI_",
                                                                     "SLACK_", "SIDECAR_", "CHROMA_"))}
    env.update({"REDIS_URL": redis_url, "SIDECAR_VAR": var, "LOG_LEVEL": "WARNING",
                "ZENDESK_URL": f"http://127.0.0.1:{api_port}", "ZENDESK_EMAIL": "bot@example.com",
                "ZENDESK_API_TOKEN": "bench-token", "ZENDESK_WEBHOOK_SECRET": SECRET, "ZENDESK_RATE_PER_MINUTE": "100000"})
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
    web = subprocess.Popen([str(Path(py).parent / "gunicorn"), "--bind", f"127.0.0.1:{web_port}", "--workers", "2",
                            "--worker-class", "gthread", "--threads", "4", "app:create_app()"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    t_start = time.time()
    worker = subprocess.Popen([py, "-m", "app", "worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
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
            body = json.dumps({"type": "zen:event-type:ticket.comment_added", "id": f"01BENCH{i:019d}",
                               "subject": f"zen:ticket:{tid}", "detail": {"id": tid},
                               "event": {"comment": {"id": str(int(tid) * 10), "body": MESSAGES[int(tid) % len(MESSAGES)],
                                                     "is_public": True, "author": {"id": "9001", "is_staff": False}}}}).encode()
            ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sign(SECRET, ts, body),
                       "X-Zendesk-Webhook-Signature-Timestamp": ts}
            sent[tid] = time.time()
            resp = requests.post(f"http://127.0.0.1:{web_port}/webhooks/zendesk", data=body, headers=headers, timeout=5)
            assert resp.status_code == 202, resp.text
            time.sleep(args.interval)
        deadline = time.time() + 60
        while len(stub.notes) < len(sent) and time.time() < deadline:
            time.sleep(0.05)
        lat = sorted((stub.notes[t] - sent[t]) * 1000 for t in sent if t in stub.notes)
        if not lat:
            print("no note arrived")
            return 1
        p = lambda q: lat[min(len(lat) - 1, int(round(q * (len(lat) - 1))))]  # noqa: E731
        calls = statistics.mean(stub.calls.get(t, 0) for t in sent)
        print(f"{len(lat)}/{len(sent)} notes posted; webhook → note: p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, "
              f"max {lat[-1]:.0f} ms (targets p50 <= 500, p95 <= 1000)")
        print(f"helpdesk API calls per ticket: {calls:.1f}")
        print(f"worker RSS after {len(sent)} tickets: {rss_mb(worker.pid):.0f} MB (target <= 600)")
        return 0
    finally:
        for proc in (web, worker):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in (web, worker):
            proc.wait(timeout=20)
        server.shutdown()
        r.flushdb()


if __name__ == "__main__":
    sys.exit(main())
