"""The CLI as an operator runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import ROOT


def run(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def _env(tmp_path, **extra):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENDESK_", "GORGIAS_", "FRESHDESK_", "REDIS_URL",
                                                                     "OPENAI_", "SIDECAR_"))}
    env.update({"SIDECAR_VAR": str(tmp_path / "var"), "SIDECAR_CONFIG": str(ROOT / "config"), **extra})
    return env


def test_replay_prints_the_note_and_writes_the_outbox(tmp_path):
    r = run("replay", "samples/freshdesk_ticket_created.json", "--platform", "freshdesk", env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "internal note" in r.stdout and "Intent: account_access" in r.stdout
    assert (tmp_path / "var" / "outbox" / "freshdesk.jsonl").exists()


def test_check_config_prints_the_table(tmp_path):
    r = run("check-config", env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "return_refund" in r.stdout and "YES" in r.stdout and "OK:" in r.stdout


def test_check_config_rejects_auto_reply_on_sensitive_intent(tmp_path):
    cfg = tmp_path / "cfg"
    shutil.copytree(ROOT / "config", cfg, ignore=shutil.ignore_patterns("knowledge"))
    rules = (cfg / "rules.yaml").read_text().replace("  return_refund:\n    priority_floor: normal",
                                                     "  return_refund:\n    auto_reply: {enabled: true}")
    (cfg / "rules.yaml").write_text(rules)
    r = run("check-config", "--config", str(cfg), env=_env(tmp_path))
    assert r.returncode == 1
    assert "rules.yaml: intent 'return_refund': auto_reply.enabled" in r.stderr


def test_settings_error_is_clear_and_secret_free(tmp_path):
    r = run("replay", "samples/freshdesk_ticket_created.json", "--platform", "freshdesk",
            env=_env(tmp_path, FRESHDESK_API_KEY="topsecret-key"))
    assert r.returncode != 0
    assert "FRESHDESK_URL" in r.stderr and "topsecret-key" not in r.stderr + r.stdout


def test_worker_without_redis_explains(tmp_path):
    r = run("worker", "--burst", env=_env(tmp_path))
    assert r.returncode != 0 and "REDIS_URL" in r.stderr
