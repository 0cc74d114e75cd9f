"""The rq worker the sidecar runs: a non-forking worker that also pumps the webhook inbox into rq.

Around rq's own loop it adds what an operator needs from a process that must not lose or sit on
customer messages:

* a liveness key and a sweeper thread (:mod:`app.jobs.recovery`): a job whose worker was killed
  runs again within ~30 s on any live worker, instead of rq's 15-30 minutes;
* rq's scheduler (retries, SLA timers) in a thread of the worker rather than a forked process,
  so killing the worker never leaves an orphaned scheduler behind, and one that rides out Redis
  errors instead of dying with them;
* :func:`run_forever`: when rq's loop gives up on a Redis error (a restart, an outage), the
  process waits for Redis and starts a fresh worker, instead of exiting for good.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

import redis as redis_lib
from rq import SimpleWorker
from rq.scheduler import RQScheduler

from app.jobs.inbox import Inbox, PumpThread, new_pump_id
from app.jobs.recovery import ALIVE_TTL, BEAT, SWEEP, Liveness

log = logging.getLogger(__name__)


class SidecarScheduler(RQScheduler):
    """rq's scheduler loop in a daemon thread of the worker, tolerant of Redis errors."""

    def _install_signal_handlers(self) -> None:  # signals belong to the worker's main thread
        pass

    def start(self) -> threading.Thread:
        self._status = self.Status.STARTED
        self._stop_requested = False
        self._wake = threading.Event()
        self._process = threading.Thread(target=self._run, name="rq-scheduler", daemon=True)
        self._process.start()
        return self._process

    def request_stop(self, signum: Any = None, frame: Any = None) -> None:
        self._stop_requested = True
        wake = getattr(self, "_wake", None)
        if wake is not None:
            wake.set()

    def _run(self) -> None:
        born = False
        while not self._stop_requested:
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
            except redis_lib.RedisError as exc:
                log.warning("scheduler: Redis unavailable (%s); retrying", type(exc).__name__)
            except Exception:
                log.exception("scheduler loop error")
            self._wake.wait(self.interval)
        try:
            self.stop()
        except redis_lib.RedisError:
            pass


class SidecarWorker(SimpleWorker):
    """SimpleWorker (jobs run in this process, so models loaded once are reused) + inbox pump.

    The pump thread moves webhook events from the Redis inbox into rq jobs while the worker
    blocks on its queue; before every dequeue the worker also drains the inbox itself, so a
    ``--burst`` run processes everything accepted so far.
    """

    # Liveness (see app.jobs.recovery): beat period, key lifetime, sweep period, in seconds.
    beat, alive_ttl, sweep_every = BEAT, ALIVE_TTL, SWEEP
    # Set by SIGTERM/SIGINT (see run_forever): rq ends its loop on a signal without recording it
    # when the worker is idle, and a restart loop must not take that for a Redis failure.
    stop_event: threading.Event | None = None

    def __init__(self, *args: Any, settings: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sidecar_settings = settings
        # The pump, scheduler and liveness threads get their own client with short timeouts: rq
        # raises the socket timeout of its own connection above its blocking dequeue (minutes).
        self.side_connection = redis_lib.Redis.from_url(settings.redis_url, socket_connect_timeout=2,
                                                        socket_timeout=5, health_check_interval=30)
        self.inbox = Inbox(self.side_connection)
        self.pump_id = new_pump_id()
        self._pump: PumpThread | None = None
        self._liveness: Liveness | None = None

    def request_stop(self, signum: Any, frame: Any) -> None:
        if self.stop_event is not None:
            self.stop_event.set()
        super().request_stop(signum, frame)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        try:
            self.inbox.heartbeat(self.pump_id)
            self.inbox.pump(self.sidecar_settings, self.pump_id)
        except redis_lib.RedisError as exc:  # rq's own dequeue below waits for Redis to come back
            log.warning("inbox pump: Redis unavailable (%s)", type(exc).__name__)
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = "INFO", date_format: str = "",
                         log_format: str = "") -> None:
        self.scheduler = SidecarScheduler(self.queues, connection=self.side_connection,
                                          logging_level=logging_level or "INFO", serializer=self.serializer)
        self.scheduler.acquire_locks()
        if burst:
            if self.scheduler.acquired_locks:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            return
        # Started even without the lock: its loop takes the lock over when the holder dies.
        self.scheduler.start()

    def stop_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.request_stop()
            thread = self.scheduler._process
            if isinstance(thread, threading.Thread):
                thread.join(timeout=5)

    def work(self, burst: bool = False, **kwargs: Any) -> bool:
        try:
            self.inbox.recover()
        except redis_lib.RedisError as exc:
            log.warning("inbox recovery postponed: Redis unavailable (%s)", type(exc).__name__)
        if not burst:
            self._pump = PumpThread(self.inbox, self.sidecar_settings)
            self._pump.start()
            self._liveness = Liveness(self.side_connection, self.name, self.queues, beat=self.beat,
                                      sweep_every=self.sweep_every, ttl=self.alive_ttl)
            self._liveness.start()
        try:
            return super().work(burst=burst, **kwargs)
        finally:
            if self._pump is not None:
                self._pump.stop()
            if self._liveness is not None:
                self._liveness.stop()


def wait_for_redis(connection: Any, stop: threading.Event | None = None, max_wait: float = 5.0) -> None:
    """Block until Redis answers a PING (backing off up to ``max_wait`` seconds between tries)."""
    delay = 0.5
    while stop is None or not stop.is_set():
        try:
            if connection.ping():
                return
        except redis_lib.RedisError:
            pass
        if stop is not None:
            stop.wait(delay)
        else:
            time.sleep(delay)
        delay = min(max_wait, delay * 2)


def run_forever(make_worker: Any, connection: Any, **work_kwargs: Any) -> None:
    """Run workers until one stops on request (SIGTERM/SIGINT); survive Redis restarts and outages.

    rq's loop quits on a Redis timeout or an unexpected error; the process must not. Each round
    gets a fresh worker (a new name: the jobs the old one held are recovered by the sweep).
    """
    stop = threading.Event()
    while not stop.is_set():
        worker = None
        try:
            # Building a worker talks to Redis too (rq names its connection): Redis may be gone
            # again by now, or not up yet at the process's start. Wait for it, never exit.
            worker = make_worker()
            if hasattr(worker, "stop_event"):
                worker.stop_event = stop
            worker.work(**work_kwargs)
        except redis_lib.RedisError as exc:
            log.error("worker stopped on a Redis error (%s); waiting for Redis", type(exc).__name__)
        if stop.is_set() or getattr(worker, "_stop_requested", False):
            return
        if threading.current_thread() is threading.main_thread():
            # Between two workers a signal only asks to stop (rq's handlers belong to the old one).
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        log.warning("worker loop ended without a stop request; restarting it once Redis answers")
        wait_for_redis(connection, stop)
