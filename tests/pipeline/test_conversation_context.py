"""A follow-up ("How long does that take?") is searched with the customer's previous message in the ticket."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.draft import fuse_with_context, leans_on_context
from pipeline.flow import Capabilities, decide_message
from pipeline.models import AGENT, CUSTOMER, Message, Person, Source, Ticket
from pipeline.normalize import EARLIER_CHARS, earlier_message
from tests.fakes.knowledge import FakeKB

ROOT = Path(__file__).resolve().parents[2]

RETURNS = Source(id="kb-returns", title="Return your boots", score=0.8,
                 text="Returns: boots and shoes can be sent back within 30 days with the prepaid label.")
INTERNATIONAL = Source(id="kb-international", title="International shipping", score=0.8,
                       text="We ship to Canada and 40 other countries; international delivery options are listed.")
PASSWORD = Source(id="kb-password", title="Reset your password", score=0.8,
                  text="Reset your password from the login page with the link we email you.")
_STOP = frozenset("what about that does this with have your from they them will there".split())


class WordKB(FakeKB):
    """Ranks its passages by the query words (4 letters or more) they contain; none in common: not found."""

    def search(self, text, *, k, intent=None, brand=None, embedding=None, language=None, strict_language=False):
        self.queries.append((text, brand))
        words = {w for w in re.findall(r"\w{4,}", text.lower()) if w not in _STOP}
        scored = [(len(words & set(re.findall(r"\w+", s.text.lower()))), i, s) for i, s in enumerate(self.sources)]
        return [s for n, _, s in sorted(scored, key=lambda x: (-x[0], x[1])) if n > 0][:k]


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config")


def _ticket(*texts: str, tid: str = "7") -> Ticket:
    """Customer messages with an agent reply after each but the last."""
    msgs: list[Message] = []
    for i, t in enumerate(texts):
        msgs.append(Message(id=f"{tid}-c{i}", author_role=CUSTOMER, body_text=t))
        if i < len(texts) - 1:
            msgs.append(Message(id=f"{tid}-a{i}", author_role=AGENT, body_text="Happy to help, Greta from support."))
    return Ticket(platform="zendesk", id=tid, subject="Question", requester=Person(name="Anna Martin"), brand="acme",
                  messages=msgs)


def _decide(ticket: Ticket, kb: FakeKB, cfg):
    return decide_message(ticket, ticket.customer_messages()[-1].id, cfg, "zendesk", Capabilities(kb=kb))


def test_a_follow_up_retrieves_the_passage_the_conversation_is_about(cfg):
    ticket = _ticket("I'd like to send back the boots I bought last week.", "How long does that take?")
    alone = WordKB([PASSWORD, INTERNATIONAL, RETURNS])
    d = decide_message(_ticket("How long does that take?"), "7-c0", cfg, "zendesk", Capabilities(kb=alone))
    assert d.sources == []  # the follow-up's own words find nothing
    kb = WordKB([PASSWORD, INTERNATIONAL, RETURNS])
    d = _decide(ticket, kb, cfg)
    assert [s.id for s in d.sources][:1] == ["kb-returns"]
    assert len(kb.queries) == 2  # the message, then once with the earlier message: one extra search
    assert "boots" in kb.queries[1][0] and "Greta" not in kb.queries[1][0]  # the customer's words, not the agent's


def test_a_new_standalone_question_is_not_dragged_to_the_old_topic(cfg):
    kb = WordKB([PASSWORD, RETURNS, INTERNATIONAL])
    d = _decide(_ticket("I'd like to send back the boots I bought last week.",
                        "Do you ship to Canada, and which international delivery options are there?"), kb, cfg)
    assert [s.id for s in d.sources] == ["kb-international"]
    assert all("boots" not in q for q, _ in kb.queries)  # not a follow-up: searched alone
    # Even a question that reads as a follow-up keeps its own passages first.
    kb = WordKB([PASSWORD, RETURNS, INTERNATIONAL])
    d = _decide(_ticket("I'd like to send back the boots I bought last week.", "And do you ship to Canada?"), kb, cfg)
    assert [s.id for s in d.sources][0] == "kb-international"


def test_the_first_message_is_searched_alone_as_before(cfg):
    kb = WordKB([PASSWORD, RETURNS, INTERNATIONAL])
    d = _decide(_ticket("How long does that take?"), kb, cfg)
    assert len(kb.queries) == 1 and "Question" in kb.queries[0][0]  # the subject, as normalize reads a first message
    assert d.sources == []


def test_an_earlier_message_of_1_mb_costs_the_clipped_length_only(cfg):
    huge = "I'd like to send back the boots. " + "lorem ipsum dolor sit amet " * 40_000
    assert len(huge) > 1_000_000
    ticket = _ticket(huge, "How long does that take?")
    earlier = earlier_message(ticket)
    assert 0 < len(earlier) <= EARLIER_CHARS
    kb = WordKB([PASSWORD, RETURNS, INTERNATIONAL])
    _decide(ticket, kb, cfg)
    assert len(kb.queries) == 2 and len(kb.queries[1][0]) <= EARLIER_CHARS + len("How long does that take?") + 2


def test_only_this_tickets_earlier_customer_message_is_used(cfg):
    other = _ticket("My password reset link never arrives.", tid="8")
    ticket = _ticket("I'd like to send back the boots I bought last week.", "Same for the second pair?")
    assert earlier_message(other, "8-c0") == ""  # a first message has no earlier one
    assert earlier_message(ticket) == "Question\n\nI'd like to send back the boots I bought last week."
    assert earlier_message(ticket, "7-c0") == ""
    kb = WordKB([PASSWORD, RETURNS, INTERNATIONAL])
    _decide(other, kb, cfg)
    _decide(ticket, kb, cfg)
    assert not any("password" in q.lower() for q, _ in kb.queries[1:])
    assert all("Greta" not in q for q, _ in kb.queries)


@pytest.mark.parametrize("text", [
    "and what about the return label?", "Same for the second parcel?", "How long does that take?",
    "Und wenn es nicht passt?", "Et pour le deuxième colis ?", "¿Y cuánto tarda?", "E se non va bene?",
    "En als het niet past?", "E quanto tempo demora isso?", "What about installation?", "Clusters",
])
def test_follow_ups_in_the_seven_languages_lean_on_the_conversation(text):
    assert leans_on_context(text)


@pytest.mark.parametrize("text", [
    "Do you ship to Canada, and which international delivery options are there?",
    "My password reset link never arrives in my mailbox, can you send a new one?",
    "Wo ist meine Bestellung 12345? Die Sendungsverfolgung zeigt seit einer Woche nichts an.",
    # Portuguese "O" is "the", not the Spanish "or"
    "O meu pedido 4521 ainda não chegou e o rastreio não mostra nada desde segunda-feira.",
])
def test_standalone_questions_do_not(text):
    assert not leans_on_context(text)


def test_fusion_keeps_the_messages_own_ranking_first():
    assert fuse_with_context(["a", "b", "c"], ["x", "c"]) == ["c", "a", "b", "x"]
    assert fuse_with_context([], ["x", "y"]) == ["x", "y"]
    assert fuse_with_context(["a"], []) == ["a"]
