"""The pipeline's one entry point: what to do about one customer message, with no I/O of its own.

Given a ``Ticket``, the id of the customer message to answer, the config and the few capabilities
it needs passed in (a knowledge base to search, an LLM or none, the local intent model, a clock),
:func:`decide_message` returns the :class:`Decision`: normalized text, triage, plan, sources, draft,
the public reply an auto-reply rule allows, and the escalation reasons. The runtime
(``app/jobs/process.py``) fetches the ticket, writes the outcome back and alerts Slack; the
backtest runs the same function on history without writing anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.classify import classify
from pipeline.config import Config
from pipeline.draft import draft as make_draft
from pipeline.draft import leans_on_context, operator_texts, retrieve
from pipeline.models import Draft, KnowledgeBase, LLMSettings, Plan, Source, Ticket, Triage
from pipeline.normalize import earlier_message, normalize
from pipeline.rules import allow_auto_reply, decide


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Capabilities:
    """What the pipeline may use, handed in by the runtime (all optional: the defaults work offline).

    ``kb``: the knowledge base (None → no sources, the draft says it found nothing); ``llm``: an
    OpenAI-compatible model (None → local models and template drafts); ``intent_model``: the local
    intent model already fitted by the process (None → fitted here on the config's examples);
    ``clock``: the current time (business hours).
    """

    kb: KnowledgeBase | None = None
    llm: LLMSettings | None = None
    intent_model: Any = None
    clock: Callable[[], datetime] = _now


@dataclass
class Decision:
    """Everything the pipeline decided about one customer message."""

    text: str
    triage: Triage
    plan: Plan
    sources: list[Source] = field(default_factory=list)
    draft: Draft | None = None
    public_reply: str | None = None  # set only when an auto-reply rule allows it and every guard passed
    auto_reply_reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step (classify, draft)

    @property
    def escalate(self) -> list[str]:
        """Reasons to alert the team (from the plan)."""
        return list(self.plan.escalate or [])


def decide_message(ticket: Ticket, message_id: Any, cfg: Config, platform: str | None,
                   caps: Capabilities | None = None) -> Decision:
    """Normalize → classify → decide → retrieve → draft → auto-reply guard, for one customer message.

    ``plan.enabled`` False means the rules switch this intent off: the decision carries the triage
    and the plan's reasons, and no draft.
    """
    caps = caps or Capabilities()
    t0 = time.monotonic()
    text = normalize(ticket, message_id)
    triage = classify(text, ticket, cfg, llm=caps.llm, model=caps.intent_model)
    t1 = time.monotonic()
    plan = decide(triage, ticket, cfg, platform, now=caps.clock())
    out = Decision(text=text, triage=triage, plan=plan, timings={"classify": t1 - t0})
    if not plan.enabled:
        return out
    if plan.draft and caps.kb is not None:
        # A follow-up is searched with the customer's previous message in this ticket (the triage above
        # read the message alone); that message is only read for one.
        earlier = earlier_message(ticket, message_id) if leans_on_context(text) else ""
        out.sources = retrieve(text, triage, cfg, caps.kb, brand=ticket.brand_scope, llm=caps.llm, earlier=earlier)
    out.draft = make_draft(ticket, text, triage, plan, out.sources, cfg, llm=caps.llm, kb=caps.kb)
    out.timings["draft"] = time.monotonic() - t1
    allowed, why = allow_auto_reply(plan, out.draft, operator_texts(cfg))
    out.auto_reply_reason = why
    if plan.auto_reply:
        plan.reasons.append(f"auto-reply {'sent' if allowed else 'withheld'}: {why}")
        if allowed and out.draft is not None:
            out.public_reply = out.draft.text
    return out
