"""A thread longer than the page cap is read from both ends: its opening and its newest messages, the
one an event is about and the sidecar's own notes (review of 2026-11-30: only its oldest pages were
read, so a ticket of thousands of comments was triaged and drafted on an old message and never found
its note's marker). Freshdesk's conversations have no sort order and no total: its last page is found
by page number inside the same request cap."""

from __future__ import annotations

import re

import pytest
import responses

from adapters import freshdesk, gorgias, zendesk
from tests.adapters.test_contract import KITS, Waits, make

ZENDESK = next(k for k in KITS if k.name == "zendesk")
GORGIAS = next(k for k in KITS if k.name == "gorgias")
FRESHDESK = next(k for k in KITS if k.name == "freshdesk")


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


# (kit, adapter module, the thread's page requests, page cap, messages read of a 907-message thread):
# Zendesk and Gorgias sort newest first (two oldest and two newest pages of 100 under a cap of 4);
# Freshdesk spends part of its cap finding its last page (pages 1-4, then probes 8 full, 16 and 12
# empty, 10 with the last 7: 507 under a cap of 8).
BOTH_ENDS = [pytest.param(ZENDESK, zendesk, r"comments", 4, 400, id="zendesk"),
             pytest.param(GORGIAS, gorgias, r"/api/messages", 4, 400, id="gorgias"),
             pytest.param(FRESHDESK, freshdesk, r"conversations", 8, 507, id="freshdesk")]


def _thread(t):
    """The thread's messages without Freshdesk's description (the ticket's first message, not a page's)."""
    return [m for m in t.messages if not m.id.endswith("-description")]


@pytest.mark.parametrize(("kit", "module", "pages_path", "cap", "n_read"), BOTH_ENDS)
def test_a_long_thread_keeps_its_newest_messages(rsps, monkeypatch, kit, module, pages_path, cap, n_read):
    monkeypatch.setattr(module, "MAX_THREAD_PAGES", cap)
    fake, adapter = make(kit, rsps, Waits(), n_messages=907)  # 10 pages of 100
    t = adapter.fetch_ticket(fake.tid)
    texts = [m.body_text for m in _thread(t)]
    assert texts[0] == "Customer message 0" and texts[-1] == "Customer message 906"
    assert t.latest_customer_message().body_text == "Customer message 906"
    ids = [m.id for m in _thread(t)]
    assert len(ids) == len(set(ids)) == n_read, "the oldest pages and the newest, each message once"
    assert [int(i) for i in ids] == sorted(int(i) for i in ids), "in thread order"
    pages = [c for c in fake.calls if c.method == "GET" and re.search(pages_path, c.path)]
    assert len(pages) == cap, "bounded: the cap's pages, no more"


@pytest.mark.parametrize(("kit", "module", "pages_path", "cap", "n_read"), BOTH_ENDS)
def test_a_thread_under_twice_half_the_cap_is_read_whole_once(rsps, monkeypatch, kit, module, pages_path, cap, n_read):
    monkeypatch.setattr(module, "MAX_THREAD_PAGES", 4)
    fake, adapter = make(kit, rsps, Waits(), n_messages=350)  # 4 pages: both ends overlap
    t = adapter.fetch_ticket(fake.tid)
    assert [m.body_text for m in _thread(t)] == [
        f"{'Agent answer' if i % 2 else 'Customer message'} {i}" for i in range(350)]
    pages = [c for c in fake.calls if c.method == "GET" and re.search(pages_path, c.path)]
    assert len(pages) <= 4


@pytest.mark.parametrize("n_messages", [100, 399, 400, 401, 650, 1000, 1234, 2000, 5000])
@pytest.mark.parametrize("cap", [1, 2, 3, 4, 7, 20])
def test_freshdesk_finds_its_last_page_within_the_cap_for_any_length(rsps, monkeypatch, cap, n_messages):
    """Whatever the thread's length, the cap is never exceeded, nothing comes twice or out of order, and
    at the shipped cap (20 requests) a thread of up to 50 pages has its newest message read."""
    monkeypatch.setattr(freshdesk, "MAX_THREAD_PAGES", cap)
    fake, adapter = make(FRESHDESK, rsps, Waits(), n_messages=n_messages)
    t = adapter.fetch_ticket(fake.tid)
    ids = [int(m.id) for m in _thread(t)]
    assert ids == sorted(set(ids))
    pages = [c for c in fake.calls if c.method == "GET" and c.path.endswith("/conversations")]
    assert len(pages) <= cap
    whole = n_messages <= cap * 100 // 2 or (n_messages <= cap * 100 and cap >= 2 and n_messages <= 400)
    if cap == 20 or whole:
        assert _thread(t)[-1].body_text.endswith(f" {n_messages - 1}")
