"""Long commands: one progress bar with counts and ETA, then one summary line (never the bar twice)."""

from __future__ import annotations

import io
import logging
import re
import shutil
import sys
from pathlib import Path

import pytest

from app.__main__ import main
from knowledge.progress import Progress, report_embedding, step

ROOT = Path(__file__).resolve().parents[2]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_pipe_the_bar_is_a_plain_line_with_counts_and_eta_at_most_every_n_seconds():
    out = io.StringIO()
    bar = Progress("embedding chunks", "chunk", 4, stream=out, every=0)
    for _ in range(4):
        bar.update(1)
    bar.summary("done: 4 chunks", out=out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "done: 4 chunks"
    assert lines[0].startswith("embedding chunks:") and "1/4" in lines[0] and "<" in lines[0]  # count + ETA
    assert "\r" not in out.getvalue()
    quiet = io.StringIO()
    bar = Progress("x", "it", 1000, stream=quiet, every=3600)
    for _ in range(1000):
        bar.update(1)
    bar.close()
    assert quiet.getvalue() == ""  # within the interval nothing repeats


def test_on_a_terminal_the_bar_redraws_in_place_and_leaves_only_the_summary():
    tty = FakeTTY()
    bar = Progress("embedding texts", "text", 10, stream=tty)
    bar.update(5)
    bar.update(5)
    bar.summary("eval: done", out=tty)
    raw = tty.getvalue()
    assert "embedding texts" in raw and "/10 [" in raw
    # Everything before the summary is redrawn on one line (\r), then erased: one bar, one summary.
    assert raw.count("\n") == 1 and raw.endswith("eval: done\n")


def test_disabled_bar_prints_nothing_but_the_summary():
    out = FakeTTY()
    bar = Progress("x", "it", 3, stream=out, enabled=False, every=0)
    bar.update(3)
    bar.summary("only this", out=out)
    assert out.getvalue() == "only this\n"


def test_embedding_progress_counts_texts_embedded_anywhere_in_the_context():
    from knowledge.embedding import get_embedder

    out = io.StringIO()
    bar = Progress("embedding texts", "text", 130, stream=out, every=3600)
    with report_embedding(bar):
        get_embedder().embed([f"text number {i}" for i in range(130)])
    get_embedder().embed(["outside the context is not counted"])
    assert bar.n == 130


def test_step_says_start_heartbeat_and_duration():
    import time

    out = io.StringIO()
    with step("Fitting the classifier", stream=out, heartbeat=0.05):
        time.sleep(0.2)
    text = out.getvalue()
    assert text.startswith("… Fitting the classifier\n")
    assert "still fitting the classifier" in text
    assert re.search(r"✓ Fitting the classifier \(\d+\.\d s\)\n$", text)
    out = io.StringIO()
    with pytest.raises(RuntimeError), step("Indexing", stream=out):
        raise RuntimeError("boom")
    assert "✗ Indexing failed" in out.getvalue() and "✓" not in out.getvalue()


def test_kb_ingest_prints_one_bar_and_the_summary_once(kb_env, tmp_path, capsys, monkeypatch, caplog):
    kb = tmp_path / "kb"
    shutil.copytree(ROOT / "config/knowledge/accounts", kb)
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    caplog.set_level(logging.INFO)
    assert main(["kb", "ingest", str(kb)]) == 0
    out = capsys.readouterr().out
    summary = [ln for ln in out.splitlines() if "documents" in ln]
    n = len(list(kb.glob("*.md")))
    assert len(summary) == 1 and summary[0].startswith(f"ingested {kb}: {n} documents")
    # The bar ran (with counts) and was erased; the summary is not logged a second time.
    assert "embedding chunks" in tty.getvalue() and re.search(r"\d+/\d+", tty.getvalue())
    assert tty.getvalue().count("\n") == 0
    assert not [r for r in caplog.records if "documents" in r.getMessage() and r.levelno >= logging.INFO]


def test_kb_add_tickets_counts_tickets(kb_env, tmp_path, capsys, monkeypatch):
    import json

    from tests.knowledge.test_tickets import _ticket

    f = tmp_path / "tickets.jsonl"
    f.write_text(json.dumps(_ticket().to_dict()) + "\n", encoding="utf-8")
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["kb", "add-tickets", "--from-json", str(f)]) == 0
    assert "indexing resolved tickets" in tty.getvalue() and "/1 [" in tty.getvalue()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("indexed 1 resolved tickets")
