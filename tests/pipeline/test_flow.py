"""The pipeline's entry point with capabilities handed in: no Redis, no knowledge-base files, no network."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.flow import Capabilities, decide_message
from pipeline.models import CUSTOMER, Message, Person, Source, Ticket
from tests.fakes.knowledge import FakeKB

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config")


def _ticket(text: str) -> Ticket:
    return Ticket(platform="zendesk", id="7", subject="Order", requester=Person(name="Anna Martin"), brand="acme",
                  messages=[Message(id="m1", author_role=CUSTOMER, body_text=text)])


SHIPPING = Source(id="kb-shipping", title="Shipping times", text="Orders ship within 2 working days. Tracking can "
                  "take up to 24 hours to show the first scan.", score=0.8)


def test_decision_uses_the_knowledge_base_it_is_given(cfg):
    kb = FakeKB([SHIPPING])
    d = decide_message(_ticket("Hi, where is my order? The tracking shows nothing yet."), "m1", cfg, "zendesk",
                       Capabilities(kb=kb))
    assert d.triage.intent == "order_status"
    # The ticket's platform-scoped brand filters retrieval (knowledge.brands: brand ids are per platform).
    assert kb.queries and all(brand == "zendesk:acme" for _, brand in kb.queries)
    assert d.draft is not None and d.draft.kind == "template"  # no LLM given: the template
    assert [s.id for s in d.draft.sources] == ["kb-shipping"]
    assert d.public_reply is None  # the shipped rules send nothing on their own
    assert set(d.timings) == {"classify", "draft"}


def test_without_a_knowledge_base_the_draft_says_it_found_nothing(cfg):
    d = decide_message(_ticket("Hi, where is my order? The tracking shows nothing yet."), "m1", cfg, "zendesk",
                       Capabilities(kb=None))
    assert d.sources == [] and d.draft is not None and not d.draft.sources


def test_the_clock_is_a_capability(cfg):
    """Business-hours rules read the clock they are handed, not the machine's."""
    seen: list[datetime] = []

    def clock() -> datetime:
        t = datetime(2027, 1, 16, 3, 0, tzinfo=UTC)  # a Saturday night
        seen.append(t)
        return t

    decide_message(_ticket("where is my order?"), "m1", cfg, "zendesk", Capabilities(clock=clock))
    assert seen


class RankedKB(FakeKB):
    """A knowledge base that ranks across languages: the customer's language alone only when asked."""

    def __init__(self, ranked: list[Source]):
        super().__init__(ranked)
        self.strict: list[str | None] = []

    def search(self, text, *, k, intent=None, brand=None, embedding=None, language=None, strict_language=False):
        if strict_language:
            self.strict.append(language)
            return [s for s in self.sources if s.language == language][:k]
        return self.sources[:k]


def test_an_untranslated_message_keeps_the_knowledge_bases_ranking_across_languages(cfg):
    # The French return policy scores within a few hundredths of the English tracking article (e5's
    # cosines across languages barely tell topics apart): it must not be put first for its language.
    from pipeline.draft import retrieve
    from pipeline.models import Triage

    track = Source(id="track-your-order", title="Track", text="Tracking can take up to 24 hours.", score=0.46)
    returns_fr = Source(id="return-policy-fr", title="Retours", text="Retours sous 30 jours.", score=0.45,
                        language="fr")
    kb = RankedKB([track, returns_fr])
    got = retrieve("Bonjour, où est ma commande ? Le suivi n'affiche rien.",
                   Triage(intent="order_status", confidence=0.9, language="fr"), cfg, kb)
    assert [s.id for s in got] == ["track-your-order", "return-policy-fr"]
    assert kb.strict == []

