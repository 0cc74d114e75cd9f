"""Customer text as the classifier should see it: HTML to text, quoted replies and signatures removed.

HTML is parsed with BeautifulSoup (quote blocks from Gmail, Outlook, Gorgias and Zendesk are
dropped before extracting text); quoted history and signatures in plain text are removed with
``mail-parser-reply``, which knows the "On ... wrote:" headers of many languages.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from typing import Any

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, NavigableString, Tag
from mailparser_reply import EmailReplyParser

from pipeline.models import Message, Ticket

log = logging.getLogger(__name__)

warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)

# Quote containers used by common mail clients and helpdesks.
_QUOTE_SELECTORS = (
    "blockquote",
    ".gmail_quote",
    ".gorgias_quote",
    "[data-gorgias-quote-depth]",
    ".zd-quote",
    "#divRplyFwdMsg",
    "#appendonsend",
    ".yahoo_quoted",
    ".moz-cite-prefix",
    ".freshdesk_quote",
)
_LANGS = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da"]
_parser = EmailReplyParser(languages=_LANGS)
_BLOCKS = ["p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "ul", "ol"]
# Bounded work whatever the message size (a 1 MB email of pasted logs or a forwarded thread must
# not hold the queue): the HTML parser sees at most MAX_HTML_CHARS, the reply/signature parser
# (its cost grows faster than the text) MAX_PARSE_CHARS, and every model MAX_TEXT_CHARS, cut at
# a word boundary. What a customer writes in one message fits well inside these.
MAX_HTML_CHARS = 200_000
MAX_PARSE_CHARS = 20_000
MAX_TEXT_CHARS = 8_000
_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, quotes removed, paragraphs kept as blank lines."""
    soup = BeautifulSoup(html, "html.parser")
    for sel in _QUOTE_SELECTORS:
        for node in soup.select(sel):
            node.decompose()
    for node in soup(["script", "style", "head"]):
        node.decompose()
    return tidy(_text_of(soup))


_BLOCK_SET = frozenset(_BLOCKS)


def _text_of(soup: BeautifulSoup) -> str:
    """The tree's text in one walk without recursion: ``<br>`` is a line break, and a block element
    ends a line (inline ones, links and bold, must not split a sentence); strings of the kinds
    ``get_text`` reads (no comments). Nothing is inserted into the tree: each insertion walks to a
    node's last descendant, so appending a line break to each of n nested blocks cost O(n^2)
    (16,000 nested ``<div>``, 176 kB: 29 s of CPU for one message)."""
    types = soup.interesting_string_types or Tag.MAIN_CONTENT_STRING_TYPES
    out: list[str] = []
    stack: list[tuple[Iterator[Any], bool]] = [(iter(soup.contents), False)]
    while stack:
        children, block = stack[-1]
        node = next(children, None)
        if node is None:
            stack.pop()
            if block:
                out.append("\n")
        elif isinstance(node, Tag):
            if node.name == "br":
                out.append("\n")
            else:
                stack.append((iter(node.contents), node.name in _BLOCK_SET))
        elif isinstance(node, NavigableString) and (type(node) is types if isinstance(types, type)
                                                     else type(node) in types):
            out.append(str(node))
    return "".join(out)


def tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def strip_reply(text: str) -> str:
    """Drop quoted history and signature from a plain-text message (keeps the text if that empties it)."""
    if not text.strip():
        return ""
    try:
        parsed = _parser.read(text=text)
        body = parsed.replies[0].body if parsed.replies else text
    except Exception:  # the parser is heuristic; never lose the message over it
        log.warning("reply parser failed; using the full text", exc_info=True)
        body = text
    body = tidy(body)
    return body or tidy(text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at the last whitespace when there is one near."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return cut[:space] if space > limit * 0.8 else cut


def message_text(message: Message) -> str:
    """The new text the author wrote in this message (at most :data:`MAX_TEXT_CHARS`)."""
    if message.body_html:
        raw = html_to_text(message.body_html[:MAX_HTML_CHARS])
    else:
        raw = tidy(clip(message.body_text or "", MAX_PARSE_CHARS * 2))
    return clip(strip_reply(clip(raw, MAX_PARSE_CHARS)), MAX_TEXT_CHARS)


def normalize(ticket: Ticket, message_id: str | None = None) -> str:
    """Text to classify: the customer message the event is about (subject added for the first one)."""
    msg = ticket.latest_customer_message(message_id)
    if msg is None:
        return tidy(ticket.subject or "")
    text = message_text(msg)
    customers = ticket.customer_messages()
    is_first = bool(customers) and customers[0].id == msg.id
    if is_first and ticket.subject and ticket.subject.strip().lower() not in text.lower():
        # The subject often carries the intent ("Refund request") when the body is short.
        text = f"{ticket.subject.strip()}\n\n{text}" if text else ticket.subject.strip()
    return clip(text, MAX_TEXT_CHARS)


EARLIER_CHARS = 400  # the earlier message a follow-up is searched with: at most its last this many characters


def earlier_message(ticket: Ticket, message_id: str | None = None, limit: int = EARLIER_CHARS) -> str:
    """The customer's message before the one answered, in this ticket, as :func:`normalize` reads it (the
    subject with the first one), cut to its last ``limit`` characters at a word; ``""`` when there is none.

    Only one earlier message and only this ticket's: a follow-up ("and the return label?") is searched
    with the conversation it leans on (``pipeline.draft.retrieve``), at a bounded cost whatever its size
    (:func:`message_text` already bounds the parsing).
    """
    msg = ticket.latest_customer_message(message_id)
    customers = ticket.customer_messages()
    ids = [str(m.id) for m in customers]
    if msg is None or str(msg.id) not in ids:
        return ""
    i = ids.index(str(msg.id))
    if i == 0:
        return ""
    text = normalize(ticket, customers[i - 1].id)
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    space = min((p for p in (tail.find(" "), tail.find("\n")) if p >= 0), default=-1)
    return tail[space + 1:] if 0 <= space < limit * 0.2 else tail
