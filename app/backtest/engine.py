"""The real pipeline, offline, on one historical customer message: no notes, no Slack, no records.

It is :func:`pipeline.flow.decide_message`, the entry point the live job uses, with the
capabilities a backtest allows: the knowledge base (minus the replayed ticket's own entry: drafting
from its own agent answer would be reading the answer sheet), the LLM only when configured and not
``--local``, the process's local intent model, and a clock set to the moment the customer wrote
(business-hours guards judge that moment). Nothing is written anywhere: the backtest never builds
an adapter that can write, a state store, a decision log or a Slack client.

Besides the plan under the given rules, a *what-if* plan is computed with ``auto_reply`` enabled
at confidence 0 for every non-sensitive intent (rules only, same triage and draft): whether every
other guard (band, sentiment, asks for a human, grounded draft without warnings) would have let an
auto-reply go. The report turns that into a precision estimate per intent and threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.config import AutoReply, Config, Rule
from pipeline.draft import operator_texts
from pipeline.flow import Capabilities, decide_message
from pipeline.models import Draft, LLMSettings, Plan, Source, Ticket, Triage
from pipeline.rules import allow_auto_reply, decide

log = logging.getLogger(__name__)


def whatif_config(cfg: Config) -> Config:
    """``cfg`` with auto-reply enabled (min confidence 0) for every intent that may ever auto-reply."""
    rules = cfg.rules.model_copy(deep=True)
    for name in cfg.intent_names:
        if cfg.is_sensitive(name):
            continue
        rule = rules.intents.get(name) or Rule()
        rules.intents[name] = rule.model_copy(update={"auto_reply": AutoReply(enabled=True, min_confidence=0.0)})
    return Config(intents=cfg.intents, rules=rules, folder=cfg.folder, mtimes=dict(cfg.mtimes))


class WithoutDocument:
    """A knowledge base that never returns one document (the replayed ticket, once indexed as knowledge)."""

    def __init__(self, kb: Any, doc_id: str):
        self.kb, self.doc_id = kb, doc_id

    def count(self) -> int:
        return self.kb.count()

    def embed(self, texts: list[str]) -> list[Any]:
        return self.kb.embed(texts)

    def search(self, text: str, *, k: int, intent: str | None = None, brand: str | None = None,
               embedding: Any = None, **filters: Any) -> list[Source]:
        found = self.kb.search(text, k=k + 1, intent=intent, brand=brand, embedding=embedding, **filters)
        return [s for s in found if s.id != self.doc_id][:k]


@dataclass
class OfflineResult:
    """What the pipeline decided for one message."""

    text: str
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


class OfflinePipeline:
    """``decide_message`` with a backtest's capabilities, built once per run."""

    def __init__(self, cfg: Config, *, kb: Any = None, llm: LLMSettings | None = None, intent_model: Any = None):
        self.cfg = cfg
        self.whatif = whatif_config(cfg)
        self.kb, self.llm, self.intent_model = kb, llm, intent_model

    @classmethod
    def from_settings(cls, settings: Any, cfg: Config, local: bool = False) -> OfflinePipeline:
        from app.runtime import intent_model, knowledge_base

        return cls(cfg, kb=knowledge_base(settings), llm=None if local else settings.llm(),
                   intent_model=intent_model(settings, cfg))

    def run(self, ticket: Ticket, message_id: str, now: datetime) -> OfflineResult:
        """Classify → decide → retrieve → draft → auto-reply guard → escalation decision, writing nothing."""
        kb = WithoutDocument(self.kb, f"ticket:{ticket.platform}:{ticket.id}") if self.kb is not None else None
        caps = Capabilities(kb=kb, llm=self.llm, intent_model=self.intent_model, clock=lambda: now)
        d = decide_message(ticket, message_id, self.cfg, ticket.platform, caps)
        plan = d.plan
        eligible = False
        if plan.enabled:
            what = decide(d.triage, ticket, self.whatif, ticket.platform, now=now)
            eligible = allow_auto_reply(what, d.draft, operator_texts(self.cfg))[0] and what.auto_reply
        timings = dict(d.timings)
        timings["total"] = sum(v for k, v in d.timings.items() if k in ("classify", "draft"))
        return OfflineResult(text=d.text, triage=d.triage, plan=plan, draft=d.draft if plan.enabled else None,
                             would_auto_reply=d.public_reply is not None,
                             auto_reply_why=d.auto_reply_reason or "; ".join(plan.reasons),
                             auto_eligible=bool(eligible), escalate=d.escalate if plan.enabled else [],
                             timings=timings)
