"""Channel mapping: each platform's via / channel / source value → one pipeline channel, into stats and /ops."""

from __future__ import annotations

import json
import time

import pytest
import responses

from adapters import freshdesk, gorgias, zendesk
from adapters.base import CHANNELS
from tests.conftest import ROOT, load_fixture, outbox, reset_caches


def fx(platform: str, name: str) -> dict:
    return json.loads(load_fixture(platform, name))


@pytest.mark.parametrize("raw,want", [
    ({"channel": "email"}, "email"), ("mail", "email"), ({"channel": "web"}, "web_form"), ("Web Form", "web_form"),
    ("web-form", "web_form"), ("helpcenter", "web_form"), ("chat", "chat"), ("native_messaging", "chat"),
    ("sms", "chat"), ("twitter", "social"), ("facebook", "social"), ("whatsapp", "social"),
    ("instagram_dm", "social"), ("voice", "phone"), ("Phone call (incoming)", "phone"), ("api", "api"),
    ("web_service", "api"), ("Web service", "api"), ("rule", "other"), ("sample_ticket", "other"),
    (None, None), ("", None), ({}, None),
])
def test_zendesk_channels(raw, want):
    assert zendesk.channel_of(raw) == want


@pytest.mark.parametrize("raw,want", [
    ("email", "email"), ("chat", "chat"), ("sms", "chat"), ("contact_form", "web_form"), ("help-center", "web_form"),
    ("phone", "phone"), ("aircall", "phone"), ("facebook-messenger", "social"), ("instagram-direct-message", "social"),
    ("twitter-direct-message", "social"), ("whatsapp", "social"), ("api", "api"), ("yotpo-review", "other"),
    (None, None),
])
def test_gorgias_channels(raw, want):
    assert gorgias.channel_of(raw) == want


@pytest.mark.parametrize("raw,want", [
    (1, "email"), ("1", "email"), ("Email", "email"), (10, "email"), ("Outbound Email", "email"), (2, "web_form"),
    ("Portal", "web_form"), (9, "web_form"), ("Feedback Widget", "web_form"), (3, "phone"), ("Phone", "phone"),
    (7, "chat"), ("Chat", "chat"), (5, "social"), ("Twitter", "social"), (6, "social"),
    (13, "social"), (11, "other"), (None, None), (1.0, "email"),
])
def test_freshdesk_channels(raw, want):
    assert freshdesk.channel_of(raw) == want


def test_every_mapping_lands_in_the_known_channels():
    for mod in (zendesk, gorgias, freshdesk):
        assert set(mod.CHANNEL_MAP.values()) <= set(CHANNELS), mod.__name__


def test_webhooks_carry_the_channel_into_the_event():
    assert zendesk.parse_webhook({}, fx("zendesk", "webhook_comment_added.json")).channel == "email"
    assert zendesk.parse_webhook({}, fx("zendesk", "webhook_ticket_created.json")).channel == "web_form"
    assert gorgias.parse_webhook({}, fx("gorgias", "webhook_message_created.json")).channel == "email"
    body = fx("freshdesk", "webhook_ticket_created.json")
    assert freshdesk.parse_webhook({}, body).channel is None  # not templated: not said, not guessed
    body["freshdesk_webhook"]["ticket_source"] = "Portal"
    assert freshdesk.parse_webhook({}, body).channel == "web_form"
    trig = fx("zendesk", "webhook_trigger_templated.json")
    trig["via"] = "Web Form"
    assert zendesk.parse_webhook({}, trig).channel == "web_form"


@responses.activate
def test_fetched_tickets_carry_the_mapped_channel():
    from app.settings import load_settings

    s = load_settings({"ZENDESK_URL": "https://acme.zendesk.com", "ZENDESK_EMAIL": "a@b.c", "ZENDESK_API_TOKEN": "t",
                       "FRESHDESK_URL": "https://acme.freshdesk.com", "FRESHDESK_API_KEY": "k"})
    from adapters.freshdesk import FreshdeskAdapter
    from adapters.zendesk import ZendeskAdapter

    zd_ticket = fx("zendesk", "api_ticket_show.json")
    zd_ticket["ticket"]["via"] = {"channel": "voice"}
    responses.get("https://acme.zendesk.com/api/v2/tickets/1.json", json=zd_ticket)
    responses.get("https://acme.zendesk.com/api/v2/tickets/1/comments.json", json={"comments": [], "meta": {}})
    assert ZendeskAdapter(s.zendesk).fetch_ticket("1").channel == "phone"

    responses.get("https://acme.freshdesk.com/api/v2/tickets/2", json={"id": 2, "subject": "x", "source": 7})
    responses.get("https://acme.freshdesk.com/api/v2/tickets/2/conversations", json=[])
    assert FreshdeskAdapter(s.freshdesk).fetch_ticket("2").channel == "chat"


@pytest.fixture
def embedded(monkeypatch, tmp_path):
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    monkeypatch.setenv("OPS_TOKEN", "ops-token")
    reset_caches()
    yield tmp_path / "var"
    reset_caches()


def test_sample_webhooks_show_email_in_stats_and_ops(embedded):
    """The README's curl step: the samples say email, so stats and /ops must too (not 'unknown')."""
    from app import create_app
    from app.settings import get_settings
    from app.store.decisions import store_for
    from app.store.queries import compute_stats

    client = create_app().test_client()
    ids = set()
    for platform, sample in (("zendesk", "zendesk_comment_added.json"), ("gorgias", "gorgias_message_created.json")):
        body = (ROOT / "samples" / sample).read_bytes()
        r = client.post(f"/webhooks/{platform}", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 202, r.get_json()
        ids.add(r.get_json()["event_id"])
    # A bound, not a timing claim: the first fit of the classifier can take minutes on a loaded machine.
    store = store_for(get_settings())
    end = time.monotonic() + 600
    while time.monotonic() < end and not ids <= {d.event_id for d in store.decisions(limit=50)}:
        time.sleep(0.2)
    stats = compute_stats(store, time.time() - 3600)
    assert all(any(e["action"] == "note" for e in outbox(embedded, p)) for p in ("zendesk", "gorgias"))
    assert stats["by_channel"] == {"email": 2}, stats["by_channel"]
    page = client.get("/ops", headers={"Authorization": "Bearer ops-token"}).get_data(as_text=True)
    by_channel = page[page.index('id="by-channel"'):]
    by_channel = by_channel[:by_channel.index("</table>")]
    assert "<td>email</td>" in by_channel and "unknown" not in by_channel


def test_skipped_or_failed_events_keep_the_webhooks_channel_in_the_log():
    from app.store.decisions import decision_from_outcome
    from pipeline.models import Outcome, TicketEvent

    ev = TicketEvent(platform="gorgias", event_id="e1", ticket_id="5", channel="chat")
    row = decision_from_outcome(Outcome(event=ev, ticket_id="5", marker="m", status="failed"))
    assert row["channel"] == "chat"
