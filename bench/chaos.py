"""Fault injection, measured from outside as an operator runs it: gunicorn 'app:create_app()' +
`python -m app worker` processes under a supervisor + a private redis-server (AOF with
`appendfsync always`, `noeviction`, on a free port: never the machine's Redis) + a stub Zendesk
API on loopback (bench/rig.py).

    .venv/bin/python bench/chaos.py [--phase kill,redis,helpdesk] [--tickets 100] [--kills 100]
        [--workers 3] [--kill-every 6] [--var DIR]

Phases (each prints one line of figures; the exit status is 1 if a target is missed):

* ``kill``: tickets arrive all along while a worker is SIGKILLed every ``--kill-every`` seconds
  (on average), ``--kills`` times: one running a job when there is one (at a random point of
  the job), else an idle one; always with another worker ready to take over. The supervisor
  restarts every exited worker (systemd's ``Restart=always``). Targets: 0 lost, 0 duplicate
  notes, every interrupted ticket noted within 90 s of its kill, no process left behind, no
  worker exit other than the kills.
* ``redis``: while webhooks arrive (sent like a helpdesk: anything but a 2xx is sent again) and
  jobs run, Redis is restarted (SIGTERM), crashed (SIGKILL) and restarted, paused for
  ``--pause`` seconds (SIGSTOP/SIGCONT) and stopped for 30 s. Targets: 0 acknowledged-and-lost
  (every 2xx ends with exactly one note), only 503s or no answer while Redis is away, every
  worker process alive afterwards (none restarted).
* ``helpdesk``: the stub answers 429 (Retry-After), 500, answers past the client's read timeout
  and loses answers to writes it applied (502 after storing the note). Target: exactly one
  note per ticket.

Each process logs to a temporary folder, kept (and named) when a target is missed. ``--var``
keeps the sidecar's var/ between runs, as an operator's is: the first start fits the models
and caches the fit, every later start (and restart) reuses it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rig import (  # noqa: E402
    ROOT,
    Faults,
    StubZendesk,
    free_port,
    pct,
    sidecar_env,
    start_web,
    start_worker,
    wait_http,
    zendesk_webhook,
)
from tests.private_redis import PrivateRedis  # noqa: E402

SECRET = "chaos-signing-secret"


class Rig:
    """Web (gunicorn) + workers under a supervisor + stub helpdesk + private Redis.

    The supervisor restarts every worker process that exits, like systemd's ``Restart=always``:
    those this script killed (``kills``) and any other (``unexpected_exits``, logged: that is a
    bug). Each process writes its log under ``logs``.
    """

    def __init__(self, workers: int = 3, job_timeout: int = 120, api_latency: float = 0.0,
                 var: str | None = None) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="chaos-logs-"))
        if not PrivateRedis.available():
            raise SystemExit("chaos: redis-server is not installed")
        self.redis = PrivateRedis(prefix="chaos-redis-")
        self.redis.start()
        self.stub = StubZendesk(latency=api_latency)
        api_port = self.stub.serve()
        self.web_port = free_port()
        # An operator's var/ persists between starts (the models' fit cache lives there).
        self.own_var = var is None
        self.var = var or tempfile.mkdtemp(prefix="chaos-var-")
        Path(self.var).mkdir(parents=True, exist_ok=True)
        self.env = sidecar_env(self.redis.url, self.var, api_port, SECRET, SIDECAR_JOB_TIMEOUT=str(job_timeout))
        # An operator's knowledge base; ingested once, read by every worker.
        subprocess.run([sys.executable, "-m", "app", "kb", "ingest", "config/knowledge"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)
        self.web = start_web(self.env, self.web_port, self.logs / "web.log")
        self.session = requests.Session()
        self.lock = threading.Lock()
        self.n_workers = workers
        self.workers: list[subprocess.Popen] = []
        self.started_at: dict[int, float] = {}  # pid -> when its process was started
        self.ready_after: list[float] = []  # seconds from a (re)start to taking jobs
        self.killed: set[int] = set()
        self.unexpected: list[str] = []
        self._gen = 0
        self._stop = threading.Event()
        wait_http(self.url("/healthz"))

    # ---------------------------------------------------------------- workers

    def _spawn(self) -> subprocess.Popen:
        self._gen += 1
        proc = start_worker(self.env, self.logs / f"worker-{self._gen:03d}.log")
        self.started_at[proc.pid] = time.time()
        return proc

    def start_workers(self) -> tuple[float, float]:
        """The first worker alone (on a new var/ it fits the models and writes their cache, as an
        operator's first start does), then the others. Returns (first start, others) in seconds."""
        t0 = time.time()
        with self.lock:
            self.workers.append(self._spawn())
        self.wait_ready(1)
        t1 = time.time()
        with self.lock:
            self.workers += [self._spawn() for _ in range(self.n_workers - 1)]
        self.wait_ready(self.n_workers)
        self.started_at.clear()  # from here on: restarts only
        threading.Thread(target=self._supervise, daemon=True).start()
        return t1 - t0, time.time() - t1

    def _supervise(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                for i, proc in enumerate(self.workers):
                    if proc.poll() is None:
                        continue
                    if proc.pid not in self.killed:
                        self.unexpected.append(f"worker pid {proc.pid} exited with {proc.returncode}")
                    self.workers[i] = self._spawn()
            ready = self.ready_pids() if self.started_at else set()
            for pid, t in list(self.started_at.items()):
                if pid in ready:
                    self.ready_after.append(time.time() - t)
                    self.started_at.pop(pid, None)
                elif not any(p.pid == pid and p.poll() is None for p in self.workers):
                    self.started_at.pop(pid, None)  # killed before it was ready
            self._stop.wait(0.2)

    def live(self) -> list[subprocess.Popen]:
        with self.lock:
            return [w for w in self.workers if w.poll() is None]

    def registered(self) -> list[Any]:
        import redis
        from rq import Worker

        try:
            return Worker.all(connection=redis.Redis.from_url(self.redis.url, socket_timeout=2))
        except Exception:
            return []

    def ready_pids(self) -> set[int]:
        """Pids of live workers registered with rq (models loaded, taking jobs)."""
        live = {w.pid for w in self.live()}  # a killed worker stays registered for minutes
        return {int(w.pid) for w in self.registered() if w.pid and int(w.pid) in live}

    def busy(self) -> dict[int, str]:
        """pid -> current job id of the live workers running a job now."""
        live = {w.pid for w in self.live()}
        out = {}
        for w in self.registered():
            try:
                jid = w.get_current_job_id()
            except Exception:
                continue
            if jid and w.pid and int(w.pid) in live:
                out[int(w.pid)] = jid
        return out

    def wait_ready(self, n: int, timeout: float = 900) -> None:
        deadline = time.time() + timeout
        while len(self.ready_pids()) < n:
            if time.time() > deadline:
                raise RuntimeError(f"fewer than {n} workers ready after {timeout:.0f} s (logs: {self.logs})")
            time.sleep(0.2)

    def kill(self, proc: subprocess.Popen) -> float:
        """SIGKILL a worker's process group (the supervisor restarts it). Returns when it died."""
        self.killed.add(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        return time.time()

    # ---------------------------------------------------------------- web

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def send(self, tid: str, event_id: str, timeout: float = 10) -> int:
        body, headers = zendesk_webhook(SECRET, tid, event_id)
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
        """Processes of this rig's workers that are not a live worker (e.g. a scheduler left behind)."""
        live = {w.pid for w in self.live()}
        n = 0
        for p in Path("/proc").iterdir():
            if not p.name.isdigit() or int(p.name) in live:
                continue
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                env = (p / "environ").read_bytes()
            except OSError:
                continue
            if "app worker" in cmd and self.var.encode() in env:
                n += 1
        return n

    def close(self, keep_logs: bool = False) -> None:
        self._stop.set()
        time.sleep(0.3)
        procs = [self.web, *self.workers]
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.stub.shutdown()
        self.redis.cleanup()
        if self.own_var:
            shutil.rmtree(self.var, ignore_errors=True)
        if not keep_logs:
            shutil.rmtree(self.logs, ignore_errors=True)


def _wait_notes(rig: Rig, tickets: list[str], timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and any(rig.stub.note_count(t) == 0 for t in tickets):
        time.sleep(0.25)
    time.sleep(3.0)  # late duplicates would show up now


def _tid(job_id: str, prefix: str) -> str | None:
    m = re.search(prefix + r"0*(\d+)", job_id)
    return m.group(1) if m else None


# --------------------------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------------------------


def phase_kill(rig: Rig, tickets: int, kills: int, base: int, every: float) -> dict[str, Any]:
    """SIGKILL a worker every ``every`` seconds (on average) while tickets arrive all along.

    The victim is a worker running a job when there is one (killed at a random point of the
    job), else any ready worker; a kill waits until another worker is ready, since recovery is
    measured from "a live worker is available". The supervisor restarts every victim.
    """
    sent: dict[str, float] = {}
    done_kills = threading.Event()

    def sender() -> None:
        span = kills * every  # tickets spread over the kills, so there is work to interrupt all along
        for i in range(tickets):
            tid = str(base + i)
            sent[tid] = rig.deliver(tid, f"01KILL{base + i:019d}")
            if not done_kills.is_set():
                time.sleep(span / tickets * random.uniform(0.5, 1.5))

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    interrupted: list[tuple[float, str]] = []  # (kill time, ticket)
    idle_kills = 0
    waited_for_ready = 0.0
    t_start = time.time()
    for _ in range(kills):
        time.sleep(every * random.uniform(0.5, 1.5))
        t_wait = time.time()
        while len(rig.ready_pids()) < 2:  # one must stay to take the job over
            time.sleep(0.2)
        waited_for_ready += time.time() - t_wait
        busy = rig.busy()
        ready = rig.ready_pids()
        live = {w.pid: w for w in rig.live()}
        candidates = [pid for pid in busy if pid in live]
        if candidates:
            pid = random.choice(candidates)
            time.sleep(random.uniform(0.0, 0.6))  # somewhere inside the job
        else:
            pid = random.choice([p for p in ready if p in live] or list(live))
        job = rig.busy().get(pid)  # what it runs at the instant of the kill
        t_kill = rig.kill(live[pid])
        if job and (tid := _tid(job, "01KILL")):
            interrupted.append((t_kill, tid))
        else:
            idle_kills += 1
    kill_span = time.time() - t_start
    done_kills.set()
    th.join()
    _wait_notes(rig, list(sent), 240)
    orphans = rig.orphans()
    counts = {t: rig.stub.note_count(t) for t in sent}
    lost = [t for t, c in counts.items() if c == 0]
    dup = [t for t, c in counts.items() if c > 1]
    # Time from a kill to the note of the ticket whose job it interrupted (the last such kill).
    last_kill: dict[str, float] = {}
    for t_kill, tid in interrupted:
        last_kill[tid] = max(t_kill, last_kill.get(tid, 0.0))
    recov, noted_before = [], 0
    for tid, t_kill in last_kill.items():
        at = rig.stub.first_note_at(tid)
        if at is None:
            continue  # counted as lost
        if at < t_kill:
            noted_before += 1  # the job had posted its note and was finishing its other writes
        else:
            recov.append(at - t_kill)
    lat = [rig.stub.first_note_at(t) - sent[t] for t in sent if rig.stub.first_note_at(t) is not None]
    return {"tickets": len(sent), "kills": kills, "kills_mid_job": len(interrupted), "kills_idle": idle_kills,
            "tickets_interrupted": len(last_kill), "interrupted_after_note": noted_before,
            "kill_span_s": round(kill_span), "waited_for_a_ready_worker_s": round(waited_for_ready),
            "lost": len(lost), "duplicates": len(dup), "unexpected_worker_exits": len(rig.unexpected),
            "orphan_processes": orphans,
            "kill_to_note_p50_s": round(pct(recov, 0.5), 1), "kill_to_note_p95_s": round(pct(recov, 0.95), 1),
            "kill_to_note_max_s": round(max(recov, default=0), 1),
            "over_90s": sum(1 for r in recov if r > 90),
            "webhook_to_note_p50_s": round(pct(lat, 0.5), 1), "webhook_to_note_max_s": round(max(lat, default=0), 1),
            "worker_restart_to_ready_p50_s": round(pct(rig.ready_after, 0.5), 1),
            "worker_restart_to_ready_max_s": round(max(rig.ready_after, default=0), 1)}


def phase_redis(rig: Rig, tickets: int, base: int, pause: float) -> dict[str, Any]:
    """Redis restarted (SIGTERM, then SIGKILL: a crash), paused (SIGSTOP) and stopped while webhooks
    arrive and jobs run. The sender is a helpdesk: anything but a 2xx is delivered again."""
    sent: dict[str, float] = {}
    statuses: dict[int, int] = {}
    readyz: dict[int, int] = {}
    lock = threading.Lock()
    stop = threading.Event()
    exits_before = len(rig.unexpected)
    pids_before = {w.pid for w in rig.live()}

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
            time.sleep(0.6)

    def probe() -> None:
        while not stop.is_set():
            try:
                code = rig.session.get(rig.url("/readyz"), timeout=10).status_code
            except requests.RequestException:
                code = 0
            with lock:
                readyz[code] = readyz.get(code, 0) + 1
            time.sleep(0.5)

    th, pr = threading.Thread(target=sender, daemon=True), threading.Thread(target=probe, daemon=True)
    th.start()
    pr.start()
    events = []
    time.sleep(4)
    rig.redis.stop(signal.SIGTERM)  # a restart during intake and processing
    time.sleep(2)
    rig.redis.start()
    events.append("restart (SIGTERM, 2 s down)")
    time.sleep(6)
    rig.redis.stop(signal.SIGKILL)  # a crash: what was acknowledged is in the AOF (fsync always)
    rig.redis.start()
    events.append("crash (SIGKILL) + restart")
    time.sleep(6)
    rig.redis.pause(pause)
    events.append(f"paused {pause:.0f} s (SIGSTOP)")
    time.sleep(6)
    rig.redis.stop()
    time.sleep(30)
    rig.redis.start()
    events.append("down 30 s")
    th.join()
    stop.set()
    pr.join()
    _wait_notes(rig, list(sent), 240)
    counts = {t: rig.stub.note_count(t) for t in sent}
    alive = [w for w in rig.live() if w.pid in pids_before]
    return {"tickets_acknowledged": len(sent), "events": "; ".join(events),
            "webhook_answers": {str(k): v for k, v in sorted(statuses.items())},
            "readyz_answers": {str(k): v for k, v in sorted(readyz.items())},
            "ack_and_lost": sum(1 for c in counts.values() if c == 0),
            "duplicates": sum(1 for c in counts.values() if c > 1),
            "bad_answers": sum(v for k, v in statuses.items() if not (200 <= k < 300 or k in (0, 503))),
            "workers_alive": f"{len(alive)}/{len(pids_before)}",
            "unexpected_worker_exits": len(rig.unexpected) - exits_before}


def phase_helpdesk(rig: Rig, tickets: int, base: int) -> dict[str, Any]:
    """The helpdesk answers 429 (Retry-After), 500, answers past the read timeout, and loses
    answers to writes it applied. Every ticket must still get exactly one note."""
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


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", default="kill,redis,helpdesk")
    ap.add_argument("--tickets", type=int, default=100)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--kill-every", type=float, default=6.0, help="mean seconds between kills")
    ap.add_argument("--api-latency", type=float, default=0.15, help="seconds per helpdesk API answer (mean)")
    ap.add_argument("--pause", type=float, default=30.0, help="seconds Redis stays paused (SIGSTOP)")
    ap.add_argument("--var", help="a var/ directory kept between runs (default: a new one, removed after)")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (always kept on a failure)")
    args = ap.parse_args(argv)
    random.seed(args.seed)
    t_run = time.time()
    print(f"chaos: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load average {_load()}", flush=True)
    rig = Rig(workers=args.workers, api_latency=args.api_latency, var=args.var)
    failed = False
    try:
        first, others = rig.start_workers()
        print(f"first worker ready in {first:.1f} s (on a new var/ it fits the models and caches the fit); "
              f"{args.workers - 1} more in {others:.1f} s", flush=True)
        for n, phase in enumerate(p.strip() for p in args.phase.split(",") if p.strip()):
            t0 = time.time()
            base = 100000 * (n + 1)
            if phase == "kill":
                res = phase_kill(rig, args.tickets, args.kills, base, args.kill_every)
                bad = res["lost"] or res["duplicates"] or res["over_90s"] or res["orphan_processes"] \
                    or res["unexpected_worker_exits"]
            elif phase == "redis":
                res = phase_redis(rig, args.tickets, base, args.pause)
                bad = res["ack_and_lost"] or res["duplicates"] or res["bad_answers"] \
                    or res["unexpected_worker_exits"] or res["workers_alive"].split("/")[0] != res["workers_alive"].split("/")[1]
            elif phase == "helpdesk":
                res = phase_helpdesk(rig, args.tickets, base)
                bad = res["lost"] or res["duplicates"]
            else:
                raise SystemExit(f"unknown phase {phase}")
            failed |= bool(bad)
            print(f"{phase:9s} {'FAIL' if bad else 'ok  '} in {time.time() - t0:5.0f} s (load {_load()}): "
                  f"{json.dumps(res)}", flush=True)
        if rig.unexpected:
            print("unexpected worker exits:", "; ".join(rig.unexpected[:10]), flush=True)
    finally:
        rig.close(keep_logs=failed or args.keep_logs)
        if failed or args.keep_logs:
            print(f"logs kept in {rig.logs}", flush=True)
    print(f"chaos: {'FAIL' if failed else 'ok'} in {time.time() - t_run:.0f} s, load average {_load()}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
