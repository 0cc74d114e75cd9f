"""The internal note agents read: triage, recommended action and why, draft, sources, warnings.

One block, rendered as HTML (Zendesk, Gorgias, Freshdesk all accept it) and as plain text.
Everything that came from the customer or a model is HTML-escaped; links are rendered only
from knowledge-base metadata (``Source.url``, http/https only), never from model or customer
text. The last line carries the event marker, so a retry can find a note already posted.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from urllib.parse import urlparse

from pipeline.models import Draft, Outcome, Plan, Source, Triage

SIMILAR_TICKET = "Similar past ticket"
BANNER_APPROVAL = "APPROVAL REQUIRED: sensitive request, a human must decide. Nothing has been sent to the customer."
_KIND_LABEL = {"llm": "Draft reply (AI, grounded on the sources below)", "template": "Draft reply (template)",
               "none": "Draft reply"}


def _triage_line(t: Triage) -> str:
    sig = f" · signals: {', '.join(t.signals)}" if t.signals else ""
    return (f"Intent: {t.intent} ({t.confidence:.0%}, {t.classifier}) · Priority: {t.priority} · "
            f"Sentiment: {t.sentiment} · Language: {t.language}{sig}")


def _action_lines(plan: Plan) -> list[str]:
    lines = []
    if plan.band:
        lines.append(f"Confidence band: {plan.band}")
    for a in plan.actions:
        val = "" if a.value in (None, "", True) else f" {a.value}"
        lines.append(f"{a.kind}{val}: {a.reason}" if a.reason else f"{a.kind}{val}")
    if plan.escalate:
        lines.append(f"Escalated: {'; '.join(plan.escalate)}")
    for r in plan.reasons:
        if r not in lines:
            lines.append(f"Why: {r}")
    return lines


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None (no javascript:, data:, relative paths)."""
    if not url:
        return None
    u = urlparse(url.strip())
    return url.strip() if u.scheme in ("http", "https") and u.netloc else None


def render_note(outcome: Outcome) -> tuple[str, str]:
    """(html, text) of the note for ``outcome``; both end with the event marker."""
    t, plan, d = outcome.triage, outcome.plan, outcome.draft
    html: list[str] = []
    text: list[str] = []

    def add(h: str, s: str) -> None:
        html.append(h)
        text.append(s)

    add("<p><strong>AI triage (sidecar)</strong></p>", "AI triage (sidecar)")
    if plan is not None and plan.approval_required:
        add(f"<p><strong>⚠ {escape(BANNER_APPROVAL)}</strong></p>", f"⚠ {BANNER_APPROVAL}")
    if t is not None:
        line = _triage_line(t)
        add(f"<p>{escape(line)}</p>", line)
        if t.fallback_reason:
            add(f"<p>Note: {escape(t.fallback_reason)}</p>", f"Note: {t.fallback_reason}")
    if plan is not None:
        acts = _action_lines(plan)
        if acts:
            add("<p><strong>Recommended action</strong></p><ul>" + "".join(f"<li>{escape(a)}</li>" for a in acts)
                + "</ul>", "Recommended action:\n" + "\n".join(f"- {a}" for a in acts))
    if outcome.alerted:
        from pipeline.escalation import alerted_note_line

        line = alerted_note_line(outcome.alerted)
        add(f"<p>{escape(line)}</p>", line)
    if outcome.alert_error:
        line = "Slack alert failed, it will be retried: " + outcome.alert_error
        add(f"<p><strong>⚠ {escape(line)}</strong></p>", f"⚠ {line}")
    if d is not None:
        _render_draft(d, add)
    ref = f"ref {outcome.marker}"
    add(f'<p style="color:#999;font-size:11px"><!-- {escape(outcome.marker)} -->{escape(ref)}</p>', ref)
    return "\n".join(html), "\n\n".join(text)


def _render_sources(sources: list[Source], used: set[str]) -> tuple[str, str]:
    items_h, items_t = [], []
    for i, s in enumerate(sources, 1):
        # A past ticket is cited as what it is, never by its (another customer's) subject or as a policy.
        label = SIMILAR_TICKET if s.source_type == "ticket" else s.title
        title = escape(label)
        mark = " (used)" if s.id in used else ""
        kind = "guidance only, not a policy" if s.source_type == "ticket" else s.source_type
        meta = f"{kind}, relevance {s.score:.2f}{mark}"
        url = safe_url(s.url)
        link = f'<a href="{escape(url, quote=True)}">{title}</a>' if url else title
        items_h.append(f"<li>[{i}] {link} <small>({escape(meta)})</small></li>")
        items_t.append(f"[{i}] {label}" + (f" <{url}>" if url else "") + f" ({meta})")
    return ("<p><strong>Sources</strong></p><ul>" + "".join(items_h) + "</ul>",
            "Sources:\n" + "\n".join(items_t))


def _render_draft(d: Draft, add: Callable[[str, str], None]) -> None:
    for w in d.warnings:
        add(f"<p><strong>⚠ {escape(w)}</strong></p>", f"⚠ {w}")
    if d.text:
        label = _KIND_LABEL.get(d.kind, "Draft reply")
        if d.kind == "llm" and d.confidence:
            label += f", self-rated confidence {d.confidence:.0%}"
        # Escaped, then only our own <br>: nothing in the draft can become markup or a link.
        body = escape(d.text).replace("\n", "<br>")
        add(f"<p><strong>{escape(label)}</strong></p><blockquote>{body}</blockquote>", f"{label}:\n{d.text}")
    if d.sources:
        add(*_render_sources(d.sources, set(d.used_source_ids)))
