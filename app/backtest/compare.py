"""What the agents actually did, and how the sidecar's answer compares with it (pure functions).

* :func:`as_of` — the ticket as the sidecar would have seen it when the customer wrote: later
  messages removed, label and escalation tags hidden, priority and status unknown. Without this
  the backtest would read the answer (an agent's "refund" tag, an "urgent" set later) from the
  question.
* :func:`first_agent_reply` — the first public agent message after the customer's.
* draft vs reply uses :func:`pipeline.feedback.classify_edit`, the very measure live feedback uses
  (``sent_as_is`` ≥ 0.9 similarity, ``edited`` ≥ 0.5, else ``rewritten``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from adapters.history import parse_time
from pipeline.models import AGENT, CUSTOMER, Message, Ticket


def customer_targets(ticket: Ticket, every: bool = False) -> list[Message]:
    """The customer messages to replay: the first one (default) or every one."""
    msgs = [m for m in ticket.messages if m.author_role == CUSTOMER and m.public]
    return msgs if every else msgs[:1]


def as_of(ticket: Ticket, message: Message, hidden_tags: set[str]) -> Ticket:
    """A copy of ``ticket`` reduced to what existed when ``message`` arrived."""
    idx = next((i for i, m in enumerate(ticket.messages) if m.id == message.id), len(ticket.messages) - 1)
    hidden = {t.lower() for t in hidden_tags}
    return dataclasses.replace(
        ticket, messages=list(ticket.messages[: idx + 1]), status="open", priority=None,
        tags=[t for t in ticket.tags if t.lower() not in hidden and not t.startswith("ai-")],
        updated_at=message.created_at)


def first_agent_reply(ticket: Ticket, message: Message) -> Message | None:
    """The first public message an agent wrote after ``message`` (internal notes, system and sidecar excluded)."""
    after = False
    for m in ticket.messages:
        if m.id == message.id:
            after = True
            continue
        if after and m.author_role == AGENT and m.public and (m.body_text or m.body_html):
            return m
    return None


def seconds_between(a: str | None, b: str | None) -> float | None:
    """``b - a`` in seconds for two API timestamps; None when either is missing or b precedes a."""
    ta, tb = parse_time(a), parse_time(b)
    if ta is None or tb is None or tb < ta:
        return None
    return (tb - ta).total_seconds()


def message_time(message: Message) -> datetime | None:
    return parse_time(message.created_at)
