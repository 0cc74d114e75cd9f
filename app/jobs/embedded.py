"""Embedded mode (no ``REDIS_URL``): a durable in-process queue in SQLite, run by a worker thread.

An accepted event is written to ``var/jobs.sqlite3`` before the webhook answers 202, so a
crash loses nothing: pending jobs are picked up again at the next start. Failed jobs keep
their reason (``python -m app failed``) and can be retried (``python -m app retry ID``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from adapters.base import PermanentError
from pipeline.models import TicketEvent

log = logging.getLogger(__name__)

RETRY_DELAYS = [2, 10, 60]


class EmbeddedQueue:
    def __init__(self, path: str | Path, autostart: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, platform TEXT, event TEXT, status TEXT, "
            "attempts INTEGER DEFAULT 0, error TEXT, created REAL, updated REAL, run_after REAL DEFAULT 0)")
        cols = {r[1] for r in self._conn.execute("PRAGMA table_info(jobs)")}
        if "func" not in cols:  # files made before scheduled jobs existed
            self._conn.execute("ALTER TABLE jobs ADD COLUMN func TEXT")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = False
        # Jobs that were running when the process died are run again (steps are idempotent).
        self._conn.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running'")
        if autostart:
            self.start()

    def enqueue(self, event: TicketEvent) -> str:
        from app.jobs.ids import job_id_for

        jid = job_id_for(event.platform, event.event_id)
        now = time.time()
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO jobs (id, platform, event, status, created, updated) VALUES (?,?,?,?,?,?)",
                (jid, event.platform, json.dumps(event.to_dict()), "queued", now, now))
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
        with self._lock:
            row = self._conn.execute(
                "SELECT id, platform, event, attempts, func FROM jobs WHERE status = 'queued' AND run_after <= ? "
                "ORDER BY created LIMIT 1", (time.time(),)).fetchone()
            if row:
                # Conditional update: another process sharing the file (gunicorn workers) may race us.
                cur = self._conn.execute("UPDATE jobs SET status='running', updated=? WHERE id=? AND status='queued'",
                                         (time.time(), row[0]))
                if cur.rowcount != 1:
                    self._wake.set()  # somebody else took it; look again on the next loop
                    return None
        return row

    def run_pending(self) -> int:
        """Run every job that is due now (used by the thread, the CLI and tests). Returns jobs run."""
        # By name, like rq: the queue does not import the job it runs (no import cycle with app.jobs.process).
        process_event = _resolve("app.jobs.process.process_event")
        n = 0
        while (row := self._next()) is not None:
            jid, platform, event, attempts, func = row
            n += 1
            try:
                if func:
                    _resolve(func)(*json.loads(event))
                else:
                    process_event(platform, json.loads(event))
            except Exception as exc:
                attempts += 1
                permanent = isinstance(exc, PermanentError) or attempts > len(RETRY_DELAYS)
                reason = f"{exc.__class__.__name__}: {exc}"
                with self._lock:
                    if permanent:
                        self._conn.execute("UPDATE jobs SET status='failed', attempts=?, error=?, updated=? WHERE id=?",
                                           (attempts, reason, time.time(), jid))
                    else:
                        self._conn.execute(
                            "UPDATE jobs SET status='queued', attempts=?, error=?, updated=?, run_after=? WHERE id=?",
                            (attempts, reason, time.time(), time.time() + RETRY_DELAYS[attempts - 1], jid))
                log.error("job %s %s: %s", jid, "failed" if permanent else "will be retried", reason)
            else:
                with self._lock:
                    self._conn.execute("UPDATE jobs SET status='done', updated=? WHERE id=?", (time.time(), jid))
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
            _queues[path] = EmbeddedQueue(path, autostart=autostart)
        return _queues[path]


def reset() -> None:
    with _qlock:
        for q in _queues.values():
            q.stop()
        _queues.clear()
