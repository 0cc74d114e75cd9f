"""Slack escalation through the real slack_sdk client against a local Slack-API stub."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from app.escalate import (
    EscalationError,
    alerted_note_line,
    escalate,
    reason_label,
)
from app.settings import load_settings
from app.store.state import RedisState, SqliteState
from pipeline.models import Draft, Message, Outcome, Person, Plan, Ticket, TicketEvent, Triage
from tests.fakes.slack import SlackStub


@pytest.fixture
def slack(httpserver):
    return SlackStub(httpserver)


@pytest.fixture
def settings(slack, tmp_path, redis_url):
    return load_settings({"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_CHANNEL": "#support-esc",
                          "SLACK_API_URL": slack.url, "SIDECAR_VAR": str(tmp_path), "REDIS_URL": redis_url})


def ticket(tid: str = "4711", body: str = "I want to talk to a manager NOW <!channel> <https://evil|click>") -> Ticket:
    return Ticket(platform="zendesk", id=tid, subject="Refund for order 1234", priority="high",
                  requester=Person(id="9", name="Ada Lovelace", email="ada@example.com"),
                  url=f"https://acme.zendesk.com/agent/tickets/{tid}",
                  messages=[Message(id="m1", author_role="customer", body_text=body, created_at="2026-11-25T10:00:00Z"),
                            Message(id="m2", author_role="agent", body_text="We are on it", public=True)])


def outcome(reasons: list[str], tid: str = "4711", event: str = "ev1", channel: str | None = None) -> Outcome:
    return Outcome(event=TicketEvent(platform="zendesk", event_id=event, ticket_id=tid, message_id="m1"),
                   ticket_id=tid, ticket_url=f"https://acme.zendesk.com/agent/tickets/{tid}",
                   triage=Triage(intent="return_refund", confidence=0.82, priority="high", sentiment="very_negative"),
                   plan=Plan(intent="return_refund", escalate=reasons, escalation_channel=channel, draft=True,
                             tags=["ai-intent-return_refund"]),
                   draft=Draft(text="Sorry about that ...", kind="llm", used_source_ids=["kb-1"]))


class NoConfig:
    class rules:  # noqa: N801 - mimics Config.rules
        escalation: dict = {}


TRIGGERS = ["asks_for_human", "very_negative", "legal_threat", "churn_risk", "urgent", "low_confidence",
            "sensitive_amount", "sla_warning", "sla_breach"]


@pytest.mark.parametrize("reason", TRIGGERS)
def test_each_trigger_posts_block_kit_alert(slack, settings, reason):
    assert escalate(outcome([reason]), ticket(), settings=settings, config=NoConfig) == [reason]
    [call] = slack.calls
    assert slack.auth == ["Bearer xoxb-test-token"]
    assert call["channel"] == "#support-esc" and "thread_ts" not in call
    blocks = call["blocks"]
    assert blocks[0]["type"] == "header" and reason_label(reason) in blocks[0]["text"]["text"]
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    assert "return_refund" in fields and "high" in fields and "Ada Lovelace" in fields
    wants = blocks[2]["text"]["text"]
    assert "Refund for order 1234" in wants and "talk to a manager" in wants
    # customer text cannot ping the channel or forge links in Slack
    assert "<!channel>" not in json.dumps(call) and "&lt;!channel&gt;" in wants
    assert "draft reply prepared" in blocks[3]["text"]["text"] and "1 agent reply" in blocks[3]["text"]["text"]
    assert blocks[4]["elements"][0]["url"] == "https://acme.zendesk.com/agent/tickets/4711"


def test_repeat_is_deduped_and_update_goes_in_thread(slack, settings):
    t = ticket()
    assert escalate(outcome(["urgent", "legal_threat"]), t, settings=settings, config=NoConfig) == ["urgent",
                                                                                                    "legal_threat"]
    assert escalate(outcome(["urgent"], event="ev2"), t, settings=settings, config=NoConfig) == []
    assert len(slack.calls) == 1
    assert escalate(outcome(["urgent", "churn_risk"], event="ev3"), t, settings=settings, config=NoConfig) == [
        "churn_risk"]
    assert len(slack.calls) == 2
    second = slack.calls[1]
    assert second["thread_ts"] == "1700000000.000001" and second["channel"] == "C0ESC"
    assert second["blocks"][0]["text"]["text"].startswith("Update: Churn risk")
    # another ticket starts its own thread
    assert escalate(outcome(["urgent"], tid="99"), ticket("99"), settings=settings, config=NoConfig) == ["urgent"]
    assert "thread_ts" not in slack.calls[2]


def test_ratelimited_is_retried_honouring_retry_after(slack, settings):
    slack.script = [Response(json.dumps({"ok": False, "error": "ratelimited"}), status=429,
                             headers={"Retry-After": "7"}, content_type="application/json"),
                    Response(json.dumps({"ok": False, "error": "internal_error"}), status=500,
                             content_type="application/json")]
    waits: list[float] = []
    assert escalate(outcome(["urgent"]), ticket(), settings=settings, config=NoConfig, sleep=waits.append) == [
        "urgent"]
    assert waits == [7.0, 2.0]  # Retry-After honoured, then exponential back-off
    assert len(slack.calls) == 3


def test_slack_down_raises_and_releases_claim_so_retry_alerts(slack, settings):
    down = Response(json.dumps({"ok": False, "error": "service_unavailable"}), status=503,
                    content_type="application/json")
    slack.script = [down] * 5
    waits: list[float] = []
    with pytest.raises(EscalationError, match="service_unavailable") as ei:
        escalate(outcome(["legal_threat"]), ticket(), settings=settings, config=NoConfig, sleep=waits.append)
    assert ei.value.reasons == ["legal_threat"] and len(slack.calls) == 5 and len(waits) == 4
    # the job's retry alerts once Slack is back
    assert escalate(outcome(["legal_threat"]), ticket(), settings=settings, config=NoConfig,
                    sleep=waits.append) == ["legal_threat"]


def test_permanent_slack_error_is_not_retried(slack, settings):
    slack.script = [Response(json.dumps({"ok": False, "error": "channel_not_found"}), content_type="application/json")]
    with pytest.raises(EscalationError, match="channel_not_found"):
        escalate(outcome(["urgent"]), ticket(), settings=settings, config=NoConfig, sleep=lambda s: None)
    assert len(slack.calls) == 1


def test_channel_choice_plan_then_priority_then_global(slack, settings):
    class Cfg:
        class rules:  # noqa: N801
            escalation = {"channel": "#global", "priority_channels": {"high": "#high-prio"}}

    escalate(outcome(["urgent"], tid="1", channel="#refunds"), ticket("1"), settings=settings, config=Cfg)
    escalate(outcome(["urgent"], tid="2"), ticket("2"), settings=settings, config=Cfg)
    o = outcome(["urgent"], tid="3")
    o.plan.priority, o.triage.priority = None, "low"
    escalate(o, ticket("3"), settings=settings, config=Cfg)
    assert [c["channel"] for c in slack.calls] == ["#refunds", "#high-prio", "#global"]


def test_dry_run_without_token_logs_and_returns_nothing(slack, tmp_path, caplog):
    s = load_settings({"SIDECAR_VAR": str(tmp_path), "SLACK_CHANNEL": "#x"})
    caplog.set_level("INFO")
    assert escalate(outcome(["urgent"]), ticket(), settings=s, config=NoConfig) == []
    assert "would alert Slack" in caplog.text and slack.calls == []


def test_embedded_mode_dedupes_in_sqlite(slack, tmp_path):
    s = load_settings({"SLACK_BOT_TOKEN": "xoxb-t", "SLACK_CHANNEL": "#x", "SLACK_API_URL": slack.url,
                       "SIDECAR_VAR": str(tmp_path)})
    assert escalate(outcome(["urgent"]), ticket(), settings=s, config=NoConfig) == ["urgent"]
    assert (tmp_path / "state.sqlite3").exists()
    assert escalate(outcome(["urgent"], event="e2"), ticket(), settings=s, config=NoConfig) == []
    assert escalate(outcome(["churn_risk"], event="e3"), ticket(), settings=s, config=NoConfig) == ["churn_risk"]
    assert slack.calls[1]["thread_ts"] == "1700000000.000001"


@pytest.mark.parametrize("kind", ["redis", "sqlite"])
def test_state_claim_is_exclusive(kind, redis_url, tmp_path):
    import redis

    st = RedisState(redis.Redis.from_url(redis_url)) if kind == "redis" else SqliteState(tmp_path / "s.sqlite3")
    assert st.claim("k", 60) is True
    assert st.claim("k", 60) is False
    st.release("k")
    assert st.claim("k", 60) is True
    from app.escalate import _get_thread, _set_thread

    assert _get_thread(st, "t") is None
    _set_thread(st, "t", "C1", "1.2", 60)
    assert _get_thread(st, "t") == ("C1", "1.2")


def test_note_line():
    assert alerted_note_line(["legal_threat", "urgent"]) == "Slack was alerted: Legal threat, Urgent priority"
    assert alerted_note_line([]) == ""


def test_summary_drops_quoted_history(slack, settings):
    body = "Where is my refund? This is the third time I ask.\n\nOn Mon, Support <s@x.com> wrote:\n> Old reply text"
    escalate(outcome(["churn_risk"]), ticket(body=body), settings=settings, config=NoConfig)
    wants = slack.calls[0]["blocks"][2]["text"]["text"]
    assert "third time I ask" in wants and "Old reply text" not in wants


# A requester name / subject / message crafted to ping the channel, forge links or fields, or restyle the alert.
HOSTILE_NAME = "Eve\n*Reason*\nRefund approved by <!channel> <@U012AB> `x` _y_ ~z~ & <https://evil.example|click>"
HOSTILE_SUBJECT = "Refund\n\n> *APPROVED* @channel @here #general https://evil.example/pay <!here>"
HOSTILE_BODY = "please <!everyone> call @channel at https://evil.example/x *now* ```code``` \u2028line"


def _mrkdwn_objects(blocks):
    """Every mrkdwn text object in the blocks."""
    out = []

    def walk(x):
        if isinstance(x, dict):
            if x.get("type") == "mrkdwn":
                out.append(x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(blocks)
    return out


def test_customer_controlled_text_cannot_ping_link_forge_fields_or_restyle_the_alert(slack, settings):
    t = ticket(body=HOSTILE_BODY)
    t.subject = HOSTILE_SUBJECT
    t.requester = Person(id="9", name=HOSTILE_NAME, email="eve*bold*@example.com")
    assert escalate(outcome(["asks_for_human"]), t, settings=settings, config=NoConfig) == ["asks_for_human"]
    [call] = slack.calls
    blocks = call["blocks"] if isinstance(call["blocks"], list) else json.loads(call["blocks"])
    dumped = json.dumps(call)
    # Slack's control sequences: no mention, broadcast or link can be formed from customer text
    for bad in ("<!channel>", "<!here>", "<!everyone>", "<@U012AB>", "<https://evil"):
        assert bad not in dumped
    assert "&lt;!channel&gt;" in dumped and "&amp;" in dumped
    # no automatic parsing of plain "@channel", "#general" or bare URLs in the blocks
    objs = _mrkdwn_objects(blocks)
    assert objs and all(o.get("verbatim") is True for o in objs)
    # the fallback text is not parsed for names or links either
    assert call.get("link_names") in (False, "false", "0", 0, None) and call.get("parse") in ("none", None)
    # a name or subject cannot add lines (forged "*Reason*" fields, a ">" quote) or restyle the alert
    customer = next(f["text"] for f in blocks[1]["fields"] if f["text"].startswith("*Customer*"))
    value = customer.split("\n", 1)[1]
    assert "\n" not in value and "Eve" in value and "Refund approved by" in value
    for ch in "*_~`":
        assert ch not in value
    wants = blocks[2]["text"]["text"].split("\n", 1)[1]
    subject_line, quote = wants.split("\n", 1)
    assert subject_line.startswith("*") and subject_line.endswith("*")  # our bold, around the subject
    inner = subject_line[1:-1]
    assert "Refund" in inner and "APPROVED" in inner and not any(ch in inner for ch in "*_~`\n")
    assert quote.startswith(">") and "\n" not in quote and "\u2028" not in quote
    assert "please" in quote and not any(ch in quote[1:] for ch in "*_~`")


def test_a_huge_requester_name_still_fits_slacks_field_limit(slack, settings):
    """Slack refuses a field over 2,000 characters (invalid_blocks): a customer's 50 kB name must not
    stop the alert."""
    t = ticket()
    t.requester = Person(id="9", name="A" * 50_000, email="a@example.com")
    assert escalate(outcome(["urgent"]), t, settings=settings, config=NoConfig) == ["urgent"]
    [call] = slack.calls
    assert all(len(f["text"]) <= 2000 for f in call["blocks"][1]["fields"])
