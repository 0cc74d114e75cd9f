"""Read-only history readers against loopback fakes of the three export APIs.

What must hold: every listed ticket of the window comes out exactly once across several pages
(cursors, Freshdesk's page limit), threads parse with production's roles, a 429 in the middle is
waited out as ``Retry-After`` says, and nothing but GET ever reaches the wire, whatever a caller
tries.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest
import requests

from adapters.history import (
    READERS,
    FreshdeskHistory,
    HistoryReader,
    ReadOnlySession,
    ReadOnlyViolation,
    Window,
    ZendeskHistory,
    reader_for,
    share_limiter,
)
from adapters.ratelimit import RateLimiter, connection_key
from app.settings import load_settings
from pipeline.models import AGENT, CUSTOMER
from tests.fakes.history import FakeHistoryServer, make_history, platform_env

PLATFORMS = ("zendesk", "gorgias", "freshdesk")


class Sleeps:
    """Records waits and moves a fake clock, so a Retry-After pause ends without real sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 1_000_000.0

    def __call__(self, s: float) -> None:
        self.waits.append(s)
        self.now += s

    def clock(self) -> float:
        return self.now


def _reader(platform: str, server: FakeHistoryServer, sleep: Sleeps, page_size: int = 25, **kw) -> HistoryReader:
    ps = load_settings(platform_env(platform, server.base)).platform(platform)
    limiter = RateLimiter("t:history:" + platform, 10_000, 60.0, None, sleep=sleep, clock=sleep.clock)
    extra = {"export_limiter": RateLimiter("t:export", 10_000, 60.0, None, sleep=sleep, clock=sleep.clock)} \
        if platform == "zendesk" else {}
    r = reader_for(platform, ps, limiter=limiter, sleep=sleep, **extra, **kw)
    r.page_size = page_size
    return r


@pytest.fixture(scope="module")
def history():
    return make_history(240, seed=7)


def _window(history) -> Window:
    now = datetime.now(UTC)
    return Window(now - timedelta(days=30), now)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_ticket_once_across_pages_with_a_429_waited_out_and_only_gets(platform, history):
    sleep = Sleeps()
    with FakeHistoryServer(platform, history, fail_429_at=3, retry_after="2") as fake:
        reader = _reader(platform, fake, sleep)
        pages = list(reader.pages(_window(history)))
        ids = [reader.ticket_id(t) for p in pages for t in p.items]
        closed = [t for p in pages for t in p.items if reader.is_closed(t)]
        sample = [reader.fetch(t) for t in closed[:12]]
    assert len(pages) >= 240 // 25, "several listing pages"
    assert sorted(ids) == sorted(str(t.id) for t in history), "each ticket of the window exactly once"
    assert len(closed) == sum(t.status == "closed" for t in history)
    assert fake.answered_429 == 1 and 2.0 in sleep.waits, "the 429's Retry-After was honoured"
    assert fake.methods == {"GET"}
    assert pages[-1].next_position is None and pages[0].next_position is not None
    assert all(p.covered is None or 0 <= p.covered <= 1 for p in pages)
    by_id = {str(t.id): t for t in history}
    for ticket in sample:
        src = by_id[ticket.id]
        assert ticket.messages[0].author_role == CUSTOMER and ticket.messages[0].body_text.strip() == src.messages[0].text
        roles = [(m.author_role, m.public) for m in ticket.messages]
        want = [(CUSTOMER, True) if m.role == "customer" else (AGENT, m.role != "note") for m in src.messages]
        assert roles == want, f"{platform} ticket {ticket.id}: roles as production parses them"
        assert ticket.url and ticket.url.startswith(fake.base) and ticket.id in ticket.url


@pytest.mark.parametrize("platform", PLATFORMS)
def test_resuming_from_a_saved_position_continues_on_the_next_page(platform, history):
    sleep = Sleeps()
    with FakeHistoryServer(platform, history) as fake:
        reader = _reader(platform, fake, sleep)
        it = reader.pages(_window(history))
        first, second = next(it), next(it)
        again = next(_reader(platform, fake, sleep).pages(_window(history), second.position))
    assert [reader.ticket_id(t) for t in again.items] == [reader.ticket_id(t) for t in second.items]
    assert set(map(reader.ticket_id, first.items)).isdisjoint(map(reader.ticket_id, second.items))


def test_freshdesk_page_limit_restarts_from_the_last_update_and_never_asks_past_it(history):
    sleep = Sleeps()
    with FakeHistoryServer("freshdesk", history, max_page=3) as fake:
        reader = _reader("freshdesk", fake, sleep, page_size=20)
        reader.MAX_PAGE = 3
        ids = [reader.ticket_id(t) for p in reader.pages(_window(history)) for t in p.items]
    pages_asked = [int(c.query["page"]) for c in fake.calls if c.path == "/api/v2/tickets"]
    assert max(pages_asked) == 3, "never beyond Freshdesk's page limit"
    assert len({c.query["updated_since"] for c in fake.calls if c.path == "/api/v2/tickets"}) >= 3, "restarted queries"
    assert set(ids) == {str(t.id) for t in history}, "nothing lost across restarts (duplicates are skipped by id later)"


def test_window_end_is_respected(history):
    sleep = Sleeps()
    now = datetime.now(UTC)
    cut = sorted(t.updated for t in history)[120]
    for platform in PLATFORMS:
        with FakeHistoryServer(platform, history) as fake:
            reader = _reader(platform, fake, sleep)
            ids = {reader.ticket_id(t) for p in reader.pages(Window(now - timedelta(days=30), cut)) for t in p.items}
        assert ids == {str(t.id) for t in history if t.updated < cut}, platform


# ------------------------------------------------------------------------------- read-only proof


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_read_only_session_refuses_writes_before_anything_is_sent(method, history):
    with FakeHistoryServer("zendesk", history[:3]) as fake:
        s = ReadOnlySession()
        with pytest.raises(ReadOnlyViolation):
            s.request(method, fake.base + "/api/v2/tickets/1000.json", json={"ticket": {"comment": {"body": "x"}}})
        prepared = requests.Request(method, fake.base + "/api/v2/tickets/1000.json", data=b"{}").prepare()
        with pytest.raises(ReadOnlyViolation):
            s.send(prepared)
        with pytest.raises(ReadOnlyViolation):
            getattr(s, method.lower())(fake.base + "/api/v2/tickets/1000/tags.json")
        assert s.get(fake.base + "/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).status_code == 401
    assert [c.method for c in fake.calls] == ["GET"], "only the GET reached the server"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_readers_have_no_write_path(platform, history):
    cls = READERS[platform]
    public = {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}
    writes = {n for n in public if n.startswith(("post", "put", "add", "set", "update_", "write", "apply", "assign",
                                                  "delete", "reply"))}
    assert writes == set(), f"{cls.__name__} exposes {writes}"
    assert public <= {"pages", "fetch", "is_closed", "ticket_id", "updated_at", "calls", "page_size", "platform",
                      "EXPORT", "EXPORT_BUDGET", "MAX_PAGE", "MAX_COMMENT_PAGES"}
    with FakeHistoryServer(platform, history[:3]) as fake:
        reader = _reader(platform, fake, Sleeps())
        # Even the wrapped production adapter, reached on purpose, cannot write through this session.
        inner = reader._adapter
        ticket = reader.fetch(next(t for p in reader.pages(_window(history)) for t in p.items))
        for attempt in (lambda: inner.add_tags(ticket, ["x"]), lambda: inner.set_priority(ticket, "urgent"),
                        lambda: inner.post_internal_note(ticket, "<p>x</p>", "x", "sidecar-event:x"),
                        lambda: inner.http.post("/api/anything", {"a": 1}, idempotent=True),
                        lambda: inner.http.put("/api/anything", {"a": 1})):
            with pytest.raises(ReadOnlyViolation):
                attempt()
    assert fake.methods == {"GET"}


def test_readers_only_take_a_read_only_session(history):
    ps = load_settings(platform_env("gorgias", "http://127.0.0.1:9")).platform("gorgias")
    with pytest.raises(TypeError):
        reader_for("gorgias", ps, session=requests.Session())


def test_budget_share_uses_the_production_key_and_leaves_the_rest_to_production():
    lim = share_limiter("zendesk", "https://acme.zendesk.com", 0, None, 0.5)
    assert lim.key == connection_key("zendesk", "https://acme.zendesk.com")
    assert (lim.limit, lim.period) == (100, 60.0)
    assert share_limiter("gorgias", "https://acme.gorgias.com", 0, None, 0.25).limit == 10
    zd = FreshdeskHistory.MAX_PAGE
    assert zd == 300


def test_zendesk_export_pages_also_take_a_slot_of_the_export_endpoints_own_budget(history):
    """The incremental export allows 10 requests/min: its pages go through a second limiter, comments do not."""

    class Counting:
        def __init__(self) -> None:
            self.acquired = 0
            self.paused: list[float] = []

        def acquire(self) -> float:
            self.acquired += 1
            return 0.0

        def pause(self, s: float) -> None:
            self.paused.append(s)

    sleep = Sleeps()
    export = Counting()
    with FakeHistoryServer("zendesk", history) as fake:
        ps = load_settings(platform_env("zendesk", fake.base)).platform("zendesk")
        reader = reader_for("zendesk", ps, limiter=RateLimiter("t:z", 10_000, 60.0, None, sleep=sleep, clock=sleep.clock),
                            export_limiter=export, sleep=sleep)
        reader.page_size = 50
        for page in reader.pages(_window(history)):
            for raw in page.items[:1]:
                reader.fetch(raw)
    exports = [c for c in fake.calls if c.path.endswith("/incremental/tickets/cursor.json")]
    assert export.acquired == len(exports) == 5 and len(fake.calls) > len(exports)
    default = ZendeskHistory(ps)._export_limiter
    assert (default.limit, default.period) == (10, 60.0) and default.key.endswith(":incremental")


def test_a_looping_api_cannot_hold_the_reader_forever():
    """An export that hands back the same cursor, and a thread whose next link never ends, both stop."""
    import re

    import responses

    base = "https://acme.zendesk.com"
    ps = load_settings(platform_env("zendesk", base)).platform("zendesk")
    sleep = Sleeps()
    reader = reader_for("zendesk", ps, limiter=RateLimiter("t:loop", 10_000, 60.0, None, sleep=sleep, clock=sleep.clock),
                        export_limiter=None, sleep=sleep)
    now = datetime.now(UTC)
    ticket = {"id": 5, "status": "solved", "updated_at": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    with responses.RequestsMock() as rs:
        rs.get(re.compile(base + r"/api/v2/incremental/tickets/cursor\.json.*"),
               json={"tickets": [ticket], "after_cursor": "SAME", "end_of_stream": False})
        rs.get(re.compile(base + r"/api/v2/tickets/5/comments\.json.*"),
               json={"comments": [{"id": 1, "author_id": 9, "body": "hi", "public": True}], "users": [],
                     "meta": {"has_more": True}, "links": {"next": base + "/api/v2/tickets/5/comments.json?page[after]=x"}})
        pages = list(reader.pages(Window(now - timedelta(days=3), now)))
        t = reader.fetch(pages[0].items[0])
        assert len(pages) == 2, "the repeated cursor ends the listing"
        assert len(t.messages) == reader.MAX_COMMENT_PAGES
        assert {c.request.method for c in rs.calls} == {"GET"}
