"""What Slack sends us, reduced to what the jobs need: pure parsing, no I/O, no Flask.

:func:`parse_event` turns an Events API body into a :class:`ThreadReply` (a person's new reply in
a thread) and :func:`parse_interaction` an interactivity form body into a :class:`ButtonClick`
(one of the alert's two buttons). Both raise :class:`SlackIgnored` for what we do not act on and
:class:`BadSlackPayload` for what Slack does not send. Used by the web side
(:mod:`app.slack_inbound`) and the jobs (:mod:`app.jobs.slack`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs

TAKE, ACK = "sidecar_take", "sidecar_ack"
ACTIONS = {TAKE: "take", ACK: "acknowledge"}
MAX_TEXT = 8000  # characters of a Slack reply carried into a note (Slack allows 40k; a note should not)
MAX_FILES = 20
# Subtypes that are still a person writing in the thread; every other subtype (message_changed,
# message_deleted, channel_join, bot_message, ...) is not a new human reply.
HUMAN_SUBTYPES = (None, "file_share", "thread_broadcast")

_TS = re.compile(r"\d{1,12}(?:\.\d{1,9})?")
_ID = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,39}", re.I)


class BadSlackPayload(ValueError):
    """Signed, but not a payload we can read (answered 400)."""


class SlackIgnored(Exception):
    """Signed and valid, but nothing for us to do (answered 200 ``ignored`` with the reason)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class ThreadReply:
    """A person's reply in a thread, reduced to what the note needs (JSON-safe for the queue)."""

    event_id: str
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    team: str | None = None
    files: list[dict[str, str]] = field(default_factory=list)
    received_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ButtonClick:
    """A click on one of the alert's buttons (``take`` or ``acknowledge``)."""

    action: str
    user: str
    channel: str
    message_ts: str
    thread_ts: str  # the alert's thread (the message itself when it is the thread's first message)
    action_ts: str
    value: str = ""
    user_name: str | None = None
    team: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    received_at: float = 0.0

    @property
    def dedupe_id(self) -> str:
        raw = "\x1f".join((self.user, self.action, self.channel, self.message_ts, self.action_ts))
        return "c" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _str(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) and v else None


def _ts(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _TS.fullmatch(value):
        raise BadSlackPayload(f"{what} is not a Slack timestamp")
    return value


def _slack_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BadSlackPayload(f"{what} is not a Slack id")
    return value


def _own_bot_users(body: Mapping[str, Any]) -> set[str]:
    """The bot users this event was delivered for (our own app's bot user among them)."""
    out = set()
    for a in body.get("authorizations") or []:
        if isinstance(a, dict) and a.get("is_bot") and isinstance(a.get("user_id"), str):
            out.add(a["user_id"])
    return out


def _files(event: Mapping[str, Any]) -> list[dict[str, str]]:
    """Name and permalink of each uploaded file: linked from the note, never copied."""
    out = []
    for f in event.get("files") or []:
        if not isinstance(f, dict):
            continue
        link = _str(f, "permalink") or _str(f, "url_private")
        if not link or not link.startswith("https://"):
            continue
        name = _str(f, "title") or _str(f, "name") or "file"
        out.append({"name": name[:200], "permalink": link[:1000]})
        if len(out) >= MAX_FILES:
            break
    return out


def parse_event(body: Any) -> ThreadReply:
    """Pure: an Events API ``event_callback`` body → :class:`ThreadReply`.

    Raises :class:`SlackIgnored` for everything that is not a person's new reply inside a thread
    and :class:`BadSlackPayload` for bodies Slack does not send.
    """
    if not isinstance(body, dict):
        raise BadSlackPayload("body must be a JSON object")
    kind = body.get("type")
    if kind != "event_callback":
        raise SlackIgnored(f"payload type {kind if isinstance(kind, str) else type(kind).__name__} is not handled")
    event_id = _slack_id(body.get("event_id"), "event_id")
    event = body.get("event")
    if not isinstance(event, dict):
        raise BadSlackPayload("event_callback without an event object")
    etype = event.get("type")
    if etype != "message":
        raise SlackIgnored(f"event type {etype if isinstance(etype, str) else '?'} is not handled")
    subtype = event.get("subtype")
    if subtype not in HUMAN_SUBTYPES:
        raise SlackIgnored(f"message subtype {subtype if isinstance(subtype, str) else '?'} is not a new reply")
    if event.get("bot_id") or event.get("bot_profile") or event.get("app_id"):
        raise SlackIgnored("message written by a bot")
    if event.get("hidden"):
        raise SlackIgnored("hidden message")
    user = event.get("user")
    if not isinstance(user, str) or not user:
        raise SlackIgnored("message without a user")
    user = _slack_id(user, "event.user")
    if user in _own_bot_users(body):
        raise SlackIgnored("message written by the sidecar's own bot user")
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if thread_ts is None:
        raise SlackIgnored("not a reply in a thread")
    thread_ts, ts = _ts(thread_ts, "event.thread_ts"), _ts(ts, "event.ts")
    if thread_ts == ts:
        raise SlackIgnored("the thread's first message, not a reply")
    channel = _slack_id(event.get("channel"), "event.channel")
    text = event.get("text") if isinstance(event.get("text"), str) else ""
    files = _files(event)
    if not text.strip() and not files:
        raise SlackIgnored("empty message")
    team = body.get("team_id") if isinstance(body.get("team_id"), str) else None
    return ThreadReply(event_id=event_id, channel=channel, thread_ts=thread_ts, ts=ts, user=user,
                       text=text[:MAX_TEXT], team=team, files=files)


def parse_interaction(raw_body: bytes) -> ButtonClick:
    """Pure: the form body of an interactivity request → :class:`ButtonClick`.

    Slack posts ``application/x-www-form-urlencoded`` with one field, ``payload`` (JSON). Only
    our two buttons are acted on; the "Open ticket" link button and everything else is ignored.
    """
    try:
        form = parse_qs(raw_body.decode("utf-8"), strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadSlackPayload(f"form body unreadable: {exc.__class__.__name__}") from None
    values = form.get("payload") or []
    if len(values) != 1:
        raise BadSlackPayload("expected exactly one payload field")
    try:
        p = json.loads(values[0])
    except ValueError:
        raise BadSlackPayload("payload is not JSON") from None
    except RecursionError:  # past json's nesting limit (not a ValueError)
        raise BadSlackPayload("payload JSON nested too deeply") from None
    if not isinstance(p, dict):
        raise BadSlackPayload("payload must be a JSON object")
    if p.get("type") != "block_actions":
        kind = p.get("type")
        raise SlackIgnored(f"interaction type {kind if isinstance(kind, str) else '?'} is not handled")
    actions = p.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadSlackPayload("block_actions without actions")
    action_id = actions[0].get("action_id")
    if not isinstance(action_id, str) or action_id not in ACTIONS:
        raise SlackIgnored(f"action {action_id if isinstance(action_id, str) else '?'} is not handled")
    user = p.get("user") if isinstance(p.get("user"), dict) else {}
    container = p.get("container") if isinstance(p.get("container"), dict) else {}
    message = p.get("message") if isinstance(p.get("message"), dict) else {}
    chan = p.get("channel") if isinstance(p.get("channel"), dict) else {}
    channel = container.get("channel_id") or chan.get("id")
    message_ts = _ts(container.get("message_ts") or message.get("ts"), "container.message_ts")
    thread_ts = message.get("thread_ts") or message_ts
    blocks = message.get("blocks") if isinstance(message.get("blocks"), list) else []
    value = actions[0].get("value")
    team = p.get("team") if isinstance(p.get("team"), dict) else {}
    return ButtonClick(
        action=ACTIONS[action_id], user=_slack_id(user.get("id"), "user.id"),
        channel=_slack_id(channel, "container.channel_id"), message_ts=message_ts,
        thread_ts=_ts(thread_ts, "message.thread_ts"),
        action_ts=_ts(actions[0].get("action_ts"), "actions[0].action_ts"),
        value=value[:300] if isinstance(value, str) else "",
        user_name=(_str(user, "name") or _str(user, "username") or "")[:100] or None,
        team=_str(team, "id"), blocks=[b for b in blocks[:50] if isinstance(b, dict)])
