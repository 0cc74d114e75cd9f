"""Slack → sidecar intake: signature before parsing, url_verification, filtering, dedupe, queueing."""

from __future__ import annotations

import json
import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import Queue

from tests.app.slack_helpers import (
    BOT_USER,
    PREVIOUS_SECRET,
    SIGNING_SECRET,
    event_body,
    interaction_body,
    reply_event,
    signed,
)
from tests.conftest import reset_caches


@pytest.fixture
def slack_env(sidecar_env, monkeypatch):
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_SIGNING_SECRET_PREVIOUS", PREVIOUS_SECRET)
    reset_caches()
    return sidecar_env


@pytest.fixture
def client(slack_env):
    from app import create_app

    return create_app().test_client()


def _jobs(redis_url: str) -> list:
    q = Queue("sidecar", connection=redis.Redis.from_url(redis_url))
    return q.get_jobs()


def test_without_a_signing_secret_there_are_no_slack_routes(app_client):
    body = event_body(reply_event())
    assert app_client.post("/slack/events", data=body, headers=signed(body)).status_code == 404
    assert app_client.post("/slack/interactions", data=b"payload=%7B%7D").status_code == 404
    assert app_client.get("/healthz").status_code == 200


def test_url_verification_echoes_the_challenge(client):
    body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()
    r = client.post("/slack/events", data=body, headers=signed(body))
    assert r.status_code == 200
    assert r.get_json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_url_verification_needs_a_signature_too(client):
    body = json.dumps({"challenge": "abc", "type": "url_verification"}).encode()
    r = client.post("/slack/events", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 401


BAD_HEADERS = [
    ("wrong secret", lambda b: signed(b, secret="not-the-secret")),
    ("stale: six minutes old", lambda b: signed(b, ts=int(time.time()) - 360)),
    ("from the future", lambda b: signed(b, ts=int(time.time()) + 360)),
    ("no signature", lambda b: {k: v for k, v in signed(b).items() if k != "X-Slack-Signature"}),
    ("no timestamp", lambda b: {k: v for k, v in signed(b).items() if k != "X-Slack-Request-Timestamp"}),
    ("timestamp not a number", lambda b: {**signed(b), "X-Slack-Request-Timestamp": "12e3"}),
    ("timestamp unicode digits", lambda b: {**signed(b), "X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠"}),
    ("signature of another body", lambda b: signed(b + b" ")),
    ("signature upper-cased", lambda b: {**signed(b), "X-Slack-Signature": signed(b)["X-Slack-Signature"].upper()}),
    ("v1 scheme", lambda b: {**signed(b), "X-Slack-Signature": signed(b)["X-Slack-Signature"].replace("v0=", "v1=")}),
]


@pytest.mark.parametrize("why,headers", BAD_HEADERS, ids=[b[0] for b in BAD_HEADERS])
@pytest.mark.parametrize("path", ["/slack/events", "/slack/interactions"])
def test_bad_or_stale_signature_is_401_before_any_parsing(client, redis_url, why, headers, path, monkeypatch):
    import app.slack_inbound as inbound

    parsed = []
    monkeypatch.setattr(inbound, "parse_event", lambda *a, **k: parsed.append(a))
    monkeypatch.setattr(inbound, "parse_interaction", lambda *a, **k: parsed.append(a))
    # Malformed bodies too: had they been parsed first, the answer would be 400, not 401.
    for body in (event_body(reply_event()), b"{not json", b"\xff\xfe\x00garbage", b""):
        r = client.post(path, data=body, headers=headers(body))
        assert r.status_code == 401, (why, body, r.get_json())
        assert r.get_json()["error"] == "unauthorized"
    assert parsed == [], "nothing may be parsed before the signature is checked"
    assert _jobs(redis_url) == []


def test_the_previous_secret_is_accepted_during_rotation(client, redis_url):
    body = event_body(reply_event())
    r = client.post("/slack/events", data=body, headers=signed(body, secret=PREVIOUS_SECRET))
    assert r.status_code == 202


def test_signed_malformed_json_is_400(client):
    body = b'{"type": "event_callback", '
    assert client.post("/slack/events", data=body, headers=signed(body)).status_code == 400


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(("path", "body"), [
    ("/slack/events", DEEP.encode()),
    ("/slack/events", b'{"type": "event_callback", "event": ' + DEEP.encode() + b"}"),
    ("/slack/interactions", b"payload=" + DEEP.encode()),
    ("/slack/interactions", b'payload={"type": "block_actions", "actions": [' + DEEP.encode() + b"]}"),
])
def test_signed_but_too_deeply_nested_json_is_400_not_500(client, path, body):
    """json.loads raises RecursionError (not ValueError) past its nesting limit: a 500, which Slack retries."""
    r = client.post(path, data=body, headers=signed(body, content_type="application/json" if path.endswith("events")
                                                   else "application/x-www-form-urlencoded"))
    assert r.status_code == 400, r.get_data()[:200]


def test_too_large_body_is_413(client, monkeypatch):
    body = b'{"type":"event_callback","x":"' + b"a" * 1_100_000 + b'"}'
    assert client.post("/slack/events", data=body, headers=signed(body)).status_code == 413


def test_thread_reply_is_queued_once_even_when_slack_retries_three_times(client, redis_url):
    body = event_body(reply_event())
    first = client.post("/slack/events", data=body, headers=signed(body))
    assert first.status_code == 202 and first.get_json() == {"status": "queued", "event_id": "Ev0001REPLY"}
    for n in (1, 2, 3):
        r = client.post("/slack/events", data=body,
                        headers=signed(body, **{"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"}))
        assert r.status_code == 200 and r.get_json()["status"] == "duplicate"
    jobs = _jobs(redis_url)
    assert len(jobs) == 1
    assert jobs[0].func_name == "app.jobs.slack.handle_thread_reply"
    payload = jobs[0].args[0]
    assert {k: payload[k] for k in ("event_id", "channel", "thread_ts", "ts", "user", "text")} == {
        "event_id": "Ev0001REPLY", "channel": "C0ESC", "thread_ts": "1700000000.000001", "ts": "1700000100.000200",
        "user": "U0MANAGER", "text": "Refund approved, offer 20% off"}


IGNORED = [
    ("bot message", reply_event(bot_id="B0OTHER", subtype="bot_message"), "bot"),
    ("bot without subtype", reply_event(bot_id="B0OTHER"), "bot"),
    ("app message", reply_event(app_id="A0OTHER"), "bot"),
    ("our own bot user", reply_event(user=BOT_USER), "own bot"),
    ("edit", {"type": "message", "subtype": "message_changed", "channel": "C0ESC", "hidden": True,
              "ts": "1700000300.000001", "message": {"type": "message", "user": "U0MANAGER", "text": "edited",
                                                     "ts": "1700000100.000200", "thread_ts": "1700000000.000001"}},
     "message_changed"),
    ("deletion", {"type": "message", "subtype": "message_deleted", "channel": "C0ESC", "hidden": True,
                  "ts": "1700000300.000002", "deleted_ts": "1700000100.000200"}, "message_deleted"),
    ("join", reply_event(subtype="channel_join", text="<@U0NEW> has joined the channel"), "channel_join"),
    ("top-level message", {k: v for k, v in reply_event().items() if k != "thread_ts"}, "not a reply"),
    ("thread root", reply_event(ts="1700000000.000001"), "first message"),
    ("reaction", {"type": "reaction_added", "user": "U0MANAGER", "reaction": "eyes"}, "reaction_added"),
    ("empty", reply_event(text="   "), "empty"),
]


@pytest.mark.parametrize("why,event,reason", IGNORED, ids=[i[0] for i in IGNORED])
def test_what_is_not_a_human_thread_reply_is_ignored_and_not_queued(client, redis_url, why, event, reason):
    body = event_body(event, event_id=f"Ev{abs(hash(why)) % 10**8}")
    r = client.post("/slack/events", data=body, headers=signed(body))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "ignored" and reason in r.get_json()["reason"]
    assert _jobs(redis_url) == []


def test_file_share_is_a_reply_with_its_files_linked(client, redis_url):
    files = [{"id": "F1", "name": "refund.pdf", "title": "Refund form", "mimetype": "application/pdf",
              "url_private": "https://files.slack.com/files-pri/T0ACME-F1/refund.pdf",
              "permalink": "https://acme.slack.com/files/U0MANAGER/F1/refund.pdf"},
             {"id": "F2", "name": "evil", "permalink": "javascript:alert(1)"}]
    body = event_body(reply_event(text="", subtype="file_share", files=files))
    assert client.post("/slack/events", data=body, headers=signed(body)).status_code == 202
    assert _jobs(redis_url)[0].args[0]["files"] == [
        {"name": "Refund form", "permalink": "https://acme.slack.com/files/U0MANAGER/F1/refund.pdf"}]


def test_redis_down_is_503_and_slacks_retry_is_then_queued(slack_env, dead_redis_url, redis_url, monkeypatch):
    from app import create_app

    monkeypatch.setenv("REDIS_URL", dead_redis_url)
    reset_caches()
    body = event_body(reply_event())
    r = create_app().test_client().post("/slack/events", data=body, headers=signed(body))
    assert r.status_code == 503 and r.headers["Retry-After"] == "30"
    monkeypatch.setenv("REDIS_URL", redis_url)
    reset_caches()
    r = create_app().test_client().post("/slack/events", data=body, headers=signed(body, **{"X-Slack-Retry-Num": "1"}))
    assert r.status_code == 202
    assert len(_jobs(redis_url)) == 1


def test_queue_failure_gives_the_claim_back(client, redis_url, monkeypatch):
    import app.slack_inbound as inbound

    def broken(*a, **k):
        raise ConnectionError("queue down")

    monkeypatch.setattr(inbound, "queue_job", broken)
    body = event_body(reply_event())
    assert client.post("/slack/events", data=body, headers=signed(body)).status_code == 503
    monkeypatch.undo()
    r = client.post("/slack/events", data=body, headers=signed(body, **{"X-Slack-Retry-Num": "1"}))
    assert r.status_code == 202


# ------------------------------------------------------------------------------ interactions


def test_button_click_is_queued_once(client, redis_url):
    body = interaction_body("sidecar_take")
    headers = signed(body, content_type="application/x-www-form-urlencoded")
    r = client.post("/slack/interactions", data=body, headers=headers)
    assert r.status_code == 200 and r.get_json()["status"] == "queued"
    again = client.post("/slack/interactions", data=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    jobs = _jobs(redis_url)
    assert len(jobs) == 1 and jobs[0].func_name == "app.jobs.slack.handle_button"
    click = jobs[0].args[0]
    assert (click["action"], click["user"], click["channel"], click["message_ts"], click["thread_ts"]) == (
        "take", "U0MANAGER", "C0ESC", "1700000000.000001", "1700000000.000001")
    ack = interaction_body("sidecar_ack", action_ts="1700000300.000001")
    r = client.post("/slack/interactions", data=ack, headers=signed(ack, content_type="application/x-www-form-urlencoded"))
    assert r.get_json()["status"] == "queued"
    assert sorted(j.args[0]["action"] for j in _jobs(redis_url)) == ["acknowledge", "take"]


def test_other_buttons_and_interaction_types_are_ignored(client, redis_url):
    for body in (interaction_body("open_ticket"),
                 b"payload=" + json.dumps({"type": "view_submission", "view": {}}).encode()):
        r = client.post("/slack/interactions", data=body, headers=signed(body))
        assert r.status_code == 200 and r.get_json()["status"] == "ignored"
    assert _jobs(redis_url) == []


@pytest.mark.parametrize("body", [b"", b"payload=", b"payload=%7Bnot-json", b"payload=%5B1%5D", b"a=1&b=2",
                                  b"payload=1&payload=2", b"\xff\xfe",
                                  b"payload=" + json.dumps({"type": "block_actions", "actions": []}).encode()])
def test_signed_but_unreadable_interactions_are_400(client, body):
    r = client.post("/slack/interactions", data=body, headers=signed(body))
    assert r.status_code == 400, r.get_json()


# ------------------------------------------------------------------------------ fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20)
slackish_event = st.fixed_dictionaries({
    "type": st.sampled_from(["message", "reaction_added", "app_mention", ""]) | st.text(max_size=5),
    "subtype": st.none() | st.sampled_from(["file_share", "thread_broadcast", "message_changed", "bot_message"]),
    "channel": st.sampled_from(["C0ESC", ""]) | st.text(max_size=12) | st.integers(),
    "user": st.sampled_from(["U0MANAGER", BOT_USER, ""]) | st.none() | json_values,
    "text": st.text(max_size=50) | json_values,
    "ts": st.sampled_from(["1700000100.000200", "1700000000.000001", "x"]) | json_values,
    "thread_ts": st.sampled_from(["1700000000.000001", "1.2.3"]) | st.none() | json_values,
    "files": st.lists(st.dictionaries(st.sampled_from(["name", "title", "permalink", "url_private"]),
                                      st.text(max_size=30) | json_values, max_size=4), max_size=3) | json_values,
    "bot_id": st.none() | st.text(max_size=5),
})
slackish_body = st.fixed_dictionaries({
    "type": st.sampled_from(["event_callback", "url_verification", "app_rate_limited"]) | json_values,
    "event_id": st.sampled_from(["Ev01", "Ev02"]) | st.text(max_size=40) | json_values,
    "event": slackish_event | json_values,
    "challenge": st.text(max_size=30) | json_values,
    "authorizations": st.lists(st.fixed_dictionaries({"user_id": st.text(max_size=12) | json_values,
                                                      "is_bot": st.booleans()}), max_size=2) | json_values,
}) | json_values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=slackish_body)
def test_fuzzed_signed_events_never_5xx(client, payload):
    body = json.dumps(payload).encode()
    r = client.post("/slack/events", data=body, headers=signed(body))
    assert r.status_code in (200, 202, 400), (r.status_code, payload)


action_payload = st.fixed_dictionaries({
    "type": st.sampled_from(["block_actions", "view_submission"]) | json_values,
    "user": st.fixed_dictionaries({"id": st.sampled_from(["U0MANAGER", ""]) | json_values,
                                   "name": json_values}) | json_values,
    "container": st.fixed_dictionaries({"channel_id": st.sampled_from(["C0ESC"]) | json_values,
                                        "message_ts": st.sampled_from(["1700000000.000001"]) | json_values}) | json_values,
    "channel": json_values,
    "message": st.fixed_dictionaries({"ts": json_values, "thread_ts": json_values,
                                      "blocks": st.lists(json_values, max_size=3) | json_values}) | json_values,
    "actions": st.lists(st.fixed_dictionaries({
        "action_id": st.sampled_from(["sidecar_take", "sidecar_ack", "open_ticket"]) | json_values,
        "action_ts": st.sampled_from(["1700000200.123456"]) | json_values,
        "value": json_values}), max_size=2) | json_values,
}) | json_values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=action_payload, raw=st.booleans())
def test_fuzzed_signed_interactions_never_5xx(client, payload, raw):
    from urllib.parse import urlencode

    body = json.dumps(payload).encode() if raw else urlencode({"payload": json.dumps(payload)}).encode()
    r = client.post("/slack/interactions", data=body, headers=signed(body))
    assert r.status_code in (200, 400), (r.status_code, payload)


header_chars = st.characters(codec="latin-1", exclude_characters="\r\n")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), ts=st.text(header_chars, max_size=15) | st.integers().map(str),
       sig=st.text(header_chars, max_size=80) | st.text("0123456789abcdef", min_size=64, max_size=64).map("v0=".__add__))
def test_fuzzed_unsigned_requests_are_401(client, body, ts, sig):
    for path in ("/slack/events", "/slack/interactions"):
        r = client.post(path, data=body, headers={"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})
        assert r.status_code == 401
