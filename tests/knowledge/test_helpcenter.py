"""Help-centre sync against faked helpdesk APIs (responses): pagination, auth, SSRF, incremental sync."""

from __future__ import annotations

import base64

import pytest
import responses
from responses import matchers

from app.settings import get_settings, reset_settings
from knowledge.helpcenter import SyncError, fetch_articles, sync_platform
from knowledge.retrieve import search

ZD = "https://acme.zendesk.example"
FD = "https://acme.freshdesk.example"
GG = "https://acme.gorgias.example"


@pytest.fixture
def helpdesk_env(monkeypatch):
    env = {
        "ZENDESK_URL": ZD, "ZENDESK_EMAIL": "bot@acme.example", "ZENDESK_API_TOKEN": "zd-token",
        "ZENDESK_WEBHOOK_SECRET": "s",
        "FRESHDESK_URL": FD, "FRESHDESK_API_KEY": "fd-key", "FRESHDESK_WEBHOOK_TOKEN": "t",
        "GORGIAS_URL": GG, "GORGIAS_EMAIL": "bot@acme.example", "GORGIAS_API_KEY": "gg-key",
        "GORGIAS_WEBHOOK_TOKEN": "t",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    yield
    reset_settings()


def _zd_article(i: int, title: str, body: str, **kw) -> dict:
    return {"id": i, "title": title, "body": body, "html_url": f"{ZD}/hc/en-us/articles/{i}", "locale": "en-us",
            "updated_at": "2026-09-01T10:00:00Z", "draft": False, **kw}


def _basic(user: str, pw: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


@responses.activate
def test_zendesk_guide_cursor_pagination_skips_drafts(helpdesk_env):
    page2 = f"{ZD}/api/v2/help_center/articles.json?page[size]=100&page[after]=abc"
    responses.get(
        f"{ZD}/api/v2/help_center/articles.json",
        match=[matchers.query_param_matcher({"page[size]": "100"}),
               matchers.header_matcher({"Authorization": _basic("bot@acme.example/token", "zd-token")})],
        json={"articles": [_zd_article(1, "Shipping times", "<h2>Europe</h2><p>Two to four days.</p>"),
                           _zd_article(2, "Secret draft", "<p>wip</p>", draft=True)],
              "meta": {"has_more": True, "after_cursor": "abc"}, "links": {"next": page2}},
    )
    responses.get(page2, json={"articles": [_zd_article(3, "Returns", "<p>Thirty days to return items.</p>")],
                               "meta": {"has_more": False}, "links": {"next": None}})
    docs = fetch_articles(get_settings(), "zendesk")
    assert [d.doc_id for d in docs] == ["zendesk:article:1", "zendesk:article:3"]
    assert docs[0].url == f"{ZD}/hc/en-us/articles/1" and "## Europe" in docs[0].text and docs[0].language == "en"
    assert all(c.request.headers["Accept"] == "application/json" for c in responses.calls)


@responses.activate
def test_pagination_link_to_another_host_is_refused(helpdesk_env):
    responses.get(f"{ZD}/api/v2/help_center/articles.json",
                  json={"articles": [], "meta": {"has_more": True}, "links": {"next": "https://evil.example/steal"}})
    with pytest.raises(SyncError, match="another host"):
        fetch_articles(get_settings(), "zendesk")
    assert len(responses.calls) == 1


@responses.activate
def test_auth_failure_and_unconfigured_platform(helpdesk_env, monkeypatch):
    responses.get(f"{ZD}/api/v2/help_center/articles.json", status=401, json={"error": "Couldn't authenticate you"})
    with pytest.raises(SyncError, match="credentials"):
        fetch_articles(get_settings(), "zendesk")
    for k in ("ZENDESK_URL", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"):
        monkeypatch.delenv(k)
    reset_settings()
    with pytest.raises(SyncError, match="not configured"):
        fetch_articles(get_settings(), "zendesk")


@responses.activate
def test_freshdesk_solutions_walk_categories_folders_articles(helpdesk_env):
    auth = matchers.header_matcher({"Authorization": _basic("fd-key", "X")})
    responses.get(f"{FD}/api/v2/solutions/categories", match=[auth], json=[{"id": 10, "name": "General"}])
    responses.get(f"{FD}/api/v2/solutions/categories/10/folders", json=[{"id": 20, "name": "Orders"}])
    full_page = [{"id": 100 + i, "title": f"Article {i}", "description": f"<p>Body {i} about orders.</p>",
                  "status": 2, "updated_at": "2026-09-01T00:00:00Z"} for i in range(100)]
    full_page[5]["status"] = 1  # a draft
    responses.get(f"{FD}/api/v2/solutions/folders/20/articles",
                  match=[matchers.query_param_matcher({"page": "1", "per_page": "100"})], json=full_page)
    responses.get(f"{FD}/api/v2/solutions/folders/20/articles",
                  match=[matchers.query_param_matcher({"page": "2", "per_page": "100"})],
                  json=[{"id": 999, "title": "Last", "description": "<p>Final body.</p>", "status": 2}])
    docs = fetch_articles(get_settings(), "freshdesk")
    assert len(docs) == 100  # 99 published on page 1 + 1 on page 2
    assert "freshdesk:article:105" not in {d.doc_id for d in docs}
    assert docs[-1].url == f"{FD}/support/solutions/articles/999" and docs[-1].text == "Final body."


@responses.activate
def test_gorgias_help_center_articles(helpdesk_env):
    responses.get(f"{GG}/api/help-center/help-centers", json={"data": [{"id": 7, "subdomain": "acme"}], "meta": {}})
    art = {"id": 55, "translation": {"title": "Cancel an order", "content": "<p>Cancel while processing.</p>",
                                     "slug": "cancel-an-order", "locale": "en-US",
                                     "updated_datetime": "2026-09-01T00:00:00Z"}}
    responses.get(f"{GG}/api/help-center/help-centers/7/articles", match=[matchers.query_param_matcher({"limit": "100"})],
                  json={"data": [art], "meta": {"next_cursor": "c2"}})
    responses.get(f"{GG}/api/help-center/help-centers/7/articles",
                  match=[matchers.query_param_matcher({"limit": "100", "cursor": "c2"})],
                  json={"data": [], "meta": {"next_cursor": None}})
    docs = fetch_articles(get_settings(), "gorgias")
    assert len(docs) == 1 and docs[0].title == "Cancel an order"
    assert docs[0].url == "https://acme.gorgias.help/en-US/cancel-an-order-55"


@responses.activate
def test_gorgias_without_help_center_api_says_so(helpdesk_env):
    responses.get(f"{GG}/api/help-center/help-centers", status=404)
    with pytest.raises(SyncError, match="kb ingest"):
        fetch_articles(get_settings(), "gorgias")


@responses.activate
def test_sync_is_incremental_and_removes_deleted_articles(helpdesk_env, counting_store):
    store, counter = counting_store
    url = f"{ZD}/api/v2/help_center/articles.json"
    a1 = _zd_article(1, "Gift cards", "<p>Gift cards are valid for twelve months and cannot be exchanged for cash.</p>")
    a2 = _zd_article(2, "Password reset", "<p>Use the forgot password link to receive a reset email.</p>")
    responses.get(url, json={"articles": [a1, a2], "meta": {"has_more": False}})
    first = sync_platform(get_settings(), store, "zendesk", progress=False)
    assert first.added == 2
    assert search(store, "how long is my voucher valid", k=1)[0].id == "zendesk:article:1"
    responses.replace(responses.GET, url, json={"articles": [a2], "meta": {"has_more": False}})
    counter.texts.clear()
    second = sync_platform(get_settings(), store, "zendesk", progress=False)
    assert (second.added, second.deleted, counter.texts) == (0, 1, [])
    assert {m["doc_id"] for m in store.collection.get(include=["metadatas"])["metadatas"]} == {"zendesk:article:2"}
