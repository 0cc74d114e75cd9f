"""Agent feedback on drafts, captured from the helpdesks' own events."""

from __future__ import annotations

import json

import pytest

from app.jobs.feedback import pending_corrections
from pipeline.feedback import classify_edit
from pipeline.models import Draft, Source
from tests.conftest import auth_headers, load_fixture, run_worker

DRAFT = ("Hi Dana, thanks for reaching out. Your order #55123 shipped yesterday with UPS; tracking updates "
         "can take up to 24 hours to appear. You can follow it from the link in your shipping email.")


@pytest.mark.parametrize("sent,verdict", [
    (DRAFT, "sent_as_is"),
    ("<p>" + DRAFT.replace("Hi Dana", "Hello Dana") + "</p>", "sent_as_is"),
    ("Hi Dana! Your order #55123 shipped yesterday with DHL, not UPS; tracking updates can take a day to "
     "appear. Follow it from the link in your shipping email.", "edited"),
    ("We are sorry, we have issued a refund for your order.", "rewritten"),
    ("", "rewritten"),
])
def test_classify_edit(sent, verdict):
    assert classify_edit(DRAFT, sent)[0] == verdict


def test_draft_with_greeting_and_signature_is_still_sent_as_is():
    verdict, sim = classify_edit(DRAFT, f"Hi!\n\n{DRAFT}\n\nBest,\nKim")
    assert verdict == "sent_as_is" and sim >= 0.9


@pytest.fixture
def with_draft(monkeypatch):
    """Processing produces a known draft, so the agent's reply can be compared with it."""
    import pipeline.flow as flow

    def fake_draft(ticket, text, triage, plan, sources, cfg, llm=None, kb=None):
        return Draft(text=DRAFT, kind="template", sources=[Source(id="kb-shipping", title="Shipping times")])

    monkeypatch.setattr(flow, "make_draft", fake_draft)


def _verdicts() -> list[str]:
    from app.store.decisions import get_store

    return [r["verdict"] for r in get_store().feedback()]


def _post(client, platform, body):
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    return client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw))


def test_zendesk_agent_reply_is_recorded_with_its_edit_classification(app_client, redis_url, with_draft, caplog):
    assert _post(app_client, "zendesk", load_fixture("zendesk", "webhook_comment_added.json")).status_code == 202
    run_worker(redis_url)
    reply = json.loads(load_fixture("zendesk", "webhook_agent_reply.json"))
    reply["event"]["comment"]["body"] = DRAFT.replace("UPS", "DHL")
    r = _post(app_client, "zendesk", reply)
    assert r.status_code == 200 and r.get_json()["status"] == "ignored"
    assert r.get_json()["feedback_reply"] == "queued", "compared in a job, not in the webhook request"
    run_worker(redis_url)
    assert _verdicts() == ["sent_as_is"]
    # A retried delivery of the same reply is not counted twice.
    _post(app_client, "zendesk", reply)
    run_worker(redis_url)
    assert _verdicts() == ["sent_as_is"]


def test_gorgias_agent_rewrite_and_tags(app_client, redis_url, with_draft, sidecar_env):
    assert _post(app_client, "gorgias", load_fixture("gorgias", "webhook_message_created.json")).status_code == 202
    run_worker(redis_url)
    reply = json.loads(load_fixture("gorgias", "webhook_agent_reply.json"))
    reply["message"]["body_text"] = "Sorry about the mug, a replacement is on its way."
    reply["message"]["stripped_text"] = reply["message"]["body_text"]
    reply["ticket"]["tags"] = [{"name": "vip"}, {"name": "ai-wrong-intent:return_refund"}]
    r = _post(app_client, "gorgias", reply)
    assert r.get_json()["feedback"] == ["wrong_intent"] and r.get_json()["feedback_reply"] == "queued"
    run_worker(redis_url)
    assert sorted(_verdicts()) == ["rewritten", "wrong_intent"]
    from app.settings import get_settings

    pending = pending_corrections(get_settings())
    assert len(pending) == 1 and pending[0]["label"] == "return_refund" and pending[0]["status"] == "pending"
    assert "mug" in pending[0]["text"]


def test_freshdesk_reject_tag_from_an_agent_update(app_client, redis_url, with_draft):
    assert _post(app_client, "freshdesk", load_fixture("freshdesk", "webhook_ticket_created.json")).status_code == 202
    run_worker(redis_url)
    update = {"freshdesk_webhook": {"triggered_event": "{priority:{from:2,to:3}}", "ticket_id": "11",
                                    "ticket_tags": "ai-processed,ai-reject"}}
    r = _post(app_client, "freshdesk", update)
    assert r.get_json()["status"] == "ignored" and r.get_json()["feedback"] == ["rejected"]


def test_agent_reply_on_a_ticket_without_our_draft_records_nothing(app_client, redis_url):
    r = _post(app_client, "zendesk", load_fixture("zendesk", "webhook_agent_reply.json"))
    assert r.get_json()["status"] == "ignored" and r.get_json()["feedback"] == []


def test_a_long_agent_reply_is_compared_in_a_job_once_and_bounded(app_client, redis_url, with_draft, monkeypatch):
    """A 10k-character reply used to cost ~15 s of CPU inside the webhook request."""
    from app.jobs import feedback as fbmod
    from pipeline import feedback as pure

    assert _post(app_client, "zendesk", load_fixture("zendesk", "webhook_comment_added.json")).status_code == 202
    run_worker(redis_url)
    compared: list[tuple[int, int]] = []
    real = pure.classify_edit

    def spy(draft, sent):
        compared.append((len(draft), len(sent)))
        return real(draft, sent)

    monkeypatch.setattr(fbmod, "classify_edit", spy)
    reply = json.loads(load_fixture("zendesk", "webhook_agent_reply.json"))
    reply["event"]["comment"]["body"] = DRAFT + " " + "Some more detail about our shipping partners. " * 220
    assert len(reply["event"]["comment"]["body"]) > 10_000
    r = _post(app_client, "zendesk", reply)
    assert r.get_json()["feedback_reply"] == "queued" and compared == [], "nothing compared in the request"
    run_worker(redis_url)
    assert len(compared) == 1 and _verdicts()[0] in ("edited", "rewritten")
    a, b = pure._norm(DRAFT), pure._norm(reply["event"]["comment"]["body"])
    assert len(a) <= pure.FEEDBACK_CHARS and len(b) == pure.FEEDBACK_CHARS
    # The same reply delivered again: the verdict is already claimed, nothing is recomputed.
    _post(app_client, "zendesk", reply)
    run_worker(redis_url)
    assert len(compared) == 1 and len(_verdicts()) == 1
