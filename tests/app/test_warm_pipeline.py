"""The worker's start-up warm-up: one made-up message through the whole pipeline, nothing written."""

from __future__ import annotations

import sys
from pathlib import Path

from app.runtime import warm_pipeline
from app.settings import get_settings
from pipeline.config import load_config
from tests.knowledge.kbfixtures import demo_env  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def test_warm_up_takes_the_draft_and_guard_paths_and_writes_nothing(sidecar_env, demo_env, monkeypatch):  # noqa: F811
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-never-called")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens: a call would fail the draft
    from app.settings import reset_settings

    reset_settings()
    import pipeline.draft

    llm_calls: list[object] = []
    monkeypatch.setattr(pipeline.draft, "llm_draft", lambda *a, **k: llm_calls.append(a))
    settings = get_settings()
    decision = warm_pipeline(settings, load_config(ROOT / "config"))
    assert decision is not None
    # The made-up message must reach what real first jobs paid for: HTML parsing, a template draft
    # quoting the knowledge base, and the guards' PII check (phonenumbers).
    assert decision.plan.draft and decision.draft is not None
    assert decision.draft.kind == "template" and decision.draft.used_source_ids
    assert "knowledge.redact" in sys.modules
    assert llm_calls == []  # a start-up never calls a remote model
    outbox = Path(settings.outbox_dir)
    assert not outbox.exists() or not any(outbox.iterdir())


def test_warm_up_failure_is_not_fatal(sidecar_env, monkeypatch):
    import app.runtime as runtime

    def boom(*_a, **_k):
        raise RuntimeError("no model")

    monkeypatch.setattr(runtime, "capabilities", boom)
    assert warm_pipeline(get_settings(), load_config(ROOT / "config")) is None
