"""End to end on each helpdesk: webhook → rq worker → exactly the expected API calls, one suite for all three.

Each platform is a :class:`Case`: how its helpdesk fake is seeded, what its webhook looks like (Zendesk:
a signed event; Gorgias: an HTTP integration with ``{{context}}``; Freshdesk: a Trigger-webhook
automation), the exact API calls a customer message causes, and what the writes must contain.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pipeline.models import marker_for
from tests.adapters.test_contract import BOT_ID, FakeFreshdesk, FakeGorgias, FakeHelpdesk, FakeZendesk
from tests.e2e.common import WISMO, deliver_and_work, failed_reasons, make_client, sequence

TAGS = ["ai-processed", "ai-wismo", "ai-intent-order_status"]


@dataclass
class Case:
    platform: str
    fake_cls: type[FakeHelpdesk]
    seed: Callable[[Any], None]                 # puts the customer's message into a fresh fake
    event: Callable[[Any], dict]                # the webhook for that message
    own_note_event: Callable[[Any], dict]       # the webhook the helpdesk sends for our own note
    expected: list[tuple[str, str]]             # the API calls of one processed message, in order
    check_writes: Callable[[list[dict], str], None]  # the write bodies, given the event id
    fault: tuple[str, str, str, dict]           # (method, path regex, kind, kwargs) on the note write
    after_fault: Callable[[list], list]         # the call sequence the fault leads to
    failing_path: str                           # named in the reason of a credentials failure

    def __str__(self) -> str:
        return self.platform


# ---------------------------------------------------------------- Zendesk: signed events

ZD_T = FakeZendesk.tid
ZD_REQUESTER = 6130869168922
ZD_EVENT_ID = "01JE2E0000000000000000001"


def _zd_event(fake: FakeZendesk, comment: dict | None = None, event_id: str = ZD_EVENT_ID) -> dict:
    c = comment or fake.comments[-1]
    return {"type": "zen:event-type:ticket.comment_added", "account_id": 10000001, "id": event_id,
            "time": "2026-11-25T10:00:00Z", "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ZD_T}",
            "detail": {"id": ZD_T, "subject": "Where is my order #1234?", "status": "OPEN", "priority": "NORMAL",
                       "requester_id": str(ZD_REQUESTER), "via": {"channel": "email"}},
            "event": {"comment": {"id": str(c["id"]), "body": c["plain_body"], "is_public": c["public"],
                                  "author": {"id": str(c["author_id"]), "is_staff": c["author_id"] != ZD_REQUESTER,
                                             "name": "x"}}}}


def _zd_own(fake: FakeZendesk) -> dict:
    own = fake.comments[-1]
    assert own["author_id"] == BOT_ID and not own["public"]
    return _zd_event(fake, own, event_id="01JE2E-OWN-NOTE")


def _zd_writes(writes: list[dict], event_id: str) -> None:
    note, tags, prio = writes
    assert note["ticket"]["comment"]["public"] is False
    assert marker_for(event_id) in note["ticket"]["comment"]["html_body"]
    assert "order_status" in note["ticket"]["comment"]["html_body"]
    assert set(note) == {"ticket"} and set(note["ticket"]) == {"comment"}
    assert tags == {"tags": TAGS}
    assert prio == {"ticket": {"priority": "high"}}


ZENDESK = Case(
    platform="zendesk", fake_cls=FakeZendesk,
    seed=lambda f: f.add_comment(WISMO, ZD_REQUESTER, True), event=_zd_event, own_note_event=_zd_own,
    expected=[
        ("GET", f"/api/v2/tickets/{ZD_T}.json"),            # ticket + side-loaded users
        ("GET", f"/api/v2/tickets/{ZD_T}/comments.json"),   # the whole thread (one page here)
        ("PUT", f"/api/v2/tickets/{ZD_T}.json"),            # the internal note
        ("PUT", f"/api/v2/tickets/{ZD_T}/tags.json"),       # tags, added (never replaced)
        ("PUT", f"/api/v2/tickets/{ZD_T}.json"),            # priority (normal → high)
    ],
    check_writes=_zd_writes,
    fault=("PUT", rf"/api/v2/tickets/{ZD_T}\.json", "500", {}),  # a 500 on the note: re-read the thread, post once
    after_fault=lambda e: e[:3] + e[:2] + e[2:],
    failing_path=f"/api/v2/tickets/{ZD_T}.json",
)

# ---------------------------------------------------------------- Gorgias: HTTP integration

GO_T = FakeGorgias.tid


def _go_event(fake: FakeGorgias, message: dict | None = None) -> dict:
    """What an HTTP integration with the form ``{{context}}`` posts for ticket-message-created."""
    t = {k: fake.ticket[k] for k in ("id", "subject", "channel", "status", "priority", "customer", "tags")}
    return {"ticket": copy.deepcopy(t), "message": copy.deepcopy(message or fake.messages[-1])}


def _go_own(fake: FakeGorgias) -> dict:
    own = fake.messages[-1]
    assert own["channel"] == "internal-note" and own["sender"]["id"] == BOT_ID
    return _go_event(fake, own)


def _go_writes(writes: list[dict], event_id: str) -> None:
    note, tags, prio = writes
    assert {k: note[k] for k in ("channel", "from_agent", "via", "sender")} == {
        "channel": "internal-note", "from_agent": True, "via": "api", "sender": {"id": BOT_ID}}
    assert note["source"]["type"] == "internal-note" and note["source"]["to"] == []
    assert marker_for(event_id) in note["body_html"] and "order_status" in note["body_text"]
    assert tags == {"names": TAGS}
    assert prio == {"priority": "high"}


GORGIAS = Case(
    platform="gorgias", fake_cls=FakeGorgias,
    seed=lambda f: f.add_message(WISMO, agent=False), event=_go_event, own_note_event=_go_own,
    expected=[
        ("GET", f"/api/tickets/{GO_T}"),            # ticket with its custom fields
        ("GET", "/api/messages"),                   # the whole thread (cursor pages; one here)
        ("POST", f"/api/tickets/{GO_T}/messages"),  # the internal note, sent by the API user
        ("POST", f"/api/tickets/{GO_T}/tags"),      # tags, added (never replaced)
        ("PUT", f"/api/tickets/{GO_T}"),            # priority (normal → high)
    ],
    check_writes=_go_writes,
    # A read timeout after the note was stored: the thread shows the marker, no second note.
    fault=("POST", rf"/api/tickets/{GO_T}/messages", "timeout_after_store", {}),
    after_fault=lambda e: e[:3] + e[:2] + e[3:],
    failing_path=f"/api/tickets/{GO_T}",
)

# ---------------------------------------------------------------- Freshdesk: automation webhook

FD_T = FakeFreshdesk.tid


def _fd_seed(f: FakeFreshdesk) -> None:
    # A new ticket: the description is the customer's message.
    f.ticket["description"], f.ticket["description_text"] = f"<div>{WISMO}</div>", WISMO


def _fd_event(fake: FakeFreshdesk, subject: str = "Where is my order #1234?") -> dict:
    """The "Advanced" JSON body of a Trigger-webhook automation on ticket creation (values render as strings)."""
    return {"freshdesk_webhook": {"triggered_event": "{ticket_action:created}", "ticket_id": FD_T,
                                  "ticket_url": f"{FakeFreshdesk.base}/helpdesk/tickets/{FD_T}",
                                  "ticket_subject": subject, "ticket_description": f"<div>{WISMO}</div>",
                                  "ticket_status": "Open", "ticket_priority": "Medium", "requester_name": "Jane Doe",
                                  "requester_email": "jane@example.com"}}


def _fd_own(fake: FakeFreshdesk) -> dict:
    assert fake.convs[-1]["user_id"] == BOT_ID and fake.convs[-1]["private"]
    return {"freshdesk_webhook": {"triggered_event": "{note_type:private}", "ticket_id": FD_T}}


def _fd_writes(writes: list[dict], event_id: str) -> None:
    note, update = writes
    assert note["private"] is True and set(note) == {"body", "private"}
    assert marker_for(event_id) in note["body"] and "order_status" in note["body"]
    assert update == {"tags": ["vip", "shipping", *TAGS], "priority": 3}


FRESHDESK = Case(
    platform="freshdesk", fake_cls=FakeFreshdesk,
    seed=_fd_seed, event=_fd_event, own_note_event=_fd_own,
    expected=[
        ("GET", f"/api/v2/tickets/{FD_T}"),                # ticket with the requester
        ("GET", f"/api/v2/tickets/{FD_T}/conversations"),  # the whole thread (pages of 100; one here)
        ("POST", f"/api/v2/tickets/{FD_T}/notes"),         # the private note
        ("GET", f"/api/v2/tickets/{FD_T}"),                # fresh tags: PUT replaces them, so read-merge-write
        ("PUT", f"/api/v2/tickets/{FD_T}"),                # tags + priority in one update
    ],
    check_writes=_fd_writes,
    fault=("POST", rf"/api/v2/tickets/{FD_T}/notes", "429", {"retry_after": "2"}),  # waited out, posted once
    after_fault=lambda e: e[:3] + e[2:],
    failing_path=f"/api/v2/tickets/{FD_T}",
)

CASES = [ZENDESK, GORGIAS, FRESHDESK]


@pytest.fixture(params=CASES, ids=str)
def case(request) -> Case:
    return request.param


@pytest.fixture
def fake(rsps, case):
    f = case.fake_cls(0 if case is FRESHDESK else 3).install(rsps)
    case.seed(f)
    return f


@pytest.fixture
def client(monkeypatch, sidecar_env, case):
    return make_client(monkeypatch, case.platform, case.fake_cls.base)


def test_customer_message_gives_note_tags_priority_and_nothing_else(case, client, fake, redis_url):
    resp = deliver_and_work(client, case.platform, case.event(fake), redis_url)
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued"
    assert sequence(fake) == case.expected
    if case is FRESHDESK:
        assert fake.calls[0].params == {"include": "requester"}
    case.check_writes([c.body for c in fake.writes()], resp.get_json()["event_id"])
    if case is not FRESHDESK:
        assert fake.tags()[:2] == ["vip", "shipping"], "existing tags survive"
    assert len(fake.notes()) == 1


def test_duplicate_delivery_and_our_own_note_cause_no_api_call(case, client, fake, redis_url):
    event = case.event(fake)
    deliver_and_work(client, case.platform, event, redis_url)
    n = len(fake.calls)
    dup = deliver_and_work(client, case.platform, event, redis_url)
    assert dup.status_code == 200 and dup.get_json()["status"] == "duplicate"
    echo = deliver_and_work(client, case.platform, case.own_note_event(fake), redis_url)
    assert echo.status_code == 200 and echo.get_json()["status"] == "ignored"
    assert len(fake.calls) == n


def test_a_failed_or_lost_note_write_still_posts_exactly_one_note(case, client, fake, redis_url, monkeypatch):
    import adapters.http

    slept: list[float] = []
    monkeypatch.setattr(adapters.http.time, "sleep", slept.append)
    method, path, kind, kw = case.fault
    fake.fail(method, path, kind, **kw)
    deliver_and_work(client, case.platform, case.event(fake), redis_url)
    assert sequence(fake) == case.after_fault(case.expected)
    if kind == "429":
        assert float(kw["retry_after"]) in slept
    assert len(fake.notes()) == 1


def test_bad_credentials_fail_the_job_once_with_the_reason(case, client, fake, redis_url):
    fake.fail("GET", r".*", "401", times=10)
    deliver_and_work(client, case.platform, case.event(fake), redis_url)
    assert sequence(fake) == case.expected[:1]
    reasons = failed_reasons()
    assert len(reasons) == 1 and "401" in reasons[0] and case.failing_path in reasons[0]
    assert "tok-SECRET" not in reasons[0]
