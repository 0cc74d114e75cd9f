"""Nothing of one ticket reaches another ticket's prompt, sources or draft (process-wide state, caches, brands).

Two tickets go through the whole decision one after the other in one process, with an LLM (a stub
that records every request) and a real knowledge base holding a past ticket of the first ticket's
brand. The second ticket's requests and decision must hold nothing of the first ticket: not its
customer's details, not its brand's past ticket.
"""

from __future__ import annotations

import pytest

from knowledge.chunking import Document
from knowledge.ingest import ingest_documents
from knowledge.retrieve import Retriever
from knowledge.store import KnowledgeStore
from knowledge.tickets import ingest_ticket
from pipeline.config import load_config
from pipeline.flow import Capabilities, decide_message
from pipeline.models import AGENT, CUSTOMER, LLMSettings, Message, Person, Ticket
from tests.conftest import ROOT
from tests.fakes.openai import StubLLM

FIRST_SECRETS = ["Quentin", "Zyborg", "88112233", "quentin.zyborg@example.org", "Rue Vexin", "Plumbridge"]
PAST_101_ANSWER = "marrowfin"  # a word only brand 101's past ticket answer holds (lower case: not a name)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = KnowledgeStore(path=str(tmp_path_factory.mktemp("cross") / "chroma"))
    # Two brands: a brandless ticket then reads unbranded documents only (with one brand it would read
    # that brand's too: knowledge.brands, "a single-brand knowledge base keeps working").
    ingest_documents(s, [Document("refunds", "Refunds", "## Refund timing\nRefunds reach your card within 5 to "
                                  "10 working days after we receive the return.", source_type="policy"),
                         Document("south-gift", "Gift cards", "## Balance\nSouth gift cards never expire.",
                                  brand="202")],
                     origin="test", progress=False)
    ingest_ticket(Ticket(platform="zendesk", id="501", brand="101", subject="Refund late", messages=[
        Message(id="1", author_role=CUSTOMER, body_text="My refund for the kettle has not arrived on my card."),
        Message(id="2", author_role=AGENT, body_text=f"We re-sent the refund through the {PAST_101_ANSWER} "
                "desk; it shows on your card within 3 days.")]), s)
    return s


def _ticket(platform: str, tid: str, brand: str | None, name: str, text: str) -> Ticket:
    return Ticket(platform=platform, id=tid, brand=brand, subject="Refund", requester=Person(name=name),
                  messages=[Message(id="m1", author_role=CUSTOMER, body_text=text)])


@pytest.mark.parametrize("second_platform,second_brand", [("zendesk", "202"), ("gorgias", None)])
def test_the_second_ticket_sees_nothing_of_the_first(httpserver, store, second_platform, second_brand):
    cfg = load_config(ROOT / "config")
    stub = StubLLM(httpserver)
    stub.reply("Your refund reaches your card within 5 to 10 working days after we receive the return [S1].")
    caps = Capabilities(kb=Retriever(store),
                        llm=LLMSettings(api_key="sk-test-not-real", model="stub-model",
                                        base_url=httpserver.url_for("/v1")))
    first = _ticket("zendesk", "1", "101", "Quentin Zyborg",
                    "Hello, I am Quentin Zyborg (quentin.zyborg@example.org), 12 Rue Vexin, Plumbridge. "
                    "I sent the jacket back two weeks ago and still have no refund for order 88112233. When do I "
                    "get my money back?")
    d1 = decide_message(first, "m1", cfg, "zendesk", caps)
    assert d1.draft is not None
    assert "ticket:zendesk:501" in {s.id for s in d1.sources}  # its own brand's past ticket: the test can fail
    seen = len(stub.requests)
    # The first ticket's own prompts did carry its details and its brand's past ticket (the test can fail).
    first_prompts = repr(stub.requests)
    assert "88112233" in first_prompts and PAST_101_ANSWER in first_prompts

    second = _ticket(second_platform, "2", second_brand, "Mia Lund",
                     "I returned the shoes last week and still have no refund. When do I get my money back?")
    d2 = decide_message(second, "m1", cfg, second_platform, caps)
    assert d2.draft is not None and len(stub.requests) > seen
    second_prompts = repr(stub.requests[seen:])
    written = " ".join([d2.draft.text or "", repr(d2.sources), repr(d2.triage), repr(d2.plan)])
    for secret in FIRST_SECRETS:
        assert secret not in second_prompts and secret not in written, secret
    # Brand 101's past ticket is not brand 202's, nor a brandless Gorgias ticket's, guidance.
    assert PAST_101_ANSWER not in second_prompts and PAST_101_ANSWER not in written
    assert all(not s.id.startswith("ticket:zendesk:501") for s in d2.sources)
