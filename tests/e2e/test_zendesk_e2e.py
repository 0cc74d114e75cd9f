"""Zendesk end to end: signed event webhook → rq worker → exactly the expected API calls."""

from __future__ import annotations

import pytest

from pipeline.models import marker_for
from tests.adapters.test_contract import BOT_ID, FakeZendesk
from tests.e2e.common import WISMO, deliver_and_work, failed_reasons, make_client, sequence

T = FakeZendesk.tid
REQUESTER = 6130869168922
EVENT_ID = "01JE2E0000000000000000001"
EXPECTED = [
    ("GET", f"/api/v2/tickets/{T}.json"),            # ticket + side-loaded users
    ("GET", f"/api/v2/tickets/{T}/comments.json"),   # the whole thread (one page here)
    ("PUT", f"/api/v2/tickets/{T}.json"),            # the internal note
    ("PUT", f"/api/v2/tickets/{T}/tags.json"),       # tags, added (never replaced)
    ("PUT", f"/api/v2/tickets/{T}.json"),            # priority (normal → high)
]


def _event(fake: FakeZendesk, comment: dict | None = None, event_id: str = EVENT_ID) -> dict:
    c = comment or fake.comments[-1]
    return {"type": "zen:event-type:ticket.comment_added", "account_id": 10000001, "id": event_id,
            "time": "2026-11-25T10:00:00Z", "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{T}",
            "detail": {"id": T, "subject": "Where is my order #1234?", "status": "OPEN", "priority": "NORMAL",
                       "requester_id": str(REQUESTER), "via": {"channel": "email"}},
            "event": {"comment": {"id": str(c["id"]), "body": c["plain_body"], "is_public": c["public"],
                                  "author": {"id": str(c["author_id"]), "is_staff": c["author_id"] != REQUESTER,
                                             "name": "x"}}}}


@pytest.fixture
def fake(rsps):
    f = FakeZendesk(3).install(rsps)
    f.add_comment(WISMO, REQUESTER, True)
    return f


@pytest.fixture
def client(monkeypatch, sidecar_env):
    return make_client(monkeypatch, "zendesk", FakeZendesk.base)


def test_customer_comment_gives_note_tags_priority_and_nothing_else(client, fake, redis_url):
    resp = deliver_and_work(client, "zendesk", _event(fake), redis_url)
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued"
    assert sequence(fake) == EXPECTED
    note, tags, prio = (c.body for c in fake.writes())
    assert note["ticket"]["comment"]["public"] is False
    assert marker_for(EVENT_ID) in note["ticket"]["comment"]["html_body"]
    assert "order_status" in note["ticket"]["comment"]["html_body"]
    assert set(note) == {"ticket"} and set(note["ticket"]) == {"comment"}
    assert tags == {"tags": ["ai-processed", "ai-wismo", "ai-intent-order_status"]}
    assert prio == {"ticket": {"priority": "high"}}
    assert fake.tags()[:2] == ["vip", "shipping"], "existing tags survive"
    assert len(fake.notes()) == 1


def test_duplicate_delivery_and_our_own_note_cause_no_api_call(client, fake, redis_url):
    event = _event(fake)
    deliver_and_work(client, "zendesk", event, redis_url)
    n = len(fake.calls)
    dup = deliver_and_work(client, "zendesk", event, redis_url)
    assert dup.status_code == 200 and dup.get_json()["status"] == "duplicate"
    own = fake.comments[-1]
    assert own["author_id"] == BOT_ID and not own["public"]
    echo = deliver_and_work(client, "zendesk", _event(fake, own, event_id="01JE2E-OWN-NOTE"), redis_url)
    assert echo.status_code == 200 and echo.get_json()["status"] == "ignored"
    assert len(fake.calls) == n


def test_a_500_on_the_note_rechecks_the_thread_and_posts_once(client, fake, redis_url):
    fake.fail("PUT", rf"/api/v2/tickets/{T}\.json", "500")
    deliver_and_work(client, "zendesk", _event(fake), redis_url)
    assert sequence(fake) == EXPECTED[:3] + EXPECTED[:2] + EXPECTED[2:]
    assert len(fake.notes()) == 1


def test_bad_credentials_fail_the_job_once_with_the_reason(client, fake, redis_url):
    fake.fail("GET", r".*", "401", times=10)
    deliver_and_work(client, "zendesk", _event(fake), redis_url)
    assert sequence(fake) == EXPECTED[:1]
    reasons = failed_reasons()
    assert len(reasons) == 1 and "401" in reasons[0] and "/api/v2/tickets/4242.json" in reasons[0]
    assert "tok-SECRET" not in reasons[0]
