"""Triage: intent + confidence, priority, sentiment, language and signals.

This module holds the keyword baseline (phrases from ``config/intents.yaml``). It is honest
about what it is: ``classifier="keywords"`` and a confidence that only reflects how many
configured phrases matched.
"""

from __future__ import annotations

import re

from pipeline.config import Config
from pipeline.models import PRIORITIES, Ticket, Triage, priority_rank


def _phrase_re(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)")


def keyword_scores(text: str, cfg: Config) -> dict[str, float]:
    """Sum of matched phrase lengths (in words) per intent: longer phrases are stronger evidence."""
    low = text.lower()
    scores: dict[str, float] = {}
    for name, idef in cfg.intents.intents.items():
        s = sum(len(p.split()) for p in idef.keywords if _phrase_re(p).search(low))
        if s:
            scores[name] = float(s)
    return scores


def base_priority(intent: str, text: str, ticket: Ticket | None, cfg: Config) -> str:
    """Priority from the intent's default, urgent/high keywords and the customer's tier."""
    idef = cfg.intents.intents.get(intent)
    prio = (idef.priority if idef and idef.priority else None) or "normal"
    low = text.lower()
    for level in ("urgent", "high"):
        if any(_phrase_re(p).search(low) for p in cfg.intents.priority_keywords.get(level, [])):
            if priority_rank(level) > priority_rank(prio):
                prio = level
            break
    if ticket is not None:
        tier_tags = cfg.intents.tier.get("tags") or {}
        for tag in ticket.tags:
            level = tier_tags.get(tag)
            if level in PRIORITIES and priority_rank(level) > priority_rank(prio):
                prio = level
    return prio


def classify_keywords(text: str, ticket: Ticket | None, cfg: Config) -> Triage:
    """Keyword baseline: the intent whose phrases match most, ``other`` when none does."""
    scores = keyword_scores(text, cfg)
    oos = cfg.intents.oos_intent
    if not scores:
        intent, conf, alts = oos, 0.0, []
    else:
        total = sum(scores.values())
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        intent = ranked[0][0]
        # Share of the evidence, shrunk when evidence is thin (one short phrase is weak).
        conf = round((ranked[0][1] / total) * min(1.0, 0.5 + 0.25 * ranked[0][1]), 3)
        alts = [(n, round(s / total, 3)) for n, s in ranked[1:4]]
    return Triage(
        intent=intent,
        confidence=conf,
        priority=base_priority(intent, text, ticket, cfg),
        alternatives=alts,
        out_of_scope=intent == oos,
        classifier="keywords",
    )


def classify(text: str, ticket: Ticket | None, cfg: Config) -> Triage:
    """Classify one customer message."""
    return classify_keywords(text, ticket, cfg)


def warm_up(cfg: Config) -> None:
    """Load models once per process (called by the worker before it takes jobs)."""
