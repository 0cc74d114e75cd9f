"""Draft replies grounded in the store's knowledge (placeholder until the knowledge issue lands)."""

from __future__ import annotations

from pipeline.config import Config
from pipeline.models import Draft, Plan, Source, Ticket, Triage


def retrieve(text: str, triage: Triage, cfg: Config) -> list[Source]:
    """Knowledge passages for ``text`` (none yet: the knowledge base is another issue)."""
    return []


def draft(ticket: Ticket, text: str, triage: Triage, plan: Plan, sources: list[Source], cfg: Config) -> Draft | None:
    """A draft reply, or None when the plan asks for none."""
    if not plan.draft:
        return None
    return Draft(text="", kind="none", language=triage.language, sources=sources,
                 warnings=["no knowledge base configured yet: no draft"])
