"""knowledge.graph_cache: MiniLM's rewritten graph is kept between starts, keyed by the model file's
sha256 and the rewrite's version; a damaged entry is ignored and replaced, never loaded."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import embedding, graph_cache

SHA = "ab" * 32


@pytest.fixture
def cache_dir(tmp_path):
    before = graph_cache.folder()
    graph_cache.set_folder(tmp_path / "model_cache")
    yield tmp_path / "model_cache"
    graph_cache.set_folder(before)


class Build:
    def __init__(self, out: bytes | str = b"graph bytes"):
        self.out, self.calls = out, 0

    def __call__(self) -> bytes | str:
        self.calls += 1
        return self.out


def test_built_once_then_read_back(cache_dir):
    build = Build()
    assert graph_cache.cached_graph("m", SHA, 1, build) == b"graph bytes"
    assert graph_cache.cached_graph("m", SHA, 1, build) == b"graph bytes"
    assert build.calls == 1
    assert [p.name for p in cache_dir.iterdir()] == [p.name for p in cache_dir.glob("m-*.onnx")], "no temp file left"


def test_as_path_gives_the_intact_entrys_path(tmp_path, cache_dir):
    from pathlib import Path

    build = Build()
    first = graph_cache.cached_graph("m", SHA, 1, build, as_path=True)  # built, written, its path
    again = graph_cache.cached_graph("m", SHA, 1, build, as_path=True)  # read back, checked, its path
    assert first == again and Path(first).read_bytes() == b"graph bytes" and build.calls == 1
    graph_cache.set_folder(None)  # nowhere to keep it: the bytes
    assert graph_cache.cached_graph("m", SHA, 1, build, as_path=True) == b"graph bytes"


def test_another_model_file_or_rewrite_version_is_rebuilt_and_replaces_the_entry(cache_dir):
    graph_cache.cached_graph("m", SHA, 1, Build(b"v1"))
    newer = Build(b"v2")
    assert graph_cache.cached_graph("m", SHA, 2, newer) == b"v2" and newer.calls == 1
    other = Build(b"other model")
    assert graph_cache.cached_graph("m", "cd" * 32, 2, other) == b"other model" and other.calls == 1
    assert len(list(cache_dir.glob("m-*.onnx"))) == 1


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_entry_is_ignored_and_replaced(cache_dir, damage):
    graph_cache.cached_graph("m", SHA, 1, Build(b"x" * 1000))
    (entry,) = cache_dir.glob("m-*.onnx")
    data = entry.read_bytes()
    entry.write_bytes(data[:500] if damage == "truncate" else data[:10] + b"y" + data[11:])
    build = Build(b"x" * 1000)
    assert graph_cache.cached_graph("m", SHA, 1, build) == b"x" * 1000 and build.calls == 1
    (entry,) = cache_dir.glob("m-*.onnx")
    assert entry.read_bytes() == b"x" * 1000


def test_without_a_folder_or_a_path_result_nothing_is_written(tmp_path, cache_dir):
    build = Build("/the/shipped/model.onnx")  # the rewrite did not apply: the file itself is loaded
    graph_cache.cached_graph("m", SHA, 1, build)
    graph_cache.cached_graph("m", SHA, 1, build)
    assert build.calls == 2 and not list(cache_dir.glob("*"))
    graph_cache.set_folder(None)
    plain = Build()
    graph_cache.cached_graph("m", SHA, 1, plain)
    graph_cache.cached_graph("m", SHA, 1, plain)
    assert plain.calls == 2


def test_minilm_from_the_cache_gives_the_same_vectors(cache_dir, monkeypatch):
    texts = ["Where is my order?", "I want a refund for the broken mug."]
    first = embedding.LocalEmbedder(cache_size=0).embed(texts)
    assert len(list(cache_dir.glob("minilm-*.onnx"))) == 1

    def no_rewrite(path):
        raise AssertionError("rewritten again although the cache holds the graph")

    monkeypatch.setattr(embedding, "minilm_graph", no_rewrite)
    again = embedding.LocalEmbedder(cache_size=0).embed(texts)
    assert np.array_equal(np.asarray(first), np.asarray(again))


def test_the_process_settings_put_the_cache_under_var(monkeypatch, cache_dir, tmp_path):
    from app.settings import apply_process_settings, load_settings

    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    apply_process_settings(load_settings())
    assert graph_cache.folder() == tmp_path / "var" / "model_cache"


def child_graph(tag: str) -> bytes:
    """Built in the child process by test_a_child_process_builds_the_entry (imported there by name)."""
    import os

    return f"built by pid {os.getpid()} for {tag}".encode()


def test_a_child_process_builds_the_entry_so_its_memory_never_counts_here(cache_dir):
    import os
    from pathlib import Path

    build = Build(b"built here")
    path = graph_cache.cached_graph("m", SHA, 1, build, as_path=True,
                                    child=("tests.knowledge.test_graph_cache:child_graph", ["bge"]))
    data = Path(path).read_bytes()
    assert build.calls == 0, "the entry came from the child: nothing built in this process"
    assert data.startswith(b"built by pid ") and data.endswith(b" for bge")
    assert data != f"built by pid {os.getpid()} for bge".encode()
    # Read back on the next start: no child, no build.
    assert graph_cache.cached_graph("m", SHA, 1, build, child=("no.such:module", [])) == data and build.calls == 0


def test_a_failing_child_falls_back_to_building_here(cache_dir, caplog):
    build = Build(b"built here")
    with caplog.at_level("WARNING", logger="knowledge.graph_cache"):
        out = graph_cache.cached_graph("m", SHA, 1, build, child=("tests.knowledge.test_graph_cache:no_such_function", []))
    assert out == b"built here" and build.calls == 1
    assert "not built in a child process" in caplog.text and "no_such_function" in caplog.text


def test_without_a_folder_no_child_is_started(monkeypatch):
    before = graph_cache.folder()
    graph_cache.set_folder(None)
    try:
        monkeypatch.setattr(graph_cache.subprocess, "Popen", lambda *a, **k: pytest.fail("no child without a cache folder"))
        assert graph_cache.cached_graph("m", SHA, 1, Build(b"x"), child=("a:b", [])) == b"x"
    finally:
        graph_cache.set_folder(before)


def killed_while_writing(folder: str, prefix: str) -> bytes:
    """Built in the child by test_a_child_killed_while_writing_leaves_no_temporary_file: starts
    writing the entry as write_atomic does, then dies as the OOM killer would have it."""
    import os
    import signal
    from pathlib import Path

    Path(folder).mkdir(parents=True, exist_ok=True)  # as cached_graph does before writing
    (Path(folder) / f".{prefix}0badc0de.onnx.{os.getpid()}.tmp.onnx").write_bytes(b"half a gra")
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def test_a_child_killed_while_writing_leaves_no_temporary_file(cache_dir, caplog):
    prefix = graph_cache._prefix("m", SHA, 1)
    build = Build(b"built here")
    with caplog.at_level("WARNING", logger="knowledge.graph_cache"):
        out = graph_cache.cached_graph("m", SHA, 1, build, child=("tests.knowledge.test_graph_cache:killed_while_writing",
                                                                  [str(cache_dir), prefix]))
    assert out == b"built here" and build.calls == 1
    assert "exit -9" in caplog.text, "the child was killed, as intended"
    assert sorted(p.name for p in cache_dir.iterdir()) == [p.name for p in cache_dir.glob("m-*.onnx")], \
        "the killed child's half-written file is gone"


def test_an_old_temporary_file_of_a_killed_writer_is_dropped_with_the_next_build(cache_dir):
    import os
    import time

    cache_dir.mkdir(parents=True)
    old = cache_dir / f".{graph_cache._prefix('m', SHA, 1)}12345678.onnx.999999.tmp.onnx"
    fresh = cache_dir / f".{graph_cache._prefix('m', SHA, 1)}12345678.onnx.999998.tmp.onnx"  # a writer at work
    other = cache_dir / ".other-model.onnx.999999.tmp.onnx"
    for p in (old, fresh, other):
        p.write_bytes(b"partial")
    past = time.time() - graph_cache.STALE_TEMP_S - 60
    os.utime(old, (past, past))
    os.utime(other, (past, past))
    graph_cache.cached_graph("m", SHA, 1, Build(b"graph"))
    assert not old.exists() and fresh.exists() and other.exists()
