"""Ops configuration: ``intents.yaml``, ``rules.yaml`` and ``drafting.yaml``, validated at load and hot-reloaded.

Both files are ``version: 1`` and parsed with ``yaml.safe_load``. Validation errors name the
file, the intent and the field, e.g. ``rules.yaml: intent 'refund': auto_reply.enabled: ...``.
Hard guards live here and in ``pipeline.rules`` (code, not config): a sensitive intent with
``auto_reply`` enabled is rejected at load, whatever the YAML says.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

log = logging.getLogger(__name__)

Priority = Literal["low", "normal", "high", "urgent"]
PLATFORMS = ("zendesk", "gorgias", "freshdesk")

# Intents whose kind is sensitive by nature: even if ops forget `sensitive: true`, these names
# are treated as sensitive (refunds, cancellations, order/address/account changes, billing disputes).
ALWAYS_SENSITIVE = frozenset(
    {"refund", "return_refund", "cancel_order", "change_order", "change_address", "account_change", "billing_dispute"}
)


class ConfigError(ValueError):
    """Invalid configuration; the message names file, intent and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- intents.yaml


class IntentDef(_Strict):
    description: str = ""
    sensitive: bool = False
    examples: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)  # phrases for the keyword baseline / signals
    threshold: float | None = Field(default=None, ge=0, le=1)  # out-of-scope threshold override
    priority: Priority | None = None  # default priority of this intent
    out_of_scope: bool = False  # the "other / not actionable" bucket


class IntentsFile(_Strict):
    version: Literal[1]
    oos_intent: str = "other"
    threshold: float = Field(default=0.35, ge=0, le=1)
    priority_keywords: dict[Priority, list[str]] = Field(default_factory=dict)
    tier: dict[str, Any] = Field(default_factory=dict)  # {tags: {vip: high}, field: "tier"}
    intents: dict[str, IntentDef]

    @model_validator(mode="after")
    def _oos_exists(self):
        if self.oos_intent not in self.intents:
            raise ValueError(f"oos_intent '{self.oos_intent}' is not defined under intents")
        return self


# ---------------------------------------------------------------- rules.yaml


class PerPlatform(_Strict):
    """A value that differs per helpdesk (field ids, macro ids, group ids)."""

    zendesk: Any = None
    gorgias: Any = None
    freshdesk: Any = None

    def for_platform(self, platform: str) -> Any:
        return getattr(self, platform, None)


class AutoReply(_Strict):
    enabled: bool = False
    min_confidence: float = Field(default=0.9, ge=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        # `auto_reply: true` / `false` is what people write first: it means {enabled: true/false}
        # with the default min_confidence. Anything else that is not a mapping gets told what to write.
        if isinstance(v, bool):
            return {"enabled": v}
        if v is None or isinstance(v, dict | AutoReply):
            return v
        raise ValueError("write `auto_reply: true` (or false), or a mapping like "
                         "`auto_reply: {enabled: true, min_confidence: 0.9}`")


class Macro(_Strict):
    mode: Literal["suggest", "apply"] = "suggest"
    ids: PerPlatform = Field(default_factory=PerPlatform)


class Escalation(_Strict):
    channel: str | None = None  # Slack channel override
    on_asks_for_human: bool = True
    on_very_negative: bool = True
    on_signals: list[str] = Field(default_factory=lambda: ["legal_threat", "churn_risk"])
    on_priority: Priority | None = "urgent"
    on_low_confidence: bool = False
    always: bool = False


class BusinessHours(_Strict):
    timezone: str = "UTC"
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])  # Monday = 0
    start: str = "09:00"
    end: str = "17:00"


class Rule(_Strict):
    """Per-intent rule. Every field is optional; unset fields fall back to ``defaults``."""

    enabled: bool | None = None
    tags: list[str] | None = None
    fields: PerPlatform | None = None  # per platform {field_id: value}; values may use {intent}, {priority}, ...
    priority: Priority | None = None  # override
    priority_floor: Priority | None = None
    assign: PerPlatform | None = None
    macro: Macro | None = None
    draft: bool | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    auto_reply: AutoReply | None = None
    escalate: Escalation | None = None
    only_in_business_hours: bool | None = None  # auto-reply only inside business hours


class Defaults(Rule):
    tag_prefix: str = "ai-"
    bands: dict[Literal["high", "medium"], float] = Field(default_factory=lambda: {"high": 0.75, "medium": 0.5})

    @field_validator("bands")
    @classmethod
    def _bands_order(cls, v):
        if v.get("high", 0.75) < v.get("medium", 0.5):
            raise ValueError("high must be >= medium")
        return v


class Override(_Strict):
    """Per-brand / per-helpdesk rules layered over the intents section."""

    match: dict[Literal["platform", "brand"], str]
    defaults: Rule | None = None
    intents: dict[str, Rule] = Field(default_factory=dict)


class RulesFile(_Strict):
    version: Literal[1]
    defaults: Defaults = Field(default_factory=Defaults)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    escalation: dict[str, Any] = Field(default_factory=dict)  # global escalation settings (channels, SLA)
    sla: dict[str, Any] = Field(default_factory=dict)
    intents: dict[str, Rule] = Field(default_factory=dict)
    overrides: list[Override] = Field(default_factory=list)


# ---------------------------------------------------------------- drafting.yaml (optional)

Texts = dict[str, str]  # language -> text
# A texts table's keys: a two-letter language ("pt") or one of the Portuguese variants a draft chooses between
# (pipeline.pt_variant); "pt" is European Portuguese, and a "pt-BR" table falls back to it line by line.
_LANGUAGE_KEY = re.compile(r"[a-z]{2}")
LANGUAGE_VARIANTS = ("pt-BR", "pt-PT")


def _check_language_keys(table: dict[str, str]) -> dict[str, str]:
    bad = [k for k in table if not (_LANGUAGE_KEY.fullmatch(k) or k in LANGUAGE_VARIANTS)]
    if bad:
        # A key nothing reads ("pt-br", "pt_BR", "EN", "en-US") would leave its line silently unused.
        raise ValueError(f"unknown language key {bad[0]!r}: use a two-letter code (en, fr, pt, ...) "
                         f"or {' / '.join(LANGUAGE_VARIANTS)}")
    return table


class PortugueseWording(_Strict):
    """Which Portuguese a template draft is worded in (``pipeline.pt_variant``)."""

    # auto: the requester's locale when it names a region, else the customer's words; or one variant always.
    variant: Literal["auto", "pt-BR", "pt-PT"] = "auto"
    # When auto cannot tell (no marker of either variant, no locale).
    default: Literal["pt-PT", "pt-BR"] = "pt-PT"


class DraftingFile(_Strict):
    """``drafting.yaml``: tone and template texts for draft replies (validated, used by ``pipeline.draft``)."""

    version: Literal[1]
    store_name: str | None = None
    tone: str | None = None
    max_sources: int = Field(default=4, ge=1, le=20)
    template_passages: int = Field(default=3, ge=1, le=10)
    max_passage_chars: int = Field(default=600, ge=100, le=5000)
    llm_timeout_seconds: float = Field(default=20, gt=0, le=120)
    greeting: Texts | None = None
    greeting_anonymous: Texts | None = None
    closing: Texts | None = None
    signature: Texts | None = None
    about: Texts | None = None
    order_reference: Texts | None = None
    passage_language_note: Texts | None = None
    not_found: Texts | None = None
    sensitive_followup: Texts | None = None
    intro: dict[str, Texts] | None = None
    portuguese: PortugueseWording = Field(default_factory=PortugueseWording)

    @field_validator("greeting", "greeting_anonymous", "closing", "signature", "about", "order_reference",
                     "passage_language_note", "not_found", "sensitive_followup")
    @classmethod
    def _language_keys(cls, v: Texts | None) -> Texts | None:
        return None if v is None else _check_language_keys(v)

    @field_validator("intro")
    @classmethod
    def _intro_language_keys(cls, v: dict[str, Texts] | None) -> dict[str, Texts] | None:
        for intent, table in (v or {}).items():
            try:
                _check_language_keys(table)
            except ValueError as exc:
                raise ValueError(f"{intent}: {exc}") from None
        return v


# ---------------------------------------------------------------- loading


def _fmt_loc(loc: tuple) -> tuple[str | None, str]:
    """Turn a pydantic error location into (intent, field path)."""
    parts = [str(p) for p in loc]
    intent = None
    if len(parts) >= 2 and parts[0] == "intents":
        intent, parts = parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "overrides" and parts[2] == "intents":
        intent, parts = parts[3], [f"overrides[{parts[1]}]"] + parts[4:]
    return intent, ".".join(parts) or "(top level)"


def _format_errors(fname: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        intent, fld = _fmt_loc(tuple(err["loc"]))
        where = f"intent '{intent}': " if intent else ""
        lines.append(f"{fname}: {where}{fld}: {err['msg']}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path.name}: file not found at {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML: {exc}") from exc


@dataclass
class Config:
    """The loaded, validated configuration (immutable once built)."""

    intents: IntentsFile
    rules: RulesFile
    folder: Path
    mtimes: dict[str, float] = field(default_factory=dict)
    # drafting.yaml as validated with the rest (None: no file, built-in texts). Reloaded and
    # rejected together with intents.yaml and rules.yaml, so one typo never reaches a draft.
    drafting: dict[str, Any] | None = None

    @property
    def intent_names(self) -> list[str]:
        return list(self.intents.intents)

    def is_sensitive(self, intent: str) -> bool:
        d = self.intents.intents.get(intent)
        return intent in ALWAYS_SENSITIVE or bool(d and d.sensitive)

    def rule_for(self, intent: str, platform: str | None = None, brand: str | None = None) -> dict[str, Any]:
        """The effective rule for an intent: defaults < intent rule < matching overrides."""
        merged: dict[str, Any] = self.rules.defaults.model_dump(exclude_none=True)
        layers: list[Rule | None] = [self.rules.intents.get(intent)]
        for ov in self.rules.overrides:
            if all((platform if k == "platform" else brand) == v for k, v in ov.match.items()):
                layers += [ov.defaults, ov.intents.get(intent)]
        for layer in layers:
            if layer is not None:
                _deep_merge(merged, layer.model_dump(exclude_none=True, exclude_unset=True))
        return merged


def _deep_merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    # Nested sections (escalate, auto_reply, ...) merge key by key, so an intent that sets
    # only `escalate.always` keeps the default escalation triggers.
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _deep_merge(into[k], v)
        elif k == "tags" and isinstance(into.get(k), list):
            # Tags add up (defaults + intent + override); removing a default tag is not a use case.
            into[k] = list(dict.fromkeys([*into[k], *v]))
        else:
            into[k] = v


def _check_cross(intents: IntentsFile, rules: RulesFile, rules_name: str) -> None:
    problems = []
    names = set(intents.intents)

    def sensitive(n: str) -> bool:
        return n in ALWAYS_SENSITIVE or (n in intents.intents and intents.intents[n].sensitive)

    sections: list[tuple[str, dict[str, Rule]]] = [("intents", rules.intents)]
    sections += [(f"overrides[{i}].intents", ov.intents) for i, ov in enumerate(rules.overrides)]
    for where, section in sections:
        for name, rule in section.items():
            if name not in names:
                problems.append(f"{rules_name}: intent '{name}': not defined in intents.yaml ({where})")
            if rule.auto_reply and rule.auto_reply.enabled and sensitive(name):
                problems.append(
                    f"{rules_name}: intent '{name}': auto_reply.enabled: sensitive intents can never be auto-replied"
                )
    if rules.defaults.auto_reply and rules.defaults.auto_reply.enabled:
        # A global auto-reply would silently cover sensitive intents added later.
        problems.append(f"{rules_name}: defaults: auto_reply.enabled: enable auto_reply per intent, never in defaults")
    for i, ov in enumerate(rules.overrides):
        if ov.defaults and ov.defaults.auto_reply and ov.defaults.auto_reply.enabled:
            problems.append(f"{rules_name}: overrides[{i}].defaults: auto_reply.enabled: enable auto_reply per intent")
    if problems:
        raise ConfigError("\n".join(problems))


def _check_drafting(path: Path, intents: set[str]) -> dict[str, Any] | None:
    """The validated ``drafting.yaml`` as written (keys the file sets), or None when there is none."""
    if not path.exists():
        return None  # optional: built-in texts are used
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: expected a mapping with 'version: 1' at the top")
    try:
        d = DraftingFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path.name, exc)) from None
    unknown = sorted(set(d.intro or {}) - intents - {"default"})
    if unknown:
        raise ConfigError("\n".join(f"{path.name}: intent '{n}': intro: not defined in intents.yaml" for n in unknown))
    return raw


def load_config(folder: str | os.PathLike | None = None, rules_file: str | os.PathLike | None = None) -> Config:
    """Load and validate ``intents.yaml`` + ``rules.yaml`` from ``folder`` (default ``SIDECAR_CONFIG`` or ``config/``).

    ``rules_file`` replaces ``folder/rules.yaml`` (a candidate rules file tried in a backtest).
    """
    base = Path(folder or os.environ.get("SIDECAR_CONFIG") or "config")
    ipath, rpath = base / "intents.yaml", Path(rules_file) if rules_file else base / "rules.yaml"
    raw_i, raw_r = _read_yaml(ipath), _read_yaml(rpath)
    for p, raw in ((ipath, raw_i), (rpath, raw_r)):
        if not isinstance(raw, dict):
            raise ConfigError(f"{p.name}: expected a mapping with 'version: 1' at the top")
    try:
        intents = IntentsFile.model_validate(raw_i)
    except ValidationError as exc:
        raise ConfigError(_format_errors(ipath.name, exc)) from None
    try:
        rules = RulesFile.model_validate(raw_r)
    except ValidationError as exc:
        raise ConfigError(_format_errors(rpath.name, exc)) from None
    _check_cross(intents, rules, rpath.name)
    drafting = _check_drafting(base / "drafting.yaml", set(intents.intents))
    return Config(intents=intents, rules=rules, folder=base, mtimes=_mtimes(base), drafting=drafting)


WATCHED = ("intents.yaml", "rules.yaml", "drafting.yaml")


def _mtimes(folder: Path) -> dict[str, float]:
    """Modification times of the watched files (-1 for a missing one: drafting.yaml is optional)."""
    out = {}
    for name in WATCHED:
        p = folder / name
        try:
            out[str(p)] = p.stat().st_mtime
        except FileNotFoundError:
            out[str(p)] = -1.0
    return out


class ConfigHolder:
    """Keeps the last good config; reloads when a file's mtime changes (hot reload).

    An invalid change is logged (file, intent, field) and the last good config stays in force.
    """

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder or os.environ.get("SIDECAR_CONFIG") or "config")
        self._lock = threading.Lock()
        self._cfg = load_config(self.folder)
        self._rejected: dict[str, float] = {}
        self.last_error: str | None = None

    def _current_mtimes(self) -> dict[str, float]:
        return _mtimes(self.folder)

    def get(self) -> Config:
        mt = self._current_mtimes()
        if mt != self._cfg.mtimes and mt != self._rejected:
            with self._lock:
                if mt != self._cfg.mtimes and mt != self._rejected:
                    try:
                        self._cfg = load_config(self.folder)
                        self.last_error = None
                        log.info("config reloaded from %s", self.folder)
                    except ConfigError as exc:
                        self._rejected = mt
                        self.last_error = str(exc)
                        log.error("config change rejected, keeping the last good config:\n%s", exc)
        return self._cfg


_holder: ConfigHolder | None = None


def get_config() -> Config:
    """The process-wide config (hot-reloaded on file change)."""
    global _holder
    if _holder is None or _holder.folder != Path(os.environ.get("SIDECAR_CONFIG") or "config"):
        _holder = ConfigHolder()
    return _holder.get()


def rejected_change() -> str | None:
    """Why the config on disk was rejected (the last good one is in force), or None if it is in force."""
    if _holder is None:
        return None
    _holder.get()  # notice a change made since the last look
    return _holder.last_error


def reset_config() -> None:
    """Forget the cached config (tests, or after SIDECAR_CONFIG changes)."""
    global _holder
    _holder = None
