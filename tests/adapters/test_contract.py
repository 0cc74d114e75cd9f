"""One contract suite for the three REST adapters.

Each helpdesk is faked with ``responses`` by a small stateful server (tickets, threads, tags,
fields) built from payloads modelled on real samples (tests/fixtures/<platform>/api_*.json).
Faults (429, 500, 401, a read timeout after the write was stored) are injected per route. The
tests check the exact requests each platform documents and the resulting server state.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import pytest
import redis as redis_lib
import responses
from pydantic import SecretStr

from adapters import freshdesk, gorgias, zendesk
from adapters.base import AuthError, Ignored, MemoryStepLog, PermanentError, TransientError
from app.settings import PlatformSettings
from pipeline.models import AGENT, CUSTOMER, SIDECAR, Outcome, Plan, TicketEvent, marker_for
from tests.fakes.clock import FakeClock
from tests.fakes.helpdesks import (  # noqa: F401  (re-exported for older imports)
    BOT_ID,
    EMAIL,
    FIX,
    TOKEN,
    Call,
    FakeFreshdesk,
    FakeGorgias,
    FakeHelpdesk,
    FakeZendesk,
    Fault,
    fixture,
    strip_tags,
)


@dataclass
class Kit:
    name: str
    module: Any
    cls: Any
    fake_cls: Any
    basic: str  # user:password of the Basic auth header
    note_write: tuple[str, str]  # method, path regex of the note request
    expect_note: Any  # (html, text, marker) -> (method, path, body)
    expect_tags: Any  # new tags -> list of (method, path, body); Freshdesk reads first
    expect_priority: tuple[str, str, Any]  # for "urgent"
    field_id: str
    expect_fields: list[tuple[str, str, Any]]  # for {field_id: "refund"}
    macro_id: str
    expect_macro: list[tuple[str, str, Any]]
    macro_html: str
    expect_reply: Any  # html -> (method, path, body)
    n_page: int  # messages that need at least two pages
    extra: dict[str, Any] = field(default_factory=dict)


ZD, GO, FD = FakeZendesk.tid, FakeGorgias.tid, FakeFreshdesk.tid

KITS = [
    Kit("zendesk", zendesk, zendesk.ZendeskAdapter, FakeZendesk, f"{EMAIL}/token:{TOKEN}",
        ("PUT", rf"/api/v2/tickets/{ZD}\.json"),
        lambda h, t, mk: ("PUT", f"/api/v2/tickets/{ZD}.json", {"ticket": {"comment": {"html_body": h, "public": False}}}),
        lambda new: [("PUT", f"/api/v2/tickets/{ZD}/tags.json", {"tags": new})],
        ("PUT", f"/api/v2/tickets/{ZD}.json", {"ticket": {"priority": "urgent"}}),
        "360002",
        [("PUT", f"/api/v2/tickets/{ZD}.json", {"ticket": {"custom_fields": [{"id": 360002, "value": "refund"}]}})],
        "77001",
        [("PUT", f"/api/v2/tickets/{ZD}.json", {"ticket": {"priority": "high", "group_id": 6130852536346,
                                                           "assignee_id": 6130907993114,
                                                           "custom_fields": [{"id": 360001, "value": "order_status_checked"}]}}),
         ("PUT", f"/api/v2/tickets/{ZD}/tags.json", {"tags": ["macro-wismo"]})],
        "<p>Hi Jane,</p><p>Your order is on its way.</p>",
        lambda h: ("PUT", f"/api/v2/tickets/{ZD}.json", {"ticket": {"comment": {"html_body": h, "public": True}}}),
        130),
    Kit("gorgias", gorgias, gorgias.GorgiasAdapter, FakeGorgias, f"{EMAIL}:{TOKEN}",
        ("POST", rf"/api/tickets/{GO}/messages"),
        lambda h, t, mk: ("POST", f"/api/tickets/{GO}/messages", {
            "channel": "internal-note", "from_agent": True, "via": "api", "sender": {"id": BOT_ID},
            "source": {"type": "internal-note", "from": {"address": EMAIL}, "to": []},
            "body_text": t, "body_html": h, "external_id": mk}),
        lambda new: [("POST", f"/api/tickets/{GO}/tags", {"names": new})],
        ("PUT", f"/api/tickets/{GO}", {"priority": "critical"}),
        "7",
        [("PUT", f"/api/tickets/{GO}/custom-fields/7", "refund")],
        "23453",
        [("POST", f"/api/tickets/{GO}/tags", {"names": ["question", "order-status"]}),
         ("PUT", f"/api/tickets/{GO}", {"assignee_team": {"id": 77}})],
        "<div>Hi Jane,</div><br><div>Your order has been delivered.</div>",
        lambda h: ("POST", f"/api/tickets/{GO}/messages", {
            "channel": "email", "from_agent": True, "via": "api", "sender": {"id": BOT_ID},
            "receiver": {"email": "jane@example.com"},
            "source": {"type": "email", "from": {"address": "support@acme.example", "name": "Acme Support"},
                       "to": [{"address": "jane@example.com", "name": "Jane Doe"}]},
            "body_text": strip_tags(h), "body_html": h}),
        130),
    Kit("freshdesk", freshdesk, freshdesk.FreshdeskAdapter, FakeFreshdesk, f"{TOKEN}:X",
        ("POST", rf"/api/v2/tickets/{FD}/notes"),
        lambda h, t, mk: ("POST", f"/api/v2/tickets/{FD}/notes", {"body": h, "private": True}),
        lambda new: [("PUT", f"/api/v2/tickets/{FD}", {"tags": ["vip", "shipping", *new]})],
        ("PUT", f"/api/v2/tickets/{FD}", {"priority": 4}),
        "cf_order_number",
        [("PUT", f"/api/v2/tickets/{FD}", {"custom_fields": {"cf_order_number": "refund"}})],
        "555",
        [],
        "<div>Hi,</div><div>Your order is on its way.</div>",
        lambda h: ("POST", f"/api/v2/tickets/{FD}/reply", {"body": h}),
        230),
]


def ps_for(kit: Kit, **over: Any) -> PlatformSettings:
    values: dict[str, Any] = {"name": kit.name, "url": kit.fake_cls.base, "api_token": SecretStr(TOKEN),
                              "email": EMAIL if kit.name != "freshdesk" else None, "user_id": str(BOT_ID)}
    return PlatformSettings(**{**values, **over})


@pytest.fixture(params=KITS, ids=[k.name for k in KITS])
def kit(request) -> Kit:
    return request.param


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


class Waits(list):
    """Records the adapter's sleeps instead of sleeping, and moves a clock the rate limiter reads."""

    def __init__(self) -> None:
        super().__init__()
        self.now = time.time()

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def time(self) -> float:
        return self.now


@pytest.fixture
def waits() -> Waits:
    return Waits()


def make(kit: Kit, rsps, waits: Waits, n_messages: int = 3, **ps_over: Any):
    fake = kit.fake_cls(n_messages).install(rsps)
    adapter = kit.cls(ps_for(kit, **ps_over), sleep=waits)
    # One time source for retries and the rate limiter: a slot wait would show up in ``waits``.
    adapter.http.limiter.sleep, adapter.http.limiter.clock = waits, waits.time
    return fake, adapter


def note_for(event_id: str) -> tuple[str, str, str]:
    mk = marker_for(event_id)
    return (f"<p>Intent: <b>wismo</b></p><p>Draft reply…</p><p style=\"color:#999\"><!-- {mk} -->ref {mk}</p>",
            f"Intent: wismo\nDraft reply…\nref {mk}", mk)


def last_writes(fake: FakeHelpdesk, n: int) -> list[tuple[str, str, Any]]:
    return [(c.method, c.path, c.body) for c in fake.writes()[-n:]] if n else []


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def test_thread_has_every_page_roles_and_ticket_fields(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits, n_messages=kit.n_page)
    t = adapter.fetch_ticket(fake.tid)
    offset = 1 if kit.name == "freshdesk" else 0  # Freshdesk: the description is the first message
    assert len(t.messages) == kit.n_page + offset
    texts = [m.body_text for m in t.messages[offset:]]
    assert texts == [f"{'Agent answer' if i % 2 else 'Customer message'} {i}" for i in range(kit.n_page)]
    assert [m.author_role for m in t.messages[offset:offset + 2]] == [CUSTOMER, AGENT]
    assert all(m.public for m in t.messages)
    pages = [c for c in fake.calls if c.method == "GET" and re.search(r"comments|messages|conversations", c.path)]
    assert len(pages) >= 2, "the thread spans pages: every page must be read"
    assert t.requester.email == "jane@example.com" and t.requester.name == "Jane Doe"
    assert t.subject == "Where is my order #1234?"
    assert t.priority == "normal"
    assert set(t.tags) == {"vip", "shipping"}
    assert "order_status" in t.custom_fields.values()
    assert t.url == {"zendesk": f"{fake.base}/agent/tickets/{fake.tid}", "gorgias": f"{fake.base}/app/ticket/{fake.tid}",
                     "freshdesk": f"{fake.base}/a/tickets/{fake.tid}"}[kit.name]
    expected = "Basic " + base64.b64encode(kit.basic.encode()).decode()
    assert {c.auth for c in fake.calls} == {expected}


def test_freshdesk_description_is_the_first_customer_message(rsps, waits):
    fake, adapter = make(KITS[2], rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    first = t.messages[0]
    assert first.author_role == CUSTOMER and first.body_text == "Hi, my order #1234 has not arrived."
    assert t.latest_customer_message().body_text == "Customer message 2"


def test_sidecar_note_in_the_thread_has_role_sidecar_and_is_private(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    html, text, mk = note_for("ev-role")
    adapter.post_internal_note(t, html, text, mk)
    again = adapter.fetch_ticket(fake.tid)
    own = [m for m in again.messages if m.author_role == SIDECAR]
    assert len(own) == 1 and own[0].public is False and mk in (own[0].body_html or "")
    assert again.latest_customer_message().body_text == "Customer message 2"


def test_pagination_links_to_another_host_are_refused(rsps, waits):
    fake, adapter = make(KITS[0], rsps, waits, n_messages=130)
    orig = fake._comments

    def evil(m, p, b):
        status, body = orig(m, p, b)
        if body["links"]["next"]:
            body["links"]["next"] = body["links"]["next"].replace("acme.zendesk.com", "evil.example")
        return status, body

    fake.routes = [(mm, rx, evil if h == orig else h) for mm, rx, h in fake.routes]
    with pytest.raises(PermanentError, match="another host"):
        adapter.fetch_ticket(fake.tid)
    assert all(urlparse(c.path).netloc == "" for c in fake.calls)


# --------------------------------------------------------------------------------------------
# Writing: exact requests
# --------------------------------------------------------------------------------------------


def test_note_request_is_exactly_as_documented(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    html, text, mk = note_for("ev-note")
    adapter.post_internal_note(t, html, text, mk)
    assert last_writes(fake, 1) == [kit.expect_note(html, text, mk)]
    assert len(fake.writes()) == 1
    assert fake.notes() == [html]


def test_tags_are_added_and_existing_tags_survive(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    adapter.add_tags(t, ["ai-intent-wismo", "ai-lang-en"])
    expected = kit.expect_tags(["ai-intent-wismo", "ai-lang-en"])
    assert last_writes(fake, len(expected)) == expected
    assert len(fake.writes()) == len(expected)
    assert fake.tags() == ["vip", "shipping", "ai-intent-wismo", "ai-lang-en"]


def test_a_tag_added_by_someone_else_after_the_fetch_survives(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    fake.add_tag_elsewhere("agent-added")
    adapter.add_tags(t, ["ai-intent-wismo"])
    assert set(fake.tags()) == {"vip", "shipping", "agent-added", "ai-intent-wismo"}


def test_priority_request(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    adapter.set_priority(t, "urgent")
    assert last_writes(fake, 1) == [kit.expect_priority]
    assert adapter.fetch_ticket(fake.tid).priority == "urgent"
    with pytest.raises(PermanentError):
        adapter.set_priority(t, "whenever")


def test_fields_request_touches_only_the_given_field(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    adapter.set_fields(t, {kit.field_id: "refund"})
    assert last_writes(fake, len(kit.expect_fields)) == kit.expect_fields
    assert len(fake.writes()) == len(kit.expect_fields)
    after = adapter.fetch_ticket(fake.tid).custom_fields
    assert after[kit.field_id] == "refund"
    assert "order_status" in after.values(), "other fields are left alone"


def test_gorgias_fields_are_one_put_per_field_never_the_bulk_put(rsps, waits):
    fake, adapter = make(KITS[1], rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    adapter.set_fields(t, {"7": "refund", "8": 3})
    assert last_writes(fake, 2) == [("PUT", f"/api/tickets/{GO}/custom-fields/7", "refund"),
                                    ("PUT", f"/api/tickets/{GO}/custom-fields/8", 3)]
    assert not any(c.path.endswith("/custom-fields") for c in fake.calls)


def test_macro_is_applied_and_its_reply_text_returned_never_sent(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    before = len(fake.calls)
    html = adapter.apply_macro(t, kit.macro_id)
    assert html == kit.macro_html
    reads = [c for c in fake.calls[before:] if c.method == "GET"]
    assert reads and kit.macro_id in reads[0].path
    assert [(c.method, c.path, c.body) for c in fake.writes()] == kit.expect_macro
    assert fake.notes() == [] and fake.replies() == [], "a macro's text is never posted by itself"


def test_public_reply_request(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    html = "<p>Your order ships tomorrow.</p>"
    adapter.post_public_reply(t, html, html, marker_for("ev-reply"))
    assert last_writes(fake, 1) == [kit.expect_reply(html)]
    assert fake.replies() == [html]


# --------------------------------------------------------------------------------------------
# Resilience
# --------------------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_and_retried(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    fake.fail(*kit.note_write, "429", retry_after="2")
    html, text, mk = note_for("ev-429")
    adapter.post_internal_note(t, html, text, mk)
    assert waits == [2.0]
    assert len([c for c in fake.writes()]) == 2
    assert fake.notes() == [html]


def test_a_long_retry_after_is_not_slept_in_the_job_but_handed_up(kit, rsps, waits):
    """Past 30 s the job is re-scheduled for the helpdesk's time instead of cut short (one more 429)."""
    fake, adapter = make(kit, rsps, waits)
    fake.fail("GET", r".*", "429", retry_after="3600")
    with pytest.raises(TransientError) as err:
        adapter.fetch_ticket(fake.tid)
    assert err.value.retry_after == 3600.0
    assert waits == [] and len(fake.calls) == 1, "no sleep, no second request"
    # The whole connection holds off for the full hour, not for 30 s.
    assert adapter.http.limiter._try_acquire() == pytest.approx(3600.0, abs=1.0)


def test_500_twice_then_200_gives_one_note(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    fake.fail(*kit.note_write, "500", times=2)
    html, text, mk = note_for("ev-500")
    adapter.post_internal_note(t, html, text, mk)
    assert fake.notes() == [html]
    assert len(fake.writes()) == 3
    assert len(waits) == 2 and all(0 < w <= 8 for w in waits), "backoff between the ambiguous attempts"


def test_read_timeout_after_the_note_was_stored_posts_no_second_note(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    fake.fail(*kit.note_write, "timeout_after_store")
    html, text, mk = note_for("ev-timeout")
    adapter.post_internal_note(t, html, text, mk)
    assert fake.notes() == [html]
    assert len(fake.writes()) == 1, "the thread showed the marker: nothing is sent again"


def test_read_timeout_before_storing_sends_again_once(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    fake.fail(*kit.note_write, "timeout_before_store")
    html, text, mk = note_for("ev-lost")
    adapter.post_internal_note(t, html, text, mk)
    assert fake.notes() == [html]
    assert len(fake.writes()) == 2


def test_a_retried_job_does_not_post_a_note_already_in_the_thread(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    html, text, mk = note_for("ev-retry")
    adapter.post_internal_note(adapter.fetch_ticket(fake.tid), html, text, mk)
    adapter.post_internal_note(adapter.fetch_ticket(fake.tid), html, text, mk)
    assert fake.notes() == [html]


def test_note_keeps_failing_ambiguously_raises_transient(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    fake.fail(*kit.note_write, "500", times=10)
    html, text, mk = note_for("ev-down")
    with pytest.raises(TransientError) as ei:
        adapter.post_internal_note(t, html, text, mk)
    assert "500" in str(ei.value)
    assert fake.notes() == []
    assert len(fake.writes()) == adapter.ambiguous_attempts


def test_idempotent_writes_are_retried_on_5xx(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    method, path, _ = kit.expect_priority
    fake.fail(method, re.escape(path), "500", times=2)
    adapter.set_priority(t, "urgent")
    assert adapter.fetch_ticket(fake.tid).priority == "urgent"
    assert len(waits) == 2


def test_401_is_a_permanent_auth_error_with_a_clear_message(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    fake.fail("GET", r".*", "401")
    with pytest.raises(AuthError) as ei:
        adapter.fetch_ticket(fake.tid)
    msg = str(ei.value)
    assert kit.name in msg and "GET" in msg and "401" in msg and fake.tid in msg and "authenticate" in msg
    assert TOKEN not in msg and base64.b64encode(kit.basic.encode()).decode() not in msg
    assert waits == [] and len(fake.calls) == 1, "never retried"


def test_404_is_permanent_with_method_path_and_reason(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    fake.fail(*kit.note_write, "404")
    html, text, mk = note_for("ev-404")
    with pytest.raises(PermanentError) as ei:
        adapter.post_internal_note(t, html, text, mk)
    assert not isinstance(ei.value, AuthError)
    assert "404" in str(ei.value) and kit.note_write[0] in str(ei.value) and "Not found" in str(ei.value)


# --------------------------------------------------------------------------------------------
# No loops: the sidecar's own note comes back as a webhook and is ignored
# --------------------------------------------------------------------------------------------


def _own_note_webhook(kit: Kit, fake: FakeHelpdesk) -> dict[str, Any]:
    if kit.name == "zendesk":
        c = fake.comments[-1]
        return {"type": "zen:event-type:ticket.comment_added", "account_id": 1, "id": "evt-own",
                "time": "2024-09-06T18:52:11Z", "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{fake.tid}",
                "detail": {"id": fake.tid, "requester_id": "6130869168922"},
                "event": {"comment": {"id": str(c["id"]), "body": c["plain_body"], "is_public": c["public"],
                                      "author": {"id": str(c["author_id"]), "is_staff": True, "name": "Sidecar Bot"}}}}
    if kit.name == "gorgias":
        return {"ticket": {"id": int(fake.tid)}, "message": fake.messages[-1]}
    return {"freshdesk_webhook": {"ticket_id": fake.tid, "triggered_event": "{note_type:private}",
                                  "ticket_latest_public_comment": fake.convs[-2]["body_text"]}}


def test_the_sidecars_own_note_event_is_ignored(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    html, text, mk = note_for("ev-loop")
    adapter.post_internal_note(adapter.fetch_ticket(fake.tid), html, text, mk)
    body = _own_note_webhook(kit, fake)
    settings = SimpleNamespace(**{kit.name: ps_for(kit)})
    with pytest.raises(Ignored):
        kit.module.parse_webhook({}, body, settings)
    # and without the user id configured, the marker alone is enough (Zendesk/Gorgias carry the body)
    if kit.name != "freshdesk":
        with pytest.raises(Ignored):
            kit.module.parse_webhook({}, body, SimpleNamespace(**{kit.name: ps_for(kit).model_copy(update={"user_id": None})}))


# --------------------------------------------------------------------------------------------
# write_back: the whole plan, each step once per event
# --------------------------------------------------------------------------------------------


def _outcome(kit: Kit, fake: FakeHelpdesk, macro: bool = True) -> Outcome:
    html, text, mk = note_for("ev-plan")
    plan = Plan(intent="wismo", tags=["ai-intent-wismo", "vip"], fields={kit.field_id: "refund"}, priority="high",
                macro=kit.macro_id if macro else None, macro_mode="apply")
    return Outcome(event=TicketEvent(platform=kit.name, event_id="ev-plan", ticket_id=fake.tid), ticket_id=fake.tid,
                   plan=plan, note_html=html, note_text=text, marker=mk)


def test_write_back_does_each_step_once_and_puts_the_macro_text_in_the_note(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    steps = MemoryStepLog()
    out = _outcome(kit, fake)
    done = adapter.write_back(adapter.fetch_ticket(fake.tid), out, steps)
    assert done == ["macro", "note", "update"]
    assert len(fake.notes()) == 1
    note = fake.notes()[0]
    assert out.marker in note and kit.macro_html.replace("{{ticket.customer.firstname}}", "Jane") in note
    assert "ai-intent-wismo" in fake.tags() and fake.tags().count("vip") == 1
    assert adapter.fetch_ticket(fake.tid).priority in ("high",)
    n_writes = len(fake.writes())
    again = adapter.write_back(adapter.fetch_ticket(fake.tid), out, steps)
    assert again == [] and len(fake.writes()) == n_writes


EXPECT_UPDATE = {
    "zendesk": [("PUT", f"/api/v2/tickets/{ZD}/tags.json", {"tags": ["ai-intent-wismo"]}),
                ("PUT", f"/api/v2/tickets/{ZD}.json", {"ticket": {"priority": "high", "group_id": 555,
                                                                  "custom_fields": [{"id": 360002, "value": "refund"}]}})],
    "gorgias": [("POST", f"/api/tickets/{GO}/tags", {"names": ["ai-intent-wismo"]}),
                ("PUT", f"/api/tickets/{GO}/custom-fields/7", "refund"),
                ("PUT", f"/api/tickets/{GO}", {"priority": "high", "assignee_team": {"id": 555}})],
    "freshdesk": [("PUT", f"/api/v2/tickets/{FD}", {"tags": ["vip", "shipping", "ai-intent-wismo"], "priority": 3,
                                                    "custom_fields": {"cf_order_number": "refund"}, "group_id": 555})],
}


def test_write_back_batches_the_property_changes_into_the_fewest_requests(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    out = _outcome(kit, fake, macro=False)
    out.plan.assign_group = "555"
    out.plan.fields = {**out.plan.fields, "360001" if kit.name == "zendesk" else "unchanged": "order_status"}
    if kit.name == "freshdesk":
        out.plan.fields = {kit.field_id: "refund", "cf_reason": "order_status"}  # cf_reason already has that value
    elif kit.name == "gorgias":
        out.plan.fields = {kit.field_id: "refund", "6": "order_status"}
    done = adapter.write_back(adapter.fetch_ticket(fake.tid), out, MemoryStepLog())
    assert done == ["note", "update"]
    writes = [(c.method, c.path, c.body) for c in fake.writes()]
    assert writes[0] == kit.expect_note(out.note_html, out.note_text, out.marker)
    assert writes[1:] == EXPECT_UPDATE[kit.name], "unchanged fields are not written again"


def test_write_back_after_a_lost_step_log_does_not_post_the_note_twice(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    out = _outcome(kit, fake, macro=False)
    adapter.write_back(adapter.fetch_ticket(fake.tid), out, MemoryStepLog())
    adapter.write_back(adapter.fetch_ticket(fake.tid), out, MemoryStepLog())  # the worker died before marking
    assert len(fake.notes()) == 1


# --------------------------------------------------------------------------------------------
# Rate limit shared through Redis
# --------------------------------------------------------------------------------------------


def _limited(kit: Kit, rsps, waits, redis_client, clock: FakeClock):
    fake = kit.fake_cls(3).install(rsps)
    adapters = []
    for _ in range(2):
        a = kit.cls(ps_for(kit, rate_per_minute=6), redis=redis_client, sleep=waits)
        a.http.limiter.sleep, a.http.limiter.clock = clock.sleep, clock.time
        adapters.append(a)
    return fake, adapters


def test_two_adapters_share_the_rate_budget_through_redis(kit, rsps, waits, redis_url):
    r = redis_lib.Redis.from_url(redis_url)
    clock = FakeClock()
    fake, (a, b) = _limited(kit, rsps, waits, r, clock)
    assert a.http.limiter.shared and a.http.limiter.key == b.http.limiter.key
    budget = a.http.limiter.limit
    for _ in range(budget):
        a.http.get("/ping-a")
    assert clock.slept == []
    b.http.get("/ping-b")  # the budget was used by the other instance: b must wait for a slot
    assert len(clock.slept) == 1 and clock.slept[0] > 1.0
    assert len([c for c in fake.calls]) == budget + 1


def test_without_redis_each_process_limits_alone(kit, rsps, waits):
    clock = FakeClock()
    fake, (a, b) = _limited(kit, rsps, waits, None, clock)
    assert not a.http.limiter.shared
    for _ in range(a.http.limiter.limit):
        a.http.get("/ping-a")
    b.http.get("/ping-b")
    assert clock.slept == []
    a.http.get("/ping-a")  # a's own budget is spent
    assert len(clock.slept) == 1


def test_gorgias_note_needs_an_agent_sender_looked_up_once(rsps, waits):
    fake, adapter = make(KITS[1], rsps, waits, user_id=None)
    t = adapter.fetch_ticket(fake.tid)
    for i in range(2):
        html, text, mk = note_for(f"ev-sender-{i}")
        adapter.post_internal_note(t, html, text, mk)
    lookups = [c for c in fake.calls if c.path == "/api/users/0"]
    assert len(lookups) == 1
    assert all(c.body["sender"] == {"id": BOT_ID} for c in fake.writes())


@pytest.mark.parametrize("answer", [(200, {}), (404, {"error": "not found"})])
def test_gorgias_without_a_resolvable_user_id_sends_as_the_api_users_email(rsps, waits, answer):
    fake, adapter = make(KITS[1], rsps, waits, user_id=None)
    fake.routes = [r for r in fake.routes if r[1].pattern != "/api/users/0"]
    fake.route("GET", "/api/users/0", lambda m, p, b: answer)
    t = adapter.fetch_ticket(fake.tid)
    adapter.post_internal_note(t, *note_for("ev-x"))
    adapter.post_internal_note(t, *note_for("ev-y"))
    assert [c.body["sender"] for c in fake.writes()] == [{"email": adapter.ps.email}] * 2
    assert len([c for c in fake.calls if c.path == "/api/users/0"]) == 1  # not asked again


# --------------------------------------------------------------------------------------------
# HTTP details shared by the three adapters
# --------------------------------------------------------------------------------------------


def test_a_connect_timeout_is_retried_at_once_since_nothing_was_sent(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    reads = len(fake.calls) - len(fake.writes())
    fake.fail(*kit.note_write, "connect_timeout")
    html, text, mk = note_for("ev-connect")
    adapter.post_internal_note(t, html, text, mk)
    assert fake.notes() == [html] and len(fake.writes()) == 2
    assert len(fake.calls) - len(fake.writes()) == reads, "no thread check needed: the request never left"
    assert len(waits) == 1


def test_403_is_an_auth_error_and_422_a_permanent_error_with_the_reason(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    method, path, _ = kit.expect_priority
    fake.fail(method, re.escape(path), "403")
    with pytest.raises(AuthError, match="403.*permission"):
        adapter.set_priority(t, "urgent")
    fake.fail(method, re.escape(path), "422")
    with pytest.raises(PermanentError, match="422: Validation failed.*priority It should be one of"):
        adapter.set_priority(t, "urgent")
    assert waits == []


def test_logs_never_carry_credentials(kit, rsps, waits, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    fake, adapter = make(kit, rsps, waits)
    fake.fail("GET", r".*", "429")
    t = adapter.fetch_ticket(fake.tid)
    fake.fail(*kit.note_write, "500")
    adapter.post_internal_note(t, *note_for("ev-logs"))
    fake.fail("GET", r".*", "401")
    with pytest.raises(AuthError):
        adapter.fetch_ticket(fake.tid)
    secret_b64 = base64.b64encode(kit.basic.encode()).decode()
    assert caplog.text and TOKEN not in caplog.text and secret_b64 not in caplog.text
    assert "Authorization" not in caplog.text


def test_retry_after_accepts_seconds_and_http_dates():
    from email.utils import formatdate

    from adapters.http import parse_retry_after

    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 55 <= parse_retry_after(formatdate(time.time() + 60, usegmt=True)) <= 60


def test_gorgias_uses_the_messages_embedded_in_the_ticket_when_present(rsps, waits):
    fake, adapter = make(KITS[1], rsps, waits)
    fake.ticket["messages"] = fake.messages
    t = adapter.fetch_ticket(fake.tid)
    assert [c.path for c in fake.calls] == [f"/api/tickets/{GO}"], "one call reads the whole ticket"
    assert [m.body_text for m in t.messages] == ["Customer message 0", "Agent answer 1", "Customer message 2"]


def test_system_and_internal_authors_are_told_apart(rsps, waits):
    zd, zda = make(KITS[0], rsps, waits)
    zd.add_comment("Your request was received (trigger)", -1, True)
    zd.add_comment("Escalating to tier 2", 6130907993114, False)
    roles = [(m.author_role, m.public) for m in zda.fetch_ticket(zd.tid).messages[-2:]]
    assert roles == [("system", True), (AGENT, False)]

    go, goa = make(KITS[1], rsps, waits)
    go.add_message("Auto-reply from a rule", agent=True, via="rule")
    go.add_message("Internal remark", agent=True, channel="internal-note", public=False)
    roles = [(m.author_role, m.public) for m in goa.fetch_ticket(go.tid).messages[-2:]]
    assert roles == [("system", True), (AGENT, False)]

    fd, fda = make(KITS[2], rsps, waits)
    fd.add_conv("Agent-only remark", private=True, user_id=6010396333, incoming=False)
    m = fda.fetch_ticket(fd.tid).messages[-1]
    assert (m.author_role, m.public) == (AGENT, False)


def test_gorgias_recognises_its_looked_up_user_as_the_sidecar(rsps, waits):
    fake, adapter = make(KITS[1], rsps, waits, user_id=None)
    t = adapter.fetch_ticket(fake.tid)
    adapter.post_internal_note(t, "<p>plain note without marker</p>", "plain note", "sidecar-event:zz")
    fake.messages[-1]["body_html"] = fake.messages[-1]["body_text"] = "edited"  # marker gone
    fake.messages[-1]["external_id"] = None
    assert adapter.fetch_ticket(fake.tid).messages[-1].author_role == SIDECAR


REPLY_WRITE = {"zendesk": ("PUT", rf"/api/v2/tickets/{ZD}\.json"), "gorgias": ("POST", rf"/api/tickets/{GO}/messages"),
               "freshdesk": ("POST", rf"/api/v2/tickets/{FD}/reply")}


def test_a_public_reply_is_recognised_by_its_text_after_a_lost_answer(kit, rsps, waits):
    """Replies carry no visible marker (the customer reads them): the thread check matches their text."""
    fake, adapter = make(kit, rsps, waits)
    t = adapter.fetch_ticket(fake.tid)
    fake.fail(*REPLY_WRITE[kit.name], "timeout_after_store")
    html = "<p>Your order ships tomorrow &amp; arrives Friday.</p>"
    adapter.post_public_reply(t, html, html, marker_for("ev-reply-lost"))
    assert fake.replies() == [html]
    assert len(fake.writes()) == 1
    adapter.post_public_reply(adapter.fetch_ticket(fake.tid), html, html, marker_for("ev-reply-lost"))
    assert len(fake.writes()) == 1, "a retried job does not send the reply again"


def test_thread_reading_stops_at_the_page_cap(kit, rsps, waits, monkeypatch):
    """Bounded work: a thread of thousands of messages is not read to the end (the cap, here 1 page)."""
    monkeypatch.setattr(kit.module, "MAX_THREAD_PAGES", 1)
    fake, adapter = make(kit, rsps, waits, n_messages=kit.n_page)
    t = adapter.fetch_ticket(fake.tid)
    pages = [c for c in fake.calls if c.method == "GET" and re.search(r"comments|messages|conversations", c.path)]
    assert len(pages) == 1
    assert 0 < len(t.messages) < kit.n_page + 1
