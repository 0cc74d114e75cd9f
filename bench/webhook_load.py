"""Webhook intake load test: the sidecar under gunicorn vs a bare Flask endpoint, same run, same server setup.

Uses wrk (Debian package `wrk`) on loopback with 32 connections. Every request carries a distinct
Gorgias message id, so each one is verified, parsed, deduplicated (Redis SET NX) and enqueued to rq
for real. Prints requests/s and p50/p99 latency for both, and the ratio.

    .venv/bin/python bench/webhook_load.py [--seconds 15] [--connections 32] [--workers 2]

Needs Redis (uses DB 9 of $BENCH_REDIS, default redis://127.0.0.1:6379/9, and flushes it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rig import free_port  # noqa: E402

TOKEN = "bench-token"

LUA = r"""
counter = 0
local body_tpl = '{"ticket": {"id": %d, "subject": "Where is my order?", "customer": {"email": "a@example.com"}}, ' ..
  '"message": {"id": %d, "ticket_id": %d, "channel": "email", "from_agent": false, "public": true, ' ..
  '"sender": {"id": 1, "email": "a@example.com"}, "body_text": "Hi, where is my order? It has been a week."}}'
local thread_id = 0
setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
request = function()
  counter = counter + 1
  local mid = tid * 100000000 + counter
  local body = string.format(body_tpl, mid % 100000, mid, mid % 100000)
  return wrk.format("POST", "/webhooks/gorgias", {["Content-Type"] = "application/json", ["X-Sidecar-Token"] = "bench-token"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""



def wait_port(port: int, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def run_case(name: str, app_spec: str, env: dict, args, lua_path: str) -> dict:
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    cmd = [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers), "--worker-class", "gthread",
           "--threads", str(args.threads), "--log-level", "warning", "--chdir", str(ROOT), app_spec]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_port(port)
        # Warm up (imports, connections), then measure.
        subprocess.run(["wrk", "-t2", "-c8", "-d2s", "-s", lua_path, f"http://127.0.0.1:{port}"], capture_output=True)
        out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "-s", lua_path,
                              f"http://127.0.0.1:{port}"], capture_output=True, text=True).stdout
        m = re.search(r"RESULT rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+) requests=(\d+) errors=(\d+) non2xx=(\d+)", out)
        if not m:
            raise RuntimeError(f"wrk output not understood:\n{out}")
        rps, p50, p99, n, errors, non2xx = m.groups()
        res = {"name": name, "rps": float(rps), "p50_ms": float(p50), "p99_ms": float(p99), "requests": int(n),
               "errors": int(errors), "non2xx": int(non2xx)}
        print(f"{name:28s} {res['rps']:9.1f} req/s   p50 {res['p50_ms']:6.2f} ms   p99 {res['p99_ms']:6.2f} ms   "
              f"({res['requests']} requests, {res['errors']} socket errors, {res['non2xx']} non-2xx)")
        return res
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")
    import redis

    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    lua.write(LUA)
    lua.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENDESK_", "GORGIAS_", "FRESHDESK_", "OPENAI_"))}
    env.update({"REDIS_URL": redis_url, "GORGIAS_WEBHOOK_TOKEN": TOKEN, "LOG_LEVEL": "WARNING",
                "SIDECAR_VAR": tempfile.mkdtemp(prefix="bench-var-")})
    print(f"wrk: {args.connections} connections, {args.seconds}s; gunicorn gthread {args.workers} workers x {args.threads} threads; loopback")
    bare = run_case("bare Flask endpoint", "bench.bare_app:create_bare_app()", env, args, lua.name)
    side = run_case("sidecar /webhooks/gorgias", "app:create_app()", env, args, lua.name)
    queued = r.llen("sidecar:inbox")
    ratio = side["rps"] / bare["rps"] if bare["rps"] else 0
    print(f"throughput ratio sidecar/bare: {ratio:.2f}   (target >= 0.50)   sidecar p99 {side['p99_ms']:.1f} ms (target <= 50)")
    print(f"events really stored in the Redis inbox (deduped, for the workers): {queued}")
    r.flushdb()
    os.unlink(lua.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
