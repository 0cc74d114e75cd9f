"""The real pipeline, offline, on one historical customer message: no notes, no Slack, no records.

Classification, rules, retrieval, draft and the escalation decision run exactly as in
production; nothing is written anywhere (no helpdesk, no decision log, no draft memory, no
Slack). The rules' clock is the message's own time, so business-hours guards judge the moment
the customer wrote.

Besides the plan under the given rules, a *what-if* plan is computed with ``auto_reply`` enabled
at confidence 0 for every non-sensitive intent: whether every other guard (band, sentiment, asks
for a human, grounded draft without warnings) would have let an auto-reply go. The report turns
that into a precision estimate per intent and threshold.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.config import AutoReply, Config, Rule
from pipeline.models import Draft, Plan, Source, Ticket, Triage

log = logging.getLogger(__name__)


def whatif_config(cfg: Config) -> Config:
    """``cfg`` with auto-reply enabled (min confidence 0) for every intent that may ever auto-reply."""
    rules = cfg.rules.model_copy(deep=True)
    for name in cfg.intent_names:
        if cfg.is_sensitive(name):
            continue
        rule = rules.intents.get(name) or Rule()
        rule = rule.model_copy(update={"auto_reply": AutoReply(enabled=True, min_confidence=0.0)})
        rules.intents[name] = rule
    return Config(intents=cfg.intents, rules=rules, folder=cfg.folder, mtimes=dict(cfg.mtimes))


@dataclass
class OfflineResult:
    """What the pipeline decided for one message."""

    triage: Triage
    plan: Plan
    draft: Draft | None
    would_auto_reply: bool  # under the given rules, after the last guard
    auto_reply_why: str
    auto_eligible: bool  # what-if: every guard but the rule's switch and threshold passed
    escalate: list[str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def usage(self) -> dict[str, float]:
        """Tokens and cost of the LLM calls (classification + draft); zeros with local models."""
        out = {"prompt_tokens": 0.0, "completion_tokens": 0.0, "cost_usd": 0.0, "llm_calls": 0.0}
        for u in (self.triage.usage or {}, (self.draft.usage if self.draft else None) or {}):
            if u.get("prompt_tokens") is not None or u.get("completion_tokens") is not None:
                out["llm_calls"] += 1
            for k in ("prompt_tokens", "completion_tokens", "cost_usd"):
                v = u.get(k)
                if isinstance(v, (int, float)):
                    out[k] += float(v)
        return out


def _retrieve(text: str, triage: Triage, cfg: Config, ticket: Ticket) -> list[Source]:
    from pipeline.draft import retrieve

    own = f"ticket:{ticket.platform}:{ticket.id}"
    # The ticket itself may be in the knowledge base (resolved tickets are indexed): drafting from
    # its own agent answer would be reading the answer sheet.
    return [s for s in retrieve(text, triage, cfg, brand=ticket.brand) if s.id != own]


def run_offline(ticket: Ticket, text: str, cfg: Config, whatif: Config, settings: Any,
                now: datetime | None = None) -> OfflineResult:
    """Classify → decide → retrieve → draft → auto-reply guard → escalation decision, without any write."""
    from pipeline.classify import classify
    from pipeline.draft import draft as make_draft
    from pipeline.rules import allow_auto_reply, decide

    now = now or datetime.now(UTC)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    triage = classify(text, ticket, cfg, settings)
    timings["classify"] = time.perf_counter() - t0
    plan = decide(triage, ticket, cfg, ticket.platform, now=now)
    what = decide(triage, ticket, whatif, ticket.platform, now=now)
    draft: Draft | None = None
    if plan.enabled and (plan.draft or what.draft):
        t1 = time.perf_counter()
        sources = _retrieve(text, triage, cfg, ticket)
        timings["retrieve"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        draft = make_draft(ticket, text, triage, plan if plan.draft else what, sources, cfg)
        timings["draft"] = time.perf_counter() - t2
    allowed, why = allow_auto_reply(plan, draft) if plan.enabled else (False, "; ".join(plan.reasons))
    eligible, _ = allow_auto_reply(what, draft) if plan.enabled else (False, "")
    timings["total"] = time.perf_counter() - t0
    return OfflineResult(triage=triage, plan=plan, draft=draft if plan.draft else None,
                         would_auto_reply=bool(plan.auto_reply and allowed), auto_reply_why=why,
                         auto_eligible=bool(eligible), escalate=list(plan.escalate) if plan.enabled else [],
                         timings=timings)
