"""Property-based fuzzing of the three webhook endpoints: bad input is a 4xx with a reason, never a 5xx.

CI runs a few hundred examples per endpoint; ``bench/fuzz_webhooks.py`` runs thousands.
"""

from __future__ import annotations

import json

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import auth_headers, signed_headers
from tests.fuzz import payloads

PLATFORMS = ["zendesk", "gorgias", "freshdesk"]


@pytest.fixture
def client(sidecar_env):
    from app import create_app

    return create_app().test_client()


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_no_payload_gives_a_5xx(platform, client, data):
    raw = data.draw(payloads(platform))
    r = client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw))
    assert r.status_code < 500, (r.status_code, r.get_data()[:300])
    body = r.get_json()
    assert isinstance(body, dict) and "status" in body
    if r.status_code == 400:
        assert body["error"] and body.get("detail"), body


@pytest.mark.parametrize("depth", [900, 5_000, 100_000])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_deeply_nested_json_is_a_400(platform, depth, client):
    raw = b"[" * depth + b"]" * depth
    r = client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw))
    assert r.status_code == 400 and "nested" in r.get_json()["detail"]
    raw = b'{"ticket_id": "5", "x": ' + b"[" * depth + b"]" * depth + b"}"
    r = client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw))
    assert r.status_code == 400 and "nested" in r.get_json()["detail"]


def test_lone_surrogate_in_zendesk_event_id_is_a_400_not_a_503(client, redis_url):
    raw = json.dumps({"type": "zen:event-type:ticket.comment_added", "id": "\ud800", "detail": {"id": "5"},
                      "event": {"comment": {"id": "1", "body": "hi", "is_public": True,
                                            "author": {"id": "2", "is_staff": False}}}}).encode()
    for _ in range(3):  # the helpdesk would retry a 503 forever
        r = client.post("/webhooks/zendesk", data=raw, headers=signed_headers(raw))
        assert r.status_code == 400, r.get_json()
        assert "event_id" in r.get_json()["detail"]
    assert redis.Redis.from_url(redis_url).llen("sidecar:inbox") == 0


@pytest.mark.parametrize("platform,body", [
    ("zendesk", {"ticket_id": "5", "latest_comment": "Where is my order? \ud83d broken emoji"}),
    ("gorgias", {"ticket": {"id": 7}, "message": {"id": 9, "from_agent": False, "body_text": "hi \udfff"}}),
    ("freshdesk", {"freshdesk_webhook": {"ticket_id": "11", "ticket_latest_public_comment": "x\ud800y"}}),
])
def test_lone_surrogate_in_customer_text_is_kept_as_a_replacement_character(platform, body, client, redis_url):
    raw = json.dumps(body).encode()
    r = client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw))
    assert r.status_code == 202, r.get_json()
    entry = json.loads(redis.Redis.from_url(redis_url).lindex("sidecar:inbox", 0))
    assert "\ufffd" in entry["event"]["body_hint"]


@pytest.mark.parametrize("platform,body", [
    ("gorgias", {"ticket": {"id": "5\ud800"}, "message": {"id": 1, "from_agent": False, "body_text": "x"}}),
    ("gorgias", {"ticket": {"id": "../../api/users"}, "message": {"id": 1, "from_agent": False, "body_text": "x"}}),
    ("zendesk", {"ticket_id": "5", "comment_id": "\x00\x01"}),
    ("freshdesk", {"freshdesk_webhook": {"ticket_id": "11", "conversation_id": "9" * 1000}}),
])
def test_unusable_ids_are_a_400(platform, body, client, redis_url):
    raw = json.dumps(body).encode()
    r = client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw))
    assert r.status_code == 400, r.get_json()
    assert redis.Redis.from_url(redis_url).llen("sidecar:inbox") == 0
