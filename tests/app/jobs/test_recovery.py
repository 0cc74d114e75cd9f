"""A job whose worker died runs again within seconds, once; the worker rides out Redis errors.

The last test is the reduced chaos run: a real worker process is SIGKILLed in the middle of a
job and a second one picks the job up (the full run with the sidecar is ``bench/chaos.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.job import JobStatus

from app.jobs.recovery import ALIVE, Liveness, mark_alive, sweep
from app.jobs.worker import SidecarScheduler, run_forever
from tests.conftest import DIE_WITH_PARENT, ROOT

RAN = "test:recovery:ran"


def record_run(tag: str) -> str:
    """The job under test: counts its runs (a real job's writes are keyed by event and step)."""
    conn = redis.Redis.from_url(os.environ["TEST_RECOVERY_REDIS"])
    conn.rpush(RAN, tag)
    return tag


def slow_run(tag: str, seconds: float) -> str:
    conn = redis.Redis.from_url(os.environ["TEST_RECOVERY_REDIS"])
    conn.rpush(RAN + ":started", tag)
    time.sleep(seconds)
    if conn.set(RAN + ":done:" + tag, "1", nx=True):
        conn.rpush(RAN, tag)
    return tag


@pytest.fixture
def conn(redis_url, monkeypatch):
    monkeypatch.setenv("TEST_RECOVERY_REDIS", redis_url)
    return redis.Redis.from_url(redis_url)


def _start_as(conn, queue, worker_name: str):
    """Do what a worker does when it takes a job, then 'die' (no liveness key is ever written)."""
    dead = SimpleWorker([queue], connection=conn, name=worker_name)
    job, _ = Queue.dequeue_any([queue], None, connection=conn)
    dead.prepare_execution(job)
    dead.prepare_job_execution(job, remove_from_intermediate_queue=True)
    return job


def test_the_job_of_a_dead_worker_is_put_back_and_runs_once(conn, redis_url):
    q = Queue("recovery", connection=conn)
    job = q.enqueue(record_run, "a", job_id="evt-a", retry=None)
    _start_as(conn, q, "dead-worker")
    assert q.count == 0 and q.started_job_registry.get_job_ids() == ["evt-a"]
    assert sweep(conn, [q], grace=0) == ["evt-a"]
    assert q.job_ids == ["evt-a"] and q.started_job_registry.count == 0
    assert sweep(conn, [q], grace=0) == [], "nothing left to recover"
    SimpleWorker([q], connection=conn).work(burst=True)
    assert conn.lrange(RAN, 0, -1) == [b"a"]
    assert job.get_status(refresh=True) == "finished"


def test_a_live_workers_job_and_a_just_started_one_are_left_alone(conn):
    q = Queue("recovery", connection=conn)
    q.enqueue(record_run, "b", job_id="evt-b")
    q.enqueue(record_run, "c", job_id="evt-c")
    _start_as(conn, q, "live-worker")
    mark_alive(conn, "live-worker")
    assert sweep(conn, [q], grace=0) == []
    _start_as(conn, q, "fresh-worker")
    assert sweep(conn, [q], grace=30) == [], "younger than the grace period: its first beat may be on its way"
    assert sorted(q.started_job_registry.get_job_ids()) == ["evt-b", "evt-c"]


def test_a_job_dequeued_by_a_worker_that_died_before_starting_it_is_put_back(conn):
    q = Queue("recovery", connection=conn)
    q.enqueue(record_run, "d", job_id="evt-d")
    Queue.dequeue_any([q], None, connection=conn)  # moved to rq's intermediate list, then the worker died
    assert q.count == 0 and q.intermediate_queue.get_job_ids() == ["evt-d"]
    assert sweep(conn, [q], grace=0) == [], "first sighting: a worker may be starting it right now"
    assert sweep(conn, [q], grace=0) == ["evt-d"]
    assert q.job_ids == ["evt-d"] and q.intermediate_queue.get_job_ids() == []


def test_two_sweepers_requeue_a_job_once(conn):
    q = Queue("recovery", connection=conn)
    q.enqueue(record_run, "e", job_id="evt-e")
    _start_as(conn, q, "dead-worker")
    first, second = sweep(conn, [q], grace=0), sweep(conn, [q], grace=0)
    assert first == ["evt-e"] and second == []
    assert q.job_ids == ["evt-e"]


def test_requeue_does_not_use_up_a_retry(conn):
    from rq import Retry

    q = Queue("recovery", connection=conn)
    q.enqueue(record_run, "f", job_id="evt-f", retry=Retry(max=3, interval=[10, 60, 300]))
    for _ in range(5):  # killed five times in a row: still not failed, still waiting to run
        job = _start_as(conn, q, f"dead-{_}")
        sweep(conn, [q], grace=0, lock_ttl=0.001)
        time.sleep(0.01)
    assert job.get_status(refresh=True) == "queued" and job.retries_left == 3


def test_liveness_thread_beats_and_clears_its_key_on_stop(conn):
    live = Liveness(conn, "w-1", [], beat=0.05, ttl=2, sweep_every=0.05)
    live.start()
    for _ in range(100):
        if conn.exists(ALIVE + "w-1"):
            break
        time.sleep(0.02)
    assert conn.pttl(ALIVE + "w-1") > 0
    live.stop()
    live.join(timeout=2)
    assert not conn.exists(ALIVE + "w-1")


def test_run_forever_starts_a_fresh_worker_after_a_redis_error_and_stops_on_request(conn):
    made: list[object] = []

    class Flaky:
        def __init__(self):
            self._stop_requested = False
            made.append(self)

        def work(self, **kw):
            if len(made) == 1:
                raise redis.ConnectionError("Redis restarting")
            if len(made) == 2:
                return False  # rq's loop gave up (e.g. a Redis timeout) without a stop request
            self._stop_requested = True  # SIGTERM
            return True

    run_forever(Flaky, conn)
    assert len(made) == 3


def test_run_forever_waits_when_redis_is_gone_while_it_builds_the_next_worker(conn):
    # rq's Worker() itself talks to Redis (CLIENT SETNAME): a Redis still down when the process
    # starts, or gone again right after a restart, must not end the process.
    made: list[object] = []

    class Worker:
        def __init__(self):
            if len(made) < 2:
                made.append(None)
                raise redis.ConnectionError("Connection refused")
            self._stop_requested = False
            made.append(self)

        def work(self, **kw):
            self._stop_requested = True
            return True

    run_forever(Worker, conn)
    assert len(made) == 3 and made[-1] is not None


def test_scheduler_runs_in_a_thread_and_survives_redis_errors(conn, monkeypatch):
    q = Queue("recovery", connection=conn)
    sched = SidecarScheduler([q], connection=conn, interval=1)
    calls = {"n": 0}
    real = sched.enqueue_scheduled_jobs

    def flaky():
        calls["n"] += 1
        if calls["n"] == 2:
            raise redis.ConnectionError("Redis restarting")
        return real()

    monkeypatch.setattr(sched, "enqueue_scheduled_jobs", flaky)
    sched.acquire_locks()
    thread = sched.start()
    try:
        deadline = time.time() + 10
        while calls["n"] < 3 and time.time() < deadline:
            time.sleep(0.02)
        assert calls["n"] >= 3 and thread.is_alive(), "kept going after the error"
        assert thread.ident is not None and not hasattr(thread, "pid"), "a thread: nothing to orphan"
    finally:
        sched.request_stop()
        thread.join(timeout=5)
    assert not thread.is_alive()


WORKER = DIE_WITH_PARENT + textwrap.dedent("""
    import sys, types, redis
    from rq import Queue
    from app.jobs.worker import SidecarWorker
    SidecarWorker.beat, SidecarWorker.alive_ttl, SidecarWorker.sweep_every = 0.2, 1.5, 0.3
    conn = redis.Redis.from_url(sys.argv[1])
    settings = types.SimpleNamespace(redis_url=sys.argv[1], queue_name="recovery")
    SidecarWorker([Queue("recovery", connection=conn)], connection=conn, settings=settings).work(with_scheduler=True)
""")


def _worker(redis_url: str) -> subprocess.Popen:
    env = {**os.environ, "TEST_RECOVERY_REDIS": redis_url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", WORKER, redis_url], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def test_sigkill_mid_job_then_a_live_worker_runs_it_again_within_seconds(conn, redis_url):
    """Reduced chaos: a real worker process killed with SIGKILL in the middle of a job."""
    q = Queue("recovery", connection=conn)
    first = _worker(redis_url)
    second = None
    try:
        q.enqueue(slow_run, "g", 1.5, job_id="evt-g", job_timeout=60)
        deadline = time.time() + 60
        while not conn.lrange(RAN + ":started", 0, -1) and time.time() < deadline:
            time.sleep(0.05)
        assert conn.lrange(RAN + ":started", 0, -1) == [b"g"], "the first worker took the job"
        assert _children(first.pid) == [], "no scheduler child process (it is a thread)"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = time.time()
        second = _worker(redis_url)
        while conn.llen(RAN) == 0 and time.time() - killed_at < 60:
            time.sleep(0.1)
        recovered_in = time.time() - killed_at
        assert conn.lrange(RAN, 0, -1) == [b"g"], "run again after the kill, completed once"
        assert recovered_in < 30, recovered_in
        # The job pushes its tag a moment before the worker records it finished and takes it out of
        # the started registry: on a loaded machine the registry was read in between (seen in a full run).
        job = q.fetch_job("evt-g")
        settle = time.time() + 10
        while job is not None and job.get_status(refresh=True) != JobStatus.FINISHED and time.time() < settle:
            time.sleep(0.05)
        assert job is not None and job.get_status(refresh=True) == JobStatus.FINISHED
        assert q.started_job_registry.count == 0 and q.failed_job_registry.count == 0
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=20)


FOREVER = DIE_WITH_PARENT + textwrap.dedent("""
    import sys, types, redis
    from rq import Queue
    from app.jobs.worker import SidecarWorker, run_forever
    conn = redis.Redis.from_url(sys.argv[1])
    settings = types.SimpleNamespace(redis_url=sys.argv[1], queue_name="recovery")
    run_forever(lambda: SidecarWorker([Queue("recovery", connection=conn)], connection=conn, settings=settings),
                conn, with_scheduler=True)
""")


def test_sigterm_stops_an_idle_worker_for_good(conn, redis_url):
    # rq ends an idle worker's loop on SIGTERM without recording the request: run_forever must not
    # take that for a Redis failure and start another worker (systemd would wait, then SIGKILL).
    from rq import Worker

    env = {**os.environ, "TEST_RECOVERY_REDIS": redis_url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", FOREVER, redis_url], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def idle() -> bool:  # in its loop, signal handlers installed
            return any(w.get_state() == "idle" for w in Worker.all(connection=conn))

        deadline = time.time() + 30
        while not idle() and time.time() < deadline:
            time.sleep(0.05)
        assert idle(), "worker waiting for jobs"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
