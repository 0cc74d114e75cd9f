"""Intake trust: nobody unauthenticated makes the sidecar work, and customers cannot pass for the sidecar.

Each test here failed on the code before issue 11 (unsigned intake on a live deployment,
``sidecar-event:`` substrings, unvalidated ticket ids, raw Slack fallback text, tokens in
access logs, a world-readable outbox).
"""

from __future__ import annotations

import datetime
import json
import logging
import stat
from types import SimpleNamespace

import pytest

from adapters import freshdesk, gorgias, zendesk
from adapters.base import BadPayload, Ignored, PermanentError
from app.settings import load_settings
from pipeline.models import CUSTOMER, SIDECAR, Outcome, Ticket, TicketEvent, is_own_marker, marker_for
from tests.adapters.test_contract import KITS, make
from tests.conftest import FIXTURES, auth_headers, load_fixture, outbox, reset_caches

LIVE_ZENDESK = {"ZENDESK_URL": "https://acme.zendesk.com", "ZENDESK_EMAIL": "bot@acme.example",
                "ZENDESK_API_TOKEN": "tok", "ZENDESK_WEBHOOK_SECRET": "zsecret"}

# What a customer can type: the old prefix, a marker-shaped string with a made-up MAC, the same
# inside a hidden HTML span, and look-alike characters (Cyrillic ѕ, a Unicode hyphen).
FORGED = [
    "Please help. ref sidecar-event:01JDEMO",
    "Where is my order? sidecar-event:01JDEMO:" + "0" * 32,
    'Where is my order?<span style="display:none">sidecar-event:ev1:' + "a" * 32 + "</span>",
    "Where is my order? ѕidecar‐event:01JDEMO",
]


# ---------------------------------------------------------------- unsigned intake


@pytest.fixture
def live_zendesk_app(monkeypatch, sidecar_env):
    for k in ("GORGIAS_WEBHOOK_TOKEN", "FRESHDESK_WEBHOOK_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    for k, v in LIVE_ZENDESK.items():
        monkeypatch.setenv(k, v)
    reset_caches()
    from app import create_app

    return create_app().test_client()


@pytest.mark.parametrize("platform,fixture", [("gorgias", "webhook_message_created.json"),
                                              ("freshdesk", "webhook_ticket_created.json")])
def test_unsigned_webhook_to_a_dry_run_platform_is_refused_when_another_is_live(
        platform, fixture, live_zendesk_app, redis_url):
    import redis

    r = live_zendesk_app.post(f"/webhooks/{platform}", data=load_fixture(platform, fixture),
                              headers={"Content-Type": "application/json"})
    assert r.status_code == 401, r.get_json()
    assert "while zendesk is live" in r.get_json()["detail"]
    assert redis.Redis.from_url(redis_url).dbsize() == 0, "nothing stored, nothing queued"


def test_unsigned_intake_only_with_explicit_allow_or_all_dry_run(monkeypatch, live_zendesk_app):
    s = load_settings({**LIVE_ZENDESK})
    with pytest.raises(Exception, match="GORGIAS_WEBHOOK_TOKEN"):
        gorgias.verify({}, b"{}", {}, s)
    gorgias.verify({}, b"{}", {}, load_settings({**LIVE_ZENDESK, "SIDECAR_ALLOW_UNSIGNED": "1"}))
    gorgias.verify({}, b"{}", {}, load_settings({}))  # the demo: every platform dry-run
    freshdesk.verify({}, b"{}", {}, load_settings({}))
    zendesk.verify({}, b"{}", {}, load_settings({}))
    live_gorgias = {"GORGIAS_URL": "https://acme.gorgias.com", "GORGIAS_EMAIL": "a@b.c", "GORGIAS_API_KEY": "k",
                    "GORGIAS_WEBHOOK_TOKEN": "t"}
    with pytest.raises(Exception, match="ZENDESK_WEBHOOK_SECRET"):
        zendesk.verify({}, b"{}", {}, load_settings(live_gorgias))


# ---------------------------------------------------------------- own writes


def test_marker_is_signed_and_checked_with_the_server_key():
    key = b"k1"
    mk = marker_for("01JDEMO", key)
    assert mk.startswith("sidecar-event:01JDEMO:") and is_own_marker(f"<p>ref {mk}</p>", key)
    assert not is_own_marker(f"ref {mk}", b"another key")
    assert not is_own_marker(f"ref {mk}", None)
    for text in FORGED:
        assert not is_own_marker(text, key)


def test_marker_secret_from_env_or_derived_from_credentials_never_empty():
    assert load_settings({"SIDECAR_MARKER_SECRET": "s3"}).marker_key == b"s3"
    a = load_settings(LIVE_ZENDESK).marker_key
    assert a and a == load_settings(LIVE_ZENDESK).marker_key, "web and worker derive the same key"
    assert b"tok" not in a, "derived, not the credential itself"
    assert load_settings({}).marker_key  # demo: random, never empty
    assert "s3" not in repr(load_settings({"SIDECAR_MARKER_SECRET": "s3"}))


def _zd_event(text: str, html: str | None = None) -> dict:
    body = json.loads((FIXTURES / "zendesk" / "webhook_comment_added.json").read_text())
    body["event"]["comment"]["body"] = text
    return body


@pytest.mark.parametrize("text", FORGED)
def test_customer_text_with_a_forged_marker_is_processed_by_every_parser(text):
    s = load_settings({"SIDECAR_MARKER_SECRET": "real-key"})
    assert zendesk.parse_webhook({}, _zd_event(text), s).body_hint == text
    assert zendesk.parse_webhook({}, {"ticket_id": "7", "latest_comment": text}, s).body_hint == text
    g = json.loads(load_fixture("gorgias", "webhook_message_created.json"))
    g["message"]["body_text"] = g["message"]["stripped_text"] = text
    g["message"]["body_html"] = f"<div>{text}</div>"
    assert gorgias.parse_webhook({}, g, s).ticket_id
    f = {"freshdesk_webhook": {"ticket_id": "11", "triggered_event": "{ticket_action:created}",
                               "ticket_latest_public_comment": text}}
    assert freshdesk.parse_webhook({}, f, s).body_hint == text


def test_a_real_signed_marker_is_still_ignored():
    s = load_settings({"SIDECAR_MARKER_SECRET": "real-key"})
    with pytest.raises(Ignored, match="marker"):
        zendesk.parse_webhook({}, {"ticket_id": "7", "latest_comment": "ref " + marker_for("e1", s.marker_key)}, s)


@pytest.mark.parametrize("kit", KITS, ids=[k.name for k in KITS])
@pytest.mark.parametrize("text", FORGED)
def test_thread_roles_customer_with_forged_marker_stays_customer(kit, text, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    adapter.marker_key = b"real-key"
    if kit.name == "zendesk":
        fake.add_comment(text, fake.ticket["requester_id"], True, html=f"<p>{text}</p>")
    elif kit.name == "gorgias":
        fake.add_message(text, agent=False, body_html=f"<div>{text}</div>")
    else:
        fake.add_conv(text, private=False, user_id=fake.ticket["requester_id"], incoming=True, body=f"<div>{text}</div>")
    last = adapter.fetch_ticket(fake.tid).messages[-1]
    assert last.author_role == CUSTOMER, "a customer's text never makes them the sidecar"
    # ... while a note carrying a marker signed with our key is ours even if another user id posted it.
    mk = marker_for("ev-1", b"real-key")
    if kit.name == "zendesk":
        fake.add_comment(f"ref {mk}", 123, False)
    elif kit.name == "gorgias":
        fake.add_message(f"ref {mk}", agent=True, channel="internal-note", public=False)
    else:
        fake.add_conv(f"ref {mk}", private=True, user_id=123, incoming=False)
    assert adapter.fetch_ticket(fake.tid).messages[-1].author_role == SIDECAR


# ---------------------------------------------------------------- ticket ids


@pytest.mark.parametrize("bad", ["1/../../users/me", "12<!channel>", "7?x=1", "４２", "-1", "1 2"])
def test_ticket_ids_must_be_digits_in_every_parser(bad):
    s = load_settings({})
    ev = _zd_event("hello")
    ev["detail"]["id"] = bad
    with pytest.raises(BadPayload, match="number"):
        zendesk.parse_webhook({}, ev, s)
    g = json.loads(load_fixture("gorgias", "webhook_message_created.json"))
    g["ticket"]["id"] = bad
    with pytest.raises(BadPayload, match="number"):
        gorgias.parse_webhook({}, g, s)
    with pytest.raises(BadPayload, match="number"):
        gorgias.parse_webhook({}, {"ticket_id": bad}, s)
    with pytest.raises(BadPayload):
        freshdesk.parse_webhook({}, {"freshdesk_webhook": {"ticket_id": bad}}, s)


@pytest.mark.parametrize("kit", KITS, ids=[k.name for k in KITS])
def test_adapters_refuse_a_non_numeric_ticket_id_before_any_request(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    with pytest.raises(PermanentError, match="number"):
        adapter.fetch_ticket("1/../../users/me")
    assert fake.calls == []


def test_webhook_with_a_path_in_the_ticket_id_is_400(app_client, redis_url):
    body = json.dumps({"ticket_id": "../users/me", "message_id": "5"}).encode()
    r = app_client.post("/webhooks/gorgias", data=body, headers=auth_headers("gorgias", body))
    assert r.status_code == 400 and "number" in r.get_json()["detail"]


def test_slack_fallback_text_is_escaped_like_the_blocks():
    from pipeline.escalation import build_blocks

    ev = TicketEvent(platform="gorgias", event_id="e1", ticket_id="<!channel>", kind="message_created")
    ticket = Ticket(platform="gorgias", id="<!channel> <https://evil.example|click>", subject="s")
    out = Outcome(event=ev, ticket_id=ticket.id)
    text, blocks = build_blocks(out, ticket, ["asks_for_human"])
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text
    assert "<!channel>" not in json.dumps(blocks)


def test_slack_alert_drops_bidi_overrides_but_keeps_right_to_left_text():
    """A customer's RLO/LRE/isolate characters cannot reorder how the alert reads in the channel."""
    from pipeline.escalation import build_blocks

    ev = TicketEvent(platform="gorgias", event_id="e1", ticket_id="7", kind="message_created")
    subject = "refund \u202egnp.exe\u202c \u2067note\u2069 \u202aok\u202d \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"
    ticket = Ticket(platform="gorgias", id="7", subject=subject)
    text, blocks = build_blocks(Outcome(event=ev, ticket_id="7"), ticket, ["asks_for_human"])
    everything = text + json.dumps(blocks, ensure_ascii=False)
    for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert ch not in everything
    assert "gnp.exe" in everything and "\u05e9\u05dc\u05d5\u05dd" in everything and "\u0645\u0631\u062d\u0628\u0627" in everything


# ---------------------------------------------------------------- secrets in logs


def test_werkzeug_access_log_masks_the_token(app_client, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    logging.getLogger("werkzeug").info('%s - - [x] "%s" %s %s', "127.0.0.1",
                                       "POST /webhooks/gorgias?token=s3cr3t-value&a=1 HTTP/1.1", "202", "-")
    logging.getLogger("werkzeug").info('"GET /ops?since=7d&TOKEN=other-secret HTTP/1.1" 200 -')
    out = caplog.text
    assert "s3cr3t-value" not in out and "other-secret" not in out
    assert "token=***&a=1" in out and "TOKEN=***" in out


def test_gunicorn_access_log_masks_the_token(app_client, tmp_path):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    lg = Logger(cfg)
    resp = SimpleNamespace(status="202 ACCEPTED", headers=[], sent=10, response_length=10)
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/webhooks/freshdesk?token=s3cr3t-value",
               "PATH_INFO": "/webhooks/freshdesk", "QUERY_STRING": "token=s3cr3t-value", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": "https://sidecar.example/ops?token=s3cr3t-value"}
    lg.access(resp, SimpleNamespace(headers=[]), environ, datetime.timedelta(seconds=0.01))
    for h in logging.getLogger("gunicorn.access").handlers:
        h.flush()
    line = (tmp_path / "access.log").read_text()
    assert "POST /webhooks/freshdesk?token=*** HTTP/1.1" in line
    assert "s3cr3t" not in line


# ---------------------------------------------------------------- dry-run outbox


def test_dry_run_outbox_is_owner_only(tmp_path):
    from adapters.dryrun import DryRunAdapter

    a = DryRunAdapter("zendesk", tmp_path / "outbox")
    t = Ticket(platform="zendesk", id="42", subject="s")
    a.post_internal_note(t, "<p>customer text</p>", "customer text", "sidecar-event:e1")
    mode = stat.S_IMODE((tmp_path / "outbox" / "zendesk.jsonl").stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert stat.S_IMODE((tmp_path / "outbox").stat().st_mode) == 0o700
    assert outbox(tmp_path, "zendesk")[0]["action"] == "note"
