"""The internal note agents read: triage, recommended action and why, draft, sources, warnings.

Everything that came from the customer or a model is HTML-escaped; links are rendered only
from trusted knowledge-base metadata (source URLs), never from model or customer text.
"""

from __future__ import annotations

from html import escape

from pipeline.models import Draft, Outcome, Plan, Triage

BANNER_APPROVAL = "APPROVAL REQUIRED: sensitive request, a human must decide. Nothing has been sent to the customer."


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
    return lines


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
            add("<p><strong>Recommended action</strong></p><ul>" + "".join(f"<li>{escape(a)}</li>" for a in acts) + "</ul>",
                "Recommended action:\n" + "\n".join(f"- {a}" for a in acts))
    if d is not None:
        _render_draft(d, add)
    ref = f"ref {outcome.marker}"
    add(f'<p style="color:#999;font-size:11px"><!-- {escape(outcome.marker)} -->{escape(ref)}</p>', ref)
    return "\n".join(html), "\n\n".join(text)


def _render_draft(d: Draft, add) -> None:
    for w in d.warnings:
        add(f"<p><strong>⚠ {escape(w)}</strong></p>", f"⚠ {w}")
    if d.text:
        label = "Draft reply (template)" if d.kind == "template" else "Draft reply"
        body = escape(d.text).replace("\n", "<br>")
        add(f"<p><strong>{label}</strong></p><blockquote>{body}</blockquote>", f"{label}:\n{d.text}")
    if d.sources:
        items_h, items_t = [], []
        for s in d.sources:
            title = escape(s.title)
            items_h.append(f'<li><a href="{escape(s.url, quote=True)}">{title}</a></li>' if s.url else f"<li>{title}</li>")
            items_t.append(f"- {s.title}" + (f" ({s.url})" if s.url else ""))
        add("<p><strong>Sources</strong></p><ul>" + "".join(items_h) + "</ul>", "Sources:\n" + "\n".join(items_t))
