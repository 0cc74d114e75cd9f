"""A fake time source: ``time()`` and ``sleep()`` that advances it (retries, rate limits)."""

from __future__ import annotations

import time


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s
