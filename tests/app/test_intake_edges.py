"""Intake edges a new operator meets: oversize bodies (413 JSON naming the limit), content types."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from werkzeug.serving import make_server

from tests.conftest import ROOT, load_fixture, reset_caches


@pytest.fixture
def small_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    monkeypatch.setenv("SIDECAR_MAX_BODY_BYTES", "2000")
    reset_caches()
    from app import create_app
    from app.jobs.embedded import get_embedded_queue
    from app.settings import get_settings

    app = create_app()
    # Intake is what these tests look at: the accepted events stay queued, no job runs on after the test.
    get_embedded_queue(get_settings()).stop()
    yield app
    reset_caches()


def _assert_413(r) -> None:
    assert r.status_code == 413
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.get_json()
    assert body["status"] == "error" and body["error"] == "body too large"
    assert "2000 bytes" in body["detail"] and "SIDECAR_MAX_BODY_BYTES" in body["detail"]
    assert body["limit_bytes"] == 2000


@pytest.mark.parametrize("path", ["/webhooks/zendesk", "/webhooks/gorgias", "/webhooks/freshdesk"])
def test_413_is_the_json_error_shape_naming_the_limit(small_limit, path):
    big = json.dumps({"ticket_id": "1", "pad": "x" * 5000}).encode()
    _assert_413(small_limit.test_client().post(path, data=big, headers={"Content-Type": "application/json"}))


def test_a_chunked_body_past_the_limit_is_413_not_parsed_truncated(small_limit):
    """Without Content-Length the server cuts the stream at the limit; that must not become a 400 or a job."""
    srv = make_server("127.0.0.1", 0, small_limit, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/webhooks/freshdesk"
        # Valid JSON whose first 2000 bytes are also a plausible prefix: it must not be parsed cut.
        big = json.dumps({"freshdesk_webhook": {"ticket_id": "11", "ticket_latest_public_comment": "y" * 5000}}).encode()
        r = requests.post(url, data=iter([big]), headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 413 and r.json()["limit_bytes"] == 2000
        small = json.dumps({"freshdesk_webhook": {"ticket_id": "11", "ticket_latest_public_comment": "hi"}}).encode()
        r = requests.post(url, data=iter([small]), headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 202, r.text
    finally:
        srv.shutdown()
        t.join(5)


@pytest.mark.parametrize("ctype", ["text/plain", "text/plain; charset=utf-8", None, "application/x-www-form-urlencoded"])
def test_json_body_with_another_or_no_content_type_is_accepted(small_limit, ctype):
    """Some senders label JSON as text/plain or send no Content-Type: the body decides (README says so)."""
    body = load_fixture("zendesk", "webhook_comment_added.json")
    headers = {"Content-Type": ctype} if ctype else {}
    r = small_limit.test_client().post("/webhooks/zendesk", data=body, headers=headers)
    assert r.status_code == 202, r.get_json()
