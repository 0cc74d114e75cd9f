"""Embedded mode (no ``REDIS_URL``): a durable in-process queue in SQLite, run by a worker thread.

An accepted event is written to ``var/jobs.sqlite3`` before the webhook answers 202, in the same
transaction as its dedupe claim, so a crash loses nothing and never leaves a claim without its
job: pending jobs are picked up again at the next start. Failed jobs keep their reason
(``python -m app failed``) and can be retried (``python -m app retry ID``).

A runner *leases* the job it runs (owner + ``lease_until``, renewed every few seconds while the
job runs). A job whose lease ran out (its runner died) is taken over by the next runner; nothing
else ever touches a running job, so CLI commands (which open the queue without running it) and
a second process sharing the file are safe. Every job has a timeout (``SIDECAR_JOB_TIMEOUT``):
past it the job is abandoned (retried later, then failed with the reason) and the queue goes on.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from adapters.base import PermanentError, TransientError
from pipeline.models import TicketEvent

log = logging.getLogger(__name__)

RETRY_DELAYS = [2, 10, 60]
LEASE = 30.0  # seconds a runner holds a running job without renewing it
SLOW_AFTER = 60.0  # a job running longer shows as slow in /ops and /metrics


class JobTimeout(TransientError):
    """The job ran past its timeout; it was abandoned (retried later) so the queue goes on."""


class AlreadyServing(RuntimeError):
    """Another ``python -m app serve`` holds this ``var/`` folder."""


class EmbeddedQueue:
    def __init__(self, path: str | Path, autostart: bool = True, job_timeout: float = 300.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, platform TEXT, event TEXT, status TEXT, "
            "attempts INTEGER DEFAULT 0, error TEXT, created REAL, updated REAL, run_after REAL DEFAULT 0)")
        cols = {r[1] for r in self._conn.execute("PRAGMA table_info(jobs)")}
        for col, decl in (("func", "TEXT"), ("owner", "TEXT"), ("lease_until", "REAL DEFAULT 0"),
                          ("started", "REAL")):
            if col not in cols:  # files made by older versions
                self._conn.execute(f"ALTER TABLE jobs ADD COLUMN {col} {decl}")
        # The webhook's dedupe claims live beside the jobs: claim + job are one transaction.
        self._conn.execute("CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires REAL NOT NULL)")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = False
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.job_timeout = float(job_timeout)
        # Nothing is reset here: a job that was running when its process died is taken over once its
        # lease runs out (see _next), and a process that only reads the queue (the CLI) changes nothing.
        if autostart:
            self.start()

    def enqueue(self, event: TicketEvent, claim: tuple[str, int] | None = None) -> str | None:
        """Queue ``process_event`` for ``event``; returns the job id.

        With ``claim`` = (dedupe key, ttl) the claim and the job are written in one transaction:
        None means the key is already claimed (a duplicate delivery), and a crash leaves either
        both or neither.
        """
        from app.jobs.ids import job_id_for

        jid = job_id_for(event.platform, event.event_id)
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if claim is not None:
                    key, ttl = claim
                    self._conn.execute("DELETE FROM claims WHERE key = ? AND expires < ?", (key, now))
                    cur = self._conn.execute("INSERT OR IGNORE INTO claims (key, expires) VALUES (?, ?)",
                                             (key, now + ttl))
                    if cur.rowcount != 1:
                        self._conn.execute("ROLLBACK")
                        return None
                self._conn.execute(
                    "INSERT OR IGNORE INTO jobs (id, platform, event, status, created, updated) VALUES (?,?,?,?,?,?)",
                    (jid, event.platform, json.dumps(event.to_dict()), "queued", now, now))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self._wake.set()
        return jid

    def enqueue_call(self, job_id: str, func: str, args: list[Any], run_after: float = 0.0) -> bool:
        """Schedule ``func`` (a ``module.function`` path) with JSON ``args`` at ``run_after`` (epoch seconds).

        Used for SLA timers in embedded mode. A pending job with the same id is kept (the earlier
        schedule wins); a finished one is replaced. Returns True if scheduled now.
        """
        now = time.time()
        with self._lock:
            row = self._conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row and row[0] in ("queued", "running"):
                return False
            self._conn.execute(
                "INSERT OR REPLACE INTO jobs (id, platform, event, status, attempts, created, updated, run_after, func) "
                "VALUES (?, NULL, ?, 'queued', 0, ?, ?, ?, ?)", (job_id, json.dumps(args), now, now, run_after, func))
        self._wake.set()
        return True

    def cancel(self, job_id: str) -> bool:
        with self._lock:
            cur = self._conn.execute("DELETE FROM jobs WHERE id = ? AND status = 'queued'", (job_id,))
        return cur.rowcount == 1

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(target=self._loop, name="embedded-worker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _next(self) -> tuple[str, str, str, int, str | None] | None:
        now = time.time()
        with self._lock:
            row = self._conn.execute(
                "SELECT id, platform, event, attempts, func, status, owner FROM jobs "
                "WHERE (status = 'queued' AND run_after <= ?) OR (status = 'running' AND lease_until < ?) "
                "ORDER BY created LIMIT 1", (now, now)).fetchone()
            if row:
                # Conditional update: another runner sharing the file (gunicorn workers) may race us.
                cur = self._conn.execute(
                    "UPDATE jobs SET status='running', owner=?, lease_until=?, started=?, updated=? "
                    "WHERE id=? AND (status='queued' OR (status='running' AND lease_until < ?))",
                    (self.owner, now + LEASE, now, now, row[0], now))
                if cur.rowcount != 1:
                    self._wake.set()  # somebody else took it; look again on the next loop
                    return None
        if row is None:
            return None
        if row[5] == "running":
            log.warning("job %s: its runner %s stopped renewing its lease; taken over", row[0], row[6])
        return row[0], row[1], row[2], row[3], row[4]

    def _renew(self, jid: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE jobs SET lease_until=? WHERE id=? AND owner=? AND status='running'",
                               (time.time() + LEASE, jid, self.owner))

    def _finish(self, jid: str, sql: str, params: tuple[Any, ...]) -> bool:
        """An update of our own running job only (a job taken over after a lost lease is not ours)."""
        with self._lock:
            cur = self._conn.execute(sql + " WHERE id=? AND owner=? AND status='running'", (*params, jid, self.owner))
        return cur.rowcount == 1

    def _call(self, platform: str, event: str, func: str | None) -> None:
        if func:
            _resolve(func)(*json.loads(event))
        else:
            _resolve("app.jobs.process.process_event")(platform, json.loads(event))

    def _run_with_timeout(self, jid: str, platform: str, event: str, func: str | None) -> BaseException | None:
        """Run one job in its own thread, renewing the lease; past the timeout it is left behind."""
        outcome: dict[str, BaseException | None] = {}

        def target() -> None:
            try:
                self._call(platform, event, func)
                outcome["exc"] = None
            except BaseException as exc:  # reported to the runner, which decides retry or failure
                outcome["exc"] = exc

        t = threading.Thread(target=target, name=f"job-{jid}"[:60], daemon=True)
        started = time.monotonic()
        t.start()
        while True:
            t.join(timeout=min(LEASE / 3, max(0.0, self.job_timeout - (time.monotonic() - started))))
            if not t.is_alive():
                return outcome.get("exc")
            if time.monotonic() - started >= self.job_timeout:
                # A thread cannot be killed: it is abandoned (daemon) and the queue moves on.
                log.error("job %s timed out after %.0f s; left behind, the queue goes on", jid, self.job_timeout)
                return JobTimeout(f"timed out after {self.job_timeout:.0f} s")
            self._renew(jid)

    def run_pending(self) -> int:
        """Run every job that is due now (used by the thread, the CLI and tests). Returns jobs run."""
        n = 0
        while (row := self._next()) is not None:
            jid, platform, event, attempts, func = row
            n += 1
            exc = self._run_with_timeout(jid, platform, event, func)
            now = time.time()
            if exc is None:
                self._finish(jid, "UPDATE jobs SET status='done', updated=?, owner=NULL", (now,))
                continue
            attempts += 1
            permanent = isinstance(exc, PermanentError) or attempts > len(RETRY_DELAYS)
            reason = f"{exc.__class__.__name__}: {exc}"
            if permanent:
                self._finish(jid, "UPDATE jobs SET status='failed', attempts=?, error=?, updated=?, owner=NULL",
                             (attempts, reason, now))
            else:
                delay = float(RETRY_DELAYS[attempts - 1])
                retry_after = getattr(exc, "retry_after", None)
                if isinstance(retry_after, int | float) and retry_after > delay:
                    delay = float(retry_after)  # the helpdesk said when (429 Retry-After)
                self._finish(jid, "UPDATE jobs SET status='queued', attempts=?, error=?, updated=?, run_after=?, "
                             "owner=NULL", (attempts, reason, now, now + delay))
            log.error("job %s %s: %s", jid, "failed" if permanent else "will be retried", reason)
        return n

    def _loop(self) -> None:
        while not self._stop:
            try:
                self.run_pending()
            except Exception:  # keep the thread alive whatever happens
                log.exception("embedded worker loop error")
            self._wake.wait(timeout=1.0)
            self._wake.clear()

    def failed(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, platform, attempts, error, updated FROM jobs WHERE status='failed' ORDER BY updated DESC"
            ).fetchall()
        return [dict(zip(("id", "platform", "attempts", "error", "updated"), r, strict=True)) for r in rows]

    def retry(self, job_id: str) -> bool:
        with self._lock:
            cur = self._conn.execute(
                "UPDATE jobs SET status='queued', attempts=0, run_after=0 WHERE id=? AND status='failed'", (job_id,))
        self._wake.set()
        return cur.rowcount == 1

    def status(self, now: float | None = None, limit: int = 20) -> dict[str, Any]:
        """Queue depth for /metrics and /ops: due, scheduled for later, running (with age), failed.

        ``queued`` counts jobs due now (waiting for the worker thread); ``scheduled`` those whose
        ``run_after`` is later (SLA timers, retries backing off). A running job's age is measured
        from when the worker took it.
        """
        now = time.time() if now is None else now
        with self._lock:
            due = self._conn.execute("SELECT COUNT(*) FROM jobs WHERE status='queued' AND run_after <= ?",
                                     (now,)).fetchone()[0]
            later = self._conn.execute("SELECT COUNT(*) FROM jobs WHERE status='queued' AND run_after > ?",
                                       (now,)).fetchone()[0]
            failed = self._conn.execute("SELECT COUNT(*) FROM jobs WHERE status='failed'").fetchone()[0]
            running = self._conn.execute(
                "SELECT id, platform, func, updated FROM jobs WHERE status='running' ORDER BY updated LIMIT ?",
                (limit,)).fetchall()
            n_running = self._conn.execute("SELECT COUNT(*) FROM jobs WHERE status='running'").fetchone()[0]
            oldest = self._conn.execute("SELECT MIN(created) FROM jobs WHERE status='queued' AND run_after <= ?",
                                        (now,)).fetchone()[0]
        return {
            "queued": int(due), "scheduled": int(later), "failed": int(failed), "running_count": int(n_running),
            "running": [{"id": r[0], "platform": r[1] or (r[2] or "").rsplit(".", 1)[-1],
                         "age_seconds": round(max(0.0, now - float(r[3] or now)), 1)} for r in running],
            "oldest_queued_seconds": round(max(0.0, now - float(oldest)), 1) if oldest else None,
        }

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {s: c for s, c in rows}

    def running(self) -> list[dict[str, Any]]:
        """Running jobs with how long they have run and whether their runner still renews the lease."""
        now = time.time()
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, platform, owner, started, lease_until FROM jobs WHERE status='running' ORDER BY started"
            ).fetchall()
        return [{"id": r[0], "platform": r[1], "owner": r[2], "seconds": round(now - (r[3] or now), 1),
                 "slow": now - (r[3] or now) > SLOW_AFTER, "lease_lost": (r[4] or 0) < now} for r in rows]


# Jobs queued before the runtime moved out of pipeline/ keep running after an upgrade.
_LEGACY_JOBS = {"pipeline.sla.check_sla": "app.jobs.sla.check_sla", "pipeline.jobs.process_event": "app.jobs.process.process_event"}


def _resolve(path: str) -> Any:
    import importlib

    path = _LEGACY_JOBS.get(path, path)
    module, _, name = path.rpartition(".")
    if not module.startswith(("app.jobs.", "knowledge.")):  # only our own job functions, never arbitrary code
        raise ValueError(f"refusing to run {path}")
    return getattr(importlib.import_module(module), name)


_queues: dict[str, EmbeddedQueue] = {}
_qlock = threading.Lock()


def get_embedded_queue(settings: Any, autostart: bool = True) -> EmbeddedQueue:
    path = str(Path(settings.var_dir) / "jobs.sqlite3")
    with _qlock:
        if path not in _queues:
            _queues[path] = EmbeddedQueue(path, autostart=autostart,
                                          job_timeout=float(getattr(settings, "job_timeout", 300) or 300))
        return _queues[path]


def hold_var_dir(var_dir: str | Path) -> Any:
    """Take ``var/serve.lock`` for this process's lifetime; :class:`AlreadyServing` if another holds it.

    One embedded server per ``var/``: two would run the same queue and state files side by side.
    The lock is released by the kernel when the process ends, however it ends.
    """
    path = Path(var_dir) / "serve.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 - kept open for the process's lifetime
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        pid = fh.read().strip() or "?"
        fh.close()
        raise AlreadyServing(f"another `python -m app serve` (pid {pid}) is already running on {Path(var_dir)}: "
                             "stop it first, or give this one its own SIDECAR_VAR") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def reset() -> None:
    with _qlock:
        for q in _queues.values():
            q.stop()
        _queues.clear()
