"""Gorgias end to end: HTTP-integration webhook (token header) → rq worker → exactly the expected API calls."""

from __future__ import annotations

import copy

import pytest

from pipeline.models import marker_for
from tests.adapters.test_contract import BOT_ID, FakeGorgias
from tests.e2e.common import WISMO, deliver_and_work, failed_reasons, make_client, sequence

T = FakeGorgias.tid
EXPECTED = [
    ("GET", f"/api/tickets/{T}"),            # ticket with its custom fields
    ("GET", "/api/messages"),                # the whole thread (cursor pages; one here)
    ("POST", f"/api/tickets/{T}/messages"),  # the internal note, sent by the API user
    ("POST", f"/api/tickets/{T}/tags"),      # tags, added (never replaced)
    ("PUT", f"/api/tickets/{T}"),            # priority (normal → high)
]


def _event(fake: FakeGorgias, message: dict | None = None) -> dict:
    """What an HTTP integration with the form ``{{context}}`` posts for ticket-message-created."""
    t = {k: fake.ticket[k] for k in ("id", "subject", "channel", "status", "priority", "customer", "tags")}
    return {"ticket": copy.deepcopy(t), "message": copy.deepcopy(message or fake.messages[-1])}


@pytest.fixture
def fake(rsps):
    f = FakeGorgias(3).install(rsps)
    f.add_message(WISMO, agent=False)
    return f


@pytest.fixture
def client(monkeypatch, sidecar_env):
    return make_client(monkeypatch, "gorgias", FakeGorgias.base)


def test_customer_message_gives_note_tags_priority_and_nothing_else(client, fake, redis_url):
    event = _event(fake)
    resp = deliver_and_work(client, "gorgias", event, redis_url)
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued"
    assert sequence(fake) == EXPECTED
    note, tags, prio = (c.body for c in fake.writes())
    assert {k: note[k] for k in ("channel", "from_agent", "via", "sender")} == {
        "channel": "internal-note", "from_agent": True, "via": "api", "sender": {"id": BOT_ID}}
    assert note["source"]["type"] == "internal-note" and note["source"]["to"] == []
    assert marker_for(resp.get_json()["event_id"]) in note["body_html"] and "order_status" in note["body_text"]
    assert tags == {"names": ["ai-processed", "ai-wismo", "ai-intent-order_status"]}
    assert prio == {"priority": "high"}
    assert fake.tags()[:2] == ["vip", "shipping"], "existing tags survive"
    assert len(fake.notes()) == 1


def test_duplicate_delivery_and_our_own_note_cause_no_api_call(client, fake, redis_url):
    event = _event(fake)
    deliver_and_work(client, "gorgias", event, redis_url)
    n = len(fake.calls)
    dup = deliver_and_work(client, "gorgias", event, redis_url)
    assert dup.status_code == 200 and dup.get_json()["status"] == "duplicate"
    own = fake.messages[-1]
    assert own["channel"] == "internal-note" and own["sender"]["id"] == BOT_ID
    echo = deliver_and_work(client, "gorgias", _event(fake, own), redis_url)
    assert echo.status_code == 200 and echo.get_json()["status"] == "ignored"
    assert len(fake.calls) == n


def test_a_read_timeout_after_the_note_was_stored_posts_no_second_note(client, fake, redis_url):
    fake.fail("POST", rf"/api/tickets/{T}/messages", "timeout_after_store")
    deliver_and_work(client, "gorgias", _event(fake), redis_url)
    assert sequence(fake) == EXPECTED[:3] + EXPECTED[:2] + EXPECTED[3:]
    assert len(fake.notes()) == 1


def test_bad_credentials_fail_the_job_once_with_the_reason(client, fake, redis_url):
    fake.fail("GET", r".*", "401", times=10)
    deliver_and_work(client, "gorgias", _event(fake), redis_url)
    assert sequence(fake) == EXPECTED[:1]
    reasons = failed_reasons()
    assert len(reasons) == 1 and "401" in reasons[0] and f"/api/tickets/{T}" in reasons[0]
