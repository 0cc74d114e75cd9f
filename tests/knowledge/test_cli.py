"""`python -m app kb ...` commands end to end (argparse wiring through app.__main__)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def test_kb_ingest_query_stats(kb_env, tmp_path, capsys):
    kb = tmp_path / "kb"
    shutil.copytree(ROOT / "config/knowledge/accounts", kb)
    n = len(list(kb.glob("*.md")))
    assert main(["kb", "ingest", str(kb), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"{n} documents" in out and "embedded" in out
    assert main(["kb", "query", "I", "forgot", "my", "password"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1]") and "reset-password" in out and "https://help.demo-store.example/" in out
    assert main(["kb", "query", "I", "fоrgоt", "my", "раsswоrd"]) == 0  # Cyrillic look-alikes: the same answer
    assert capsys.readouterr().out.startswith(out.split("\n")[0])
    assert main(["kb", "query", "who won the football match last night"]) == 1
    assert "nothing above the relevance threshold" in capsys.readouterr().out
    assert main(["kb", "stats"]) == 0
    assert f"{n} documents" in capsys.readouterr().out
    # Incremental: a second ingest embeds nothing.
    assert main(["kb", "ingest", str(kb), "--quiet"]) == 0
    assert " 0 embedded" in capsys.readouterr().out


def test_kb_query_without_a_knowledge_base_says_how_to_make_one(kb_env):
    with pytest.raises(SystemExit, match="kb ingest"):
        main(["kb", "query", "hello"])


def test_kb_sync_unconfigured_platform_fails_clearly(kb_env):
    with pytest.raises(SystemExit, match="not configured"):
        main(["kb", "sync", "zendesk", "--quiet"])


def test_kb_add_tickets_from_json(kb_env, tmp_path, capsys):
    import json

    from tests.knowledge.test_tickets import PII, _ticket

    f = tmp_path / "tickets.jsonl"
    no_answer = _ticket()
    no_answer.id = "882"
    no_answer.messages = no_answer.messages[:1]
    f.write_text(json.dumps(_ticket().to_dict()) + "\n" + json.dumps(no_answer.to_dict()) + "\n", encoding="utf-8")
    assert main(["kb", "add-tickets", "--from-json", str(f)]) == 0
    assert "indexed 1 resolved tickets (1 skipped" in capsys.readouterr().out
    assert main(["kb", "query", "--full", "the same payment shows two times on my bank account"]) == 0
    out = capsys.readouterr().out
    # Retrieval hands over the team's answer of a past ticket (redacted), never the other customer's question.
    assert "ticket:zendesk:881" in out and "Agent answer" in out and "[name]" in out
    assert not any(p in out for p in PII)
    from knowledge.store import KnowledgeStore

    stored = " ".join(KnowledgeStore(path=str(kb_env), create=False).collection.get(include=["documents"])["documents"])
    assert "[card number]" in stored and not any(p in stored for p in PII)
