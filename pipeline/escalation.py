"""The escalation message: reason labels, the note's "Slack was alerted" line and the Slack alert's
text and Block Kit blocks. Pure functions of the pipeline's own types; sending (Slack, dedupe, threads)
is the runtime's job (``app/escalate.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pipeline.models import CUSTOMER, Outcome, Ticket

REASON_LABELS = {
    "asks_for_human": "Customer asks for a human",
    "very_negative": "Very negative sentiment",
    "legal_threat": "Legal threat",
    "churn_risk": "Churn risk",
    "urgent": "Urgent priority",
    "low_confidence": "Confidence too low to draft",
    "sensitive_amount": "Sensitive request above the configured amount",
    "sla_warning": "SLA warning: 75% of the first-response target passed",
    "sla_breach": "SLA breached: no agent reply within the target",
    "always": "Escalated by rule for this intent",
    "rule": "Escalated by rule for this intent",
    "high": "High priority",
}

def reason_label(reason: str) -> str:
    """Human label of a reason code (unknown codes are shown as they are)."""
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def alerted_note_line(reasons: Iterable[str]) -> str:
    """The one line for the ticket's note, e.g. ``Slack was alerted: Legal threat, Urgent priority``; ``""`` if none."""
    rs = [reason_label(r) for r in reasons]
    return f"Slack was alerted: {', '.join(rs)}" if rs else ""


# ---------------------------------------------------------------- message


# Bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069): in an alert they let customer text
# reorder what the channel reads ("refund ‮gnp.exe" shows as "refund exe.png"), beyond its own field.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def slack_escape(text: str) -> str:
    """Escape Slack's control characters so customer text cannot ping ``@channel`` or forge links, and drop
    bidi overrides so it cannot reorder how the alert reads (right-to-left letters themselves stay)."""
    return text.translate(_BIDI_CONTROLS).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack's mrkdwn styling characters, shown as look-alikes in customer text: a name or subject cannot
# bold, italicise, strike or code-format its way into looking like the alert's own labels.
_STYLE_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"})
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def slack_inline(text: str, *, keep: str = "") -> str:
    """Customer text for one line of an alert: :func:`slack_escape`, every line break and control character
    made a space (a name cannot add a forged ``*Reason*`` field or a ``>`` quote), and mrkdwn's styling
    characters (``* _ ~ `` ` ``) replaced by look-alikes, except those in ``keep`` (an email's ``_``)."""
    text = " ".join(_CONTROLS.sub(" ", text or "").split())
    table = {k: v for k, v in _STYLE_LOOKALIKES.items() if chr(k) not in keep}
    return slack_escape(text.translate(table))


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object that Slack does not auto-parse: a plain ``@channel``, ``#general`` or bare
    URL in customer text stays text (only the markup we write ourselves is interpreted)."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _message_text(msg: Any) -> str:
    """The new text of a message (quoted history and signature removed), falling back to the raw text."""
    try:
        from pipeline.normalize import message_text

        return message_text(msg) or msg.body_text or ""
    except Exception:  # normalisation is heuristic; an alert must still go out
        return msg.body_text or ""


def _customer(ticket: Ticket) -> str:
    """The requester for the alert, escaped: one line, no Slack markup or styling from the name."""
    r = ticket.requester
    name = slack_inline(_short(r.name or "", 120)) if r.name else ""
    email = slack_inline(_short(r.email or "", 120), keep="_") if r.email else ""
    if name and email:
        return f"{name} &lt;{email}&gt;"
    return name or email or "unknown"


def _tried(outcome: Outcome, ticket: Ticket) -> list[str]:
    """What the sidecar (and agents) already did, in a few words each."""
    out = []
    p, d = outcome.plan, outcome.draft
    if d and d.kind != "none" and d.text:
        out.append(f"draft reply prepared ({d.kind}, {len(d.used_source_ids or d.sources)} source(s)) as internal note")
    elif p and not p.draft:
        out.append("no draft (rule routes this intent to a human)")
    elif p:
        out.append("no draft (confidence too low or no grounded answer)")
    if p and p.macro:
        out.append(f"macro {p.macro} {'applied' if p.macro_mode == 'apply' else 'suggested'}")
    if outcome.public_reply:
        out.append("auto-reply sent")
    if p and p.tags:
        out.append("tags " + ", ".join(p.tags[:6]))
    agent_replies = sum(1 for m in ticket.messages if m.author_role == "agent" and m.public)
    out.append(f"{agent_replies} agent repl{'y' if agent_replies == 1 else 'ies'} so far")
    return out


TAKE_ACTION, ACK_ACTION = "sidecar_take", "sidecar_ack"


def build_blocks(outcome: Outcome, ticket: Ticket, reasons: list[str], *, summary_chars: int = 280,
                 update: bool = False, buttons: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """The notification text and Block Kit blocks of an alert (customer text escaped and shortened).

    ``buttons`` adds *Take it* and *Acknowledge* (only where Slack can call us back, and only on the
    thread's first alert: that is the message they update).
    """
    t, p = outcome.triage, outcome.plan
    intent = (t.intent if t else None) or (p.intent if p else None) or "unknown"
    priority = (p.priority if p and p.priority else None) or (t.priority if t else None) or ticket.priority or "normal"
    labels = ", ".join(reason_label(r) for r in reasons)
    platform = outcome.event.platform
    title = f"{'Update' if update else 'Escalation'}: {labels}"
    # The fallback text (notifications, clients without blocks) is escaped like the blocks:
    # nothing here may become <!channel> or a <url|label> link.
    text = slack_escape(f"{title} — {platform} ticket {ticket.id} ({intent}, {priority})")
    msg = ticket.latest_customer_message(outcome.event.message_id)
    wants = _short(_message_text(msg) if msg and msg.author_role == CUSTOMER else "", summary_chars)
    subject = _short(ticket.subject, 120)
    fields = [
        f"*Reason*\n{slack_escape(labels)}",
        f"*Intent*\n{slack_escape(intent)}" + (f" ({t.confidence:.0%})" if t else ""),
        f"*Priority*\n{slack_escape(priority)}",
        f"*Customer*\n{_customer(ticket)}",
    ]
    if t:
        fields.append(f"*Sentiment*\n{slack_escape(t.sentiment)}")
    fields.append(f"*Helpdesk*\n{slack_escape(platform)} #{slack_escape(str(ticket.id))}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _short(title, 150), "emoji": True}},
        {"type": "section", "fields": [_mrkdwn(f) for f in fields]},
    ]
    wants_txt = f"*{slack_inline(subject)}*\n" if subject else ""
    wants_txt += f">{slack_inline(wants)}" if wants else "_(no customer text)_"
    blocks.append({"type": "section", "text": _mrkdwn(f"*What the customer wants*\n{wants_txt}")})
    blocks.append({"type": "section", "text": _mrkdwn("*What was tried*\n" + "\n".join(
        f"• {slack_escape(x)}" for x in _tried(outcome, ticket)))})
    url = outcome.ticket_url or ticket.url
    elements: list[dict[str, Any]] = []
    if buttons:
        value = f"{platform}:{ticket.id}"[:200]
        elements += [
            {"type": "button", "text": {"type": "plain_text", "text": "Take it"}, "style": "primary",
             "action_id": TAKE_ACTION, "value": value},
            {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "action_id": ACK_ACTION,
             "value": value},
        ]
    if url and url.startswith(("https://", "http://")):
        elements.append({"type": "button", "text": {"type": "plain_text", "text": "Open ticket"}, "url": url,
                         "action_id": "open_ticket"})
    if elements:
        blocks.append({"type": "actions", "block_id": "sidecar_actions", "elements": elements})
    blocks.append({"type": "context", "elements": [
        _mrkdwn(f"event {slack_escape(outcome.event.event_id)} · reasons {slack_escape(', '.join(reasons))}")]})
    return text, blocks
