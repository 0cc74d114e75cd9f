"""The rq worker the sidecar runs: a non-forking worker that also pumps the webhook inbox into rq."""

from __future__ import annotations

import logging
from typing import Any

from rq import SimpleWorker

from app.jobs.inbox import Inbox, PumpThread, new_pump_id

log = logging.getLogger(__name__)


class SidecarWorker(SimpleWorker):
    """SimpleWorker (jobs run in this process, so models loaded once are reused) + inbox pump.

    The pump thread moves webhook events from the Redis inbox into rq jobs while the worker
    blocks on its queue; before every dequeue the worker also drains the inbox itself, so a
    ``--burst`` run processes everything accepted so far.
    """

    def __init__(self, *args: Any, settings: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sidecar_settings = settings
        self.inbox = Inbox(self.connection)
        self.pump_id = new_pump_id()
        self._pump: PumpThread | None = None

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        self.inbox.heartbeat(self.pump_id)
        self.inbox.pump(self.sidecar_settings, self.pump_id)
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def work(self, burst: bool = False, **kwargs: Any) -> bool:
        self.inbox.recover()
        if not burst:
            self._pump = PumpThread(self.inbox, self.sidecar_settings, interval=0.1)
            self._pump.start()
        try:
            return super().work(burst=burst, **kwargs)
        finally:
            if self._pump is not None:
                self._pump.stop()
