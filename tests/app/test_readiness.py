"""Readiness tells the truth: one rule for each platform's state, shared by intake, banner, /readyz, /ops."""

from __future__ import annotations

import pytest

from adapters import freshdesk, gorgias, zendesk
from adapters.base import AuthError
from app.settings import load_settings, platform_states
from tests.conftest import ROOT, load_fixture, reset_caches

ZD_LIVE = {"ZENDESK_URL": "https://acme.zendesk.com", "ZENDESK_EMAIL": "bot@acme.test", "ZENDESK_API_TOKEN": "t"}
GG_LIVE = {"GORGIAS_URL": "https://acme.gorgias.com", "GORGIAS_EMAIL": "bot@acme.test", "GORGIAS_API_KEY": "k"}
VERIFY = {"zendesk": zendesk.verify, "gorgias": gorgias.verify, "freshdesk": freshdesk.verify}


def _accepts_unsigned(settings, name: str) -> bool:
    try:
        VERIFY[name]({}, b"{}", {}, settings)
    except AuthError:
        return False
    return True


@pytest.mark.parametrize("env,expected", [
    ({}, {"zendesk": "dry-run", "gorgias": "dry-run", "freshdesk": "dry-run"}),
    ({**GG_LIVE}, {"zendesk": "refusing", "gorgias": "refusing", "freshdesk": "refusing"}),
    ({**GG_LIVE, "GORGIAS_WEBHOOK_TOKEN": "s"}, {"zendesk": "refusing", "gorgias": "live", "freshdesk": "refusing"}),
    ({**GG_LIVE, "GORGIAS_WEBHOOK_TOKEN": "s", "ZENDESK_WEBHOOK_SECRET": "z", "FRESHDESK_WEBHOOK_TOKEN": "f"},
     {"zendesk": "dry-run", "gorgias": "live", "freshdesk": "dry-run"}),
    ({**GG_LIVE, "SIDECAR_ALLOW_UNSIGNED": "1"}, {"zendesk": "dry-run", "gorgias": "live", "freshdesk": "dry-run"}),
    ({**ZD_LIVE, **GG_LIVE, "ZENDESK_WEBHOOK_SECRET": "z"},
     {"zendesk": "live", "gorgias": "refusing", "freshdesk": "refusing"}),
])
def test_state_table_and_intake_agree(env, expected):
    s = load_settings(env)
    states = platform_states(s)
    assert {n: st.state for n, st in states.items()} == expected
    for name, st in states.items():
        has_secret = bool(s.platform(name).webhook_secrets)
        # What intake does without a secret is exactly what the state says.
        if not has_secret:
            assert _accepts_unsigned(s, name) is (st.state != "refusing"), (name, st)
        if st.state == "refusing":
            assert st.fix and ("WEBHOOK" in st.fix)


def test_dry_run_platform_without_secret_refuses_when_another_is_live():
    """On a Gorgias-only deployment an unsigned /webhooks/zendesk must not run the pipeline."""
    s = load_settings({**GG_LIVE, "GORGIAS_WEBHOOK_TOKEN": "s"})
    with pytest.raises(AuthError, match="ZENDESK_WEBHOOK_SECRET"):
        zendesk.verify({}, b"{}", {}, s)
    with pytest.raises(AuthError, match="FRESHDESK_WEBHOOK_TOKEN"):
        freshdesk.verify({}, b"{}", {}, s)


def test_banner_says_live_but_refusing():
    s = load_settings({**GG_LIVE})
    line = platform_states(s)["gorgias"].banner(s.outbox_dir)
    assert line == "LIVE https://acme.gorgias.com but refusing webhooks: set GORGIAS_WEBHOOK_TOKEN"
    assert "DRY RUN" in platform_states(load_settings({}))["zendesk"].banner(s.outbox_dir)


@pytest.fixture
def live_gorgias_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    cfg = tmp_path / "config"
    cfg.mkdir()
    for name in ("intents.yaml", "rules.yaml", "drafting.yaml"):
        (cfg / name).write_text((ROOT / "config" / name).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("SIDECAR_CONFIG", str(cfg))
    for k, v in GG_LIVE.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("OPS_TOKEN", "ops-token")
    reset_caches()
    yield cfg
    reset_caches()


def test_readyz_and_ops_show_refusing_platform_and_rejected_config(live_gorgias_env):
    import os
    import time

    from app import create_app

    client = create_app().test_client()
    r = client.get("/readyz")
    body = r.get_json()
    assert r.status_code == 200 and body["status"] == "degraded"
    assert body["platforms"]["gorgias"]["state"] == "refusing"
    assert body["platforms"]["gorgias"]["fix"] == "set GORGIAS_WEBHOOK_TOKEN"
    assert body["platforms"]["zendesk"]["state"] == "refusing"  # dry-run, but another platform is live
    assert any("gorgias refuses webhooks" in p for p in body["problems"])
    # And intake does what /readyz says.
    wh = load_fixture("gorgias", "webhook_message_created.json")
    assert client.post("/webhooks/gorgias", data=wh, headers={"Content-Type": "application/json"}).status_code == 401

    # A broken edit on disk: the last good config stays in force, and both pages say so.
    rules = live_gorgias_env / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("draft: true", "draft: maybe", 1), encoding="utf-8")
    later = time.time() + 5
    os.utime(rules, (later, later))
    body = client.get("/readyz").get_json()
    assert body["checks"]["config"].startswith("ok")
    assert "rules.yaml" in body["checks"]["config_on_disk"] and "draft" in body["checks"]["config_on_disk"]
    assert any("config change on disk rejected" in p for p in body["problems"])

    page = client.get("/ops", headers={"Authorization": "Bearer ops-token"}).get_data(as_text=True)
    assert 'data-platform="gorgias"' in page and "set GORGIAS_WEBHOOK_TOKEN" in page
    assert 'id="config-rejected"' in page and "rules.yaml" in page


def test_readyz_ready_on_the_demo(monkeypatch, tmp_path):
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    reset_caches()
    try:
        from app import create_app

        body = create_app().test_client().get("/readyz").get_json()
        assert body["status"] == "ready" and "problems" not in body
        assert {p["state"] for p in body["platforms"].values()} == {"dry-run"}
    finally:
        reset_caches()
