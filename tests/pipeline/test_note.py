"""The internal note: one readable block, escaped, links only from Source.url, marker last."""

from __future__ import annotations

from pipeline.models import Action, Draft, Outcome, Plan, Source, TicketEvent, Triage, marker_for
from pipeline.note import BANNER_APPROVAL, render_note


def _outcome(**draft_kw) -> Outcome:
    sources = [
        Source(id="return-policy", title="Return policy - 30-day returns", url="https://help.example/returns",
               score=0.71, text="...", source_type="policy"),
        Source(id="evil", title="Bad <script>alert(1)</script>", url="javascript:alert(1)", score=0.4, text="..."),
        Source(id="ticket:zendesk:9", title="Resolved ticket", url=None, score=0.3, text="...", source_type="ticket"),
    ]
    d = Draft(text=draft_kw.pop("text", "Hi <b>Anna</b>,\nReturns are free within 30 days [1]."), kind="llm",
              sources=sources, used_source_ids=["return-policy"], confidence=0.8,
              warnings=["Ungrounded claim: the draft mentions refund but no retrieved policy passage covers it."],
              **draft_kw)
    plan = Plan(intent="return_refund", band="high", approval_required=True, sensitive=True,
                actions=[Action(kind="tag", value="ai-intent-return_refund", reason="intent tag"),
                         Action(kind="review", reason="sensitive intent: a human decides")],
                escalate=["asks for a human"], reasons=["return_refund is sensitive"])
    return Outcome(event=TicketEvent(platform="zendesk", event_id="ev-9", ticket_id="9"), ticket_id="9",
                   triage=Triage(intent="return_refund", confidence=0.86, priority="normal", sentiment="negative",
                                 language="en", signals=["asks_for_human"]),
                   plan=plan, draft=d, marker=marker_for("ev-9"))


def test_note_has_every_part_in_order_and_the_marker_last():
    html, text = render_note(_outcome())
    order = ["AI triage", BANNER_APPROVAL, "Intent: return_refund (86%", "Recommended action",
             "tag ai-intent-return_refund: intent tag", "Escalated: asks for a human", "Why: return_refund is sensitive",
             "Ungrounded claim", "Draft reply (AI", "Returns are free within 30 days", "Sources"]
    for body in (html, text):
        positions = [body.find(x if body is text else x.replace("<", "&lt;")) for x in order]
        assert all(p >= 0 for p in positions), list(zip(order, positions, strict=True))
        assert positions == sorted(positions)
    assert text.rstrip().endswith("ref sidecar-event:ev-9")
    assert html.rstrip().endswith("ref sidecar-event:ev-9</p>") and "<!-- sidecar-event:ev-9 -->" in html


def test_everything_from_customer_or_model_is_escaped_and_links_come_only_from_sources():
    html, text = render_note(_outcome(text="Hi <img src=x onerror=alert(1)> <a href=\"http://evil\">x</a>"))
    assert "<img" not in html and "<a href=\"http://evil\"" not in html and "&lt;img" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    hrefs = [h.split('"')[0] for h in html.split('href="')[1:]]
    assert hrefs == ["https://help.example/returns"]  # javascript: and missing URLs are not linked
    assert "javascript:" not in html
    assert "[1] Return policy - 30-day returns <https://help.example/returns> (policy, relevance 0.71 (used))" in text


def test_template_label_and_no_banner_when_not_required():
    o = _outcome()
    o.plan.approval_required = False
    o.draft.kind = "template"
    html, text = render_note(o)
    assert BANNER_APPROVAL not in text and "Draft reply (template)" in text


def test_note_without_draft_or_plan():
    o = _outcome()
    o.draft, o.plan = None, None
    html, text = render_note(o)
    assert "Draft reply" not in text and "Sources" not in text and text.endswith("ref sidecar-event:ev-9")
