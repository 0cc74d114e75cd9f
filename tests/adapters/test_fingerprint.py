"""adapters.http.fingerprint: the thread check after an ambiguous send reads a bounded stretch of each message."""

from __future__ import annotations

import adapters.http as http
from pipeline.normalize import MAX_HTML_CHARS


def test_fingerprints_of_ordinary_messages_are_unchanged():
    # The values the uncapped version gave (a reply sent before the cap is still recognised after it).
    assert http.fingerprint("<p>Hello <b>Anna</b>,</p>\n<p>your   refund was issued.</p>") == \
        "Hello Anna , your refund was issued."
    assert http.fingerprint("Hi Anna,\n\n  we sent it   today.") == "Hi Anna, we sent it today."
    long = "<p>" + "word " * 100 + "</p>"
    assert http.fingerprint(long) == "word " * 32  # cut at 160 characters
    assert http.fingerprint("") == ""


def test_a_huge_agent_message_is_parsed_only_up_to_the_cap(monkeypatch):
    seen: list[int] = []
    real = http.html_to_text

    def spy(html):
        seen.append(len(html or ""))
        return real(html)

    monkeypatch.setattr(http, "html_to_text", spy)
    reply = "<p>Hello Anna, your parcel left our warehouse today and should arrive on Friday.</p>"
    huge = reply + "<div><span>log line</span></div>" * 200_000  # ~6.4 MB of markup
    fp = http.fingerprint(reply)
    # Our reply is still found at the start of a huge message, and no more than the cap was parsed.
    assert fp and fp in http.fingerprint(huge, 100000)
    assert seen and max(seen) <= MAX_HTML_CHARS


def test_a_huge_plain_text_message_is_bounded_too():
    text = "token " * 2_000_000  # 12 MB, no markup
    assert len(http.fingerprint(text, 10**9)) <= MAX_HTML_CHARS
