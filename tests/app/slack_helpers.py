"""Signed Slack requests (computed as Slack documents it, not with the product's code) and payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PREVIOUS_SECRET = "0ld-s1gning-secret-still-valid"
BOT_USER = "U0SIDECARBOT"


def signed(body: bytes, secret: str = SIGNING_SECRET, ts: int | None = None,
           content_type: str = "application/json", **extra: str) -> dict[str, str]:
    """Headers Slack sends: ``v0=`` + hex HMAC-SHA256 over ``v0:<timestamp>:<body>``."""
    stamp = str(int(time.time()) if ts is None else ts)
    base = f"v0:{stamp}:".encode() + body
    sig = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig, **extra}


def event_body(event: dict[str, Any], event_id: str = "Ev0001REPLY", team: str = "T0ACME") -> bytes:
    return json.dumps({
        "token": "deprecated-verification-token", "team_id": team, "api_app_id": "A0SIDECAR",
        "event": event, "type": "event_callback", "event_id": event_id, "event_time": 1700000100,
        "authorizations": [{"enterprise_id": None, "team_id": team, "user_id": BOT_USER, "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False, "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
    }).encode()


def reply_event(text: str = "Refund approved, offer 20% off", *, channel: str = "C0ESC",
                thread_ts: str = "1700000000.000001", ts: str = "1700000100.000200", user: str = "U0MANAGER",
                **extra: Any) -> dict[str, Any]:
    ev = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "thread_ts": thread_ts,
          "parent_user_id": BOT_USER, "channel_type": "channel", "event_ts": ts,
          "blocks": [{"type": "rich_text", "block_id": "x", "elements": []}]}
    ev.update(extra)
    return ev


def interaction_body(action_id: str, *, user: str = "U0MANAGER", channel: str = "C0ESC",
                     message_ts: str = "1700000000.000001", action_ts: str = "1700000200.123456",
                     value: str = "zendesk:4242", blocks: list[dict[str, Any]] | None = None,
                     thread_ts: str | None = None) -> bytes:
    message: dict[str, Any] = {"type": "message", "user": BOT_USER, "ts": message_ts, "bot_id": "B0SIDECAR",
                               "text": "Escalation", "blocks": blocks or []}
    if thread_ts:
        message["thread_ts"] = thread_ts
    payload = {
        "type": "block_actions", "team": {"id": "T0ACME", "domain": "acme"},
        "user": {"id": user, "username": "mia", "name": "mia", "team_id": "T0ACME"},
        "api_app_id": "A0SIDECAR", "token": "deprecated", "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "support-esc"}, "message": message,
        "response_url": "https://hooks.slack.com/actions/T0ACME/1/abc",
        "actions": [{"action_id": action_id, "block_id": "sidecar_actions", "type": "button", "value": value,
                     "text": {"type": "plain_text", "text": "Take it"}, "action_ts": action_ts}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()
