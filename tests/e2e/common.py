"""Shared parts of the per-platform end-to-end tests.

A real helpdesk connection is configured (URL + credentials in env), the helpdesk itself is the
stateful fake of the adapter contract suite (``responses``), the webhook goes through the Flask
app and the job through the sidecar's real rq worker (burst). The tests pin the full sequence of
API calls a customer message causes, and that nothing else is called.
"""

from __future__ import annotations

import json
from typing import Any

from tests.adapters.test_contract import BOT_ID, EMAIL, TOKEN, FakeHelpdesk
from tests.conftest import auth_headers, reset_caches, run_worker

WISMO = "Hi, I ordered trail shoes last week (order #55123) and the tracking number still shows nothing. Where is my order?"


def configure(monkeypatch, platform: str, base: str) -> None:
    up = platform.upper()
    monkeypatch.setenv(f"{up}_URL", base)
    monkeypatch.setenv({"zendesk": "ZENDESK_API_TOKEN", "gorgias": "GORGIAS_API_KEY",
                        "freshdesk": "FRESHDESK_API_KEY"}[platform], TOKEN)
    if platform != "freshdesk":
        monkeypatch.setenv(f"{up}_EMAIL", EMAIL)
    monkeypatch.setenv(f"{up}_USER_ID", str(BOT_ID))
    reset_caches()


def post(client, platform: str, body: dict[str, Any]):
    raw = json.dumps(body).encode()
    return client.post(f"/webhooks/{platform}", data=raw, headers=auth_headers(platform, raw))


def deliver_and_work(client, platform: str, body: dict[str, Any], redis_url: str) -> Any:
    resp = post(client, platform, body)
    run_worker(redis_url)
    return resp


def sequence(fake: FakeHelpdesk, since: int = 0) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in fake.calls[since:]]


def make_client(monkeypatch, platform: str, base: str):
    """The Flask test client of an app whose ``platform`` writes to a real (here: fake) helpdesk."""
    configure(monkeypatch, platform, base)
    from app import create_app

    return create_app().test_client()


def failed_reasons() -> list[str]:
    from app.commands.jobs import failed_jobs
    from app.settings import get_settings

    return [f["error"] for f in failed_jobs(get_settings())]
