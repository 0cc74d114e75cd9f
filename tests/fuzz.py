"""Hostile webhook bodies for property-based tests (``tests/app/test_webhook_fuzz.py``) and
``bench/fuzz_webhooks.py``: plausible keys of all three helpdesks with values no sender should
send (lone surrogates, control characters, huge numbers, NaN, wrong types, deep nesting).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

# Keys the three adapters look at, so bodies reach past the first checks.
KEYS = [
    # zendesk event + trigger
    "type", "id", "time", "subject", "detail", "event", "comment", "author", "is_staff", "is_public", "body",
    "requester_id", "submitter_id", "description", "tags", "tags_added", "current", "ticket_id", "comment_id",
    "latest_comment", "ticket_latest_comment", "author_id", "author_role", "current_user_id", "current_user_role",
    "comment_public", "ticket_title", "ticket_description", "requester_email", "requester_full_name",
    # gorgias
    "ticket", "message", "messages", "first_message", "from_agent", "channel", "sender", "name", "email",
    "body_text", "stripped_text", "body_html", "message_id", "customer", "trigger",
    # freshdesk
    "freshdesk_webhook", "triggered_event", "ticket_tags", "performer_type", "triggered_by", "performer_id",
    "ticket_latest_public_comment", "conversation_id", "ticket_subject", "requester_name",
]
TYPES = ["zen:event-type:ticket.comment_added", "zen:event-type:ticket.created", "zen:event-type:ticket.tags_changed",
         "zen:", "zen:\ud800"]
HOSTILE = ["\ud800", "a\udfffb", "\udbff\udbff", "\x00", "\u202e", "\ufeff", "{{ticket.id}}", "../../etc/passwd",
           "sidecar-event:x", "agent", "end-user", "false", "true", "{ticket_action:created}", "{note_type:private}",
           "ai-reject ai-wrong-intent:refund", "12", "-1", "1e400", "٣", "²", "1" * 300]

surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
texts = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE), surrogates,
                  st.builds(lambda a, b, c: a + b + c, st.text(max_size=10), surrogates, st.text(max_size=10)))
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**60),
                   st.floats(allow_nan=True, allow_infinity=True), texts, st.sampled_from(TYPES))
keys = st.one_of(st.sampled_from(KEYS), texts)
values = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(keys, inner, max_size=6)), max_leaves=25)
bodies = st.dictionaries(keys, values, max_size=10)


def _deep(n: int, open_: bytes) -> bytes:
    close = b"]" if open_ == b"[" else b"}"
    return (open_ * n if open_ == b"[" else b'{"a":' * n) + b"1" + close * n


raw_bodies = st.one_of(
    bodies.map(lambda b: json.dumps(b, ensure_ascii=True, allow_nan=True).encode()),
    values.map(lambda b: json.dumps(b, ensure_ascii=True, allow_nan=True).encode()),
    st.binary(max_size=200),
    st.builds(_deep, st.integers(min_value=1, max_value=200_000), st.sampled_from([b"[", b"{"])),
)


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _fixture_bodies(platform: str) -> list[Any]:
    return [json.loads(p.read_text()) for p in sorted((FIXTURES / platform).glob("webhook_*.json"))]


def _slots(body: Any) -> list[tuple[Any, Any]]:
    """Every (container, key-or-index) of a JSON value, iteratively."""
    out: list[tuple[Any, Any]] = []
    stack = [body]
    while stack:
        c = stack.pop()
        items = c.items() if isinstance(c, dict) else enumerate(c) if isinstance(c, list) else ()
        for k, v in items:
            out.append((c, k))
            if isinstance(v, (dict, list)):
                stack.append(v)
    return out


@st.composite
def mutated(draw: Any, platform: str) -> bytes:
    """A real webhook body of ``platform`` with 1-4 hostile edits (set, delete, add a key)."""
    body = copy.deepcopy(draw(st.sampled_from(_fixture_bodies(platform))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        slots = _slots(body)
        if not slots:
            break
        c, k = draw(st.sampled_from(slots))
        op = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if op == "set":
            c[k] = draw(values)
        elif op == "delete":
            del c[k]
        elif isinstance(c, dict):
            c[draw(keys)] = draw(values)
        else:
            c.append(draw(values))
    return json.dumps(body, ensure_ascii=True, allow_nan=True).encode()


def payloads(platform: str) -> st.SearchStrategy[bytes]:
    """Hostile bodies for one endpoint: mostly mutated real payloads, some free-form."""
    return st.one_of(mutated(platform), mutated(platform), mutated(platform), raw_bodies)
