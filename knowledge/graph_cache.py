"""Rewritten ONNX graphs kept between process starts (``<var>/model_cache/``).

Every start rewrote MiniLM's graph (:func:`knowledge.embedding.minilm_graph`: load, rewrite,
serialize 23 MB), for the same bytes each time. An entry is keyed by the source file's sha256 (the
installed model) and the rewrite's version (bumped whenever the rewrite changes), and carries the
CRC-32 of its bytes in its name: a file cut short or damaged is ignored (and replaced), never
loaded. Written atomically (a temporary file renamed), so workers starting together never read
each other's half-written entry. Without a folder (tests, tools that never read the settings),
or when the folder cannot be written, the graph is rebuilt as before: only start-up time differs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.cachefiles import write_atomic

log = logging.getLogger(__name__)

_folder: Path | None = None
_lock = threading.Lock()


def set_folder(folder: Path | str | None) -> None:
    """Where rewritten graphs are kept (the process edge passes ``<var>/model_cache``); None: nowhere."""
    global _folder
    with _lock:
        _folder = Path(folder) if folder else None


def folder() -> Path | None:
    return _folder


def _prefix(name: str, source_sha256: str, version: int) -> str:
    return f"{name}-{source_sha256[:32]}-v{version}."


def cached_graph(name: str, source_sha256: str, version: int, build: Callable[[], bytes | str],
                 as_path: bool = False, child: tuple[str, Sequence[str]] | None = None) -> bytes | str:
    """The bytes ``build()`` returns for this source file and rewrite version, from the cache when an
    intact entry is there. ``build`` may return a path instead (the rewrite did not apply): never cached.

    ``as_path``: the intact entry's path instead of its bytes (the bytes when there is no entry to
    give). onnxruntime then reads the file itself: a session built from a path held 62 MB at its
    peak against 107 MB from bytes for bge's graph (the bytes and the parsed model at once).

    ``child``: ``("module:function", string args)`` that builds the same bytes: with a folder and no
    entry yet, the entry is built in a child Python process first, so that the rewrite's transient
    memory (+192 MB for bge's) never counts in this process's peak; ``build()`` here if it fails."""
    base = _folder
    if base is None:
        return build()
    prefix = _prefix(name, source_sha256, version)
    found = _intact_entry(base, prefix)
    if found is None and child is not None and _build_in_child(base, name, source_sha256, version, child):
        found = _intact_entry(base, prefix)
    if found is not None:
        entry, data = found
        return str(entry) if as_path else data
    graph = build()
    if isinstance(graph, bytes):
        try:
            base.mkdir(parents=True, exist_ok=True)
            for old in base.glob(f"{name}-*.onnx"):  # another model file or rewrite version: never read again
                if not old.name.startswith(prefix):  # (an entry of this one may be open by another process)
                    old.unlink(missing_ok=True)
            _drop_stale_temp(base, name)
            entry = base / f"{prefix}{zlib.crc32(graph):08x}.onnx"
            write_atomic(entry, lambda tmp: tmp.write_bytes(graph))
            if as_path:
                return str(entry)
        except OSError as exc:  # a read-only var/ only costs start-up time
            log.info("model graph not cached (%s)", exc)
    return graph


def _intact_entry(base: Path, prefix: str) -> tuple[Path, bytes] | None:
    for entry in sorted(base.glob(prefix + "*.onnx")):
        try:
            data = entry.read_bytes()
        except OSError:
            continue
        if entry.name == f"{prefix}{zlib.crc32(data):08x}.onnx":
            return entry, data
        log.warning("model cache entry %s is damaged: ignored, rebuilt", entry.name)
        entry.unlink(missing_ok=True)
    return None


# A temporary file (pipeline.cachefiles.write_atomic: ".<entry>.<pid>.tmp.onnx") older than this was
# left by a process killed while writing it (a worker stopped, a child killed by the OOM killer):
# hundreds of MB that no glob of entries ever sees. A live writer's is minutes old at most.
STALE_TEMP_S = 3600


def _drop_stale_temp(base: Path, name: str) -> None:
    now = time.time()
    for tmp in base.glob(f".{name}-*.tmp.onnx"):
        try:
            if now - tmp.stat().st_mtime > STALE_TEMP_S:
                tmp.unlink(missing_ok=True)
        except OSError:
            continue


# The child: the same cached_graph with the same folder, building with the named function.
_CHILD_CODE = (
    "import importlib, sys\n"
    "from knowledge import graph_cache\n"
    "mod, fn = sys.argv[1].split(':')\n"
    "build = getattr(importlib.import_module(mod), fn)\n"
    "graph_cache.set_folder(sys.argv[2])\n"
    "graph_cache.cached_graph(sys.argv[3], sys.argv[4], int(sys.argv[5]), lambda: build(*sys.argv[6:]))\n"
)
CHILD_TIMEOUT_S = 300


def _build_in_child(base: Path, name: str, source_sha256: str, version: int, child: tuple[str, Sequence[str]]) -> bool:
    target, args = child
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    cmd = [sys.executable, "-c", _CHILD_CODE, target, str(base), name, source_sha256, str(version), *map(str, args)]
    try:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("model graph %s not built in a child process (%s): built here", name, exc)
        return False
    try:
        _, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        err = f"no entry within {CHILD_TIMEOUT_S}s: killed".encode()
    if proc.returncode != 0:
        # A child killed while writing (timeout, OOM killer) leaves its temporary file: never read, drop it.
        for tmp in base.glob(f".{_prefix(name, source_sha256, version)}*.{proc.pid}.tmp.onnx"):
            tmp.unlink(missing_ok=True)
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        log.warning("model graph %s not built in a child process (exit %d: %s): built here", name, proc.returncode, tail[0])
        return False
    return True
