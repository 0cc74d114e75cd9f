"""Files a process keeps between starts (fitted-model caches under ``<var>/classifier_cache/``):
plain numpy arrays and JSON, never pickles, written atomically, the few most recent kept."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` to a temporary file next to ``path``, then rename it over ``path``.

    The temporary name carries the pid: several workers starting together may write the same
    entry, and none may see another's half-written file. Raises ``OSError`` like ``write``.
    """
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp{path.suffix}"
    write(tmp)
    os.replace(tmp, path)


def prune(folder: Path, keep: int, companions: Iterable[str] = ()) -> None:
    """Keep the ``keep`` most recent ``*.npy`` entries of ``folder`` (an edit is often reverted);
    delete older ones with their ``companions`` (other suffixes of the same entry)."""
    stale = sorted(folder.glob("*.npy"), key=lambda f: f.stat().st_mtime, reverse=True)[keep:]
    for old in stale:
        old.unlink(missing_ok=True)
        for suffix in companions:
            old.with_suffix(suffix).unlink(missing_ok=True)
