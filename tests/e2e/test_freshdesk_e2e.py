"""Freshdesk end to end: automation webhook (token header) → rq worker → exactly the expected API calls."""

from __future__ import annotations

import pytest

from pipeline.models import marker_for
from tests.adapters.test_contract import BOT_ID, FakeFreshdesk
from tests.e2e.common import WISMO, deliver_and_work, failed_reasons, make_client, sequence

T = FakeFreshdesk.tid
EXPECTED = [
    ("GET", f"/api/v2/tickets/{T}"),                # ticket with the requester
    ("GET", f"/api/v2/tickets/{T}/conversations"),  # the whole thread (pages of 100; one here)
    ("POST", f"/api/v2/tickets/{T}/notes"),         # the private note
    ("GET", f"/api/v2/tickets/{T}"),                # fresh tags: PUT replaces them, so read-merge-write
    ("PUT", f"/api/v2/tickets/{T}"),                # tags + priority in one update
]


def _created(subject: str = "Where is my order #1234?") -> dict:
    """The "Advanced" JSON body of a Trigger-webhook automation on ticket creation (values render as strings)."""
    return {"freshdesk_webhook": {"triggered_event": "{ticket_action:created}", "ticket_id": T,
                                  "ticket_url": f"{FakeFreshdesk.base}/helpdesk/tickets/{T}", "ticket_subject": subject,
                                  "ticket_description": f"<div>{WISMO}</div>", "ticket_status": "Open",
                                  "ticket_priority": "Medium", "requester_name": "Jane Doe",
                                  "requester_email": "jane@example.com"}}


@pytest.fixture
def fake(rsps):
    f = FakeFreshdesk(0).install(rsps)  # a new ticket: the description is the customer's message
    f.ticket["description"], f.ticket["description_text"] = f"<div>{WISMO}</div>", WISMO
    return f


@pytest.fixture
def client(monkeypatch, sidecar_env):
    return make_client(monkeypatch, "freshdesk", FakeFreshdesk.base)


def test_new_ticket_gives_note_and_one_update_and_nothing_else(client, fake, redis_url):
    resp = deliver_and_work(client, "freshdesk", _created(), redis_url)
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued"
    assert sequence(fake) == EXPECTED
    assert fake.calls[0].params == {"include": "requester"}
    note, update = (c.body for c in fake.writes())
    assert note["private"] is True and set(note) == {"body", "private"}
    assert marker_for(resp.get_json()["event_id"]) in note["body"] and "order_status" in note["body"]
    assert update == {"tags": ["vip", "shipping", "ai-processed", "ai-wismo", "ai-intent-order_status"], "priority": 3}
    assert len(fake.notes()) == 1


def test_duplicate_delivery_and_our_own_note_cause_no_api_call(client, fake, redis_url):
    deliver_and_work(client, "freshdesk", _created(), redis_url)
    n = len(fake.calls)
    dup = deliver_and_work(client, "freshdesk", _created(), redis_url)
    assert dup.status_code == 200 and dup.get_json()["status"] == "duplicate"
    assert fake.convs[-1]["user_id"] == BOT_ID and fake.convs[-1]["private"]
    echo = deliver_and_work(client, "freshdesk", {"freshdesk_webhook": {
        "triggered_event": "{note_type:private}", "ticket_id": T}}, redis_url)
    assert echo.status_code == 200 and echo.get_json()["status"] == "ignored"
    assert len(fake.calls) == n


def test_429_on_the_note_is_waited_out_and_posted_once(client, fake, redis_url, monkeypatch):
    import adapters.http

    slept: list[float] = []
    monkeypatch.setattr(adapters.http.time, "sleep", slept.append)
    fake.fail("POST", rf"/api/v2/tickets/{T}/notes", "429", retry_after="2")
    deliver_and_work(client, "freshdesk", _created(), redis_url)
    assert sequence(fake) == EXPECTED[:3] + EXPECTED[2:]
    assert 2.0 in slept
    assert len(fake.notes()) == 1


def test_bad_credentials_fail_the_job_once_with_the_reason(client, fake, redis_url):
    fake.fail("GET", r".*", "401", times=10)
    deliver_and_work(client, "freshdesk", _created(), redis_url)
    assert sequence(fake) == EXPECTED[:1]
    reasons = failed_reasons()
    assert len(reasons) == 1 and "401" in reasons[0] and f"/api/v2/tickets/{T}" in reasons[0]
