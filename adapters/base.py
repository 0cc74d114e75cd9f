"""What every helpdesk adapter provides, and the errors adapters raise.

An adapter module (``zendesk.py``, ``gorgias.py``, ``freshdesk.py``) has:

* ``platform = "<name>"``
* ``verify(headers, raw_body, query, settings)``: authenticity of a webhook (raises :class:`AuthError`);
* ``parse_webhook(headers, body, settings) -> TicketEvent``: pure, no I/O; raises
  :class:`Ignored` for events we must not process (agent messages, internal notes, our own
  writes) and :class:`BadPayload` for bodies we cannot understand;
* a class derived from :class:`Adapter` with the side-effecting reads and writes.

Only ``pipeline.models`` types cross into ``pipeline/``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.models import MARKER_PREFIX, AgentFeedback, Outcome, Person, Ticket, is_own_marker  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)


class AdapterError(Exception):
    """Base of adapter errors."""


class TransientError(AdapterError):
    """429, 5xx, connection errors, timeouts: worth retrying. ``retry_after`` in seconds if known."""

    def __init__(self, message: str, retry_after: float | None = None, ambiguous: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        # True when the request may have been applied (read timeout, 5xx after sending):
        # before re-posting a note, look for its marker.
        self.ambiguous = ambiguous


class PermanentError(AdapterError):
    """A request that will never succeed as is (400, 404, 422, ...): fail the job with the reason."""


class AuthError(PermanentError):
    """Bad credentials or signature (401/403 outbound; 401 for inbound webhooks)."""


class AgentNotFound(PermanentError):
    """No helpdesk agent has the email we were given (or the email is not one we can look up)."""


class BadPayload(ValueError):
    """A webhook body we cannot use; the message says what is wrong (answered 400)."""


class Ignored(Exception):
    """A valid webhook we deliberately do not process (answered 200 ignored with the reason).

    ``feedback`` carries what an agent did (public reply text, feedback tags) when the event
    is an agent's action on a ticket: it is recorded as feedback on our draft, never processed.
    """

    def __init__(self, reason: str, feedback: AgentFeedback | None = None):
        super().__init__(reason)
        self.reason = reason
        self.feedback = feedback


FEEDBACK_TAGS = ("ai-reject", "ai-handoff")
WRONG_INTENT_TAG = "ai-wrong-intent:"


def feedback_tags(tags: list[str] | None) -> list[str]:
    """The sidecar's feedback tags among ``tags`` (``ai-reject``, ``ai-handoff``, ``ai-wrong-intent:<intent>``)."""
    return [t for t in (tags or []) if t in FEEDBACK_TAGS or t.startswith(WRONG_INTENT_TAG)]


def constant_time_equals(a: str | bytes | None, b: str | bytes | None) -> bool:
    """Compare two secrets in constant time; ``None`` or empty never matches."""
    if not a or not b:
        return False
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts too."""
    getter: Callable[[str], Any] | None = getattr(headers, "get", None)
    if getter is not None:
        v = getter(name)
        if v is not None:
            return v
    lname = name.lower()
    for k, v in headers.items():
        if k.lower() == lname:
            return v
    return None


def as_str(value: Any) -> str | None:
    """Ids arrive as numbers or strings depending on the sender: normalise to str (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# The channels the pipeline, stats and /ops know, whatever the helpdesk calls them.
CHANNELS = ("email", "chat", "web_form", "social", "phone", "api", "other")


def normalize_channel(raw: Any, table: Mapping[str, str]) -> str | None:
    """A platform's channel / via / source value → one of :data:`CHANNELS` (None when absent).

    ``table`` maps the platform's own values, lower-cased, with ``-``/space read as ``_``
    ("Web Form", "web-form" and "web_form" are one key). Unknown values are ``other``, so stats
    show that something arrived on a channel nobody mapped instead of hiding it as ``unknown``.
    """
    if isinstance(raw, dict):  # Zendesk's via object
        raw = raw.get("channel")
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    key = "_".join(str(raw).strip().lower().replace("-", " ").split())
    if not key:
        return None
    return table.get(key, "other")


TOKEN_HEADER = "X-Sidecar-Token"
_DIGITS = re.compile(r"[0-9]{1,20}")


def check_ticket_id(value: Any) -> str:
    """``value`` as a ticket id string if it is 1-20 ASCII digits, else :class:`BadPayload`.

    All three helpdesks number tickets; anything else is refused before it can reach an API
    path (``/tickets/<id>``), a Redis key or a Slack message.
    """
    s = as_str(value)
    if s is None or not _DIGITS.fullmatch(s):
        raise BadPayload("ticket id must be a number")
    return s


def refuse_unsigned(settings: Any, name: str) -> None:
    """No secret is configured for ``name``: accept only if the shared rule says so, else :class:`AuthError`.

    The rule is ``settings.platform_state(name)`` (``app.settings.platform_state``), the same one
    the start banner, ``/readyz`` and ``/ops`` report, so what they say is what intake does.
    """
    st = settings.platform_state(name)
    if not st.unsigned_ok:
        raise AuthError(f"webhook refused: {st.why}")


def verify_token(headers: Mapping[str, str], query: Mapping[str, str], ps: Any, settings: Any) -> None:
    """Shared-secret check for senders without signatures (Gorgias, Freshdesk).

    The token comes in the ``X-Sidecar-Token`` header or, for senders that can only template
    the URL, the ``token`` query parameter. Every configured token (rotation) is compared in
    constant time. Without a configured token, :func:`refuse_unsigned` decides. Raises :class:`AuthError`.
    """
    if not ps.webhook_secrets:
        refuse_unsigned(settings, ps.name)
        return
    given = header(headers, TOKEN_HEADER) or (query.get("token") if query else None)
    if not given:
        raise AuthError(f"missing {TOKEN_HEADER} header or token query parameter")
    ok = False
    for secret in ps.webhook_secrets:
        ok |= constant_time_equals(given.strip(), secret.get_secret_value())
    if not ok:
        raise AuthError("invalid token")


# Only ASCII letters are folded: str.lower() maps some non-ASCII letters onto ASCII ones (the Kelvin
# sign U+212A becomes "k"), which would let a look-alike address match a real agent's.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_EMAIL_RE = re.compile(r"[^\s@\"'<>()\[\],;:\\]{1,64}@[^\s@\"'<>()\[\],;:\\]{1,189}\.[^\s@\"'<>()\[\],;:\\.]{1,63}")


def email_key(email: Any) -> str | None:
    """The form two agent emails are compared in: stripped, ASCII letters lower-cased, nothing else
    folded (no Unicode case folding or normalisation, so look-alikes never match). None if not an email."""
    if not isinstance(email, str):
        return None
    e = email.strip().translate(_ASCII_LOWER)
    return e if len(e) <= 254 and e.isprintable() and _EMAIL_RE.fullmatch(e) else None


def event_hash(platform: str, *parts: Any) -> str:
    """Fallback dedupe key when the sender has no delivery id: a hash of platform + parts."""
    raw = "\x1f".join(str(p) for p in (platform, *parts))
    return "h" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


class Adapter(ABC):
    """Reads a ticket and writes results back into it, for one helpdesk.

    Write methods raise :class:`TransientError`, :class:`AuthError` or :class:`PermanentError`;
    they never swallow errors. ``write_back`` keys each step by event + step so a retried job
    skips what is already done.
    """

    platform: str = ""
    dry_run: bool = False

    @abstractmethod
    def fetch_ticket(self, ticket_id: str, hint: Any = None) -> Ticket:
        """The ticket with its whole thread (all pages), as a pipeline :class:`Ticket`."""

    @abstractmethod
    def post_internal_note(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        """Add a private note. Must not post twice: after an ambiguous failure, look for ``marker``."""

    @abstractmethod
    def add_tags(self, ticket: Ticket, tags: list[str]) -> None:
        """Add tags, keeping the ticket's existing tags."""

    @abstractmethod
    def set_priority(self, ticket: Ticket, priority: str) -> None:
        """Set the normalised priority (low | normal | high | urgent)."""

    @abstractmethod
    def set_fields(self, ticket: Ticket, fields: dict[str, Any]) -> None:
        """Set custom fields by this platform's field id, leaving other fields alone."""

    def apply_macro(self, ticket: Ticket, macro_id: str) -> str | None:
        """Apply a macro / canned response; returns its reply text (HTML) to include in the note, if any."""
        raise PermanentError(f"{self.platform}: macros are not supported")

    def assign_group(self, ticket: Ticket, group_id: str) -> None:
        """Assign the ticket to a group / team."""
        raise PermanentError(f"{self.platform}: group assignment is not supported")

    def post_public_reply(self, ticket: Ticket, html: str, text: str, marker: str) -> None:
        """Send a public reply to the customer (only when a rule allowed auto-reply)."""
        raise PermanentError(f"{self.platform}: public replies are not supported")

    def find_agent(self, email: str) -> Person | None:
        """The active agent whose helpdesk email is exactly ``email`` (see :func:`email_key`); None if none."""
        raise PermanentError(f"{self.platform}: agent lookup is not supported")

    def assign_agent(self, ticket_id: str, agent_id: str) -> None:
        """Make the agent ``agent_id`` the ticket's assignee (idempotent)."""
        raise PermanentError(f"{self.platform}: agent assignment is not supported")

    def assign_to_email(self, ticket_id: str, email: str) -> Person:
        """Assign the ticket to the agent whose helpdesk email matches ``email``; returns that agent.

        Raises :class:`AgentNotFound` (with a reason fit to show a person) when the address is not
        an email or no agent has it; :class:`TransientError` / :class:`AuthError` as any write.
        """
        key = email_key(email)
        if key is None:
            raise AgentNotFound(f"{self.platform}: {email!r} is not an email address")
        agent = self.find_agent(key)
        if agent is None or not agent.id:
            raise AgentNotFound(f"no {self.platform} agent has the email {key}")
        self.assign_agent(str(ticket_id), str(agent.id))
        log.info("%s ticket %s assigned to agent %s", self.platform, ticket_id, agent.id)
        return agent

    # True when update_ticket makes tags/fields/priority/group one write step in fewer requests.
    batch_updates: bool = False

    def update_ticket(self, ticket: Ticket, *, tags: list[str] | None = None, fields: dict[str, Any] | None = None,
                      priority: str | None = None, group_id: str | None = None) -> None:
        """Several property changes at once, in as few requests as the platform allows.

        Every part is idempotent (tags are added, fields and priority set), so the whole step
        may be repeated by a retried job. The default makes one call per kind of change.
        """
        if tags:
            self.add_tags(ticket, list(tags))
        if fields:
            self.set_fields(ticket, fields)
        if priority:
            self.set_priority(ticket, priority)
        if group_id:
            self.assign_group(ticket, group_id)

    def write_back(self, ticket: Ticket, outcome: Outcome, steps: StepLog) -> list[str]:
        """Do the writes ``outcome.plan`` asks for, each at most once per event.

        Order matters: a macro first (its reply text goes into the note), then the note (it is
        what agents need), then tags, fields, priority, assignment (one ``update`` step when the
        adapter batches them), and a public reply last. Returns the steps done in this call.
        """
        plan = outcome.plan
        done: list[str] = []
        eid = outcome.event.event_id

        def step(name: str, fn: Callable[[], Any]) -> None:
            if steps.is_done(self.platform, eid, name):
                log.info("%s ticket %s: step %s already done for event %s", self.platform, ticket.id, name, eid)
                return
            fn()
            steps.mark_done(self.platform, eid, name)
            done.append(name)

        macro_html: list[str] = []
        if plan is not None and plan.macro and plan.macro_mode == "apply":
            step("macro", lambda: macro_html.append(self.apply_macro(ticket, plan.macro) or ""))
        note_html, note_text = outcome.note_html, outcome.note_text
        if macro_html and macro_html[0]:
            # The macro's / canned response's reply text goes into the note for the agent to send:
            # the sidecar never sends it to the customer itself.
            note_html, note_text = with_macro_text(note_html, note_text, plan.macro, macro_html[0])
        step("note", lambda: self.post_internal_note(ticket, note_html, note_text, outcome.marker))
        if plan is not None:
            new_tags = [t for t in plan.tags if t not in ticket.tags]
            # Only what changes: every skipped write is one API call less against the account's budget.
            fields = {k: v for k, v in (plan.fields or {}).items() if ticket.custom_fields.get(str(k)) != v}
            priority = plan.priority if plan.priority and plan.priority != ticket.priority else None
            if self.batch_updates:
                if new_tags or fields or priority or plan.assign_group:
                    step("update", lambda: self.update_ticket(ticket, tags=new_tags, fields=fields,
                                                              priority=priority, group_id=plan.assign_group))
            else:
                if new_tags:
                    step("tags", lambda: self.add_tags(ticket, new_tags))
                if fields:
                    step("fields", lambda: self.set_fields(ticket, fields))
                if priority:
                    step("priority", lambda: self.set_priority(ticket, priority))
                if plan.assign_group:
                    step("assign", lambda: self.assign_group(ticket, plan.assign_group))
        if outcome.public_reply:
            # The reply is plain text (a model's or a template's): sent as escaped HTML with our own
            # line breaks, so no customer- or model-supplied markup can become live.
            reply_text = outcome.public_reply
            step("reply", lambda: self.post_public_reply(ticket, reply_html(reply_text), reply_text, outcome.marker))
        return done


def reply_html(text: str) -> str:
    """Plain text as inert HTML for a public reply: everything escaped, paragraphs and line breaks kept."""
    from html import escape

    paras = [p for p in re.split(r"\n\s*\n", (text or "").strip()) if p.strip()]
    return "".join("<p>" + escape(p.strip()).replace("\n", "<br>") + "</p>" for p in paras)


def with_macro_text(note_html: str, note_text: str, macro_id: Any, macro_html: str) -> tuple[str, str]:
    """The note with a macro's reply text appended, its HTML cleaned by :func:`clean_macro_html`."""
    import re
    from html import escape, unescape

    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", macro_html)).split())
    html = (f"{note_html}<hr><p><b>Macro {escape(str(macro_id))} reply text (not sent):</b></p>"
            f"<blockquote>{clean_macro_html(macro_html)}</blockquote>")
    return html, f"{note_text}\n\nMacro {macro_id} reply text (not sent):\n{text}"


# What a macro's reply text keeps: formatting and http(s)/mailto links. Its author is the helpdesk's
# admin, but the helpdesk fills its placeholders ({{ticket.title}}, {{ticket.requester.name}}) with
# the customer's words before we see it (Zendesk's apply preview): whether it escapes them is the
# helpdesk's business, what our note carries is ours (review of 2026-12-01).
_MACRO_TAGS = frozenset("p br div span b strong i em u s ul ol li blockquote pre code hr h1 h2 h3 h4 h5 h6 "
                        "table thead tbody tr td th a".split())
# Dropped with their content (the rest of a tag outside _MACRO_TAGS is dropped, its text kept).
_MACRO_DROP = frozenset("script style iframe object embed template noscript svg math title textarea select".split())


def clean_macro_html(html: str) -> str:
    """``html`` rebuilt from an allow-list by nh3 (ammonia, an HTML5 parser): only :data:`_MACRO_TAGS`, no
    attribute but an ``a``'s http(s)/mailto ``href``, no script/style content, every tag closed where it was
    opened (an unbalanced ``</blockquote>`` cannot close the note's quote and let text pose as the note's own)."""
    import nh3

    return nh3.clean(html or "", tags=set(_MACRO_TAGS), clean_content_tags=set(_MACRO_DROP),
                     attributes={"a": {"href"}}, url_schemes={"http", "https", "mailto"}, link_rel=None,
                     strip_comments=True)


class StepLog(ABC):
    """Which write steps are done for an event (Redis in production, SQLite in embedded mode)."""

    @abstractmethod
    def is_done(self, platform: str, event_id: str, step: str) -> bool: ...

    @abstractmethod
    def mark_done(self, platform: str, event_id: str, step: str) -> None: ...


class MemoryStepLog(StepLog):
    """Write steps done in this process only: previews (``replay`` without ``--write``) and tests."""

    def __init__(self) -> None:
        self.done: set[tuple[str, str, str]] = set()

    def is_done(self, platform: str, event_id: str, step: str) -> bool:
        return (platform, event_id, step) in self.done

    def mark_done(self, platform: str, event_id: str, step: str) -> None:
        self.done.add((platform, event_id, step))
