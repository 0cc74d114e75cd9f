"""The Redis inbox between the webhook and rq: one atomic round trip on the request path.

Creating an rq job costs ~1 ms of CPU (a 25-field hash, pickling, two transactions); doing it
inside the webhook request capped intake at ~15% of a bare endpoint. Instead the webhook runs
one Lua script that claims the dedupe key (``SET NX EX``) and appends the event to
``sidecar:inbox`` atomically — an event is either a duplicate or stored, never half of each.
Every worker process runs a pump that moves inbox entries into rq jobs (with their retry
policy), so rq stays the engine for retries, the failed-job registry and the scheduler.

Nothing is lost between the two: the pump uses ``LMOVE`` into a per-pump processing list and
removes the entry only after rq has the job; the processing list of a pump whose heartbeat
expired (a killed worker) is given back to the inbox by the next pump that starts or sweeps
(every :data:`RECOVER_EVERY` seconds), so an entry waits at most HEARTBEAT_TTL + RECOVER_EVERY.
An entry given back while its first pump was only stalled (a Redis pause longer than the TTL)
is not queued twice: a job already waiting or running for the event is left alone.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from app.store.state import StateStore
from pipeline.models import TicketEvent

log = logging.getLogger(__name__)

INBOX = "sidecar:inbox"
PROCESSING = "sidecar:inbox:processing:"
HEARTBEAT = "sidecar:inbox:pump:"
HEARTBEAT_TTL = 15
RECOVER_EVERY = 5.0
_PENDING = (b"queued", b"started", b"scheduled", b"deferred")

_ACCEPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


class Inbox:
    """Accepts events on the web side; pumps them into rq on the worker side."""

    def __init__(self, redis: Any, inbox_key: str = INBOX):
        self.redis = redis
        self.key = inbox_key
        self._accept = redis.register_script(_ACCEPT)

    def accept(self, event: TicketEvent, ttl: int) -> bool:
        """Dedupe + store in one atomic step. True if stored, False if a duplicate. Raises on Redis errors."""
        payload = json.dumps({"platform": event.platform, "event": event.to_dict()}, separators=(",", ":"))
        return bool(self._accept(keys=[StateStore.dedupe_key(event.platform, event.event_id), self.key],
                                 args=[ttl, payload]))

    def depth(self) -> int:
        return int(self.redis.llen(self.key))

    def wait(self, timeout: float) -> bool:
        """Block until the inbox holds an entry (True) or ``timeout`` seconds pass (False).

        ``BLMOVE inbox inbox LEFT LEFT`` takes the head and puts it back at the head in one atomic
        step: the list is unchanged, and Redis wakes this client the moment a webhook appends.
        """
        return self.redis.blmove(self.key, self.key, timeout, "LEFT", "LEFT") is not None

    # ------------------------------------------------------------------ worker side

    def pump(self, settings: Any, pump_id: str, max_items: int | None = None) -> int:
        """Move inbox entries into rq until the inbox is empty (or ``max_items``). Returns entries moved."""
        from app.jobs.process import enqueue_event

        processing = PROCESSING + pump_id
        # Entries this (live) pump could not finish last time go first, back at the inbox's head:
        # nobody else would ever look in a live pump's processing list.
        self.give_back(processing)
        moved = 0
        while max_items is None or moved < max_items:
            raw = self.redis.lmove(self.key, processing, "LEFT", "RIGHT")
            if raw is None:
                break
            try:
                data = json.loads(raw)
                event = TicketEvent.from_dict(data["event"])
            except (ValueError, KeyError, TypeError):
                # Unreadable entry: keep it for a human instead of dropping it silently.
                log.error("inbox entry unreadable, moved to %s:dead", self.key)
                self.redis.rpush(self.key + ":dead", raw)
                self.redis.lrem(processing, 1, raw)
                continue
            try:
                if not self._pending(event):
                    enqueue_event(event, settings)
            except Exception as exc:
                # A transient failure (Redis hiccup, timeout): the entry goes back to the head of
                # the inbox now, or, if Redis cannot take even that, at the next pump round.
                log.warning("inbox entry %s not queued (%s); put back", event.event_id, type(exc).__name__)
                try:
                    with self.redis.pipeline() as p:  # MULTI/EXEC: back in the inbox exactly once
                        p.lrem(processing, 1, raw)
                        p.lpush(self.key, raw)
                        p.execute()
                except Exception:
                    log.warning("inbox entry %s stays in %s until Redis answers", event.event_id, processing)
                raise
            self.redis.lrem(processing, 1, raw)
            moved += 1
        return moved

    def _pending(self, event: TicketEvent) -> bool:
        """An rq job for this event is already waiting or running (the entry was given back while
        the pump that took it was stalled, and that pump queued it after all)."""
        from app.jobs.ids import job_id_for

        return self.redis.hget(f"rq:job:{job_id_for(event.platform, event.event_id)}", "status") in _PENDING

    def give_back(self, processing: str) -> int:
        """Move every entry of a processing list back to the head of the inbox (order kept)."""
        n = 0
        while self.redis.lmove(processing, self.key, "RIGHT", "LEFT") is not None:
            n += 1
        if n:
            log.warning("%d inbox entries from %s put back", n, processing)
        return n

    def processing_depth(self) -> int:
        """Entries taken by pumps and not yet turned into rq jobs (should be ~0; growing = stuck)."""
        return sum(int(self.redis.llen(k)) for k in self.redis.scan_iter(match=PROCESSING + "*", count=100))

    def heartbeat(self, pump_id: str) -> None:
        self.redis.set(HEARTBEAT + pump_id, "1", ex=HEARTBEAT_TTL)

    def recover(self) -> int:
        """Give back entries held by pumps that died (no heartbeat) to the inbox."""
        n = 0
        for key in self.redis.scan_iter(match=PROCESSING + "*", count=100):
            k = key.decode() if isinstance(key, bytes) else key
            pid = k[len(PROCESSING):]
            if self.redis.exists(HEARTBEAT + pid):
                continue
            n += self.give_back(k)
        if n:
            log.warning("recovered %d inbox entries from dead pumps", n)
        return n


def new_pump_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class PumpThread(threading.Thread):
    """Background pump of one worker process: inbox → rq as soon as an entry arrives.

    Between rounds it blocks on the inbox (:meth:`Inbox.wait`, at most ``interval`` seconds, then
    heartbeat and sweep): sleeping a fixed 0.1 s instead made each webhook wait 50 ms on average
    before its job started (bench/e2e_latency.py: webhook logged to job start, median 48 ms).
    """

    def __init__(self, inbox: Inbox, settings: Any, interval: float = 1.0):
        super().__init__(name="inbox-pump", daemon=True)
        # ``interval`` stays well under the side connection's 5 s socket timeout (a blocked wait
        # must not read as a dead Redis) and HEARTBEAT_TTL.
        self.inbox, self.settings, self.interval = inbox, settings, interval
        self.pump_id = new_pump_id()
        self._stop_event = threading.Event()

    def run(self) -> None:
        last_sweep = 0.0
        while not self._stop_event.is_set():
            try:
                self.inbox.heartbeat(self.pump_id)
                if time.monotonic() - last_sweep > RECOVER_EVERY:
                    self.inbox.recover()
                    last_sweep = time.monotonic()
                if self.inbox.pump(self.settings, self.pump_id, max_items=500):
                    continue
            except Exception:  # Redis hiccup: log, wait, try again; entries stay in Redis
                log.exception("inbox pump error")
                self._stop_event.wait(self.interval)
                continue
            try:
                self.inbox.wait(self.interval)
            except Exception:  # the next round logs it
                self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
