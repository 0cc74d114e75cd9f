"""Read-only history readers: solved/closed tickets of a time window, with their whole threads.

The backtest (``python -m app backtest``) reads a store's past tickets through these. They are
built so that writing to the helpdesk is impossible, not merely avoided:

* every reader owns a :class:`ReadOnlySession`, a ``requests.Session`` that refuses any method
  other than GET before a byte leaves the process (both ``request`` and ``send`` check, so a
  prepared request cannot slip past), and raises :class:`ReadOnlyViolation`;
* a reader exposes reads only (``pages``, ``fetch``); it is not an :class:`~adapters.base.Adapter`
  and has no note/tag/field/reply method. The production adapter it wraps (for its exact thread
  parsing: author roles, the sidecar's own notes, system messages) is private and talks through
  that same read-only session.

Requests go through the production :class:`~adapters.http.HttpClient` (timeouts, retries of
429/5xx/connection errors with backoff, ``Retry-After`` honoured) and the production
:class:`~adapters.ratelimit.RateLimiter` key of the connection, so a backtest and live workers
share one budget. The backtest takes at most ``budget_share`` of that budget: its limiter counts
the same window but stops at a lower ceiling, leaving the rest to production.

Listing endpoints (all GET):

* Zendesk: cursor-based incremental ticket export ``/api/v2/incremental/tickets/cursor.json``
  (``start_time`` then ``cursor``, until ``end_of_stream``; 10 requests/min, its own limiter),
  then ``/api/v2/tickets/{id}/comments.json`` per ticket (cursor pages).
* Gorgias: ``/api/tickets?order_by=updated_datetime:desc`` (cursor pages) until tickets are older
  than the window, then ``/api/tickets/{id}`` (+ ``/api/messages`` pages when not embedded).
* Freshdesk: ``/api/v2/tickets?updated_since=...&order_by=updated_at&order_type=asc`` (page
  numbers, at most 300 pages per query: the reader restarts from the last ``updated_at`` seen),
  then ``/api/v2/tickets/{id}/conversations`` pages.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from adapters.base import PermanentError, as_str
from adapters.ratelimit import RateLimiter, budget_for, connection_key
from pipeline.models import Person, Ticket

log = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET"})


class ReadOnlyViolation(PermanentError):
    """Something tried to send a non-GET request through a history reader (a bug, never retried)."""


class ReadOnlySession(requests.Session):
    """A ``requests.Session`` that only ever sends GET requests.

    Checked in :meth:`request` (clear error at the call) and again in :meth:`send`, which every
    request of a session goes through, prepared or not.
    """

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        _check(method, url)
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        _check(request.method or "", request.url or "")
        return super().send(request, **kwargs)


def _check(method: str | bytes, url: str | bytes) -> None:
    m = (method.decode() if isinstance(method, bytes) else str(method)).upper()
    if m not in READ_METHODS:
        path = (url.decode() if isinstance(url, bytes) else str(url)).split("?", 1)[0]
        raise ReadOnlyViolation(f"history reader: refused {m} {path} (read-only: GET only)")


class CompositeLimiter:
    """Several rate limiters at once (a per-endpoint budget inside the connection's budget)."""

    def __init__(self, *limiters: Any):
        self.limiters = [x for x in limiters if x is not None]

    def acquire(self) -> float:
        return sum(x.acquire() for x in self.limiters)

    def pause(self, seconds: float) -> None:
        for x in self.limiters:
            x.pause(seconds)


def share_limiter(platform: str, base_url: str, rate_per_minute: int, redis: Any, share: float,
                  suffix: str = "", budget: tuple[int, float] | None = None, **kw: Any) -> RateLimiter:
    """A limiter on the connection's shared window that stops at ``share`` of the budget.

    Same Redis key as production: live workers' requests count against the backtest's ceiling,
    so the backtest yields when production is busy and never takes more than its share.
    """
    limit, period = budget or budget_for(platform, rate_per_minute)
    return RateLimiter(connection_key(platform, base_url) + suffix, max(1, int(limit * share)), period, redis, **kw)


def parse_time(value: Any) -> datetime | None:
    """An API timestamp (ISO-8601, with or without zone; unix seconds) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    s = str(value).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Window:
    """Tickets updated in ``[since, until)``."""

    since: datetime
    until: datetime

    def fraction(self, at: datetime | None, descending: bool = False) -> float | None:
        """How much of the window is read once the listing reached ``at`` (0..1)."""
        if at is None:
            return None
        span = (self.until - self.since).total_seconds()
        if span <= 0:
            return None
        done = (self.until - at).total_seconds() if descending else (at - self.since).total_seconds()
        return min(1.0, max(0.0, done / span))


@dataclass
class HistoryPage:
    """One listing page: its raw tickets, where it was read from, where the next one starts."""

    items: list[dict[str, Any]]
    position: dict[str, Any]
    next_position: dict[str, Any] | None  # None: the listing is finished
    covered: float | None = None  # share of the window read after this page
    extra: dict[str, Any] = field(default_factory=dict)


class HistoryReader(ABC):
    """Reads, never writes: listing pages of a window, and one ticket's full thread."""

    platform = ""
    page_size = 100

    def __init__(self, ps: Any, *, redis: Any = None, budget_share: float = 0.5, limiter: Any = None,
                 session: requests.Session | None = None, sleep: Callable[[float], None] | None = None,
                 **http_options: Any):
        from adapters.registry import module

        if not ps.url or ps.api_token is None:
            raise PermanentError(f"{self.platform}: {self.platform.upper()}_URL and API credentials are needed "
                                 "to read history")
        if session is not None and not isinstance(session, ReadOnlySession):
            raise TypeError("history readers only accept a ReadOnlySession")
        self.ps = ps
        if limiter is None:
            limiter = share_limiter(self.platform, ps.url, ps.rate_per_minute, redis, budget_share,
                                    sleep=sleep or time.sleep)
        self._limiter = limiter
        self._session = session or ReadOnlySession()
        cls = getattr(module(self.platform), {"zendesk": "ZendeskAdapter", "gorgias": "GorgiasAdapter",
                                              "freshdesk": "FreshdeskAdapter"}[self.platform])
        # The production adapter, for its thread parsing and GETs only; never handed out.
        self._adapter = cls(ps, session=self._session, limiter=limiter, sleep=sleep, **http_options)
        self._http = self._adapter.http
        self.base_url = self._adapter.base_url

    @property
    def calls(self) -> int:
        """Requests sent so far (retries included)."""
        return self._http.calls

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._http.request("GET", path, params=params)

    @abstractmethod
    def pages(self, window: Window, position: dict[str, Any] | None = None) -> Iterator[HistoryPage]:
        """Listing pages of tickets updated in ``window``, from ``position`` (a checkpoint) or the start."""

    @abstractmethod
    def is_closed(self, raw: dict[str, Any]) -> bool:
        """True for a solved/closed ticket (the only ones a backtest compares with)."""

    @abstractmethod
    def fetch(self, raw: dict[str, Any]) -> Ticket:
        """The listed ticket with its whole thread, as the production adapter reads it."""

    def ticket_id(self, raw: dict[str, Any]) -> str:
        return str(raw.get("id"))

    def updated_at(self, raw: dict[str, Any]) -> datetime | None:
        return parse_time(raw.get("updated_at"))


# --------------------------------------------------------------------------------------------
# Zendesk
# --------------------------------------------------------------------------------------------


class ZendeskHistory(HistoryReader):
    """Zendesk: cursor-based incremental ticket export, then each ticket's comments."""

    platform = "zendesk"
    page_size = 100
    EXPORT = "/api/v2/incremental/tickets/cursor.json"
    EXPORT_BUDGET = (10, 60.0)  # the incremental export endpoints allow 10 requests per minute
    MAX_COMMENT_PAGES = 100  # 10,000 comments: a bound, whatever a thread (or a looping API) holds

    def __init__(self, ps: Any, *, redis: Any = None, budget_share: float = 0.5, limiter: Any = None,
                 export_limiter: Any = None, sleep: Callable[[float], None] | None = None, **kw: Any):
        super().__init__(ps, redis=redis, budget_share=budget_share, limiter=limiter, sleep=sleep, **kw)
        if export_limiter is None:
            export_limiter = share_limiter(self.platform, ps.url, 0, redis, 1.0, suffix=":incremental",
                                           budget=self.EXPORT_BUDGET, sleep=sleep or time.sleep)
        self._export_limiter = export_limiter

    def pages(self, window: Window, position: dict[str, Any] | None = None) -> Iterator[HistoryPage]:
        pos = dict(position or {"start_time": int(window.since.timestamp())})
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"per_page": self.page_size}
            if pos.get("cursor"):
                params["cursor"] = pos["cursor"]
            else:
                params["start_time"] = int(pos["start_time"])
            if self._export_limiter is not None:
                self._export_limiter.acquire()
            body = self._get(self.EXPORT, params) or {}
            items = [t for t in body.get("tickets") or [] if isinstance(t, dict)]
            last = max((parse_time(t.get("updated_at")) for t in items), default=None,
                       key=lambda d: d or datetime.min.replace(tzinfo=UTC))
            # Tickets updated after the window's end are left for a later run.
            inside = [t for t in items if (parse_time(t.get("updated_at")) or window.since) < window.until]
            cursor = body.get("after_cursor")
            # A cursor seen before would loop forever: stop instead (the API said there is no more).
            done = bool(body.get("end_of_stream")) or not cursor or cursor in seen or len(inside) < len(items)
            if cursor:
                seen.add(cursor)
            nxt = None if done else {"cursor": cursor}
            yield HistoryPage(inside, pos, nxt, 1.0 if nxt is None else window.fraction(last))
            if nxt is None:
                return
            pos = nxt

    def is_closed(self, raw: dict[str, Any]) -> bool:
        return raw.get("status") in ("solved", "closed")

    def fetch(self, raw: dict[str, Any]) -> Ticket:
        a = self._adapter
        tid = str(raw.get("id"))
        comments: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        page: str | None = f"/api/v2/tickets/{tid}/comments.json"
        params: dict[str, Any] | None = {"page[size]": 100, "include": "users"}
        pages = 0
        while page and pages < self.MAX_COMMENT_PAGES:
            pages += 1
            body = self._get(page, params) or {}
            comments.extend(c for c in body.get("comments") or [] if isinstance(c, dict))
            users.update({str(u.get("id")): u for u in body.get("users") or [] if isinstance(u, dict)})
            meta, links = body.get("meta") or {}, body.get("links") or {}
            page, params = (links.get("next"), None) if meta.get("has_more") and links.get("next") else (None, None)
        requester_id = as_str(raw.get("requester_id"))
        req = users.get(requester_id or "", {})
        via = raw.get("via") if isinstance(raw.get("via"), dict) else {}
        priority = raw.get("priority") if raw.get("priority") in ("low", "normal", "high", "urgent") else None
        return Ticket(
            platform=self.platform, id=tid, subject=raw.get("subject") or raw.get("raw_subject") or "",
            status=raw.get("status"), priority=priority, tags=[str(x) for x in raw.get("tags") or []],
            custom_fields={str(f.get("id")): f.get("value") for f in raw.get("custom_fields") or []
                           if isinstance(f, dict) and f.get("id") is not None},
            requester=Person(id=requester_id, name=req.get("name"), email=req.get("email")),
            messages=[a._message(c, users, requester_id) for c in comments],
            url=f"{self.base_url}/agent/tickets/{tid}", channel=via.get("channel"),
            brand=as_str(raw.get("brand_id")), created_at=raw.get("created_at"), updated_at=raw.get("updated_at"),
        )


# --------------------------------------------------------------------------------------------
# Gorgias
# --------------------------------------------------------------------------------------------


class GorgiasHistory(HistoryReader):
    """Gorgias: tickets by ``updated_datetime`` descending (cursor pages), then each ticket."""

    platform = "gorgias"
    page_size = 100

    def pages(self, window: Window, position: dict[str, Any] | None = None) -> Iterator[HistoryPage]:
        pos = dict(position or {})
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"limit": self.page_size, "order_by": "updated_datetime:desc"}
            if pos.get("cursor"):
                params["cursor"] = pos["cursor"]
            body = self._get("/api/tickets", params)
            items = body if isinstance(body, list) else (body or {}).get("data") or []
            items = [t for t in items if isinstance(t, dict)]
            cursor = None if isinstance(body, list) else ((body or {}).get("meta") or {}).get("next_cursor")
            inside, older = [], False
            for t in items:
                upd = self.updated_at(t)
                if upd is not None and upd < window.since:
                    older = True  # descending order: everything after this is older still
                    break
                if upd is None or upd < window.until:
                    inside.append(t)
            last = self.updated_at(items[-1]) if items else None
            done = older or not cursor or cursor in seen
            if cursor:
                seen.add(cursor)
            nxt = None if done else {"cursor": cursor}
            yield HistoryPage(inside, pos, nxt, 1.0 if nxt is None else window.fraction(last, descending=True))
            if nxt is None:
                return
            pos = nxt

    def updated_at(self, raw: dict[str, Any]) -> datetime | None:
        return parse_time(raw.get("updated_datetime"))

    def is_closed(self, raw: dict[str, Any]) -> bool:
        return raw.get("status") == "closed" and not raw.get("spam") and not raw.get("trashed_datetime")

    def fetch(self, raw: dict[str, Any]) -> Ticket:
        # The production read: the ticket with custom fields and its messages (embedded, or paged).
        return self._adapter.fetch_ticket(str(raw.get("id")))


# --------------------------------------------------------------------------------------------
# Freshdesk
# --------------------------------------------------------------------------------------------


class FreshdeskHistory(HistoryReader):
    """Freshdesk: ``updated_since`` ticket list (ascending, ≤ 300 pages per query), then conversations."""

    platform = "freshdesk"
    page_size = 100
    MAX_PAGE = 300  # Freshdesk refuses page numbers above 300 on the ticket list

    def pages(self, window: Window, position: dict[str, Any] | None = None) -> Iterator[HistoryPage]:
        pos = dict(position or {"updated_since": iso(window.since), "page": 1})
        while True:
            params = {"updated_since": pos["updated_since"], "order_by": "updated_at", "order_type": "asc",
                      "per_page": self.page_size, "page": int(pos["page"]), "include": "requester,description"}
            body = self._get("/api/v2/tickets", params) or []
            items = [t for t in body if isinstance(t, dict)] if isinstance(body, list) else []
            inside = [t for t in items if (self.updated_at(t) or window.since) < window.until]
            last = max((self.updated_at(t) for t in items), default=None,
                       key=lambda d: d or datetime.min.replace(tzinfo=UTC))
            nxt: dict[str, Any] | None
            if len(items) < self.page_size or len(inside) < len(items):
                nxt = None
            elif int(pos["page"]) >= self.MAX_PAGE:
                # Past the page limit: a new query from the newest update seen (tickets updated at that
                # very second come again; the caller skips ids it already has).
                since = iso(last) if last else pos["updated_since"]
                if since == pos["updated_since"]:
                    log.warning("freshdesk: more than %d pages of tickets updated at %s; some may be missed",
                                self.MAX_PAGE * self.page_size, since)
                    nxt = None
                else:
                    nxt = {"updated_since": since, "page": 1}
            else:
                nxt = {"updated_since": pos["updated_since"], "page": int(pos["page"]) + 1}
            yield HistoryPage(inside, pos, nxt, 1.0 if nxt is None else window.fraction(last))
            if nxt is None:
                return
            pos = nxt

    def is_closed(self, raw: dict[str, Any]) -> bool:
        return raw.get("status") in (4, 5, "4", "5")

    def fetch(self, raw: dict[str, Any]) -> Ticket:
        a = self._adapter
        return a.ticket_from(raw, a.conversations(self._get, str(raw.get("id"))))


READERS: dict[str, type[HistoryReader]] = {"zendesk": ZendeskHistory, "gorgias": GorgiasHistory,
                                           "freshdesk": FreshdeskHistory}


def reader_for(platform: str, ps: Any, **kw: Any) -> HistoryReader:
    """The read-only history reader of ``platform`` (KeyError if unknown)."""
    return READERS[platform](ps, **kw)
