"""Pure webhook parsing and verification, from fixture files (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from adapters import freshdesk, gorgias, zendesk
from adapters.base import AuthError, BadPayload, Ignored
from app.settings import load_settings
from pipeline.models import marker_for
from tests.conftest import load_fixture

MARKER_SETTINGS = load_settings({"SIDECAR_MARKER_SECRET": "test-marker-secret"})


def fx(platform: str, name: str) -> dict:
    return json.loads(load_fixture(platform, name))


# -- Zendesk signature -------------------------------------------------------------------------

VECTOR = {"secret": "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=", "body": b'{"say": "hello"}',
          "timestamp": "2021-07-25T10:00:00Z", "signature": "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk="}
NOW = datetime(2021, 7, 25, 10, 1, tzinfo=UTC)


def _zd_settings(**env):
    return load_settings({"ZENDESK_WEBHOOK_SECRET": VECTOR["secret"], **env})


def test_zendesk_signature_known_vector():
    assert zendesk.sign(VECTOR["secret"], VECTOR["timestamp"], VECTOR["body"]) == VECTOR["signature"]
    headers = {"X-Zendesk-Webhook-Signature": VECTOR["signature"], "X-Zendesk-Webhook-Signature-Timestamp": VECTOR["timestamp"]}
    zendesk.verify(headers, VECTOR["body"], {}, _zd_settings(), now=NOW)


def test_zendesk_old_body_plus_timestamp_vector_is_rejected():
    # The docs once showed a vector made as body + timestamp: it must not verify.
    headers = {"X-Zendesk-Webhook-Signature": "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=",
               "X-Zendesk-Webhook-Signature-Timestamp": VECTOR["timestamp"]}
    with pytest.raises(AuthError, match="invalid signature"):
        zendesk.verify(headers, VECTOR["body"], {}, _zd_settings(), now=NOW)


def test_zendesk_two_secrets_during_rotation():
    s = load_settings({"ZENDESK_WEBHOOK_SECRET": "new-secret", "ZENDESK_WEBHOOK_SECRET_PREVIOUS": VECTOR["secret"]})
    headers = {"X-Zendesk-Webhook-Signature": VECTOR["signature"], "X-Zendesk-Webhook-Signature-Timestamp": VECTOR["timestamp"]}
    zendesk.verify(headers, VECTOR["body"], {}, s, now=NOW)
    headers["X-Zendesk-Webhook-Signature"] = zendesk.sign("new-secret", VECTOR["timestamp"], VECTOR["body"])
    zendesk.verify(headers, VECTOR["body"], {}, s, now=NOW)
    headers["X-Zendesk-Webhook-Signature"] = zendesk.sign("other", VECTOR["timestamp"], VECTOR["body"])
    with pytest.raises(AuthError):
        zendesk.verify(headers, VECTOR["body"], {}, s, now=NOW)


def test_zendesk_timestamp_tolerance_is_configurable():
    headers = {"X-Zendesk-Webhook-Signature": VECTOR["signature"], "X-Zendesk-Webhook-Signature-Timestamp": VECTOR["timestamp"]}
    late = datetime(2021, 7, 25, 11, 0, tzinfo=UTC)
    with pytest.raises(AuthError, match="tolerance"):
        zendesk.verify(headers, VECTOR["body"], {}, _zd_settings(), now=late)
    zendesk.verify(headers, VECTOR["body"], {}, _zd_settings(ZENDESK_SIGNATURE_TOLERANCE="7200"), now=late)


def test_secrets_never_appear_in_errors_or_repr():
    s = _zd_settings()
    assert VECTOR["secret"] not in repr(s) and VECTOR["secret"] not in str(s.model_dump())
    with pytest.raises(AuthError) as exc:
        zendesk.verify({"X-Zendesk-Webhook-Signature": "x", "X-Zendesk-Webhook-Signature-Timestamp": VECTOR["timestamp"]},
                       VECTOR["body"], {}, s, now=NOW)
    assert VECTOR["secret"] not in str(exc.value)


# -- Zendesk parsing ---------------------------------------------------------------------------

def test_zendesk_comment_added_event():
    ev = zendesk.parse_webhook({}, fx("zendesk", "webhook_comment_added.json"))
    assert (ev.platform, ev.ticket_id, ev.message_id, ev.kind) == ("zendesk", "1042", "77000001", "message_created")
    assert ev.event_id == "01JDEMO0000000000000000001"
    assert "Where is my order" in ev.body_hint


def test_zendesk_ticket_created_event_takes_id_from_detail():
    ev = zendesk.parse_webhook({}, fx("zendesk", "webhook_ticket_created.json"))
    assert ev.ticket_id == "35436" and ev.kind == "ticket_created" and ev.subject_hint == "My package arrived damaged"


def test_zendesk_ticket_id_from_subject_when_detail_lacks_it():
    body = fx("zendesk", "webhook_ticket_created.json")
    del body["detail"]["id"]
    assert zendesk.parse_webhook({}, body).ticket_id == "35436"


def test_zendesk_trigger_templated_body():
    ev = zendesk.parse_webhook({}, fx("zendesk", "webhook_trigger_templated.json"))
    assert ev.ticket_id == "7" and ev.raw_type == "trigger"
    assert ev.tags_hint == ["change_address", "help", "order"]
    assert ev.requester_name == "testerzulip"
    # Same body → same fallback event id (so a redelivery dedupes); another body → another id.
    assert zendesk.parse_webhook({}, fx("zendesk", "webhook_trigger_templated.json")).event_id == ev.event_id
    other = fx("zendesk", "webhook_trigger_templated.json")
    other["latest_comment"] = "and another question"
    assert zendesk.parse_webhook({}, other).event_id != ev.event_id


def test_zendesk_trigger_numeric_ids_and_comment_id():
    ev = zendesk.parse_webhook({}, {"ticket_id": 7, "comment_id": 99})
    assert ev.ticket_id == "7" and ev.message_id == "99"


@pytest.mark.parametrize("body,reason", [
    ({"ticket_id": "7", "current_user_role": "agent"}, "agent"),
    ({"ticket_id": "7", "comment_public": "false"}, "internal note"),
    ({"ticket_id": "7", "latest_comment": "ref " + marker_for("abc", MARKER_SETTINGS.marker_key)}, "marker"),
])
def test_zendesk_trigger_ignored(body, reason):
    with pytest.raises(Ignored, match=reason):
        zendesk.parse_webhook({}, body, MARKER_SETTINGS)


def test_zendesk_own_user_is_ignored():
    s = load_settings({"ZENDESK_USER_ID": "9000001"})
    with pytest.raises(Ignored, match="own API user"):
        zendesk.parse_webhook({}, fx("zendesk", "webhook_comment_added.json"), s)


def test_zendesk_other_event_types_ignored():
    body = fx("zendesk", "webhook_ticket_created.json")
    body["type"] = "zen:event-type:ticket.status_changed"
    with pytest.raises(Ignored, match="not processed"):
        zendesk.parse_webhook({}, body)


@pytest.mark.parametrize("body", [{"ticket_id": "{{ticket.id}}"}, {"foo": 1}, "text", None])
def test_zendesk_bad_payloads(body):
    with pytest.raises(BadPayload):
        zendesk.parse_webhook({}, body)


# -- Gorgias -----------------------------------------------------------------------------------

def test_gorgias_context_body():
    ev = gorgias.parse_webhook({}, fx("gorgias", "webhook_message_created.json"))
    assert ev.ticket_id == "86538298" and ev.message_id == "208841467"
    assert ev.requester_email == "sam@example.com" and ev.tags_hint == ["vip"]
    assert ev.body_hint.startswith("Hello, the mug")


def test_gorgias_templated_ids_only():
    ev = gorgias.parse_webhook({}, {"ticket_id": "{{ticket.id}}".replace("{{ticket.id}}", "55"), "message_id": 7})
    assert ev.ticket_id == "55" and ev.message_id == "7"


def test_gorgias_ticket_id_from_message_only():
    body = fx("gorgias", "webhook_message_created.json")
    del body["ticket"]
    assert gorgias.parse_webhook({}, body).ticket_id == "86538298"


@pytest.mark.parametrize("name,reason", [("webhook_internal_note.json", "internal note"),
                                         ("webhook_agent_reply.json", "agent"),
                                         ("webhook_ticket_created_by_agent.json", "agent")])
def test_gorgias_ignored(name, reason):
    with pytest.raises(Ignored, match=reason):
        gorgias.parse_webhook({}, fx("gorgias", name))


def test_gorgias_own_api_user_ignored():
    body = fx("gorgias", "webhook_message_created.json")
    body["message"]["sender"]["id"] = 4242
    with pytest.raises(Ignored, match="own API user"):
        gorgias.parse_webhook({}, body, load_settings({"GORGIAS_USER_ID": "4242"}))


def test_gorgias_token_header_or_query():
    s = load_settings({"GORGIAS_WEBHOOK_TOKEN": "tok"})
    gorgias.verify({"X-Sidecar-Token": "tok"}, b"{}", {}, s)
    gorgias.verify({}, b"{}", {"token": "tok"}, s)
    with pytest.raises(AuthError):
        gorgias.verify({"X-Sidecar-Token": "nope"}, b"{}", {}, s)
    with pytest.raises(AuthError, match="missing"):
        gorgias.verify({}, b"{}", {}, s)


# -- Freshdesk ---------------------------------------------------------------------------------

def test_freshdesk_ticket_created():
    ev = freshdesk.parse_webhook({}, fx("freshdesk", "webhook_ticket_created.json"))
    assert ev.ticket_id == "11" and ev.kind == "ticket_created"
    assert ev.requester_email == "alex@example.com" and "password" in ev.body_hint


@pytest.mark.parametrize("name,reason", [("webhook_private_note.json", "note"), ("webhook_status_changed.json", "status")])
def test_freshdesk_ignored(name, reason):
    with pytest.raises(Ignored, match=reason):
        freshdesk.parse_webhook({}, fx("freshdesk", name))


def test_freshdesk_flat_body_and_numbers():
    ev = freshdesk.parse_webhook({}, {"ticket_id": 295186, "ticket_latest_public_comment": "any update?"})
    assert ev.ticket_id == "295186" and ev.body_hint == "any update?"


def test_freshdesk_missing_ticket_id():
    with pytest.raises(BadPayload, match="ticket_id"):
        freshdesk.parse_webhook({}, {"freshdesk_webhook": {"ticket_subject": "x"}})


def test_unsigned_is_refused_for_a_live_platform_without_secret():
    s = load_settings({"FRESHDESK_URL": "https://acme.freshdesk.com", "FRESHDESK_API_KEY": "k",
                       "SIDECAR_ALLOW_UNSIGNED": "1"})
    freshdesk.verify({}, b"{}", {}, s)  # explicitly allowed
