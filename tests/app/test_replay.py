"""``python -m app replay``: ``--fresh`` processes again (new event, message claimed afresh); a live
helpdesk is written to only with ``--write``."""

from __future__ import annotations

import json

import pytest
import responses

from tests.conftest import ROOT, outbox, reset_caches
from tests.fakes.helpdesks import FakeZendesk


def _replay(capsys, *argv: str) -> dict:
    from app.__main__ import main

    assert main(["replay", *argv]) == 0
    out = capsys.readouterr().out
    return json.loads(out[:out.index("}") + 1])


@pytest.fixture
def demo_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    reset_caches()
    yield tmp_path / "var"
    reset_caches()


def test_fresh_replay_after_the_readme_curl_step_processes_again(demo_env, capsys):
    sample = str(ROOT / "samples" / "zendesk_comment_added.json")
    first = _replay(capsys, sample, "--platform", "zendesk")  # what the README's curl step did
    assert first["status"] == "processed"
    again = _replay(capsys, sample, "--platform", "zendesk", "--fresh")
    assert again["status"] == "processed", again  # not "skipped: message … already processed by another event"
    notes = [e for e in outbox(demo_env, "zendesk") if e["action"] == "note"]
    assert len(notes) == 2
    # Without --fresh it is the same event again: its writes are done already, no third note.
    _replay(capsys, sample, "--platform", "zendesk")
    assert len([e for e in outbox(demo_env, "zendesk") if e["action"] == "note"]) == 2


@pytest.fixture
def live_zendesk(monkeypatch, tmp_path):
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    monkeypatch.setenv("ZENDESK_URL", FakeZendesk.base)
    monkeypatch.setenv("ZENDESK_EMAIL", "bot@acme.example")
    monkeypatch.setenv("ZENDESK_API_TOKEN", "tok-SECRET-123")
    monkeypatch.setenv("ZENDESK_WEBHOOK_SECRET", "whsec")
    reset_caches()
    fake = FakeZendesk()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        customer = next(c for c in fake.comments if c["author_id"] == fake.ticket["requester_id"])
        body = json.loads((ROOT / "samples" / "zendesk_comment_added.json").read_text())
        body["detail"]["id"] = str(fake.ticket["id"])
        body["subject"] = f"zen:ticket:{fake.ticket['id']}"
        body["event"]["comment"].update(id=str(customer["id"]), body=customer["body"],
                                        author={"id": str(customer["author_id"]), "is_staff": False})
        f = tmp_path / "live_webhook.json"
        f.write_text(json.dumps(body))
        yield fake, str(f), tmp_path / "var"
    reset_caches()


def test_replay_of_a_live_ticket_never_writes_without_write(live_zendesk, capsys):
    fake, webhook, var = live_zendesk
    for argv in (["--fresh"], []):
        r = _replay(capsys, webhook, "--platform", "zendesk", *argv)
        assert r["status"] == "preview" and r["dry_run"] is True
    assert fake.writes() == [], [(c.method, c.path) for c in fake.writes()]
    assert fake.notes() == []
    previews = [e for e in outbox(var, "zendesk") if e["action"] == "note"]
    assert len(previews) == 2 and all(e["ticket_id"] == str(fake.ticket["id"]) for e in previews)

    # The previews claimed nothing and marked no step done: the real run still writes, once.
    assert _replay(capsys, webhook, "--platform", "zendesk", "--write")["status"] == "processed"
    assert len(fake.notes()) == 1
    r = _replay(capsys, webhook, "--platform", "zendesk", "--write")  # the same event: its steps are done
    assert r["steps"] == [] and len(fake.notes()) == 1
    # Asked for explicitly: a fresh run that writes to the helpdesk again.
    assert _replay(capsys, webhook, "--platform", "zendesk", "--fresh", "--write")["status"] == "processed"
    assert len(fake.notes()) == 2
