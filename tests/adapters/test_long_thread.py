"""A Zendesk or Gorgias thread longer than the page cap is read from both ends: its opening and its newest
messages, the one an event is about and the sidecar's own notes (review of 2026-11-30: only its
oldest pages were read, so a ticket of thousands of comments was triaged and drafted on an old
message and never found its note's marker)."""

from __future__ import annotations

import re

import pytest
import responses

from adapters import gorgias, zendesk
from tests.adapters.test_contract import KITS, Waits, make

ZENDESK = next(k for k in KITS if k.name == "zendesk")
GORGIAS = next(k for k in KITS if k.name == "gorgias")


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


# (kit, adapter module, the thread's page requests): both helpdesks whose threads are read from both ends
BOTH_ENDS = [pytest.param(ZENDESK, zendesk, r"comments", id="zendesk"),
             pytest.param(GORGIAS, gorgias, r"/api/messages", id="gorgias")]


@pytest.mark.parametrize(("kit", "module", "pages_path"), BOTH_ENDS)
def test_a_long_thread_keeps_its_newest_messages(rsps, monkeypatch, kit, module, pages_path):
    monkeypatch.setattr(module, "MAX_THREAD_PAGES", 4)
    fake, adapter = make(kit, rsps, Waits(), n_messages=907)  # 10 pages of 100
    t = adapter.fetch_ticket(fake.tid)
    texts = [m.body_text for m in t.messages]
    assert texts[0] == "Customer message 0" and texts[-1] == "Customer message 906"
    assert t.latest_customer_message().body_text == "Customer message 906"
    ids = [m.id for m in t.messages]
    assert len(ids) == len(set(ids)) == 400, "two oldest and two newest pages, each message once"
    assert [int(i) for i in ids] == sorted(int(i) for i in ids), "in thread order"
    pages = [c for c in fake.calls if c.method == "GET" and re.search(pages_path, c.path)]
    assert len(pages) == 4, "bounded: the cap's pages, no more"


@pytest.mark.parametrize(("kit", "module", "pages_path"), BOTH_ENDS)
def test_a_thread_under_twice_half_the_cap_is_read_whole_once(rsps, monkeypatch, kit, module, pages_path):
    monkeypatch.setattr(module, "MAX_THREAD_PAGES", 4)
    fake, adapter = make(kit, rsps, Waits(), n_messages=350)  # 4 pages: both ends overlap
    t = adapter.fetch_ticket(fake.tid)
    assert [m.body_text for m in t.messages] == [
        f"{'Agent answer' if i % 2 else 'Customer message'} {i}" for i in range(350)]
