"""Rules end to end, per platform: webhook → rq worker → what reaches the ticket (dry-run outbox)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ROOT, auth_headers, load_fixture, outbox, reset_caches, run_worker

REFUND = "I want a refund for my order. Please send me a return label so I can get my money back."
WISMO = "Where is my order #1234? Can you send me the tracking number?"


def body_for(platform: str, text: str, n: int) -> bytes:
    if platform == "zendesk":
        b = json.loads(load_fixture("zendesk", "webhook_comment_added.json"))
        b["id"] = f"01JE2E{n:020d}"
        b["event"]["comment"].update({"id": str(880000 + n), "body": text})
        b["detail"].update({"id": str(5000 + n), "subject": "Help"})
        b["subject"] = f"zen:ticket:{5000 + n}"
    elif platform == "gorgias":
        b = json.loads(load_fixture("gorgias", "webhook_message_created.json"))
        b["ticket"]["id"] = 5000 + n
        b["ticket"]["subject"] = ""
        b["message"]["subject"] = ""
        b["message"].update({"id": 990000 + n, "ticket_id": 5000 + n, "body_text": text, "stripped_text": text,
                             "body_html": f"<div>{text}</div>"})
    else:
        b = json.loads(load_fixture("freshdesk", "webhook_ticket_created.json"))
        b["freshdesk_webhook"].update({"ticket_id": str(5000 + n), "ticket_subject": "Help",
                                       "ticket_description": f"<div>{text}</div>"})
    return json.dumps(b).encode()


@pytest.fixture(scope="session")
def demo_chroma(tmp_path_factory):
    from knowledge.ingest import ingest_folder
    from knowledge.store import KnowledgeStore

    path = tmp_path_factory.mktemp("chroma-e2e")
    ingest_folder(KnowledgeStore(path=str(path), create=True), ROOT / "config" / "knowledge", progress=False)
    return path


@pytest.fixture
def e2e(sidecar_env, demo_chroma, monkeypatch, tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(ROOT / "config", cfg, ignore=shutil.ignore_patterns("knowledge"))
    rules = (cfg / "rules.yaml").read_text().replace(
        "  order_status:\n    tags: [ai-wismo]",
        "  order_status:\n    tags: [ai-wismo]\n    auto_reply: {enabled: true, min_confidence: 0.8}")
    (cfg / "rules.yaml").write_text(rules)
    monkeypatch.setenv("SIDECAR_CONFIG", str(cfg))
    monkeypatch.setenv("CHROMA_PATH", str(demo_chroma))
    from knowledge.store import reset_store

    reset_caches()
    reset_store()
    from app import create_app

    yield create_app().test_client(), sidecar_env
    reset_store()


PLATFORMS = ["zendesk", "gorgias", "freshdesk"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_refund_gets_the_approval_banner_tags_priority_and_no_public_reply(platform, e2e, redis_url):
    client, var = e2e
    raw = body_for(platform, REFUND, 1)
    assert client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw)).status_code == 202
    run_worker(redis_url)
    entries = outbox(var, platform)
    notes = [e for e in entries if e["action"] == "note"]
    assert len(notes) == 1
    assert "APPROVAL REQUIRED" in notes[0]["html"] and "Intent: return_refund" in notes[0]["text"]
    tags = [t for e in entries if e["action"] == "tags" for t in e["tags"]]
    assert {"ai-intent-return_refund", "ai-approval-required", "ai-processed"} <= set(tags)
    prio = [e["priority"] for e in entries if e["action"] == "priority"]
    assert prio and prio[0] in ("normal", "high", "urgent")  # rules: floor normal
    assert not [e for e in entries if e["action"] == "public_reply"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_order_status_with_auto_reply_sends_one_public_reply_and_nothing_else_public(platform, e2e, redis_url):
    client, var = e2e
    raw = body_for(platform, WISMO, 2)
    assert client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw)).status_code == 202
    # The same delivery again must not send a second reply.
    assert client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw)).status_code == 200
    run_worker(redis_url)
    entries = outbox(var, platform)
    public = [e for e in entries if e["action"] == "public_reply"]
    assert len(public) == 1, [e["action"] for e in entries]
    assert "track" in public[0]["text"].lower()
    notes = [e for e in entries if e["action"] == "note"]
    assert len(notes) == 1 and "auto-reply sent" in notes[0]["text"].lower()
    # Nothing public except that one reply: every other write is a note, tags or fields.
    assert {e["action"] for e in entries} <= {"note", "tags", "priority", "fields", "public_reply"}
