"""Settings from env: validation messages name the variable, never the secret."""

from __future__ import annotations

import pytest

from app.settings import SettingsError, load_settings


def test_defaults_are_embedded_and_dry_run():
    s = load_settings({})
    assert s.embedded and not s.zendesk.configured and not s.gorgias.configured and not s.freshdesk.configured
    assert s.chroma_path == "var/chroma" and s.config_dir == "config"


def test_full_platform_config():
    s = load_settings({"ZENDESK_URL": "https://acme.zendesk.com/", "ZENDESK_EMAIL": "bot@acme.com",
                       "ZENDESK_API_TOKEN": "tok", "ZENDESK_WEBHOOK_SECRET": "sec", "REDIS_URL": "redis://x:6379/0"})
    assert s.zendesk.configured and s.zendesk.url == "https://acme.zendesk.com" and not s.embedded


@pytest.mark.parametrize("env,msg", [
    ({"ZENDESK_URL": "https://acme.zendesk.com"}, "ZENDESK_API_TOKEN"),
    ({"GORGIAS_URL": "http://acme.gorgias.com", "GORGIAS_EMAIL": "a", "GORGIAS_API_KEY": "k"}, "https"),
    ({"FRESHDESK_URL": "ftp://x"}, "FRESHDESK_URL"),
    ({"FRESHDESK_API_KEY": "supersecret"}, "FRESHDESK_URL"),
    ({"SIDECAR_MAX_BODY_BYTES": "lots"}, "SIDECAR_MAX_BODY_BYTES"),
    ({"SIDECAR_TRIAGE_ENGLISH": "of"}, "SIDECAR_TRIAGE_ENGLISH"),  # a typo no longer keeps the head on silently
    ({"SIDECAR_KB_MULTILINGUAL": "yse"}, "SIDECAR_KB_MULTILINGUAL"),
    # Options that are off by default: a typo no longer leaves them off silently either.
    ({"SIDECAR_TRIAGE_MINILM": "ture"}, "SIDECAR_TRIAGE_MINILM"),
    ({"SIDECAR_DRAFT_CROSS_ENCODER": "onn"}, "SIDECAR_DRAFT_CROSS_ENCODER"),
    # On by default: "of" or "flase" kept the shipped vectors on silently (a benchmark then timed the seed).
    ({"SIDECAR_EMBEDDING_SEED": "of"}, "SIDECAR_EMBEDDING_SEED"),
    ({"SIDECAR_EMBEDDING_SEED": "flase"}, "SIDECAR_EMBEDDING_SEED"),
    # Negative numbers: "-300" turned Zendesk's replay window off (only > 0 was checked) instead of refusing.
    ({"ZENDESK_SIGNATURE_TOLERANCE": "-300"}, "ZENDESK_SIGNATURE_TOLERANCE must be at least 0"),
    ({"SLACK_SIGNATURE_TOLERANCE": "0"}, "SLACK_SIGNATURE_TOLERANCE must be at least 1"),
    ({"SIDECAR_MAX_BODY_BYTES": "-1"}, "SIDECAR_MAX_BODY_BYTES"),
    ({"SIDECAR_DEDUPE_TTL": "-5"}, "SIDECAR_DEDUPE_TTL"),
    ({"SIDECAR_JOB_TIMEOUT": "0"}, "SIDECAR_JOB_TIMEOUT"),
    ({"GORGIAS_RATE_PER_MINUTE": "-40"}, "GORGIAS_RATE_PER_MINUTE"),
])
def test_invalid_settings_name_the_variable(env, msg):
    with pytest.raises(SettingsError, match=msg) as exc:
        load_settings(env)
    assert "supersecret" not in str(exc.value)


def test_http_allowed_for_loopback_test_servers():
    s = load_settings({"FRESHDESK_URL": "http://127.0.0.1:8089", "FRESHDESK_API_KEY": "k", "FRESHDESK_WEBHOOK_TOKEN": "t"})
    assert s.freshdesk.url == "http://127.0.0.1:8089"


def test_plain_http_elsewhere_only_with_explicit_opt_in():
    env = {"FRESHDESK_URL": "http://helpdesk.test:8080", "FRESHDESK_API_KEY": "k", "FRESHDESK_WEBHOOK_TOKEN": "t"}
    with pytest.raises(SettingsError, match="https"):
        load_settings(env)
    assert load_settings({**env, "SIDECAR_ALLOW_HTTP": "1"}).freshdesk.url == "http://helpdesk.test:8080"


def test_live_platform_without_webhook_secret_starts_but_refuses_its_webhooks():
    from adapters import freshdesk
    from adapters.base import AuthError

    s = load_settings({"FRESHDESK_URL": "https://acme.freshdesk.com", "FRESHDESK_API_KEY": "k"})
    assert s.freshdesk.configured and not s.freshdesk.webhook_secrets
    with pytest.raises(AuthError, match="FRESHDESK_WEBHOOK_TOKEN is not set"):
        freshdesk.verify({"X-Sidecar-Token": "anything"}, b"{}", {}, s)
