"""Help-centre sync: fetch published articles from Zendesk Guide, Freshdesk Solutions and Gorgias.

Base URLs and credentials come only from :mod:`app.settings` (never from data); pagination
links returned by the API are followed only when they point at the configured host (SSRF).
Every request has a timeout; 429 responses are retried after ``Retry-After``.

- **Zendesk Guide**: ``GET /api/v2/help_center/articles.json`` with cursor pagination
  (``meta.has_more`` + ``links.next``), falling back to offset pagination (``next_page``).
  Drafts are skipped.
- **Freshdesk Solutions**: ``GET /api/v2/solutions/categories`` → ``/categories/{id}/folders`` →
  ``/folders/{id}/articles?page=N`` (30 per page by default). Only published articles (status 2).
- **Gorgias**: its public REST spec (March 2024) has no help-center endpoints. We implement the
  Help Center API as documented by Gorgias at ``/api/help-center/help-centers`` and
  ``/api/help-center/help-centers/{id}/articles`` (``data`` + ``meta.next_cursor``), tolerant of
  field names; this path is unconfirmed against a live account and reports a clear error if
  the account answers 404.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlparse

import requests

from knowledge.chunking import Document, html_to_text
from knowledge.progress import Progress

log = logging.getLogger(__name__)

TIMEOUT = (5, 30)  # connect, read
MAX_PAGES = 1000


class SyncError(RuntimeError):
    """A help centre could not be read (not configured, auth failure, unexpected answer)."""


class _Api:
    def __init__(self, base: str, auth: tuple[str, str], session: requests.Session | None = None) -> None:
        self.base = base.rstrip("/")
        self.host = urlparse(self.base).netloc
        self.s = session or requests.Session()
        self.s.auth = auth
        self.s.headers["Accept"] = "application/json"

    def get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        full = url if url.startswith(("http://", "https://")) else self.base + url
        if urlparse(full).netloc != self.host:
            raise SyncError(f"refusing to follow a pagination link to another host ({urlparse(full).netloc})")
        for attempt in range(4):
            resp = self.s.get(full, params=params, timeout=TIMEOUT)
            if resp.status_code == 429 and attempt < 3:
                wait = min(float(resp.headers.get("Retry-After") or 5), 60.0)
                log.warning("help centre rate limited, waiting %.0fs", wait)
                time.sleep(wait)
                continue
            break
        if resp.status_code in (401, 403):
            raise SyncError(f"help centre refused the credentials (HTTP {resp.status_code}) for {urlparse(full).path}")
        if resp.status_code >= 400:
            raise SyncError(f"help centre answered HTTP {resp.status_code} for {urlparse(full).path}")
        return resp


def _settings_for(settings: Any, platform: str) -> Any:
    ps = settings.platform(platform)
    if not ps.configured:
        raise SyncError(f"{platform} is not configured: set {platform.upper()}_URL and its credentials in the env")
    return ps


# ---------------------------------------------------------------- Zendesk Guide


def zendesk_articles(base: str, email: str, token: str, session: requests.Session | None = None) -> Iterator[Document]:
    """Published Zendesk Guide articles as documents."""
    api = _Api(base, (f"{email}/token", token), session)
    url: str | None = "/api/v2/help_center/articles.json"
    params: dict[str, Any] | None = {"page[size]": 100}
    for _ in range(MAX_PAGES):
        if not url:
            break
        data = api.get(url, params).json()
        params = None  # the next link carries its own query
        for a in data.get("articles") or []:
            if a.get("draft"):
                continue
            yield Document(
                doc_id=f"zendesk:article:{a['id']}",
                title=str(a.get("title") or a.get("name") or f"Article {a['id']}"),
                text=html_to_text(a.get("body") or ""),
                url=a.get("html_url") or None,
                source_type="article",
                updated_at=str(a.get("updated_at") or a.get("edited_at") or ""),
                language=str(a.get("locale") or "").split("-")[0],
                intents=[str(x)[7:] for x in (a.get("label_names") or []) if str(x).startswith("intent:")],
            )
        meta, links = data.get("meta") or {}, data.get("links") or {}
        if meta.get("has_more") and links.get("next"):
            url = links["next"]
        else:
            url = data.get("next_page")  # offset pagination (older accounts / endpoints)


# ---------------------------------------------------------------- Freshdesk Solutions


def _fd_pages(api: _Api, path: str) -> Iterator[dict[str, Any]]:
    for page in range(1, MAX_PAGES + 1):
        items = api.get(path, {"page": page, "per_page": 100}).json()
        if not isinstance(items, list):
            raise SyncError(f"unexpected Freshdesk answer for {path}: expected a list")
        yield from items
        if len(items) < 100:
            break


def freshdesk_articles(base: str, api_key: str, session: requests.Session | None = None) -> Iterator[Document]:
    """Published Freshdesk Solutions articles (categories → folders → articles) as documents."""
    root = base.rstrip("/")
    api = _Api(root, (api_key, "X"), session)
    prefix = "" if root.endswith("/api/v2") else "/api/v2"
    portal = root[: -len("/api/v2")] if root.endswith("/api/v2") else root
    for cat in api.get(f"{prefix}/solutions/categories").json():
        for folder in api.get(f"{prefix}/solutions/categories/{cat['id']}/folders").json():
            for a in _fd_pages(api, f"{prefix}/solutions/folders/{folder['id']}/articles"):
                if a.get("status") not in (None, 2):  # 1 draft, 2 published
                    continue
                body = a.get("description") or ""
                yield Document(
                    doc_id=f"freshdesk:article:{a['id']}",
                    title=str(a.get("title") or f"Article {a['id']}"),
                    text=html_to_text(body) if body else str(a.get("description_text") or ""),
                    url=f"{portal}/support/solutions/articles/{a['id']}",
                    source_type="article",
                    updated_at=str(a.get("updated_at") or ""),
                    intents=[str(t)[7:] for t in (a.get("tags") or []) if str(t).startswith("intent:")],
                )


# ---------------------------------------------------------------- Gorgias help center


def _gorgias_list(api: _Api, path: str) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"limit": 100}
    for _ in range(MAX_PAGES):
        data = api.get(path, params).json()
        items = data.get("data") if isinstance(data, dict) else data
        yield from items or []
        cursor = ((data.get("meta") or {}).get("next_cursor")) if isinstance(data, dict) else None
        if not cursor:
            break
        params = {"limit": 100, "cursor": cursor}


def gorgias_articles(base: str, email: str, api_key: str, session: requests.Session | None = None) -> Iterator[Document]:
    """Gorgias help-center articles as documents (see the module docstring: endpoint unconfirmed)."""
    api = _Api(base, (email, api_key), session)
    try:
        centers = list(_gorgias_list(api, "/api/help-center/help-centers"))
    except SyncError as exc:
        raise SyncError(f"Gorgias help-center API not available on this account ({exc}); "
                        "export the articles and use `kb ingest PATH` instead") from None
    for hc in centers:
        domain = hc.get("custom_domain") or (f"{hc['subdomain']}.gorgias.help" if hc.get("subdomain") else None)
        for a in _gorgias_list(api, f"/api/help-center/help-centers/{hc['id']}/articles"):
            tr = a.get("translation") or (a.get("translations") or [{}])[0] or {}
            if tr.get("is_current") is False or a.get("visibility_status") in ("UNLISTED", "HIDDEN"):
                continue
            slug = tr.get("slug") or a.get("slug")
            url = urljoin(f"https://{domain}/", f"{tr.get('locale') or 'en-US'}/{slug}-{a['id']}") \
                if domain and slug else None
            yield Document(
                doc_id=f"gorgias:article:{a['id']}",
                title=str(tr.get("title") or a.get("title") or f"Article {a['id']}"),
                text=html_to_text(tr.get("content") or a.get("content") or ""),
                url=url,
                source_type="article",
                updated_at=str(tr.get("updated_datetime") or a.get("updated_datetime") or ""),
                language=str(tr.get("locale") or "").split("-")[0],
            )


# ---------------------------------------------------------------- entry point

PLATFORMS = ("zendesk", "freshdesk", "gorgias")


def _iter_articles(settings: Any, platform: str, session: requests.Session | None = None) -> Iterator[Document]:
    if platform not in PLATFORMS:
        raise SyncError(f"unknown platform {platform!r} (one of {', '.join(PLATFORMS)})")
    ps = _settings_for(settings, platform)
    token = ps.api_token.get_secret_value()
    if platform == "zendesk":
        return zendesk_articles(ps.url, ps.email, token, session)
    if platform == "freshdesk":
        return freshdesk_articles(ps.url, token, session)
    return gorgias_articles(ps.url, ps.email, token, session)


def fetch_articles(settings: Any, platform: str, session: requests.Session | None = None) -> list[Document]:
    """All published help-centre articles of ``platform``, with the URL and credentials in ``settings``."""
    return list(_iter_articles(settings, platform, session))


def sync_platform(settings: Any, store: Any, platform: str, session: requests.Session | None = None,
                  progress: bool | Progress | None = None):
    """Fetch ``platform``'s help centre and ingest it incrementally (articles deleted there are removed).

    With a :class:`~knowledge.progress.Progress`, it counts the articles fetched, then the chunks embedded.
    """
    from knowledge.ingest import ingest_documents

    if isinstance(progress, Progress):
        progress.start(None, f"fetching {platform} articles", "article")
        docs = []
        for doc in _iter_articles(settings, platform, session):
            docs.append(doc)
            progress.update(1)
    else:
        docs = fetch_articles(settings, platform, session)
    return ingest_documents(store, docs, origin=f"helpcenter:{platform}", progress=progress)
