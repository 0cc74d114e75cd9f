"""``backtest.yaml``: how the helpdesk's own labels map to our intents, and what "escalated" means there.

Agents label tickets with tags or a custom field ("refund-request", reason = "Where is my order").
The backtest compares its predicted intent with those labels only through this mapping; a ticket
whose labels map to nothing counts in the distribution of predictions, never as right or wrong.

.. code-block:: yaml

    version: 1
    labels:
      tags: {refund-request: return_refund, wismo: order_status}
      custom_field: {zendesk: "360001", gorgias: "12", freshdesk: cf_reason}
      field_values: {"Where is my order": order_status, Refund: return_refund}
    escalation:
      tags: [escalated, tier-2]
      priorities: [urgent]

The sidecar's own tags (``ai-intent-...``) are its past predictions, never agent labels; an agent's
correction tag ``ai-wrong-intent:<intent>`` is the strongest label there is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import WRONG_INTENT_TAG
from pipeline.config import ConfigError, PerPlatform, _format_errors
from pipeline.models import Ticket


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LabelMap(_Strict):
    tags: dict[str, str] = Field(default_factory=dict)  # helpdesk tag -> intent
    custom_field: PerPlatform = Field(default_factory=PerPlatform)  # field id per platform
    field_values: dict[str, str] = Field(default_factory=dict)  # field value -> intent
    intent_names: bool = False  # a tag or field value equal to an intent name is that intent


class EscalationEvidence(_Strict):
    tags: list[str] = Field(default_factory=lambda: ["escalated", "escalation"])
    priorities: list[Literal["low", "normal", "high", "urgent"]] = Field(default_factory=lambda: ["urgent"])


class BacktestFile(_Strict):
    version: Literal[1]
    labels: LabelMap = Field(default_factory=LabelMap)
    escalation: EscalationEvidence = Field(default_factory=EscalationEvidence)


def load_backtest_config(path: str | Path | None, intents: set[str]) -> BacktestFile:
    """Load and validate ``backtest.yaml`` (missing file → no labels, default escalation evidence)."""
    if path is None or not Path(path).exists():
        return BacktestFile(version=1)
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p.name}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p.name}: expected a mapping with 'version: 1' at the top")
    try:
        cfg = BacktestFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(p.name, exc)) from None
    problems = [f"{p.name}: labels.tags.{tag}: intent '{i}' is not defined in intents.yaml"
                for tag, i in cfg.labels.tags.items() if i not in intents]
    problems += [f"{p.name}: labels.field_values.{v}: intent '{i}' is not defined in intents.yaml"
                 for v, i in cfg.labels.field_values.items() if i not in intents]
    if problems:
        raise ConfigError("\n".join(problems))
    return cfg


@dataclass
class AgentLabel:
    """The intent agents gave a ticket: ``intent`` (None when unmapped or ambiguous), from where."""

    intent: str | None
    source: str = ""  # correction | field | tags | ""
    raw: str = ""
    ambiguous: bool = False


def agent_label(ticket: Ticket, cfg: BacktestFile, intents: set[str], tag_prefix: str = "ai-") -> AgentLabel:
    """Map the ticket's agent labels to an intent: a correction tag, then the custom field, then tags."""
    lm = cfg.labels
    corrections = sorted({t.split(":", 1)[1].strip() for t in ticket.tags if t.startswith(WRONG_INTENT_TAG)}
                         - {""})
    known = [c for c in corrections if c in intents]
    if len(known) == 1:
        return AgentLabel(known[0], "correction", WRONG_INTENT_TAG + known[0])
    if len(known) > 1:
        return AgentLabel(None, "correction", ",".join(known), ambiguous=True)
    field_id = lm.custom_field.for_platform(ticket.platform)
    if field_id is not None and str(field_id) in ticket.custom_fields:
        value = ticket.custom_fields.get(str(field_id))
        if value not in (None, ""):
            v = str(value).strip()
            intent = lm.field_values.get(v) or (v if lm.intent_names and v in intents else None)
            if intent:
                return AgentLabel(intent, "field", v)
    found: dict[str, str] = {}
    for tag in ticket.tags:
        if tag.startswith(tag_prefix):
            continue  # the sidecar's own tags are its predictions, not labels
        intent = lm.tags.get(tag) or (tag if lm.intent_names and tag in intents else None)
        if intent:
            found.setdefault(intent, tag)
    if len(found) == 1:
        (intent, tag), = found.items()
        return AgentLabel(intent, "tags", tag)
    if len(found) > 1:
        return AgentLabel(None, "tags", ",".join(sorted(found.values())), ambiguous=True)
    return AgentLabel(None)


def escalation_evidence(ticket: Ticket, cfg: BacktestFile) -> list[str]:
    """Why the ticket counts as actually escalated (its priority, escalation tags); [] if it was not."""
    out = [f"priority {ticket.priority}"] if ticket.priority in cfg.escalation.priorities else []
    wanted = {t.lower() for t in cfg.escalation.tags}
    out += [f"tag {t}" for t in ticket.tags if t.lower() in wanted]
    return out


def label_tags(cfg: BacktestFile) -> set[str]:
    """Tags that carry a label or escalation outcome: hidden from the pipeline (they are the answer)."""
    return set(cfg.labels.tags) | {t.lower() for t in cfg.escalation.tags}


def dump_default() -> dict[str, Any]:
    return BacktestFile(version=1).model_dump()
