"""How fast the sidecar acknowledges Slack (Slack's budget is 3 s): signed requests over loopback HTTP.

Serves the real app (werkzeug server in a thread, Redis mode) and sends, one after the other,
``--events`` signed thread replies to ``POST /slack/events`` (each verified, parsed, deduplicated
and queued as an rq job for real), the same number of Slack retries of those events (answered
``duplicate``), and ``--events`` button clicks to ``POST /slack/interactions``. Prints p50/p99/max
latency per kind. Nothing is asserted.

    .venv/bin/python bench/slack_ack.py [--events 300]

Needs Redis (uses $BENCH_REDIS, default redis://127.0.0.1:6379/9, and flushes that DB).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-signing-secret"


def sign(body: bytes, **extra: str) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, **extra}


def reply(i: int) -> bytes:
    return json.dumps({"type": "event_callback", "team_id": "T0BENCH", "event_id": f"Ev{i:08d}",
                       "event": {"type": "message", "channel": "C0ESC", "user": "U0PERSON", "text": f"reply {i}",
                                 "ts": f"1700000{i:03d}.000200", "thread_ts": "1700000000.000001"}}).encode()


def click(i: int) -> bytes:
    return urlencode({"payload": json.dumps({
        "type": "block_actions", "user": {"id": "U0PERSON"}, "team": {"id": "T0BENCH"},
        "container": {"type": "message", "channel_id": "C0ESC", "message_ts": "1700000000.000001"},
        "message": {"ts": "1700000000.000001", "blocks": []},
        "actions": [{"action_id": "sidecar_ack", "action_ts": f"1700001{i:03d}.000001", "value": "zendesk:1"}]})}).encode()


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300)
    args = ap.parse_args()
    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")
    import redis
    import requests
    from werkzeug.serving import make_server

    redis.Redis.from_url(redis_url).flushdb()
    var = tempfile.mkdtemp(prefix="slack-bench-")
    os.environ.update({"REDIS_URL": redis_url, "SLACK_SIGNING_SECRET": SECRET, "SIDECAR_VAR": var,
                       "SIDECAR_CONFIG": str(ROOT / "config"), "LOG_LEVEL": "WARNING"})
    import logging

    from app import create_app

    app = create_app()
    logging.getLogger().setLevel(logging.WARNING)  # one log line per request would be measured too
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    session = requests.Session()
    results: dict[str, list[float]] = {"event (queued)": [], "retry (duplicate)": [], "click (queued)": []}
    statuses: dict[str, set[int]] = {k: set() for k in results}
    for kind, path, make, extra in (("event (queued)", "/slack/events", reply, {}),
                                    ("retry (duplicate)", "/slack/events", reply, {"X-Slack-Retry-Num": "1"}),
                                    ("click (queued)", "/slack/interactions", click, {})):
        for i in range(args.events):
            body = make(i)
            t0 = time.perf_counter()
            r = session.post(base + path, data=body, headers=sign(body, **extra), timeout=10)
            results[kind].append((time.perf_counter() - t0) * 1000)
            statuses[kind].add(r.status_code)
    server.shutdown()
    redis.Redis.from_url(redis_url).flushdb()
    print(f"Slack acknowledgement latency over loopback HTTP, {args.events} requests each (Slack allows 3000 ms):")
    for kind, xs in results.items():
        print(f"  {kind:<18} p50 {statistics.median(xs):6.2f} ms  p99 {pct(xs, 99):6.2f} ms  max {max(xs):6.2f} ms"
              f"  statuses {sorted(statuses[kind])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
