"""The pipeline's own types: the only data that crosses from adapters into ``pipeline/``.

Adapters translate platform JSON into these; pipeline code never sees a platform's
field names, and these types never name one. Everything here round-trips through
JSON (``to_dict`` / ``from_dict``) because events travel through rq and outcomes are
recorded in the decision log.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

# Roles of a message author, normalised across platforms.
CUSTOMER = "customer"
AGENT = "agent"
SYSTEM = "system"
SIDECAR = "sidecar"  # written by this sidecar (recognised by author id or marker)

PRIORITIES = ("low", "normal", "high", "urgent")


def priority_rank(priority: str | None) -> int:
    """Rank of a normalised priority (``low`` = 0 ... ``urgent`` = 3); unknown → -1."""
    try:
        return PRIORITIES.index(priority or "")
    except ValueError:
        return -1


def _from_dict(cls, data: dict[str, Any] | None):
    """Build a dataclass from a dict, ignoring unknown keys (tolerant of older payloads)."""
    if data is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


class _Serializable:
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of this object."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass
class TicketEvent(_Serializable):
    """One inbound webhook delivery, reduced to what the pipeline needs.

    The body of a webhook is a *hint*: the worker re-fetches the ticket. ``event_id`` is
    the dedupe key (the platform's delivery id, or a hash of platform + ticket + message).
    """

    platform: str
    event_id: str
    ticket_id: str
    kind: str = "message_created"  # ticket_created | message_created | ticket_updated
    message_id: str | None = None
    author_role: str = CUSTOMER
    author_id: str | None = None
    is_internal: bool = False
    subject_hint: str | None = None
    body_hint: str | None = None
    requester_name: str | None = None
    requester_email: str | None = None
    tags_hint: list[str] = field(default_factory=list)
    raw_type: str | None = None
    received_at: float = field(default_factory=time.time)
    # True when ``event_id`` is a hash of the body (the sender gave neither a delivery id nor a
    # message id): two identical follow-ups then look alike, so the webhook dedupes them only
    # for a short window and the job tells messages apart by what the API shows.
    weak_id: bool = False
    # email | chat | web_form | social | phone | api | other (mapped by the adapter); None = not said.
    channel: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TicketEvent:
        return _from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        # Flat fields only: a shallow copy is enough and ~10x cheaper than asdict on the intake path.
        d = dict(self.__dict__)
        d["tags_hint"] = list(self.tags_hint)
        return d


@dataclass
class Person(_Serializable):
    """A requester or author."""

    id: str | None = None
    name: str | None = None
    email: str | None = None
    # The language tag the helpdesk keeps for this person ("pt-BR", BCP-47), when it gives one with the
    # ticket: the wording variant of a draft (pipeline.pt_variant); never a platform field name here.
    locale: str | None = None


@dataclass
class Message(_Serializable):
    """One entry of a ticket's thread (public reply, customer message or internal note)."""

    id: str
    author_role: str  # customer | agent | system | sidecar
    body_text: str = ""
    body_html: str | None = None
    public: bool = True
    author_id: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    channel: str | None = None  # the platform's own value (adapters rely on it, e.g. Gorgias "internal-note")
    created_at: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return _from_dict(cls, data)


def brand_scope(platform: str | None, brand: str | None) -> str:
    """The brand a ticket's knowledge is filtered by: ``<platform>:<brand id>``, ``<platform>:`` without one.

    Brand ids are the helpdesk's own numbers (Zendesk ``brand_id``, Freshdesk ``product_id``) and
    two platforms may both have a brand 123: the platform is part of the scope. Past tickets are
    stored under their ticket's scope (``knowledge.tickets``); retrieval maps a scope to the stored
    brand values it may read (``knowledge.brands.allowed``). Surrounding whitespace is not part of an id.
    A number (a ticket read back from JSON someone wrote, ``kb add-tickets --from-json``: ``"brand": 101``)
    is the id it spells, as the adapters read one (``101`` and ``101.0`` are ``"101"``).
    """
    if isinstance(brand, float) and brand.is_integer():
        brand = int(brand)
    return f"{str(platform or '').strip().lower()}:{'' if brand is None else str(brand).strip()}"


@dataclass
class Ticket(_Serializable):
    """A ticket as fetched from the helpdesk, with its whole thread in chronological order."""

    platform: str
    id: str
    subject: str = ""
    status: str | None = None
    priority: str | None = None  # normalised: low | normal | high | urgent
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    requester: Person = field(default_factory=Person)
    messages: list[Message] = field(default_factory=list)
    url: str | None = None  # for humans (agent UI), never used to make requests
    channel: str | None = None  # email | chat | web_form | social | phone | api | other (see TicketEvent)
    brand: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def brand_scope(self) -> str:
        """This ticket's :func:`brand_scope` (what retrieval filters its knowledge by)."""
        return brand_scope(self.platform, self.brand)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ticket:
        t = _from_dict(cls, data)
        t.requester = _from_dict(Person, data.get("requester") or {}) or Person()
        t.messages = [Message.from_dict(m) for m in data.get("messages") or []]
        return t

    def customer_messages(self) -> list[Message]:
        """Messages written by the customer, oldest first."""
        return [m for m in self.messages if m.author_role == CUSTOMER]

    def latest_customer_message(self, message_id: str | None = None) -> Message | None:
        """The message an event is about: ``message_id`` if given and found, else the last customer message."""
        if message_id is not None:
            for m in self.messages:
                if str(m.id) == str(message_id):
                    return m
        customers = self.customer_messages()
        return customers[-1] if customers else None

    def has_marker(self, marker: str) -> bool:
        """True when a message of the thread already carries ``marker`` (idempotency check)."""
        return any(marker in (m.body_html or "") or marker in (m.body_text or "") for m in self.messages)


@dataclass
class Triage(_Serializable):
    """What the classifier concluded about the customer's message."""

    intent: str
    confidence: float
    priority: str = "normal"
    sentiment: str = "neutral"  # very_negative | negative | neutral | positive
    sentiment_score: float = 0.0  # -1 .. 1
    language: str = "en"
    signals: list[str] = field(default_factory=list)  # asks_for_human, churn_risk, legal_threat, ...
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    out_of_scope: bool = False
    classifier: str = "keywords"
    fallback_reason: str | None = None  # why a preferred classifier was not used
    usage: dict[str, Any] = field(default_factory=dict)  # tokens, estimated cost
    # A sensitive intent the local model read where the LLM read a harmless one (pipeline.classify):
    # customer text can talk an LLM into a label, so the plan treats the message as sensitive.
    sensitive_hint: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Triage:
        t = _from_dict(cls, data)
        t.alternatives = [tuple(a) for a in t.alternatives]  # JSON turns tuples into lists
        return t


@dataclass
class Action(_Serializable):
    """One thing the plan asks for, with why."""

    kind: str  # tag | field | priority | macro | assign | draft | auto_reply | escalate | review
    value: Any = None
    reason: str = ""


@dataclass
class Plan(_Serializable):
    """What to do with a ticket, decided by rules from triage + ticket + config."""

    intent: str
    band: str = "low"  # high | medium | low (confidence band)
    enabled: bool = True
    tags: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # field id -> value, for this platform
    priority: str | None = None  # new priority, if it changes
    macro: str | None = None  # macro / canned response id, for this platform
    macro_mode: str = "suggest"  # suggest | apply
    assign_group: str | None = None
    draft: bool = False
    approval_required: bool = False
    sensitive: bool = False
    auto_reply: bool = False
    escalate: list[str] = field(default_factory=list)  # reasons
    escalation_channel: str | None = None
    actions: list[Action] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        p = _from_dict(cls, data)
        p.actions = [_from_dict(Action, a) for a in data.get("actions") or []]
        return p


@dataclass
class Source(_Serializable):
    """A knowledge passage a draft is grounded on."""

    id: str
    title: str
    url: str | None = None
    score: float = 0.0
    text: str = ""
    source_type: str = "article"  # article | policy | ticket
    language: str = ""  # the passage's language when the knowledge base says ("" = not tagged)


@dataclass
class Draft(_Serializable):
    """A reply drafted for the agent (never sent unless a rule allows auto-reply)."""

    text: str
    kind: str = "template"  # llm | template | none
    language: str = "en"
    sources: list[Source] = field(default_factory=list)
    used_source_ids: list[str] = field(default_factory=list)
    confidence: float = 0.0
    warnings: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Draft:
        d = _from_dict(cls, data)
        d.sources = [_from_dict(Source, s) for s in data.get("sources") or []]
        return d


@dataclass
class Outcome(_Serializable):
    """Everything one processed event produced; what adapters write back and what is recorded."""

    event: TicketEvent
    ticket_id: str
    ticket_url: str | None = None
    triage: Triage | None = None
    plan: Plan | None = None
    draft: Draft | None = None
    note_html: str = ""
    note_text: str = ""
    marker: str = ""
    public_reply: str | None = None  # only when the plan's auto_reply passed every guard
    alerted: list[str] = field(default_factory=list)  # escalation reasons Slack was alerted for
    alert_error: str | None = None  # why Slack could not be alerted (the job retries it)
    steps_done: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    status: str = "processed"  # processed | skipped | failed
    error: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        o = _from_dict(cls, data)
        o.event = TicketEvent.from_dict(data["event"])
        o.triage = Triage.from_dict(data["triage"]) if data.get("triage") else None
        o.plan = Plan.from_dict(data["plan"]) if data.get("plan") else None
        o.draft = Draft.from_dict(data["draft"]) if data.get("draft") else None
        return o


@dataclass
class AgentFeedback(_Serializable):
    """An agent's response to a ticket the sidecar drafted for (read from the helpdesk's own events)."""

    ticket_id: str
    reply_text: str | None = None  # the public reply the agent sent
    tags: list[str] = field(default_factory=list)  # the sidecar's feedback tags present on the ticket
    agent_id: str | None = None
    message_id: str | None = None


MARKER_PREFIX = "sidecar-event:"
_MARKER_ID_BAD = re.compile(r"[^A-Za-z0-9_.-]")
_MARKER = re.compile(r"sidecar-event:([A-Za-z0-9_.-]{1,100}):([0-9a-f]{32})")


def _marker_mac(safe_id: str, key: bytes) -> str:
    return hmac.new(key, f"sidecar-marker:{safe_id}".encode(), hashlib.sha256).hexdigest()[:32]


def marker_for(event_id: str, key: bytes | None = None) -> str:
    """The invisible marker put in every note, so a retry can find a note already posted.

    With ``key`` (the server's marker secret) the marker carries an HMAC of the event id:
    ``sidecar-event:<id>:<mac>``. Only the sidecar can write one that :func:`is_own_marker`
    accepts, so a customer typing ``sidecar-event:`` is never mistaken for the sidecar.
    """
    safe = _MARKER_ID_BAD.sub("_", str(event_id))[:100] or "_"
    if not key:
        return f"{MARKER_PREFIX}{safe}"
    return f"{MARKER_PREFIX}{safe}:{_marker_mac(safe, key)}"


def is_own_marker(text: str | None, key: bytes | None) -> bool:
    """True when ``text`` carries a marker signed with ``key`` (constant-time check of each candidate).

    No key, no recognition: the caller then relies on the author (the sidecar's API user) alone.
    Bounded: at most 20 candidates are checked, whatever the text's size.
    """
    if not text or not key or MARKER_PREFIX not in text:
        return False
    for n, m in enumerate(_MARKER.finditer(text)):
        if n >= 20:
            break
        if hmac.compare_digest(m.group(2), _marker_mac(m.group(1), key)):
            return True
    return False


# ---------------------------------------------------------------- capabilities passed into the pipeline


@dataclass(frozen=True)
class LLMSettings:
    """An OpenAI-compatible model the pipeline may call (built from the environment by the runtime).

    ``prices``: USD per 1M tokens ``{model: (input, output)}`` layered over the built-in table.
    """

    api_key: str = field(repr=False)
    model: str
    base_url: str | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)


class KnowledgeBase(Protocol):
    """The knowledge base as the pipeline sees it (``knowledge.retrieve.Retriever`` implements it)."""

    def count(self) -> int:
        """Number of stored chunks (0: nothing to search)."""
        ...

    def embed(self, texts: list[str]) -> list[Any]:
        """Query embeddings for ``texts``, in order."""
        ...

    def search(self, text: str, *, k: int, intent: str | None = None, brand: str | None = None,
               embedding: Any = None, language: str | None = None, strict_language: bool = False,
               query_language: str | None = None) -> list[Source]:
        """Top ``k`` documents for ``text``, each as its retrieved section(s).

        ``language``: that language's articles plus untagged and English ones; with
        ``strict_language`` only that language's. ``query_language``: the language of ``text`` when
        it is not the customer's (a translation).
        """
        ...

    # Optional: ``sentence_vectors(doc_ids) -> {"heading: sentence": vector}``, the sentence vectors the
    # knowledge base stored at ingest with the local model; the template draft reads them instead of
    # embedding those sentences again (``pipeline.draft`` looks it up with getattr).
    # Optional: ``embed_questions(texts, language=...) -> [vector or None]``, the ``embedding`` to search
    # each text with in that language, None where the knowledge base embeds it with another model
    # itself (a multilingual index); without it the draft uses ``embed``.
