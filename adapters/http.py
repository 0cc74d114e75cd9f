"""HTTP to a helpdesk API: one session per adapter, timeouts, retries, rate limit, clear errors.

* Authentication is HTTP Basic on the session (Zendesk ``{email}/token:{token}``, Gorgias
  ``email:api_key``, Freshdesk ``api_key:X``); credentials never appear in URLs, logs or errors.
* Every request first takes a slot from the connection's :class:`~adapters.ratelimit.RateLimiter`.
* ``tenacity`` retries 429 (honouring ``Retry-After`` up to ``max_retry_after``; a longer one
  fails the call with ``retry_after`` set, and the job is re-scheduled for then), 409, 5xx, connection errors and
  timeouts with exponential backoff and jitter, but only where a retry cannot duplicate
  anything: a non-idempotent request (a note, a reply) that may have reached the server
  (read timeout, 5xx, connection dropped after sending) raises
  :class:`~adapters.base.TransientError` with ``ambiguous=True`` and the adapter looks for its
  marker in the thread before sending again.
* 401/403 → :class:`~adapters.base.AuthError`; other 4xx → :class:`~adapters.base.PermanentError`,
  with method, path, status and a short reason from the body.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlparse

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from adapters.base import Adapter, AuthError, BadPayload, PermanentError, TransientError, check_ticket_id, is_own_marker
from adapters.ratelimit import RateLimiter
from pipeline.models import AGENT, SIDECAR, Ticket

log = logging.getLogger(__name__)

_NO_BODY = object()
# Bounded work per event: a thread is read at most this many pages (of 100) deep. A ticket with
# thousands of messages is a loop or an abuse; the job then falls back to the webhook's own text.
MAX_THREAD_PAGES = 20
USER_AGENT = "helpdesk-sidecar/1.0 (+https://github.com/)"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def short_reason(resp: requests.Response, limit: int = 200) -> str:
    """A short, log-safe reason from an error response (the API's message, never the whole body)."""
    reason = ""
    try:
        data = resp.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        parts: list[str] = []
        err = data.get("error")
        if isinstance(err, dict):
            parts.append(str(err.get("message") or err.get("msg") or err.get("title") or ""))
        elif isinstance(err, str):
            parts.append(err)
        for key in ("description", "message", "details"):
            v = data.get(key)
            if isinstance(v, str):
                parts.append(v)
            elif isinstance(v, dict):
                parts.append("; ".join(f"{k}: {v[k]}" for k in list(v)[:3]))
        errors = data.get("errors")
        if isinstance(errors, list):
            for e in errors[:3]:
                if isinstance(e, dict):
                    parts.append(" ".join(str(e.get(k)) for k in ("field", "message", "code") if e.get(k)))
        elif isinstance(errors, dict):
            parts.append("; ".join(f"{k}: {errors[k]}" for k in list(errors)[:3]))
        reason = " - ".join(p for p in parts if p)
    if not reason:
        reason = resp.reason or ""
    reason = " ".join(reason.split())
    return reason[:limit] + ("…" if len(reason) > limit else "")


def _not_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before the request could reach the server."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, NameResolutionError, ConnectTimeoutError))


class HttpClient:
    """JSON over HTTPS to one helpdesk account.

    ``sleep`` is what retries wait with (tests inject a recorder); ``calls`` counts requests
    actually sent (retries included), for the API-call benchmark.
    """

    def __init__(self, platform: str, base_url: str, auth: tuple[str, str], *, limiter: RateLimiter | None = None,
                 session: requests.Session | None = None, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 max_attempts: int = 5, max_retry_after: float = 30.0, backoff_initial: float = 0.5,
                 backoff_max: float = 8.0, sleep: Callable[[float], None] = time.sleep):
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self._host = urlparse(self.base_url).netloc
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        self.limiter = limiter
        self.timeout = (connect_timeout, read_timeout)
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.calls = 0

    # -- public ---------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def put(self, path: str, body: Any, *, idempotent: bool = True) -> Any:
        return self.request("PUT", path, json=body, idempotent=idempotent)

    def post(self, path: str, body: Any, *, idempotent: bool = False) -> Any:
        return self.request("POST", path, json=body, idempotent=idempotent)

    def too_long(self, exc: TransientError) -> bool:
        """A ``Retry-After`` longer than ``max_retry_after``: not slept out inside the job.

        The error goes up with its ``retry_after`` and the job is re-scheduled for then, so a
        worker is not held for minutes and the helpdesk is not asked again too early (one
        more 429).
        """
        return exc.retry_after is not None and exc.retry_after > self.max_retry_after

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter for retry number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_initial * (2 ** max(0, attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = _NO_BODY,
                idempotent: bool | None = None) -> Any:
        """Send one request (with retries where safe); returns the decoded JSON body or None.

        ``path`` is relative to the configured base URL, or a full URL on the same host
        (pagination links): links to any other host are refused, so data in a response can
        never point our credentials elsewhere.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        url = self._url(path, params)
        safe_path = urlparse(url).path
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, TransientError) and (idempotent or not e.ambiguous)
                                     and not self.too_long(e)),
            sleep=self.sleep,
            before_sleep=lambda rs: log.warning(
                "%s %s %s: %s; retry %d in %.1fs", self.platform, method, safe_path,
                rs.outcome.exception() if rs.outcome else "?", rs.attempt_number,
                rs.next_action.sleep if rs.next_action else 0.0),
            reraise=True,
        )
        return retrying(self._send, method, url, safe_path, json)

    # -- internals ------------------------------------------------------------------------
    def _url(self, path: str, params: dict[str, Any] | None) -> str:
        if path.startswith(("http://", "https://")):
            u = urlparse(path)
            if u.netloc != self._host:
                raise PermanentError(f"{self.platform}: refusing to follow a link to another host ({u.netloc})")
            url = f"{self.base_url}{u.path}" + (f"?{u.query}" if u.query else "")
        else:
            url = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        return url

    def _wait(self, rs: RetryCallState) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        return self.backoff(rs.attempt_number)

    def _send(self, method: str, url: str, safe_path: str, body: Any) -> Any:
        if self.limiter is not None:
            self.limiter.acquire()
        kwargs: dict[str, Any] = {"timeout": self.timeout}
        if body is not _NO_BODY:
            # Serialise ourselves so a bare JSON value (Gorgias custom field: "x", 3, null) is sent as is.
            kwargs["data"] = jsonlib.dumps(body).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json"}
        what = f"{self.platform} {method} {safe_path}"
        started = time.monotonic()
        self.calls += 1
        try:
            resp = self.session.request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            # ConnectTimeout is a ConnectionError too: nothing was sent, retrying is always safe.
            not_sent = _not_sent(exc)
            raise TransientError(f"{what}: {'cannot connect' if not_sent else 'connection lost'} "
                                 f"({type(exc).__name__})", ambiguous=not not_sent) from None
        except requests.Timeout as exc:
            raise TransientError(f"{what}: no answer within {self.timeout[1]:.0f}s ({type(exc).__name__})",
                                 ambiguous=True) from None
        status = resp.status_code
        log.debug("%s -> %s in %.0fms", what, status, (time.monotonic() - started) * 1000)
        if 200 <= status < 300:
            if status == 204 or not resp.content:
                return None
            try:
                return resp.json()
            except ValueError:
                # The write went through; a non-JSON acknowledgement must not fail (and so repeat) it.
                log.debug("%s -> %s: answer is not JSON, ignored", what, status)
                return None
        reason = short_reason(resp)
        msg = f"{what} -> {status}: {reason}" if reason else f"{what} -> {status}"
        if status == 429:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            if retry_after is not None and self.limiter is not None:
                # Every worker of this account holds off for as long as the helpdesk asked.
                self.limiter.pause(retry_after)
            raise TransientError(msg, retry_after=retry_after)
        if status in (401, 403):
            raise AuthError(msg + (" (check the API credentials)" if status == 401 else " (the API user lacks permission)"))
        if status == 409:
            # Zendesk answers 409 to concurrent updates of one ticket: nothing was applied.
            raise TransientError(msg)
        if status >= 500:
            raise TransientError(msg, retry_after=parse_retry_after(resp.headers.get("Retry-After")), ambiguous=True)
        raise PermanentError(msg)


# --------------------------------------------------------------------------------------------
# Shared adapter machinery
# --------------------------------------------------------------------------------------------


def read_both_ends(read: Callable[[int, bool], tuple[list[dict[str, Any]], bool]], cap: int,
                   what: str) -> list[dict[str, Any]]:
    """A thread's items in thread order, read with at most ``cap`` page requests.

    ``read(limit, newest_first)`` returns up to ``limit`` pages' items (oldest first, or newest
    first) and whether items were left unread. A thread longer than the cap is read from both
    ends: the oldest half of the cap's pages (its opening message), then the newest (the message an
    event is about, the sidecar's own notes and their markers), each item once. Read only from the
    start, a ticket of thousands of messages was triaged and drafted on an old message and never
    found its note's marker (review of 2026-11-30).
    """
    oldest_pages = max(1, cap // 2)
    items, more = read(oldest_pages, False)
    if more and cap > oldest_pages:
        newest, more = read(cap - oldest_pages, True)
        seen = {m.get("id") for m in items}
        items += [m for m in reversed(newest) if m.get("id") not in seen]
    if more:
        log.warning("%s: thread longer than %d pages, its oldest and newest read", what, cap)
    return items


def html_to_text(html: str | None) -> str:
    """Visible text of an HTML fragment, whitespace collapsed (for fingerprints and fallbacks)."""
    if not html:
        return ""
    from bs4 import BeautifulSoup

    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def fingerprint(html_or_text: str, size: int = 160) -> str:
    """A stretch of a message's visible text used to recognise it in the thread after a lost answer.

    Reads at most ``MAX_HTML_CHARS`` of the message, as normalisation does: every agent message of a
    thread is fingerprinted after an ambiguous send, and one megabyte of HTML (a pasted log, an
    e-mail with inline styles) would otherwise be parsed whole, once per message per retry. The
    fingerprint looked for is the first 160 characters of our own reply, which lie well inside.
    """
    from pipeline.normalize import MAX_HTML_CHARS  # here: the web process need not load the parsers

    html_or_text = (html_or_text or "")[:MAX_HTML_CHARS]
    text = html_to_text(html_or_text) if "<" in html_or_text else " ".join(html_or_text.split())
    return text[:size]


class RestAdapter(Adapter):
    """Common parts of the REST adapters: settings, HTTP client, rate limiter, send-once logic.

    Subclasses set ``platform`` and implement :meth:`_auth` plus the :class:`Adapter` methods.
    ``sleep`` (retry waits) and ``limiter`` can be injected for tests; by default the limiter
    is shared through ``redis`` (a client or URL) and keyed by platform + helpdesk host.
    """

    ambiguous_attempts = 3  # sends of one note/reply after ambiguous failures (each preceded by a thread check)

    def __init__(self, ps: Any, *, redis: Any = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] | None = None, limiter: RateLimiter | None = None,
                 marker_key: bytes | None = None, **http_options: Any):
        if not ps.url or ps.api_token is None:
            raise PermanentError(f"{self.platform}: URL and API credentials are required for the REST adapter")
        self.ps = ps
        self.marker_key = marker_key  # recognises our own notes by their signed marker
        self.base_url = ps.url.rstrip("/")
        if limiter is None:
            limiter = RateLimiter.for_platform(self.platform, ps.url, ps.rate_per_minute, redis)
        self.http = HttpClient(self.platform, ps.url, self._auth(ps), limiter=limiter, session=session,
                               sleep=sleep if sleep is not None else time.sleep, **http_options)

    def _auth(self, ps: Any) -> tuple[str, str]:
        raise NotImplementedError

    def _own_user_ids(self) -> set[str]:
        return {str(self.ps.user_id)} if self.ps.user_id else set()

    def _is_own(self, author_id: Any, *texts: str | None) -> bool:
        """The sidecar wrote it: its API user id, or a marker signed with our key in the body.

        Never a bare substring: a customer who writes ``sidecar-event:`` (visibly, in a hidden
        HTML span, or with look-alike characters) stays a customer.
        """
        if author_id is not None and str(author_id) in self._own_user_ids():
            return True
        return any(is_own_marker(t, self.marker_key) for t in texts)

    def _ticket_id(self, ticket_id: Any) -> str:
        """``ticket_id`` checked to be a number before it goes into an API path."""
        try:
            return check_ticket_id(ticket_id)
        except BadPayload:
            raise PermanentError(f"{self.platform}: ticket id must be a number") from None

    def _send_once(self, ticket: Ticket, what: str, send: Callable[[], Any], found: Callable[[Ticket], bool]) -> None:
        """Send a non-idempotent write (note, reply) at most once.

        Skips when ``found`` already sees it in the thread (a retried job); after an ambiguous
        failure re-reads the thread and sends again only if it is still not there.
        """
        if found(ticket):
            log.info("%s ticket %s: %s already in the thread, not sending again", self.platform, ticket.id, what)
            return
        last: TransientError | None = None
        for attempt in range(1, self.ambiguous_attempts + 1):
            try:
                send()
                return
            except TransientError as exc:
                if not exc.ambiguous:
                    raise
                last = exc
                log.warning("%s ticket %s: %s may have been stored (%s); checking the thread",
                            self.platform, ticket.id, what, exc)
            fresh = self.fetch_ticket(ticket.id)
            if found(fresh):
                log.info("%s ticket %s: %s was stored despite the error, not sending again",
                         self.platform, ticket.id, what)
                return
            if attempt < self.ambiguous_attempts:
                self.http.sleep(self.http.backoff(attempt))
        assert last is not None
        raise last

    def _send_note_once(self, ticket: Ticket, marker: str, send: Callable[[], Any]) -> None:
        if not marker:
            raise PermanentError(f"{self.platform}: a note needs the event marker (exactly-once check)")
        self._send_once(ticket, "note", send, lambda t: t.has_marker(marker))

    def _send_reply_once(self, ticket: Ticket, html: str, send: Callable[[], Any]) -> None:
        # A public reply carries no visible marker (the customer reads it): recognise it by its text.
        fp = fingerprint(html)

        def found(t: Ticket) -> bool:
            return bool(fp) and any(
                m.public and m.author_role in (AGENT, SIDECAR) and fp in fingerprint(m.body_html or m.body_text, 100000)
                for m in t.messages)

        self._send_once(ticket, "public reply", send, found)
