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


def _busy_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


def test_serve_on_a_busy_port_fails_before_loading_anything_with_the_fix(tmp_path):
    holder, port = _busy_port()
    try:
        r = run("serve", "--port", str(port), env=_env(tmp_path))
        r_env = run("serve", env=_env(tmp_path, PORT=str(port)))
    finally:
        holder.close()
    for res in (r, r_env):
        assert res.returncode == 1
        assert f"port {port} on 127.0.0.1 is already in use" in res.stderr
        assert "--port" in res.stderr and "PORT=" in res.stderr
        # Nothing slow ran first: no indexing, no model, no "listening" claim.
        assert "Indexing" not in res.stdout and "Loading" not in res.stdout and "listening" not in res.stdout
    assert not (tmp_path / "var" / "chroma").exists()


def test_serve_checks_the_port_before_settings_config_or_models(tmp_path, monkeypatch):
    import pytest

    from app.__main__ import main
    from pipeline import classify

    def never(*a, **k):
        raise AssertionError("models must not load when the port is busy")

    monkeypatch.setattr(classify, "warm_up", never)
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    holder, port = _busy_port()
    try:
        with pytest.raises(SystemExit, match="already in use"):
            main(["serve", "--port", str(port)])
    finally:
        holder.close()


def test_the_reserved_socket_is_the_one_the_server_answers_on():
    import threading

    import requests
    from flask import Flask
    from werkzeug.serving import make_server

    from app.__main__ import _bind_or_exit

    sock = _bind_or_exit("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = Flask("t")
    app.get("/ping")(lambda: "pong")
    srv = make_server("127.0.0.1", port, app, threaded=True, fd=sock.fileno())
    sock.close()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        assert requests.get(f"http://127.0.0.1:{port}/ping", timeout=10).text == "pong"
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)
