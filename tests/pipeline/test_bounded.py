"""Bounded work: whatever a message's size, each model sees a bounded slice of it (no timings here:
``bench/bounded_work.py`` measures; these check what reaches each step)."""

from __future__ import annotations

import pytest

from pipeline import signals
from pipeline.models import CUSTOMER, Message, Ticket
from pipeline.normalize import MAX_PARSE_CHARS, MAX_TEXT_CHARS, clip, message_text, normalize

OPENING = "Where is my order #4412? It was due last week and I need it for a wedding on Saturday. "
FILLER = "log line 2026-11-29 12:00:01 INFO request served in 12 ms status 200 path /api/v1/items "


def _ticket(body_text: str = "", body_html: str | None = None) -> Ticket:
    return Ticket(platform="zendesk", id="1", subject="Order late",
                  messages=[Message(id="m1", author_role=CUSTOMER, body_text=body_text, body_html=body_html)])


@pytest.mark.parametrize("kind", ["text", "html"])
def test_a_megabyte_message_is_cut_to_the_model_budget_keeping_its_opening(kind):
    big = OPENING + FILLER * (1_000_000 // len(FILLER))
    t = _ticket(body_text=big) if kind == "text" else _ticket(body_html="<p>" + big + "</p>")
    text = normalize(t, "m1")
    assert len(text) <= MAX_TEXT_CHARS
    assert "Where is my order #4412?" in text


def test_the_reply_parser_never_sees_more_than_its_budget(monkeypatch):
    from pipeline import normalize as norm

    seen: list[int] = []
    real = norm._parser.read

    def spy(text):
        seen.append(len(text))
        return real(text=text)

    monkeypatch.setattr(norm._parser, "read", lambda text: spy(text))
    message_text(Message(id="m", author_role=CUSTOMER, body_text=FILLER * 20_000))
    assert seen and max(seen) <= MAX_PARSE_CHARS


def test_sentiment_language_and_signals_look_at_a_bounded_opening(monkeypatch):
    seen: dict[str, int] = {}

    def spy_vader(text):
        seen["sentiment"] = len(text)
        return -0.7

    def spy_langid(text):
        seen["language"] = len(text)
        return "en", 0.99

    import pipeline.sentiment

    monkeypatch.setattr(pipeline.sentiment, "vader_compound", spy_vader)
    monkeypatch.setattr(signals, "_identify", spy_langid)
    huge = "This is terrible, I want to speak to a real person now. " + "blah " * 400_000
    assert signals.vader_sentiment(huge)[0] == "very_negative"
    assert signals.detect_language(huge) == "en"
    assert seen["sentiment"] <= signals.SENTIMENT_CHARS and seen["language"] <= signals.LANGUAGE_CHARS
    assert "asks_for_human" in signals.detect_signals(huge)


def test_clip_cuts_at_a_word_boundary():
    assert clip("short", 10) == "short"
    assert clip("alpha beta gamma delta", 12) == "alpha beta"
    assert len(clip("x" * 50, 10)) == 10


@pytest.mark.parametrize("html", [
    "<div>" * 3000 + "I want a refund" + "</div>" * 3000,                    # nesting
    "<div>" * 3000 + "x" + "</div>" * 3000 + "<br>" * 3000 + "refund",       # breaks after a deep subtree
    "<p>" + "<span>" * 3000 + "refund",                                       # unclosed
])
def test_deep_html_is_read_without_inserting_into_the_parsed_tree(monkeypatch, html):
    """Each insertion into bs4's tree walks to a node's last descendant: a "\\n" appended to each of n
    nested blocks (or a <br> replaced after a deep subtree) cost O(n^2) (16,000 nested <div>, 176 kB,
    inside the 200 kB HTML budget: 29 s of CPU for one message). The text is now read in one walk."""
    from bs4.element import Tag

    from pipeline.normalize import html_to_text

    def refuse(*a, **k):
        raise AssertionError("html_to_text inserted into the parsed tree")

    for name in ("append", "insert", "replace_with", "insert_after", "insert_before"):
        monkeypatch.setattr(Tag, name, refuse)
    assert "refund" in html_to_text(html)


@pytest.mark.parametrize("html,text", [
    ("<p>Hello<br>there</p><p>Second <b>bold</b> line</p>", "Hello\nthere\nSecond bold line"),
    ("<div>a<div>b</div>c</div><ul><li>one</li><li>two</li></ul>", "ab\nc\none\ntwo"),
    ("<p>keep</p><blockquote>quoted</blockquote><div class='gmail_quote'>old</div>", "keep"),
    ("<p>x<!-- a comment --></p><script>evil()</script><style>p{}</style><p>y</p>", "x\ny"),
    ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "ab\nc"),
    ("plain <i>inline</i> text&amp;more", "plain inline text&more"),
])
def test_html_to_text_keeps_paragraphs_lines_and_drops_quotes(html, text):
    """What the text was before the one-walk reading (a block ends a line; it does not start one)."""
    from pipeline.normalize import html_to_text

    assert html_to_text(html) == text
