"""Slack both ways, end to end: a real alert (escalate → fake Slack), signed Slack requests into the
Flask app, the sidecar's real rq worker, and the helpdesks faked statefully with ``responses``.

The Slack Web API is a small HTTP server on 127.0.0.1 (slack_sdk speaks urllib, which ``responses``
does not see); it answers chat.postMessage / chat.update / chat.getPermalink / users.info like Slack.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import redis
import responses
from rq import Queue
from werkzeug import Request, Response

from app.settings import get_settings
from app.slack_inbound import parse_event
from app.store.decisions import store_for
from app.store.queries import compute_stats
from pipeline.models import Message, Outcome, Person, Plan, Ticket, TicketEvent, Triage
from tests.adapters.test_assign import _assignee, _directory
from tests.adapters.test_contract import KITS, Kit
from tests.app.slack_helpers import BOT_USER, SIGNING_SECRET, event_body, interaction_body, reply_event, signed
from tests.conftest import reset_caches, run_worker
from tests.e2e.common import configure

CHANNEL = "C0ESC"
MANAGER = {"id": "U0MANAGER", "name": "mia", "real_name": "Mia Manager",
           "profile": {"real_name": "Mia Manager", "display_name": "mia", "email": "ann.lee@acme.example"}}
STRANGER = {"id": "U0STRANGER", "name": "sam", "profile": {"real_name": "Sam Stranger", "email": "sam@elsewhere.example"}}
NO_EMAIL = {"id": "U0NOEMAIL", "name": "ned", "profile": {"real_name": "Ned NoEmail"}}


class FakeSlack:
    """The Slack Web API methods the sidecar uses, with state: messages by (channel, ts)."""

    def __init__(self, httpserver):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.users = {u["id"]: u for u in (MANAGER, STRANGER, NO_EMAIL)}
        self.n = 0
        httpserver.expect_request(re.compile(r"/api/[a-zA-Z.]+")).respond_with_handler(self)
        self.url = httpserver.url_for("/api")

    def __call__(self, request: Request) -> Response:
        method = request.path.rsplit("/", 1)[-1]
        args = request.get_json(silent=True) or {**request.args.to_dict(), **request.form.to_dict()}
        self.calls.append((method, args))
        ok = getattr(self, "m_" + method.replace(".", "_"), None)
        body = ok(args) if ok else {"ok": False, "error": "unknown_method"}
        return Response(json.dumps(body), content_type="application/json")

    def m_chat_postMessage(self, a):
        self.n += 1
        ts = f"1700000{self.n:03d}.000001"
        self.messages[(CHANNEL, ts)] = {"ts": ts, "text": a.get("text"), "blocks": a.get("blocks") or [],
                                        "thread_ts": a.get("thread_ts")}
        return {"ok": True, "channel": CHANNEL, "ts": ts, "message": self.messages[(CHANNEL, ts)]}

    def m_chat_update(self, a):
        msg = self.messages.get((a["channel"], a["ts"]))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        msg.update(text=a.get("text"), blocks=a.get("blocks") or [])
        return {"ok": True, "channel": a["channel"], "ts": a["ts"]}

    def m_chat_getPermalink(self, a):
        return {"ok": True, "channel": a["channel"],
                "permalink": f"https://acme.slack.com/archives/{a['channel']}/p{a['message_ts'].replace('.', '')}"}

    def m_users_info(self, a):
        u = self.users.get(a.get("user"))
        return {"ok": True, "user": u} if u else {"ok": False, "error": "user_not_found"}

    def posted(self, method: str) -> list[dict[str, Any]]:
        return [a for m, a in self.calls if m == method]


@pytest.fixture
def slack(httpserver):
    return FakeSlack(httpserver)


@pytest.fixture
def env(sidecar_env, monkeypatch, slack):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    monkeypatch.setenv("SLACK_CHANNEL", CHANNEL)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    reset_caches()
    return sidecar_env


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def helpdesk(kit: Kit, rsps, monkeypatch):
    fake = kit.fake_cls(3).install(rsps)
    configure(monkeypatch, kit.name, fake.base)
    return fake


def alert(slack: FakeSlack, platform: str, ticket_id: str, url: str | None = None) -> str:
    """Post a real escalation alert (app.escalate → fake Slack); returns the alert's ts."""
    from app.escalate import escalate

    ev = TicketEvent(platform=platform, event_id=f"ev-{ticket_id}", ticket_id=ticket_id)
    t = Ticket(platform=platform, id=ticket_id, subject="Refund for order 1234", priority="high",
               requester=Person(name="Jane Doe", email="jane@example.com"), url=url,
               messages=[Message(id="m1", author_role="customer", body_text="I want a refund now")])
    out = Outcome(event=ev, ticket_id=ticket_id, ticket_url=url,
                  triage=Triage(intent="refund", confidence=0.9, priority="high", sentiment="negative", language="en"),
                  plan=Plan(intent="refund", escalate=["asks_for_human"]))
    before = set(slack.messages)
    assert escalate(out, t, settings=get_settings()) == ["asks_for_human"]
    [(_, ts)] = set(slack.messages) - before
    return ts


def post_event(client, body: bytes, retry: int | None = None):
    extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
    return client.post("/slack/events", data=body, headers=signed(body, **extra))


def click(client, action_id: str, ts: str, user: str = "U0MANAGER", action_ts: str = "1700000500.000001",
          blocks: list | None = None):
    body = interaction_body(action_id, user=user, message_ts=ts, action_ts=action_ts, blocks=blocks)
    return client.post("/slack/interactions", data=body,
                       headers=signed(body, content_type="application/x-www-form-urlencoded"))


@pytest.fixture
def app_client(env):
    from app import create_app

    return create_app().test_client()


# ----------------------------------------------------------------------------------- replies → notes


@pytest.mark.parametrize("kit", KITS, ids=[k.name for k in KITS])
def test_thread_reply_becomes_exactly_one_note_even_when_slack_retries_three_times(kit, env, slack, rsps, monkeypatch,
                                                                                    redis_url):
    fake = helpdesk(kit, rsps, monkeypatch)
    from app import create_app

    client = create_app().test_client()
    ts = alert(slack, kit.name, fake.tid, f"{fake.base}/t/{fake.tid}")
    root = slack.posted("chat.postMessage")[0]
    ids = [e.get("action_id") for b in root["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    assert ids == ["sidecar_take", "sidecar_ack", "open_ticket"]

    body = event_body(reply_event("Refund approved, offer 20% off <@U0OTHER|leo> &amp; see <https://acme.example/p|policy>",
                                  thread_ts=ts), event_id="Ev0REPLY1")
    assert post_event(client, body).status_code == 202
    for n in (1, 2, 3):
        assert post_event(client, body, retry=n).get_json()["status"] == "duplicate"
    run_worker(redis_url)
    notes = fake.notes()
    assert len(notes) == 1
    note = notes[0]
    assert "From Slack, Mia Manager:" in note
    assert "Refund approved, offer 20% off @leo &amp; see policy (https://acme.example/p)" in note
    assert f"https://acme.slack.com/archives/{CHANNEL}/p1700000100000200" in note
    assert "sidecar-event:slack-Ev0REPLY1:" in note
    # the helpdesk's webhook about this note is recognised as the sidecar's own (signed marker)
    from pipeline.models import is_own_marker

    assert is_own_marker(note, get_settings().marker_key)
    # the job ran again (an rq retry after the note was stored): still one note
    from app.jobs.slack import handle_thread_reply

    payload = parse_event(json.loads(body)).to_dict()
    redis.Redis.from_url(redis_url).delete(*redis.Redis.from_url(redis_url).keys("sidecar:step:*slack-Ev0REPLY1*"))
    handle_thread_reply(payload)
    assert len(fake.notes()) == 1
    rows = store_for(get_settings()).slack_actions()
    assert [(r["action"], r["platform"], r["ticket_id"], r["slack_user"]) for r in rows] == [
        ("note", kit.name, fake.tid, "U0MANAGER")]


def test_reply_in_a_thread_the_sidecar_did_not_start_is_ignored(env, slack, rsps, monkeypatch, redis_url):
    fake = helpdesk(KITS[0], rsps, monkeypatch)
    from app import create_app

    client = create_app().test_client()
    alert(slack, "zendesk", fake.tid)
    body = event_body(reply_event("I'll take it", thread_ts="1699999999.000001"), event_id="Ev0FOREIGN")
    assert post_event(client, body).status_code == 202
    run_worker(redis_url)
    assert fake.notes() == [] and fake.writes() == []
    assert [c for c in fake.calls if c.method != "GET"] == []


def test_own_bot_messages_edits_and_joins_in_our_thread_write_nothing(env, slack, rsps, monkeypatch, redis_url):
    fake = helpdesk(KITS[1], rsps, monkeypatch)
    from app import create_app

    client = create_app().test_client()
    ts = alert(slack, "gorgias", fake.tid)
    events = [reply_event("Update: SLA breached", thread_ts=ts, user=BOT_USER, bot_id="B0SIDECAR"),
              reply_event("bot says", thread_ts=ts, subtype="bot_message", bot_id="B0X"),
              reply_event("<@U0NEW> has joined", thread_ts=ts, subtype="channel_join"),
              {"type": "message", "subtype": "message_changed", "channel": CHANNEL, "hidden": True, "ts": "1700000900.1",
               "message": {"user": "U0MANAGER", "text": "edited", "ts": "1700000100.000200", "thread_ts": ts}}]
    for i, ev in enumerate(events):
        r = post_event(client, event_body(ev, event_id=f"Ev0IGN{i}"))
        assert r.get_json()["status"] == "ignored"
    run_worker(redis_url)
    assert fake.notes() == []


def test_file_upload_is_linked_not_copied(env, slack, rsps, monkeypatch, redis_url):
    fake = helpdesk(KITS[2], rsps, monkeypatch)
    from app import create_app

    client = create_app().test_client()
    ts = alert(slack, "freshdesk", fake.tid)
    files = [{"id": "F1", "name": "label.png", "title": "Return label",
              "url_private": "https://files.slack.com/files-pri/T0ACME-F1/label.png",
              "permalink": "https://acme.slack.com/files/U0MANAGER/F1/label.png"}]
    body = event_body(reply_event("", thread_ts=ts, subtype="file_share", files=files), event_id="Ev0FILE")
    assert post_event(client, body).status_code == 202
    run_worker(redis_url)
    [note] = fake.notes()
    assert '<a href="https://acme.slack.com/files/U0MANAGER/F1/label.png">Return label</a>' in note
    assert not any("files.slack.com" in c.path or c.method == "POST" and "attachments" in json.dumps(c.body or {})
                   for c in fake.calls)


def test_dry_run_helpdesk_gets_the_note_in_the_outbox(env, slack, redis_url):
    from app import create_app
    from tests.conftest import outbox

    client = create_app().test_client()
    ts = alert(slack, "zendesk", "777")
    assert post_event(client, event_body(reply_event("ok from slack", thread_ts=ts), event_id="Ev0DRY")).status_code == 202
    run_worker(redis_url)
    notes = [e for e in outbox(env, "zendesk") if e["action"] == "note"]
    assert len(notes) == 1 and "From Slack, Mia Manager: ok from slack" in notes[0]["text"]


def test_the_thread_mapping_survives_a_restart(env, slack, rsps, monkeypatch, redis_url):
    fake = helpdesk(KITS[0], rsps, monkeypatch)
    ts = alert(slack, "zendesk", fake.tid)
    reset_caches()  # a new process: no in-memory state survives, only Redis
    configure(monkeypatch, "zendesk", fake.base)
    from app import create_app

    client = create_app().test_client()
    assert post_event(client, event_body(reply_event("after restart", thread_ts=ts), event_id="Ev0RST")).status_code == 202
    run_worker(redis_url)
    assert len(fake.notes()) == 1


# ----------------------------------------------------------------------------------- buttons


def _root(slack) -> dict[str, Any]:
    return slack.messages[min(slack.messages)]


@pytest.mark.parametrize("kit", KITS, ids=[k.name for k in KITS])
def test_take_it_assigns_the_agent_with_the_slack_users_email_and_updates_the_alert(kit, env, slack, rsps,
                                                                                     monkeypatch, redis_url):
    fake = helpdesk(kit, rsps, monkeypatch)
    _directory(kit, fake)
    from app import create_app

    client = create_app().test_client()
    ts = alert(slack, kit.name, fake.tid)
    r = click(client, "sidecar_take", ts, blocks=_root(slack)["blocks"])
    assert r.status_code == 200 and r.get_json()["status"] == "queued"
    run_worker(redis_url)
    assert _assignee(kit, fake) == 501
    status = [b for b in _root(slack)["blocks"] if b.get("block_id") == "sidecar_status"]
    assert len(status) == 1 and "Taken by <@U0MANAGER> (assigned to Ann Lee)" in status[0]["elements"][0]["text"]
    assert "<!date^" in status[0]["elements"][0]["text"]
    rows = store_for(get_settings()).slack_actions()
    assert [(r["action"], r["slack_user"]) for r in rows] == [("take", "U0MANAGER")]


def test_take_it_without_a_matching_agent_says_why_in_the_thread(env, slack, rsps, monkeypatch, redis_url):
    fake = helpdesk(KITS[0], rsps, monkeypatch)
    _directory(KITS[0], fake)
    from app import create_app

    client = create_app().test_client()
    ts = alert(slack, "zendesk", fake.tid)
    click(client, "sidecar_take", ts, user="U0STRANGER", blocks=_root(slack)["blocks"])
    click(client, "sidecar_take", ts, user="U0NOEMAIL", action_ts="1700000600.000001", blocks=_root(slack)["blocks"])
    run_worker(redis_url)
    said = [a for a in slack.posted("chat.postMessage") if a.get("thread_ts") == ts]
    assert len(said) == 2
    assert "<@U0STRANGER> I could not assign zendesk ticket #4242: no zendesk agent has the email sam@elsewhere.example" in said[0]["text"]
    assert "<@U0NOEMAIL>" in said[1]["text"] and "users:read.email" in said[1]["text"]
    assert [w for w in fake.writes()] == []


@pytest.mark.parametrize("kit", KITS, ids=[k.name for k in KITS])
def test_acknowledge_records_who_stops_sla_reminders_and_updates_the_alert(kit, env, slack, rsps, monkeypatch,
                                                                            redis_url):
    fake = helpdesk(kit, rsps, monkeypatch)
    from app import create_app
    from app.jobs.sla import check_sla, schedule_sla_checks
    from app.runtime import get_state
    from app.store.slack import acknowledgement
    settings = get_settings()
    client = create_app().test_client()
    ts = alert(slack, kit.name, fake.tid)
    scheduled = schedule_sla_checks(kit.name, fake.tid, "high", since=time.time(), settings=settings)
    q = Queue("sidecar", connection=redis.Redis.from_url(redis_url))
    from rq.registry import ScheduledJobRegistry

    assert set(scheduled) <= set(ScheduledJobRegistry(queue=q).get_job_ids()) and scheduled
    r = click(client, "sidecar_ack", ts, blocks=_root(slack)["blocks"])
    assert r.get_json()["status"] == "queued"
    run_worker(redis_url)
    ack = acknowledgement(get_state(settings), kit.name, fake.tid)
    assert ack["user"] == "U0MANAGER" and ack["name"] == "Mia Manager"
    assert not set(scheduled) & set(ScheduledJobRegistry(queue=q).get_job_ids())
    # a check that still runs (scheduled before, or racing) sends no reminder
    n_before = len(slack.posted("chat.postMessage"))
    assert check_sla(kit.name, fake.tid, "breach", since=time.time() - 99999, settings=settings) == "acknowledged"
    assert len(slack.posted("chat.postMessage")) == n_before
    blocks = _root(slack)["blocks"]
    status = [b for b in blocks if b.get("block_id") == "sidecar_status"][0]["elements"][0]["text"]
    assert "Acknowledged by <@U0MANAGER>" in status and "SLA reminders stopped" in status
    ids = [e.get("action_id") for b in blocks if b.get("type") == "actions" for e in b["elements"]]
    assert "sidecar_ack" not in ids and "sidecar_take" in ids
    stats = compute_stats(store_for(settings), time.time() - 3600)
    assert stats["slack"]["acknowledged"] == 1
    assert stats["slack"]["median_time_to_acknowledge"] is not None
    assert 0 <= stats["slack"]["median_time_to_acknowledge"] < 60


def test_second_acknowledge_keeps_the_first(env, slack, redis_url):
    from app import create_app
    from app.runtime import get_state
    from app.store.slack import acknowledgement

    client = create_app().test_client()
    ts = alert(slack, "zendesk", "991")
    click(client, "sidecar_ack", ts, blocks=_root(slack)["blocks"])
    run_worker(redis_url)
    click(client, "sidecar_ack", ts, user="U0STRANGER", action_ts="1700000700.000001", blocks=_root(slack)["blocks"])
    run_worker(redis_url)
    assert acknowledgement(get_state(get_settings()), "zendesk", "991")["user"] == "U0MANAGER"
    assert [r["action"] for r in store_for(get_settings()).slack_actions()] == ["acknowledge"]


# ----------------------------------------------------------------------------------- stats and /ops


def test_stats_and_ops_show_what_was_done_from_slack(env, slack, redis_url, monkeypatch):
    from app import create_app
    from app.commands.ops import format_stats

    monkeypatch.setenv("OPS_TOKEN", "ops-token-slack")
    reset_caches()
    client = create_app().test_client()
    ts = alert(slack, "zendesk", "555")
    post_event(client, event_body(reply_event("noted", thread_ts=ts), event_id="Ev0STAT"))
    click(client, "sidecar_ack", ts, blocks=_root(slack)["blocks"])
    click(client, "sidecar_take", ts, action_ts="1700000800.000001", blocks=_root(slack)["blocks"])
    run_worker(redis_url)
    s = compute_stats(store_for(get_settings()), time.time() - 3600)
    assert {k: s["slack"][k] for k in ("notes", "taken", "take_failed", "acknowledged")} == {
        "notes": 1, "taken": 1, "take_failed": 0, "acknowledged": 1}
    text = format_stats(s)
    assert "Slack: 1 thread replies noted, 1 taken (0 could not be assigned), 1 acknowledged" in text
    page = client.get("/ops", headers={"Authorization": "Bearer ops-token-slack"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'id="fig-tta">\d+\.\d min<', html)
    assert "1 acknowledged, 1 taken, 1 replies noted" in html


def test_without_slack_configured_nothing_changes(sidecar_env, redis_url):
    """No SLACK_* at all: no routes, alerts are dry-run, processing is unaffected."""
    from app import create_app
    from app.escalate import escalate

    client = create_app().test_client()
    body = event_body(reply_event())
    assert client.post("/slack/events", data=body, headers=signed(body)).status_code == 404
    ev = TicketEvent(platform="zendesk", event_id="e1", ticket_id="1")
    out = Outcome(event=ev, ticket_id="1", plan=Plan(intent="refund", escalate=["asks_for_human"]))
    assert escalate(out, Ticket(platform="zendesk", id="1"), settings=get_settings()) == []


def test_alert_without_signing_secret_has_no_buttons(env, slack, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    reset_caches()
    alert(slack, "zendesk", "556", "https://acme.zendesk.com/agent/tickets/556")
    root = slack.posted("chat.postMessage")[0]
    ids = [e.get("action_id") for b in root["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    assert ids == ["open_ticket"]


def test_embedded_mode_reply_and_acknowledge_without_redis(slack, monkeypatch, tmp_path):
    """No REDIS_URL: the Slack jobs go through the durable SQLite queue; the mapping lives in var/."""
    from tests.conftest import ROOT, outbox

    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    monkeypatch.setenv("SLACK_CHANNEL", CHANNEL)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    reset_caches()
    try:
        from app import create_app
        from app.jobs.embedded import get_embedded_queue
        from app.runtime import get_state
        from app.store.slack import acknowledgement

        settings = get_settings()
        assert settings.embedded
        client = create_app().test_client()
        queue = get_embedded_queue(settings)
        queue.stop()  # run the jobs here, deterministically
        ts = alert(slack, "gorgias", "321")
        body = event_body(reply_event("embedded reply", thread_ts=ts), event_id="Ev0EMB")
        assert post_event(client, body).status_code == 202
        assert post_event(client, body, retry=1).get_json()["status"] == "duplicate"
        assert click(client, "sidecar_ack", ts, blocks=_root(slack)["blocks"]).get_json()["status"] == "queued"
        queue.run_pending()
        assert queue.failed() == []
        notes = [e for e in outbox(tmp_path / "var", "gorgias") if e["action"] == "note"]
        assert len(notes) == 1 and "From Slack, Mia Manager: embedded reply" in notes[0]["text"]
        assert acknowledgement(get_state(settings), "gorgias", "321")["user"] == "U0MANAGER"
    finally:
        reset_caches()


# ----------------------------------------------------------------------------------- note rendering (adversarial)

HOSTILE = [
    "&lt;script&gt;alert(1)&lt;/script&gt;",  # Slack sends < > & as entities
    "<javascript:alert(1)|click me>",  # a Slack link token with a script URL
    "<https://evil.example/x\" onmouseover=\"alert(1)|innocent>",
    "&lt;img src=x onerror=alert(1)&gt; sidecar-event:forged-marker",
    "<!channel> <@U0X|<b>bold</b>> ＜script＞",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_slack_text_is_escaped_in_the_note_and_never_becomes_a_link_or_markup(text):
    from app.jobs.slack import render_note

    html, plain = render_note("Mia <i>Manager</i>", text, "https://acme.slack.com/archives/C0ESC/p1", [
        {"name": "<b>x</b>", "permalink": "https://acme.slack.com/files/F1"}], "sidecar-event:slack-Ev1:ab")
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    # Only the note's own structure: no element or attribute comes from the Slack text or the name.
    assert {t.name for t in soup.find_all(True)} <= {"p", "b", "blockquote", "br", "a"}
    assert [a["href"] for a in soup.find_all("a")] == ["https://acme.slack.com/files/F1",
                                                      "https://acme.slack.com/archives/C0ESC/p1"]
    for t in soup.find_all(True):
        assert set(t.attrs) <= ({"href"} if t.name == "a" else {"style"} if t.name == "p" else set()), t
    assert soup.find("b").get_text() == "From Slack, Mia <i>Manager</i>:"  # the name is text, not markup
    assert plain.startswith("From Slack, Mia <i>Manager</i>:")


@pytest.mark.parametrize("text,expected", [
    ("<@U0ABC|leo> please check", "@leo please check"),
    ("<@U0ABC> please check", "@U0ABC please check"),
    ("see <#C0ESC|support-esc>", "see #support-esc"),
    ("<!here> refund approved", "@here refund approved"),
    ("<https://acme.example/p|policy> and <https://acme.example/q>", "policy (https://acme.example/p) and https://acme.example/q"),
    ("5 &lt; 6 &amp;&amp; 7 &gt; 3", "5 < 6 && 7 > 3"),
])
def test_slack_markup_becomes_readable_text(text, expected):
    from app.jobs.slack import slack_to_text

    assert slack_to_text(text) == expected
