"""Progress for long commands: one bar with counts and ETA, then one summary line.

Shared by the CLI (``kb ingest``, ``kb sync``, ``kb add-tickets``, ``eval``, ``intents learn``)
and the first start of ``python -m app serve``. It lives here, not in ``app/``, because
``knowledge`` and ``pipeline`` code report progress through it without importing the app.

On a terminal the bar is tqdm's, redrawn in place and erased when done, so what stays on screen
is the summary line alone. Elsewhere (a pipe, a log file, CI) redrawing would print the bar again
and again, so a plain line (tqdm's own format) is written at most every ``every`` seconds.

Embedding is the slow part of most of these commands: :func:`report_embedding` lets a command
count the texts the local embedder has done, wherever in the code the embedding happens.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from tqdm import tqdm

_embedding_hook: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar(
    "embedding_progress", default=None)


class Progress:
    """One progress bar: ``start(total, desc)`` (again for a next phase), ``update(n)``, ``summary(line)``."""

    def __init__(self, desc: str, unit: str = "it", total: int | None = None, *, enabled: bool = True,
                 stream: TextIO | None = None, every: float = 10.0):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.every = every
        self.unit = unit
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar: tqdm | None = None
        self._closed = False
        self.start(total, desc)

    def start(self, total: int | None, desc: str | None = None, unit: str | None = None) -> Progress:
        """(Re)start the bar for ``total`` items (None: count without an ETA)."""
        self._close_bar()
        self.desc = desc or self.desc
        self.unit = unit or self.unit
        self.total, self.n = total, 0
        self.t0 = self._last = time.monotonic()
        if self.enabled and self.tty:
            self._bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=self.stream, leave=False,
                             dynamic_ncols=True)
        return self

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            if self.total is not None and self.n >= self.total:
                # tqdm redraws at most every 0.1 s: without this a fast run never shows its final count.
                self._bar.refresh()
        elif self.enabled and time.monotonic() - self._last >= self.every:
            self._line()

    def line(self) -> str:
        """The bar as text: ``desc: 40%|...| 40/100 [00:04<00:06, 9.8chunk/s]`` (tqdm's format)."""
        elapsed = time.monotonic() - self.t0
        return tqdm.format_meter(self.n, self.total, elapsed, prefix=self.desc, unit=self.unit, ncols=80)

    def _line(self) -> None:
        self._last = time.monotonic()
        print(self.line(), file=self.stream, flush=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            # Draw the final count once: a bar done within tqdm's redraw interval (fast, cached
            # embeddings) would otherwise never show it before being erased.
            self._bar.refresh()
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        self._close_bar()
        self._closed = True

    def summary(self, text: str, out: TextIO | None = None) -> None:
        """End the bar and print the one-line summary (to stdout by default)."""
        self.close()
        print(text, file=out or sys.stdout, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def report_embedding(progress: Progress) -> Iterator[Progress]:
    """Count every text the local embedder embeds (in this context) on ``progress``."""
    token = _embedding_hook.set(progress.update)
    try:
        yield progress
    finally:
        _embedding_hook.reset(token)


def embedded(n: int) -> None:
    """Called by the embedder after each batch of ``n`` texts."""
    hook = _embedding_hook.get()
    if hook is not None:
        hook(n)


@contextlib.contextmanager
def step(label: str, *, stream: TextIO | None = None, heartbeat: float = 10.0) -> Iterator[None]:
    """A slow start-up step: says what starts, that it is still going every ``heartbeat`` s, and how long it took."""
    out = stream or sys.stdout
    print(f"… {label}", file=out, flush=True)
    t0 = time.monotonic()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat):
            print(f"  … still {label.lower()} ({time.monotonic() - t0:.0f} s)", file=out, flush=True)

    t = threading.Thread(target=beat, name="progress-heartbeat", daemon=True)
    t.start()
    try:
        yield
    except BaseException:
        print(f"✗ {label} failed after {time.monotonic() - t0:.1f} s", file=out, flush=True)
        raise
    finally:
        done.set()
        t.join(1)
    print(f"✓ {label} ({time.monotonic() - t0:.1f} s)", file=out, flush=True)
