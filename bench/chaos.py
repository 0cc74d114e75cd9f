"""Fault injection, measured from outside as an operator runs it: gunicorn + `python -m app worker` +
a private redis-server (AOF, `noeviction`) + a stub Zendesk API on loopback.

    .venv/bin/python bench/chaos.py [--phase kill,redis,helpdesk] [--tickets 100] [--kills 100]

Phases (each prints its figures; the exit status is 1 if a target is missed):

* ``kill``: tickets arrive continuously while a random busy worker is SIGKILLed (and restarted by
  this script, as a supervisor would) ``--kills`` times. Targets: 0 lost, 0 duplicate notes, every
  ticket noted within 90 s of the kill that interrupted it, no scheduler process left behind.
* ``redis``: Redis is restarted (AOF kept) during intake and processing, paused (SIGSTOP) for
  10 s, and stopped for 30 s. Targets: 0 lost, 0 acknowledged-and-lost (202 answered but never
  noted), the worker processes still alive, `/readyz` answering 503 while Redis is down.
* ``helpdesk``: the stub answers 429 (Retry-After), 500, slow answers past the read timeout and
  lost responses (the note is stored, the answer is a 500). Target: exactly one note per ticket.

Needs `redis-server` on PATH. Nothing of the machine's shared Redis is touched.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.zendesk import sign  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.ERROR)

SECRET = "chaos-signing-secret"
MESSAGES = [
    "Where is my order? I ordered the trail shoes last week and the tracking number shows nothing.",
    "I want to return the jacket, it is too small. How do I get a refund?",
    "I forgot my password and the reset email never arrives.",
    "My discount code WELCOME10 does not work at checkout.",
    "The parcel arrived damaged, the mug is broken.",
    "Can I change the delivery address on my order? I moved last week.",
]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# --------------------------------------------------------------------------------------------
# Stub helpdesk
# --------------------------------------------------------------------------------------------


@dataclass
class Faults:
    """Probabilities per request (writes and reads alike), and a budget of slow answers."""

    p429: float = 0.0
    p500: float = 0.0
    plost: float = 0.0  # the write is applied, the answer is a 500 (ambiguous for the client)
    slow: int = 0  # answers held past the client's read timeout (each costs the job ~30 s)
    slow_seconds: float = 31.0
    counts: dict[str, int] = field(default_factory=dict)


class StubZendesk:
    """Tickets with one customer comment each; notes are kept as comments (so the sidecar's marker
    check after an ambiguous failure sees them), every note is counted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.notes: dict[str, list[tuple[float, str]]] = {}  # ticket -> [(time, marker)]
        self.faults = Faults()

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
        fault = self._fault(req.method != "GET")
        if fault == "429":
            return Response(json.dumps({"error": "TooManyRequests"}), status=429, headers={"Retry-After": "1"},
                            content_type="application/json")(environ, start_response)
        if fault == "500":
            return Response(json.dumps({"error": "InternalError"}), status=500,
                            content_type="application/json")(environ, start_response)
        n = int(tid) % len(MESSAGES)
        if req.method == "GET" and sub is None:
            body: Any = {"ticket": {"id": int(tid), "subject": "Question", "status": "open", "priority": "normal",
                                    "requester_id": 9001, "tags": [], "custom_fields": [], "brand_id": None,
                                    "via": {"channel": "email"}, "created_at": "2026-11-25T10:00:00Z"},
                         "users": [{"id": 9001, "name": "Dana Customer", "email": "dana@example.com",
                                    "role": "end-user"}]}
        elif req.method == "GET" and sub == "/comments":
            comments = [{"id": int(tid) * 10, "author_id": 9001, "public": True, "body": MESSAGES[n],
                         "html_body": f"<p>{MESSAGES[n]}</p>", "plain_body": MESSAGES[n],
                         "via": {"channel": "email"}, "created_at": "2026-11-25T10:00:00Z"}]
            with self.lock:
                for i, (_, html) in enumerate(self.notes.get(tid, [])):
                    comments.append({"id": int(tid) * 10 + 1 + i, "author_id": 4242, "public": False, "body": html,
                                     "html_body": html, "plain_body": html, "via": {"channel": "api"},
                                     "created_at": "2026-11-25T10:01:00Z"})
            body = {"comments": comments, "users": [{"id": 9001, "name": "Dana Customer", "role": "end-user"},
                                                    {"id": 4242, "name": "Sidecar", "role": "agent"}],
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
# Processes
# --------------------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server with AOF (fsync every write) and noeviction, restartable in place."""

    def __init__(self) -> None:
        if not shutil.which("redis-server"):
            raise SystemExit("chaos: redis-server is not installed")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="chaos-redis-")
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        for _ in range(100):
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: Redis flushes the AOF and exits
            self.proc.wait(timeout=20)
            self.proc = None

    def pause(self, seconds: float) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        time.sleep(seconds)
        self.proc.send_signal(signal.SIGCONT)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Rig:
    """Web (gunicorn) + workers + stub helpdesk + private Redis."""

    def __init__(self, workers: int = 2, job_timeout: int = 120) -> None:
        self.redis = RedisServer()
        self.redis.start()
        self.stub = StubZendesk()
        self.api_port, self.web_port = free_port(), free_port()
        self.server = make_server("127.0.0.1", self.api_port, self.stub, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.var = tempfile.mkdtemp(prefix="chaos-var-")
        env = {k: v for k, v in os.environ.items() if not k.startswith(
            ("ZENDESK_", "GORGIAS_", "FRESHDESK_", "OPENAI_", "SLACK_", "SIDECAR_", "CHROMA_", "REDIS_URL"))}
        env.update({"REDIS_URL": self.redis.url, "SIDECAR_VAR": self.var, "LOG_LEVEL": "WARNING",
                    "ZENDESK_URL": f"http://127.0.0.1:{self.api_port}", "ZENDESK_EMAIL": "bot@example.com",
                    "ZENDESK_API_TOKEN": "chaos-token", "ZENDESK_WEBHOOK_SECRET": SECRET,
                    "ZENDESK_USER_ID": "4242", "ZENDESK_RATE_PER_MINUTE": "100000", "SIDECAR_ALLOW_HTTP": "1",
                    "SIDECAR_JOB_TIMEOUT": str(job_timeout)})
        self.env = env
        self.py = sys.executable
        self.web = subprocess.Popen(
            [str(Path(self.py).parent / "gunicorn"), "--bind", f"127.0.0.1:{self.web_port}", "--workers", "2",
             "--worker-class", "gthread", "--threads", "4", "app:create_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.workers: list[subprocess.Popen] = [self.start_worker() for _ in range(workers)]
        self.session = requests.Session()
        for _ in range(200):
            try:
                self.session.get(self.url("/healthz"), timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def start_worker(self) -> subprocess.Popen:
        return subprocess.Popen([self.py, "-m", "app", "worker"], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def wait_workers_ready(self, timeout: float = 300) -> float:
        import redis
        from rq import Worker

        t0 = time.time()
        conn = redis.Redis.from_url(self.redis.url)
        while len(Worker.all(connection=conn)) < len(self.workers):
            if time.time() - t0 > timeout:
                raise RuntimeError("workers not ready")
            time.sleep(0.2)
        return time.time() - t0

    def send(self, tid: str, event_id: str, timeout: float = 10) -> int:
        body = json.dumps({"type": "zen:event-type:ticket.comment_added", "id": event_id,
                           "subject": f"zen:ticket:{tid}", "detail": {"id": tid},
                           "event": {"comment": {"id": str(int(tid) * 10), "body": MESSAGES[int(tid) % len(MESSAGES)],
                                                 "is_public": True, "author": {"id": "9001", "is_staff": False}}}}).encode()
        ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sign(SECRET, ts, body),
                   "X-Zendesk-Webhook-Signature-Timestamp": ts}
        try:
            return self.session.post(self.url("/webhooks/zendesk"), data=body, headers=headers, timeout=timeout).status_code
        except requests.RequestException:
            return 0

    def deliver(self, tid: str, event_id: str, give_up: float = 300) -> float:
        """Deliver like a helpdesk: retry until a 2xx (a 503 or no answer means: not stored). Returns when."""
        t0 = time.time()
        while time.time() - t0 < give_up:
            status = self.send(tid, event_id)
            if 200 <= status < 300:
                return time.time()
            time.sleep(1.0)
        raise RuntimeError(f"ticket {tid}: never accepted")

    def orphans(self) -> int:
        """Processes left behind by killed workers (a scheduler child whose parent is gone)."""
        n = 0
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                env = (p / "environ").read_bytes()
            except OSError:
                continue
            if "app worker" in cmd and self.var.encode() in env:
                if int(p.name) not in {w.pid for w in self.workers if w.poll() is None}:
                    n += 1
        return n

    def close(self) -> None:
        for proc in [self.web, *self.workers]:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in [self.web, *self.workers]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.server.shutdown()
        self.redis.cleanup()
        shutil.rmtree(self.var, ignore_errors=True)


def _busy_workers(rig: Rig) -> dict[int, str]:
    """pid -> current job id of the workers that are running a job now."""
    import redis
    from rq import Worker

    out = {}
    try:
        for w in Worker.all(connection=redis.Redis.from_url(rig.redis.url, socket_timeout=2)):
            jid = w.get_current_job_id()
            if jid and w.pid:
                out[int(w.pid)] = jid
    except Exception:
        pass
    return out


def _ready_pids(rig: Rig) -> set[int]:
    """Pids of the workers registered with rq (models loaded, taking jobs)."""
    import redis
    from rq import Worker

    live = {w.pid for w in rig.workers if w.poll() is None}  # a killed worker stays registered for minutes
    try:
        return {int(w.pid) for w in Worker.all(connection=redis.Redis.from_url(rig.redis.url, socket_timeout=2))
                if w.pid and int(w.pid) in live}
    except Exception:
        return set()


def _time_ready(rig: Rig, proc: subprocess.Popen, out: list[float]) -> None:
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 600:
        if proc.pid in _ready_pids(rig):
            out.append(time.time() - t0)
            return
        time.sleep(0.2)


def _wait_notes(rig: Rig, tickets: list[str], timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and any(rig.stub.note_count(t) == 0 for t in tickets):
        time.sleep(0.25)
    time.sleep(2.0)  # late duplicates would show up now


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))] if v else 0.0


# --------------------------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------------------------


def phase_kill(rig: Rig, tickets: int, kills: int, base: int) -> dict[str, Any]:
    sent: dict[str, float] = {}
    stop = threading.Event()

    def sender() -> None:
        for i in range(tickets):
            tid = str(base + i)
            sent[tid] = rig.deliver(tid, f"01KILL{base + i:019d}")
            # Spread the tickets over the kills so there is work to interrupt all along.
            time.sleep(max(0.05, min(1.0, kills * 1.5 / max(1, tickets)) * random.uniform(0.5, 1.5)))
        stop.set()

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    interrupted: list[tuple[float, str]] = []  # (kill time, job id)
    done = 0
    idle_kills = 0
    restarts: list[float] = []
    while done < kills:
        busy = _busy_workers(rig)
        ready = _ready_pids(rig)
        live = [w for w in rig.workers if w.poll() is None]
        # A kill needs another worker ready to take the job over ("within 60 s of a live worker
        # being available"); a supervisor restarts the victim meanwhile.
        candidates = [w for w in live if w.pid in busy and any(p != w.pid for p in ready)]
        if not candidates:
            idle = [w for w in live if w.pid in ready and any(p != w.pid for p in ready)]
            if stop.is_set() and done < kills and not busy and idle:
                # No work left to interrupt: kill an idle worker (a kill at a random point includes idle time).
                victim = random.choice(idle)
                idle_kills += 1
            else:
                time.sleep(0.05)
                continue
        else:
            victim = random.choice(candidates)
            time.sleep(random.uniform(0.0, 0.3))  # somewhere inside the job
        job = _busy_workers(rig).get(victim.pid)
        try:
            os.killpg(victim.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        victim.wait()
        t_kill = time.time()
        if job:
            interrupted.append((t_kill, job))
        done += 1
        new = rig.start_worker()  # the supervisor restarts it
        rig.workers[rig.workers.index(victim)] = new
        threading.Thread(target=_time_ready, args=(rig, new, restarts), daemon=True).start()
        time.sleep(random.uniform(0.2, 1.0))
    th.join()
    _wait_notes(rig, list(sent), 180)
    orphans = rig.orphans()
    counts = {t: rig.stub.note_count(t) for t in sent}
    lost = [t for t, c in counts.items() if c == 0]
    dup = [t for t, c in counts.items() if c > 1]
    # Time from a kill to the note of the ticket whose job it interrupted.
    recov = []
    for t_kill, jid in interrupted:
        m = re.search(r"01KILL0*(\d+)", jid)
        tid = m.group(1) if m else None
        at = rig.stub.first_note_at(tid) if tid else None
        if at is not None and at >= t_kill - 1:
            recov.append(at - t_kill)
    missing = sum(1 for _, jid in interrupted if (m := re.search(r"01KILL0*(\d+)", jid))
                  and rig.stub.first_note_at(m.group(1)) is None)
    return {"tickets": len(sent), "kills": done, "kills_mid_job": len(interrupted), "idle_kills": idle_kills,
            "worker_restart_to_ready_p50_s": round(_pct(restarts, 0.5), 1),
            "lost": len(lost), "duplicates": len(dup), "orphan_processes": orphans,
            "kill_to_note_p50_s": round(_pct(recov, 0.5), 1), "kill_to_note_max_s": round(max(recov, default=0), 1),
            "over_90s": sum(1 for r in recov if r > 90) + missing}


def phase_redis(rig: Rig, tickets: int, base: int) -> dict[str, Any]:
    sent: dict[str, float] = {}
    statuses: dict[int, int] = {}
    ready_down: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender() -> None:
        for i in range(tickets):
            tid = str(base + i)
            while True:
                s = rig.send(tid, f"01REDIS{base + i:018d}", timeout=10)
                with lock:
                    statuses[s] = statuses.get(s, 0) + 1
                if 200 <= s < 300:
                    sent[tid] = time.time()
                    break
                time.sleep(0.5)
            time.sleep(0.15)
        stop.set()

    def probe() -> None:
        while not stop.is_set():
            try:
                r = rig.session.get(rig.url("/readyz"), timeout=10)
                with lock:
                    ready_down.append(r.status_code)
            except requests.RequestException:
                pass
            time.sleep(0.5)

    th, pr = threading.Thread(target=sender, daemon=True), threading.Thread(target=probe, daemon=True)
    th.start()
    pr.start()
    events = []
    time.sleep(3)
    rig.redis.stop()  # restart during intake and processing
    time.sleep(2)
    rig.redis.start()
    events.append("restart")
    time.sleep(5)
    rig.redis.pause(10)
    events.append("pause 10s")
    time.sleep(5)
    rig.redis.stop()
    time.sleep(30)
    rig.redis.start()
    events.append("outage 30s")
    th.join()
    stop.set()
    _wait_notes(rig, list(sent), 240)
    counts = {t: rig.stub.note_count(t) for t in sent}
    alive = sum(1 for w in rig.workers if w.poll() is None)
    return {"tickets_acknowledged": len(sent), "events": ", ".join(events),
            "webhook_statuses": dict(sorted(statuses.items())),
            "readyz_503_seen": sum(1 for s in ready_down if s == 503),
            "ack_and_lost": sum(1 for c in counts.values() if c == 0),
            "duplicates": sum(1 for c in counts.values() if c > 1),
            "workers_alive": f"{alive}/{len(rig.workers)}"}


def phase_helpdesk(rig: Rig, tickets: int, base: int) -> dict[str, Any]:
    rig.stub.faults = Faults(p429=0.1, p500=0.1, plost=0.1, slow=3)
    sent = {}
    for i in range(tickets):
        tid = str(base + i)
        sent[tid] = rig.deliver(tid, f"01HELP{base + i:019d}")
        time.sleep(0.1)
    _wait_notes(rig, list(sent), 600)
    rig.stub.faults.p429 = rig.stub.faults.p500 = rig.stub.faults.plost = 0.0
    counts = {t: rig.stub.note_count(t) for t in sent}
    lat = [rig.stub.first_note_at(t) - sent[t] for t in sent if rig.stub.first_note_at(t)]
    return {"tickets": len(sent), "faults_injected": dict(sorted(rig.stub.faults.counts.items())),
            "lost": sum(1 for c in counts.values() if c == 0), "duplicates": sum(1 for c in counts.values() if c > 1),
            "webhook_to_note_p50_s": round(statistics.median(lat), 1) if lat else None,
            "webhook_to_note_max_s": round(max(lat), 1) if lat else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", default="kill,redis,helpdesk")
    ap.add_argument("--tickets", type=int, default=100)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args(argv)
    random.seed(args.seed)
    rig = Rig(workers=args.workers)
    failed = False
    try:
        print(f"workers ready in {rig.wait_workers_ready():.1f} s", flush=True)
        for n, phase in enumerate(p.strip() for p in args.phase.split(",") if p.strip()):
            t0 = time.time()
            base = 100000 * (n + 1)
            if phase == "kill":
                res = phase_kill(rig, args.tickets, args.kills, base)
                bad = res["lost"] or res["duplicates"] or res["over_90s"] or res["orphan_processes"]
            elif phase == "redis":
                res = phase_redis(rig, args.tickets, base)
                bad = res["ack_and_lost"] or res["duplicates"] or res["workers_alive"].split("/")[0] == "0"
            elif phase == "helpdesk":
                res = phase_helpdesk(rig, args.tickets, base)
                bad = res["lost"] or res["duplicates"]
            else:
                raise SystemExit(f"unknown phase {phase}")
            failed |= bool(bad)
            print(f"{phase:9s} {'FAIL' if bad else 'ok  '} in {time.time() - t0:5.0f} s: {json.dumps(res)}", flush=True)
    finally:
        rig.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
