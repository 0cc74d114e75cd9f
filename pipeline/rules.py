"""The decision engine: triage + ticket + config → :class:`Plan`, with the reason for every action.

Pure (no I/O, clock passed in). Hard guards are code, not config:

* sensitive intents never auto-reply, and always carry the approval-required banner;
* no auto-reply when the customer asked for a human, when sentiment is very negative, below
  the high band, or (checked after drafting, see :func:`allow_auto_reply`) without a grounded draft.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.config import Config
from pipeline.models import PRIORITIES, Action, Draft, Plan, Ticket, Triage, priority_rank

ASKS_FOR_HUMAN = "asks_for_human"
HUMAN_INTENTS = {"human_request"}


def band_for(confidence: float, rule: dict[str, Any]) -> str:
    """high → act (draft ready), medium → draft and flag for review, low → no draft, route to a human."""
    return band_decision(confidence, rule)[0]


def show_confidence(confidence: float, *thresholds: float) -> str:
    """``confidence`` with enough decimals that its comparison with each threshold reads right.

    0.7496 against 0.75 prints ``0.7496``, not ``0.75`` (which would read as "≥ 0.75").
    """
    for digits in (2, 3, 4):
        shown = round(confidence, digits)
        if all((shown >= t) == (confidence >= t) and (shown != t or confidence == t) for t in thresholds):
            return f"{confidence:.{digits}f}"
    return f"{confidence:.6f}"


def band_decision(confidence: float, rule: dict[str, Any], *, min_source: str = "min_confidence",
                  bands_source: str = "bands") -> tuple[str, str]:
    """(band, why): the band applied and the one threshold that decided it, named where it is set.

    ``min_source`` / ``bands_source`` name the config keys the thresholds came from (e.g.
    ``rules.intents.refund.min_confidence``), so the note says which line of rules.yaml to change.
    """
    bands = rule.get("bands") or {}
    floor = float(rule.get("min_confidence", 0.0))
    high, medium = float(bands.get("high", 0.75)), float(bands.get("medium", 0.5))
    c = show_confidence(confidence, floor, high, medium)
    if confidence < floor:
        return "low", f"confidence {c} → low band: below {min_source} {floor:g}"
    if confidence >= high:
        return "high", f"confidence {c} → high band: ≥ {bands_source}.high {high:g}"
    if confidence >= medium:
        return "medium", f"confidence {c} → medium band: ≥ {bands_source}.medium {medium:g}, < high {high:g}"
    return "low", f"confidence {c} → low band: below {bands_source}.medium {medium:g}"


def _set_in(cfg: Config, intent: str, platform: str | None, brand: str | None, key: str) -> str:
    """Where the effective value of rule ``key`` for ``intent`` comes from, as a config path."""
    where = "rules.defaults"
    r = cfg.rules.intents.get(intent)
    if r is not None and key in r.model_fields_set:
        where = f"rules.intents.{intent}"
    for i, ov in enumerate(cfg.rules.overrides):
        if all((platform if k == "platform" else brand) == v for k, v in ov.match.items()):
            if ov.defaults is not None and key in ov.defaults.model_fields_set:
                where = f"rules.overrides[{i}].defaults"
            oi = ov.intents.get(intent)
            if oi is not None and key in oi.model_fields_set:
                where = f"rules.overrides[{i}].intents.{intent}"
    return f"{where}.{key}"


def _out_of_scope_reason(triage: Triage, cfg: Config) -> str:
    """Why an out-of-scope message is in the low band: the intents.yaml threshold it fell under."""
    guess = triage.alternatives[0] if triage.alternatives and triage.alternatives[0][0] != triage.intent else None
    if guess is None:
        return (f"out of scope: classified '{triage.intent}' (the out-of-scope intent) → low band, "
                "no draft")
    name, conf = guess[0], float(guess[1])
    idef = cfg.intents.intents.get(name)
    if idef is not None and idef.out_of_scope:
        return f"out of scope: '{name}' is marked out_of_scope in intents.yaml → low band, no draft"
    if idef is not None and idef.threshold is not None:
        thr, where = idef.threshold, f"intents.{name}.threshold"
    else:
        thr, where = cfg.intents.threshold, "intents.yaml threshold"
    return (f"out of scope: best guess '{name}' at {show_confidence(conf, thr)} is below {where} {thr:g} "
            "→ low band, no draft")


def in_business_hours(bh: Any, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(bh.timezone))
    if local.weekday() not in bh.days:
        return False
    hhmm = local.strftime("%H:%M")
    return bh.start <= hhmm < bh.end


def _fill(value: Any, triage: Triage) -> Any:
    if not isinstance(value, str):
        return value
    return value.format_map({"intent": triage.intent, "priority": triage.priority, "sentiment": triage.sentiment,
                             "language": triage.language, "confidence": f"{triage.confidence:.2f}"})


def decide(triage: Triage, ticket: Ticket, cfg: Config, platform: str | None = None,
           now: datetime | None = None) -> Plan:
    """Plan the actions for one classified message."""
    platform = platform or ticket.platform
    now = now or datetime.now(UTC)
    intent = triage.intent
    rule = cfg.rule_for(intent, platform, ticket.brand)
    # A sensitive second reading of an LLM-classified message (Triage.sensitive_hint) counts as sensitive.
    hint = triage.sensitive_hint if triage.sensitive_hint and cfg.is_sensitive(triage.sensitive_hint) else None
    sensitive = cfg.is_sensitive(intent) or hint is not None
    rname = f"rules.intents.{intent}" if intent in cfg.rules.intents else "rules.defaults"
    plan = Plan(intent=intent, sensitive=sensitive)
    act = plan.actions.append

    if not rule.get("enabled", True):
        plan.enabled = False
        plan.reasons.append(f"{rname}: enabled is false, the sidecar leaves this ticket alone")
        return plan

    # The band applied and the threshold that decided it are computed once, here, so what the
    # note says is what the tags and the draft follow.
    if triage.out_of_scope:
        band, why = "low", _out_of_scope_reason(triage, cfg)
    else:
        band, why = band_decision(
            triage.confidence, rule,
            min_source=_set_in(cfg, intent, platform, ticket.brand, "min_confidence"),
            bands_source=_set_in(cfg, intent, platform, ticket.brand, "bands"))
    plan.band = band
    plan.reasons.append(why)

    # Tags: defaults + intent tag + rule tags + review state.
    prefix = rule.get("tag_prefix", "ai-")
    tags = list(rule.get("tags") or [])
    tags.append(f"{prefix}intent-{intent}")
    if sensitive:
        tags.append(f"{prefix}approval-required")
    if band == "medium":
        tags.append(f"{prefix}needs-review")
    elif band == "low":
        tags.append(f"{prefix}low-confidence")
    plan.tags = list(dict.fromkeys(t.lower().replace(" ", "-") for t in tags))
    act(Action("tag", ", ".join(plan.tags), f"{rname} tags + intent"))

    # Priority: classifier's, then override, then floor.
    prio = triage.priority if triage.priority in PRIORITIES else "normal"
    if rule.get("priority"):
        prio = rule["priority"]
        act(Action("priority", prio, f"{rname}.priority override"))
    floor = rule.get("priority_floor")
    if floor and priority_rank(prio) < priority_rank(floor):
        prio = floor
        act(Action("priority", prio, f"{rname}.priority_floor {floor}"))
    if prio != ticket.priority:
        plan.priority = prio
        if not any(a.kind == "priority" for a in plan.actions):
            act(Action("priority", prio, f"classifier priority {triage.priority}"))

    fields = (rule.get("fields") or {}).get(platform) or {}
    if fields:
        plan.fields = {str(k): _fill(v, triage) for k, v in fields.items()}
        act(Action("field", ", ".join(f"{k}={v}" for k, v in plan.fields.items()), f"{rname}.fields.{platform}"))
    group = (rule.get("assign") or {}).get(platform)
    if group:
        plan.assign_group = str(group)
        act(Action("assign", plan.assign_group, f"{rname}.assign.{platform}"))
    macro = rule.get("macro") or {}
    macro_id = (macro.get("ids") or {}).get(platform)
    if macro_id:
        plan.macro, plan.macro_mode = str(macro_id), macro.get("mode", "suggest")
        act(Action("macro", plan.macro, f"{rname}.macro ({plan.macro_mode})"))

    # Drafting by band.
    if rule.get("draft", True) and band in ("high", "medium"):
        plan.draft = True
        act(Action("draft", None, f"{band} confidence: draft ready" if band == "high" else
                   "medium confidence: draft for review, check the intent"))
        if band == "medium":
            act(Action("review", None, "medium confidence: an agent should check the intent and the draft"))
    elif band == "low":
        act(Action("route_to_human", None, "low confidence: no draft, a human should handle this"))
    else:
        act(Action("no_draft", None, f"{rname}.draft is false"))

    if sensitive:
        plan.approval_required = True
        why = (f"the local model reads '{hint}' (sensitive) where the LLM read '{intent}'" if hint and
               not cfg.is_sensitive(intent) else f"intent '{intent}' is sensitive")
        act(Action("approval_required", None, f"{why}: a human must approve any reply"))

    # Auto-reply: config may ask, code decides.
    ar = rule.get("auto_reply") or {}
    human = ASKS_FOR_HUMAN in triage.signals or intent in HUMAN_INTENTS
    if ar.get("enabled"):
        blockers = []
        if sensitive:
            blockers.append("intent is sensitive")
        if band != "high":
            blockers.append(f"confidence band is {band}")
        if triage.confidence < float(ar.get("min_confidence", 0.9)):
            amin = float(ar.get("min_confidence", 0.9))
            blockers.append(f"confidence {show_confidence(triage.confidence, amin)} < auto_reply.min_confidence {amin:g}")
        if human:
            blockers.append("customer asked for a human")
        if triage.sentiment == "very_negative":
            blockers.append("sentiment is very negative")
        if not plan.draft:
            blockers.append("no draft planned")
        if rule.get("only_in_business_hours") and not in_business_hours(cfg.rules.business_hours, now):
            blockers.append("outside business hours")
        if blockers:
            plan.reasons.append("auto-reply blocked: " + "; ".join(blockers))
        else:
            plan.auto_reply = True
            act(Action("auto_reply", None, f"{rname}.auto_reply enabled and confidence ≥ {ar.get('min_confidence')}"
                                           " (sent only if the draft is grounded)"))

    # Escalation.
    esc = rule.get("escalate") or {}
    reasons = []
    if esc.get("always"):
        reasons.append("rule")
    if human and esc.get("on_asks_for_human", True):
        reasons.append(ASKS_FOR_HUMAN)
    if triage.sentiment == "very_negative" and esc.get("on_very_negative", True):
        reasons.append("very_negative")
    for sig in esc.get("on_signals") or []:
        if sig in triage.signals:
            reasons.append(sig)
    on_prio = esc.get("on_priority")
    if on_prio and priority_rank(prio) >= priority_rank(on_prio):
        reasons.append(prio)
    if band == "low" and esc.get("on_low_confidence"):
        reasons.append("low_confidence")
    plan.escalate = list(dict.fromkeys(reasons))
    plan.escalation_channel = esc.get("channel")
    if plan.escalate:
        act(Action("escalate", ", ".join(plan.escalate), f"{rname}.escalate"))
    return plan


def allow_auto_reply(plan: Plan, draft: Draft | None, operator_text: Iterable[str] = ()) -> tuple[bool, str]:
    """Last guard before anything public: the plan allowed it and the draft is grounded and clean.

    ``operator_text``: the operator's template lines (``pipeline.draft.operator_texts``), the
    store's own words for the guards, as when the draft was reviewed."""
    if not plan.auto_reply or plan.sensitive:
        return False, "auto-reply not allowed by the plan"
    if draft is None or not draft.text.strip() or draft.kind == "none":
        return False, "no draft"
    if not draft.sources or (draft.used_source_ids == [] and draft.kind == "llm"):
        return False, "draft has no grounding source"
    if draft.warnings:
        return False, "draft has warnings: " + "; ".join(draft.warnings)
    from pipeline import guards

    # Checked again here, on the exact text that would be sent, whoever drafted it.
    if len(re.findall(r"[^\W\d_]{2,}", draft.text)) < 4:
        return False, "draft is too short to be an answer"
    if guards.only_past_tickets(draft):
        return False, "draft is grounded only on past tickets, not on a policy"
    unsafe = guards.unsafe_reasons(draft.text, draft.sources, operator_text)
    if unsafe:
        return False, "draft failed a guard: " + "; ".join(unsafe)
    return True, "grounded draft, every guard passed"
