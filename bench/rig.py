"""What the end-to-end benchmarks share: a stub Zendesk API on loopback, signed webhooks, and the
sidecar's processes started as an operator starts them (`gunicorn 'app:create_app()'`,
`python -m app worker`) with a private environment.

Used by ``bench/e2e_latency.py`` and ``bench/chaos.py`` (not a benchmark itself).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.zendesk import sign  # noqa: E402
from tests.private_redis import free_port  # noqa: E402,F401  (bench scripts import it from here)

logging.getLogger("werkzeug").setLevel(logging.ERROR)

MESSAGES = [
    "Where is my order? I ordered the trail shoes last week and the tracking number shows nothing.",
    "I want to return the jacket, it is too small. How do I get a refund?",
    "I forgot my password and the reset email never arrives.",
    "My discount code WELCOME10 does not work at checkout.",
    "The parcel arrived damaged, the mug is broken.",
    "Can I change the delivery address on my order? I moved last week.",
]
BOT_USER_ID = 4242


def tuning_messages(split: str = "tune") -> list[str]:
    """The customer messages of the drafts evaluation set's tuning split (distinct, realistic);
    ``split="ml-tune"``: the multilingual one (FR/DE/ES/IT/NL/PT)."""
    import yaml

    name = f"eval_{split.replace('-', '_')}.yaml"
    data = yaml.safe_load((ROOT / "tests" / "fixtures" / "knowledge" / name).read_text(encoding="utf-8"))
    return [item["msg"] for item in data["items"]]


def use_messages(messages: list[str]) -> None:
    """Ticket ``tid`` carries ``messages[tid % len(messages)]`` (stub tickets and webhooks alike)."""
    MESSAGES[:] = messages




def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))] if v else 0.0


# --------------------------------------------------------------------------------------------
# Stub helpdesk
# --------------------------------------------------------------------------------------------


@dataclass
class Faults:
    """Probabilities per request (writes and reads alike), and a budget of slow answers."""

    p429: float = 0.0
    p500: float = 0.0
    plost: float = 0.0  # the write is applied, the answer is a 502 (ambiguous for the client)
    slow: int = 0  # answers held past the client's read timeout (each costs the job ~30 s)
    slow_seconds: float = 31.0
    counts: dict[str, int] = field(default_factory=dict)


class StubZendesk:
    """Just enough of the Zendesk API: ticket, comments, ticket update (note), tags.

    Tickets have one customer comment each; notes are kept as comments (so the sidecar's marker
    check after an ambiguous failure sees them) and every note is counted. ``latency``: seconds
    each answer takes (a real helpdesk API answers in 100-500 ms). ``faults``: injected failures.
    """

    def __init__(self, latency: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.notes: dict[str, list[tuple[float, str]]] = {}  # ticket -> [(time, html)]
        self.calls: dict[str, int] = {}
        # A ticket is created when first asked for: a fixed date in the past made every ticket
        # overdue, so each one also ran its two SLA checks at once (queued beside the tickets,
        # two more reads each: 8.3 calls per ticket and a p95 of 0.5-0.8 s in e2e_latency).
        self.created: dict[str, str] = {}
        self.call_kinds: dict[str, int] = {}  # "GET ticket", "GET comments", "PUT ticket", ... over all tickets
        self.faults = Faults()
        self.latency = latency

    def serve(self) -> int:
        """Serve on a free loopback port in a daemon thread; returns the port."""
        port = free_port()
        self._server = make_server("127.0.0.1", port, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return port

    def shutdown(self) -> None:
        self._server.shutdown()

    def _fault(self, write: bool) -> str | None:
        f = self.faults
        with self.lock:
            r = random.random()
            if r < f.p429:
                kind = "429"
            elif r < f.p429 + f.p500:
                kind = "500"
            elif write and r < f.p429 + f.p500 + f.plost:
                kind = "lost"
            elif write and f.slow > 0 and random.random() < 0.05:
                f.slow -= 1
                kind = "slow"
            else:
                return None
            f.counts[kind] = f.counts.get(kind, 0) + 1
            return kind

    def __call__(self, environ, start_response):
        req = Request(environ)
        m = re.match(r"^/api/v2/tickets/(\d+)(/comments|/tags)?\.json$", req.path)
        if not m:
            return Response("not found", status=404)(environ, start_response)
        tid, sub = m.group(1), m.group(2)
        kind = f"{req.method} {(sub or '/ticket').strip('/')}"
        with self.lock:
            self.calls[tid] = self.calls.get(tid, 0) + 1
            self.call_kinds[kind] = self.call_kinds.get(kind, 0) + 1
        if self.latency:
            time.sleep(self.latency * random.uniform(0.5, 1.5))
        fault = self._fault(req.method != "GET")
        if fault == "429":
            return Response(json.dumps({"error": "TooManyRequests"}), status=429, headers={"Retry-After": "1"},
                            content_type="application/json")(environ, start_response)
        if fault == "500":
            return Response(json.dumps({"error": "InternalError"}), status=500,
                            content_type="application/json")(environ, start_response)
        n = int(tid) % len(MESSAGES)
        with self.lock:
            created = self.created.setdefault(tid, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if req.method == "GET" and sub is None:
            body: Any = {"ticket": {"id": int(tid), "subject": "Question", "status": "open", "priority": "normal",
                                    "requester_id": 9001, "tags": [], "custom_fields": [], "brand_id": None,
                                    "via": {"channel": "email"}, "created_at": created},
                         "users": [{"id": 9001, "name": "Dana Customer", "email": "dana@example.com",
                                    "role": "end-user"}]}
        elif req.method == "GET" and sub == "/comments":
            comments = [{"id": int(tid) * 10, "author_id": 9001, "public": True, "body": MESSAGES[n],
                         "html_body": f"<p>{MESSAGES[n]}</p>", "plain_body": MESSAGES[n],
                         "via": {"channel": "email"}, "created_at": created}]
            with self.lock:
                for i, (at, html) in enumerate(self.notes.get(tid, [])):
                    comments.append({"id": int(tid) * 10 + 1 + i, "author_id": BOT_USER_ID, "public": False,
                                     "body": html, "html_body": html, "plain_body": html, "via": {"channel": "api"},
                                     "created_at": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
            body = {"comments": comments, "users": [{"id": 9001, "name": "Dana Customer", "role": "end-user"},
                                                    {"id": BOT_USER_ID, "name": "Sidecar", "role": "agent"}],
                    "meta": {"has_more": False}, "links": {"next": None}}
        elif req.method == "PUT" and sub is None:
            data = json.loads(req.get_data() or b"{}")
            comment = (data.get("ticket") or {}).get("comment")
            if comment:
                with self.lock:
                    self.notes.setdefault(tid, []).append((time.time(), comment.get("html_body") or ""))
            body = {"ticket": {"id": int(tid)}}
        elif req.method == "PUT" and sub == "/tags":
            body = {"tags": json.loads(req.get_data() or b"{}").get("tags", [])}
        else:
            return Response("method not allowed", status=405)(environ, start_response)
        if fault == "lost":
            return Response(json.dumps({"error": "BadGateway"}), status=502,
                            content_type="application/json")(environ, start_response)
        if fault == "slow":
            time.sleep(self.faults.slow_seconds)
        return Response(json.dumps(body), content_type="application/json")(environ, start_response)

    def note_count(self, tid: str) -> int:
        with self.lock:
            return len(self.notes.get(tid, []))

    def first_note_at(self, tid: str) -> float | None:
        with self.lock:
            notes = self.notes.get(tid)
            return notes[0][0] if notes else None


# --------------------------------------------------------------------------------------------
# Webhooks and processes
# --------------------------------------------------------------------------------------------


def zendesk_webhook(secret: str, tid: str, event_id: str) -> tuple[bytes, dict[str, str]]:
    """A signed Zendesk `ticket.comment_added` event for the stub's ticket ``tid``: (body, headers)."""
    body = json.dumps({"type": "zen:event-type:ticket.comment_added", "id": event_id,
                       "subject": f"zen:ticket:{tid}", "detail": {"id": tid},
                       "event": {"comment": {"id": str(int(tid) * 10), "body": MESSAGES[int(tid) % len(MESSAGES)],
                                             "is_public": True, "author": {"id": "9001", "is_staff": False}}}}).encode()
    ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body, {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sign(secret, ts, body),
                  "X-Zendesk-Webhook-Signature-Timestamp": ts}


def sidecar_env(redis_url: str, var: str, api_port: int, secret: str, **extra: str) -> dict[str, str]:
    """The environment of the sidecar's processes: this machine's, minus any real platform or
    vendor credentials, pointed at the stub Zendesk, a private ``var/`` and ``redis_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(
        ("ZENDESK_", "GORGIAS_", "FRESHDESK_", "OPENAI_", "SLACK_", "SIDECAR_", "CHROMA_", "REDIS_URL", "SENTRY_"))}
    env.update({"REDIS_URL": redis_url, "SIDECAR_VAR": var, "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                "ZENDESK_URL": f"http://127.0.0.1:{api_port}", "ZENDESK_EMAIL": "bot@example.com",
                "ZENDESK_API_TOKEN": "bench-token", "ZENDESK_WEBHOOK_SECRET": secret,
                "ZENDESK_USER_ID": str(BOT_USER_ID), "ZENDESK_RATE_PER_MINUTE": "100000", "SIDECAR_ALLOW_HTTP": "1"})
    env.update(extra)
    return env


def start_web(env: dict[str, str], port: int, log: Path | None = None) -> subprocess.Popen:
    """`gunicorn 'app:create_app()'` (2 gthread workers) on 127.0.0.1:``port``, in its own session."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--worker-class", "gthread", "--threads", "4", "app:create_app()"],
        cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)


def start_worker(env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    """`python -m app worker`, in its own session (a SIGKILL of its group leaves nothing behind)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    return subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT, env=env, stdout=out, stderr=out,
                            start_new_session=True)


def wait_http(url: str, timeout: float = 60) -> None:
    import requests

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")
