"""Reduced chaos run (the full one is ``bench/chaos.py``): real worker processes (``SidecarWorker``
under ``run_forever``, as ``python -m app worker`` runs them) on a private redis-server with AOF,
SIGKILLed in the middle of jobs three times while Redis itself is restarted once.

Every job must complete exactly once, the workers that were not killed must still be alive after
the Redis restart, and SIGTERM must stop them all. The jobs are small stand-ins (the model-loading
worker start is measured by the benchmark, not here).
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
from rq import Queue, Retry, Worker

from tests.app.jobs.test_recovery import RAN, slow_run
from tests.conftest import DIE_WITH_PARENT, ROOT
from tests.private_redis import PrivateRedis

pytestmark = pytest.mark.skipif(not PrivateRedis.available(),
                                reason="redis-server is not installed (the chaos test restarts its own Redis)")

WORKER = DIE_WITH_PARENT + textwrap.dedent("""
    import sys, types, redis
    from rq import Queue
    from app.jobs.worker import SidecarWorker, run_forever
    SidecarWorker.beat, SidecarWorker.alive_ttl, SidecarWorker.sweep_every = 0.2, 1.5, 0.3
    url = sys.argv[1]
    conn = redis.Redis.from_url(url, socket_connect_timeout=2)
    settings = types.SimpleNamespace(redis_url=url, queue_name="chaos")
    run_forever(lambda: SidecarWorker([Queue("chaos", connection=conn)], connection=conn, settings=settings),
                conn, with_scheduler=True)
""")


@pytest.fixture
def private_redis():
    r = PrivateRedis(prefix="test-chaos-redis-")
    r.start()
    yield r
    r.cleanup()


def _worker(url: str) -> subprocess.Popen:
    env = {**os.environ, "TEST_RECOVERY_REDIS": url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", WORKER, url], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _busy(conn: redis.Redis, live: dict[int, subprocess.Popen]) -> list[int]:
    try:
        return [int(w.pid) for w in Worker.all(connection=conn) if w.pid in live and w.get_current_job_id()]
    except redis.RedisError:
        return []


def test_kills_mid_job_and_a_redis_restart_lose_nothing_and_run_each_job_once(private_redis, monkeypatch):
    url = private_redis.url
    monkeypatch.setenv("TEST_RECOVERY_REDIS", url)
    conn = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    q = Queue("chaos", connection=conn)
    tags = [f"t{i}" for i in range(6)]
    for tag in tags:
        q.enqueue(slow_run, tag, 0.8, job_id=f"evt-{tag}", job_timeout=30, retry=Retry(max=3, interval=1))
    workers = [_worker(url), _worker(url)]
    survivors = set()
    try:
        kills, restarted_redis = 0, False
        deadline = time.time() + 25
        while kills < 3 and time.time() < deadline:
            live = {w.pid: w for w in workers if w.poll() is None}
            busy = _busy(conn, live)
            if not busy:
                time.sleep(0.05)
                continue
            time.sleep(0.3)  # into the job
            victim = live[busy[0]]
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            survivors.discard(victim.pid)
            kills += 1
            workers[workers.index(victim)] = _worker(url)  # what a supervisor does
            if kills == 2 and not restarted_redis:
                survivors = {w.pid for w in workers if w.poll() is None}
                private_redis.stop()  # the AOF keeps the queue and the registries
                time.sleep(0.5)
                private_redis.start()
                restarted_redis = True
        assert kills == 3 and restarted_redis, "three jobs interrupted"
        while time.time() < deadline + 20 and conn.llen(RAN) < len(tags):
            time.sleep(0.1)
        done = sorted(x.decode() for x in conn.lrange(RAN, 0, -1))
        assert done == tags, "every job completed, each once"
        alive = {w.pid for w in workers if w.poll() is None}
        assert survivors and survivors <= alive, "workers ride out the Redis restart"
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        codes = []
        for w in workers:
            try:
                codes.append(w.wait(timeout=15))
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
                codes.append(w.wait())
    assert codes == [0, 0], "SIGTERM stops an idle worker (run_forever must not restart it)"
