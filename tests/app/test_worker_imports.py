"""A worker starting from a warm classifier cache, and serving jobs, imports neither scikit-learn nor scipy.

Together 77 MB of a worker's resident memory (docs/measurements.md, fourteenth session): they fit the
heads (a first start, ``intents learn``, ``eval``); a worker with the fit cached only predicts, from plain
arrays (pipeline.linear). Each process runs in a subprocess of its own, so what other tests imported
in this one cannot hide an import (or cause one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_FIRST_START = textwrap.dedent("""
    import sys
    from app.__main__ import _demo_knowledge
    from app.settings import get_settings
    from pipeline.classify import warm_up
    from pipeline.config import get_config
    from pipeline.local_classifier import learned_path

    settings = get_settings()
    _demo_knowledge(settings)  # the sample knowledge base, so that jobs retrieve through BM25 and chroma
    model = warm_up(get_config(), learned_path(settings.var_dir))
    assert model is not None and not model.head_reused
    print("fitted with sklearn:", "sklearn" in sys.modules)
""")

_WORKER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from adapters import registry
    from app.__main__ import load_worker_models
    from app.jobs.process import process_event
    from app.settings import get_settings
    from pipeline.config import get_config
    from pipeline.local_classifier import get_local_model, learned_path

    def heavy():
        return sorted({m for m in sys.modules if m.partition(".")[0] in ("sklearn", "scipy")})

    settings, cfg = get_settings(), get_config()
    load_worker_models(settings, cfg)
    out = {"after_loading": heavy(), "head_reused": get_local_model(cfg, learned_path(settings.var_dir)).head_reused}
    for sample in sorted(Path("samples").glob("*.json")):
        platform = sample.name.split("_")[0]
        event = registry.module(platform).parse_webhook({}, json.loads(sample.read_text(encoding="utf-8")), settings)
        event.event_id = f"imports-{platform}-{time.time_ns()}"
        process_event(platform, event.to_dict(), claim_message=False, preview=True)
    out["after_jobs"] = heavy()
    out["bm25s"] = "bm25s" in sys.modules
    print(json.dumps(out))
""")


def _run(code: str, var: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIDECAR_VAR": str(var), "LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_a_warm_worker_imports_neither_sklearn_nor_scipy(tmp_path):
    first = _run(_FIRST_START, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "fitted with sklearn: True" in first.stdout  # the first start does fit (this is no empty check)
    worker = _run(_WORKER, tmp_path)
    assert worker.returncode == 0, worker.stderr[-3000:]
    got = json.loads([ln for ln in worker.stdout.splitlines() if ln.startswith("{")][-1])
    assert got["head_reused"]
    assert got["bm25s"]  # the jobs did retrieve through BM25 (whose module once imported scipy.sparse)
    assert got["after_loading"] == []
    assert got["after_jobs"] == []


def _worker_env(var: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ZENDESK_", "GORGIAS_", "FRESHDESK_", "REDIS_URL", "OPENAI_", "SIDECAR_"))}
    env.update({"SIDECAR_VAR": str(var), "SIDECAR_CONFIG": str(ROOT / "config"), "REDIS_URL": redis_url,
                "LOG_LEVEL": "INFO", "HF_HUB_OFFLINE": "1", **extra})
    return env


def _worker_burst(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "worker", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_first_start_worker_restarts_once_and_serves_without_sklearn(tmp_path, redis_url):
    """`python -m app worker` as an operator runs it, on a fresh var/: the first load fits (scikit-learn),
    the process restarts itself once and the process that serves jobs reads the cache instead."""
    r = _worker_burst(_worker_env(tmp_path / "var", redis_url))
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stderr + r.stdout
    assert log.count("restarting once to serve jobs from the fit cache") == 1, log[-3000:]
    # What the second process printed: no fit library left, and not the warning of a second restart.
    assert log.count("models loaded from the fit cache (no scikit-learn or scipy in memory)") == 1, log[-3000:]
    assert "stay loaded after a restart" not in log
    # A second start finds the cache: no restart at all.
    again = _worker_burst(_worker_env(tmp_path / "var", redis_url))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "restarting once" not in again.stderr + again.stdout
    assert "models loaded from the fit cache" in again.stderr + again.stdout


def test_a_worker_that_cannot_drop_sklearn_restarts_at_most_once(tmp_path, redis_url):
    """Already restarted (the variable the restart sets) and still fitting, as with a fit cache that cannot
    be written: the worker says so and serves, instead of restarting again and again."""
    r = _worker_burst(_worker_env(tmp_path / "var", redis_url, SIDECAR_WORKER_RESTARTED="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stderr + r.stdout
    assert "restarting once" not in log
    assert "stay loaded after a restart" in log
