"""Liveness of rq workers and the recovery of jobs a dead worker left behind, in seconds.

rq alone finds an abandoned job late: a non-forking worker's execution entry in the started-job
registry expires only after the job timeout + 60 s, and the registries are cleaned at worker
start and then every 10 minutes, under a 15-minute lock that a worker killed while cleaning
leaves held. A ticket whose worker was killed mid-job waited 15-30 minutes.

Here every sidecar worker keeps a short-lived key (``sidecar:worker:alive:<name>``, refreshed
every :data:`BEAT` seconds, expiring after :data:`ALIVE_TTL`) from a thread of its own, and
every :data:`SWEEP` seconds sweeps its queues: an execution whose worker has no live key, or a
job left in rq's intermediate list by a worker that died between dequeueing and starting it,
is put back at the front of its queue (without using up one of the job's retries: it did not
fail). With a live worker, an abandoned job runs again within ALIVE_TTL + SWEEP (≈ 15 s).

Running it twice is safe: a per-job lock makes one sweeper requeue it, and the job itself writes
each step once (step log, and the note's marker is looked for before posting again).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from redis import RedisError

log = logging.getLogger(__name__)

ALIVE = "sidecar:worker:alive:"
REQUEUE_LOCK = "sidecar:recover:"
SEEN = "sidecar:recover:seen:"
BEAT = 2.0
ALIVE_TTL = 10
SWEEP = 5.0


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def mark_alive(connection: Any, worker_name: str, ttl: float = ALIVE_TTL) -> None:
    connection.set(ALIVE + worker_name, "1", px=max(1, int(ttl * 1000)))


def mark_gone(connection: Any, worker_name: str) -> None:
    connection.delete(ALIVE + worker_name)


def sweep(connection: Any, queues: list[Any], grace: float = ALIVE_TTL, lock_ttl: float = ALIVE_TTL + SWEEP) -> list[str]:
    """Requeue the jobs of dead workers on ``queues``. Returns the job ids put back.

    ``grace``: an execution younger than this is left alone (its worker's first beat may be on
    its way); ``lock_ttl``: how long one sweeper keeps the others off a job it requeued.
    """
    from rq.job import Job
    from rq.utils import parse_composite_key

    requeued: list[str] = []
    now = time.time()
    for queue in queues:
        registry = queue.started_job_registry
        for member, _score in connection.zrange(registry.key, 0, -1, withscores=True):
            composite = _text(member)
            job_id, execution_id = parse_composite_key(composite)
            data = connection.hgetall(f"rq:execution:{composite}")
            worker = _text(data.get(b"worker_name", b"")) if data else ""
            created = float(_text(data.get(b"created_at", b"0"))) if data else 0.0
            if worker and connection.exists(ALIVE + worker):
                continue
            if data and now - created < grace:
                continue  # just started: its worker's first beat may still be on its way
            if _requeue(connection, queue, job_id, lock_ttl, registry_member=composite, Job=Job):
                log.warning("job %s: worker %s is gone; put back on %s", job_id, worker or "?", queue.name)
                requeued.append(job_id)
        # Dequeued (moved to the intermediate list) but never started: the worker died in between.
        inter = queue.intermediate_queue
        for job_id in inter.get_job_ids():
            if _started(connection, registry.key, job_id):
                connection.delete(SEEN + job_id)
                continue
            first = connection.set(SEEN + job_id, now, nx=True, ex=3600)
            if first:
                continue  # seen once; a worker may be starting it right now
            seen_at = float(_text(connection.get(SEEN + job_id) or now))
            if now - seen_at < grace:
                continue
            if _requeue(connection, queue, job_id, lock_ttl, intermediate=inter.key, Job=Job):
                log.warning("job %s: dequeued by a worker that died before starting it; put back", job_id)
                requeued.append(job_id)
            connection.delete(SEEN + job_id)
    return requeued


def _started(connection: Any, registry_key: str, job_id: str) -> bool:
    cursor = 0
    while True:
        cursor, items = connection.zscan(registry_key, cursor, match=f"{job_id}:*", count=200)
        if items:
            return True
        if not cursor:
            return False


def _requeue(connection: Any, queue: Any, job_id: str, lock_ttl: float, *, registry_member: str | None = None,
             intermediate: str | None = None, Job: Any) -> bool:
    if not connection.set(REQUEUE_LOCK + job_id, "1", nx=True, px=max(1, int(lock_ttl * 1000))):
        return False  # another worker's sweep is on it
    try:
        job = Job.fetch(job_id, connection=connection)
    except Exception:
        job = None
    with connection.pipeline() as p:
        if registry_member is not None:
            p.zrem(queue.started_job_registry.key, registry_member)
            p.delete(f"rq:execution:{registry_member}")
        if intermediate is not None:
            p.lrem(intermediate, 1, job_id)
        if job is not None:
            # At the front, and without using up a retry: the job did not fail, its worker died.
            queue._enqueue_job(job, pipeline=p, at_front=True)  # noqa: SLF001 - rq has no public requeue
        p.execute()
    return job is not None


class Liveness(threading.Thread):
    """A worker's heartbeat and sweeper, in a thread so a long job does not stop either."""

    def __init__(self, connection: Any, worker_name: str, queues: list[Any], *, beat: float = BEAT,
                 sweep_every: float = SWEEP, ttl: float = ALIVE_TTL):
        super().__init__(name="worker-liveness", daemon=True)
        self.connection, self.worker_name, self.queues = connection, worker_name, queues
        self.beat, self.sweep_every, self.ttl = beat, sweep_every, ttl
        self._stop_event = threading.Event()
        self.recovered = 0

    def run(self) -> None:
        last_sweep = 0.0
        while not self._stop_event.is_set():
            try:
                mark_alive(self.connection, self.worker_name, self.ttl)
                if time.monotonic() - last_sweep >= self.sweep_every:
                    last_sweep = time.monotonic()
                    self.recovered += len(sweep(self.connection, self.queues, grace=self.ttl,
                                                lock_ttl=self.ttl + self.sweep_every))
            except RedisError as exc:  # Redis restarting: try again on the next beat
                log.warning("worker liveness: Redis unavailable (%s)", type(exc).__name__)
            except Exception:
                log.exception("worker liveness error")
            self._stop_event.wait(self.beat)

    def stop(self) -> None:
        self._stop_event.set()
        try:
            mark_gone(self.connection, self.worker_name)
        except RedisError:
            pass
