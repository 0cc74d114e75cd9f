"""Contract: assign a ticket to the agent with a given email, on the three helpdesks.

The fakes (from the contract suite) get a staff directory answering the documented lookups:
Zendesk ``GET /api/v2/users/search?query=email:…`` (fuzzy, end users included), Gorgias
``GET /api/users?email=…`` and Freshdesk ``GET /api/v2/agents?email=…``. The directory answers
loosely on purpose (substring matches, look-alike addresses), so only the adapter's own exact
comparison decides who gets the ticket.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses

from adapters.base import AgentNotFound, AuthError, email_key
from adapters.dryrun import DryRunAdapter
from tests.adapters.test_contract import KITS, Kit, Waits, make

ANN = "ann.lee@acme.example"
# Addresses that look like ANN to a person but are other strings.
LOOK_ALIKES = [
    "ann.lee@acmе.example",  # Cyrillic е
    "аnn.lee@acme.example",  # Cyrillic а
    "ann.lee@acme.examp\u217ce",  # Roman numeral small l
    "ann.lee@ACME.EXAMPLE\u212a",  # Kelvin sign (str.lower() makes it "k")
    "ann.lee＠acme.example",  # full-width @
    "ann.lee@acme.example.",  # trailing dot
    "ann.lee\u200b@acme.example",  # zero-width space
    "ann.lee@acme.example\u0301",  # combining accent
]
NOT_EMAILS = ["", "   ", "ann", "ann@", "@acme.example", "ann@acme", "a b@acme.example", 'ann"@acme.example',
              "ann@acme.example\nbcc:bob@acme.example", "ann@acme.example,bob@acme.example", "ann@acme.example OR role:admin",
              "x" * 300 + "@acme.example", None, 42]

# One directory, written in each platform's shape by ``_user``.
STAFF = [
    {"id": 501, "name": "Ann Lee", "email": ANN, "role": "agent"},
    {"id": 502, "name": "Jo Ann Lee", "email": "jo" + ANN, "role": "agent"},
    {"id": 503, "name": "Ann Lee (look-alike)", "email": "ann.lee@acmе.example", "role": "agent"},
    {"id": 504, "name": "Kay", "email": "k@acme.example", "role": "agent"},
    {"id": 505, "name": "Cust Omer", "email": "customer@acme.example", "role": "end-user"},
    {"id": 506, "name": "Gone Agent", "email": "gone@acme.example", "role": "agent", "active": False},
    {"id": 507, "name": "Bot", "email": "bot2@acme.example", "role": "bot"},
]


def _user(platform: str, u: dict[str, Any]) -> dict[str, Any]:
    active = u.get("active", True)
    if platform == "zendesk":
        return {"id": u["id"], "name": u["name"], "email": u["email"], "role": u["role"], "active": active,
                "suspended": False}
    if platform == "gorgias":
        return {"id": u["id"], "name": u["name"], "email": u["email"], "role": {"name": u["role"]},
                "active": active}
    return {"id": u["id"], "available": True, "type": "support_agent",
            "contact": {"name": u["name"], "email": u["email"], "active": active}}


def _directory(kit: Kit, fake, staff: list[dict[str, Any]] | None = None) -> None:
    """Answer the platform's lookup loosely: every entry whose email contains the searched text."""
    people = staff if staff is not None else STAFF

    def matches(term: str) -> list[dict[str, Any]]:
        term = term.lower()
        return [_user(kit.name, u) for u in people if term in u["email"].lower() or
                u["email"].lower() in term]

    if kit.name == "zendesk":
        # Zendesk search is fuzzy and returns end users too.
        fake.route("GET", r"/api/v2/users/search\.json",
                   lambda m, p, b: (200, {"users": matches(p["query"].removeprefix("email:")), "count": 0,
                                          "next_page": None}))
    elif kit.name == "gorgias":
        fake.route("GET", r"/api/users", lambda m, p, b: (200, {
            "data": [u for u in matches(p["email"]) if u["role"]["name"] != "end-user"], "object": "list",
            "meta": {"next_cursor": None}}))
    else:
        fake.route("GET", r"/api/v2/agents", lambda m, p, b: (200, [
            a for a, u in zip([_user("freshdesk", u) for u in people], people, strict=True)
            if u["role"] not in ("end-user", "bot") and p["email"].lower() in u["email"].lower()]))


EXPECT_LOOKUP = {
    "zendesk": lambda e: ("GET", "/api/v2/users/search.json", {"query": f"email:{e}"}),
    "gorgias": lambda e: ("GET", "/api/users", {"email": e, "limit": "30"}),
    "freshdesk": lambda e: ("GET", "/api/v2/agents", {"email": e}),
}
EXPECT_ASSIGN = {
    "zendesk": lambda tid, aid: ("PUT", f"/api/v2/tickets/{tid}.json", {"ticket": {"assignee_id": aid}}),
    "gorgias": lambda tid, aid: ("PUT", f"/api/tickets/{tid}", {"assignee_user": {"id": aid}}),
    "freshdesk": lambda tid, aid: ("PUT", f"/api/v2/tickets/{tid}", {"responder_id": aid}),
}


def _assignee(kit: Kit, fake) -> Any:
    t = fake.ticket
    if kit.name == "zendesk":
        return t.get("assignee_id")
    if kit.name == "gorgias":
        return (t.get("assignee_user") or {}).get("id")
    return t.get("responder_id")


@pytest.fixture(params=KITS, ids=[k.name for k in KITS])
def kit(request) -> Kit:
    return request.param


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def waits() -> Waits:
    return Waits()


def test_assign_to_email_looks_up_the_agent_and_assigns_exactly_as_documented(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    _directory(kit, fake)
    agent = adapter.assign_to_email(fake.tid, ANN)
    assert (agent.id, agent.name, agent.email) == ("501", "Ann Lee", ANN)
    calls = [(c.method, c.path, c.params if c.method == "GET" else c.body) for c in fake.calls]
    assert calls == [EXPECT_LOOKUP[kit.name](ANN), EXPECT_ASSIGN[kit.name](fake.tid, 501)]
    assert _assignee(kit, fake) == 501


def test_email_case_and_spaces_do_not_matter_but_only_ascii_letters_are_folded(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    _directory(kit, fake)
    assert adapter.assign_to_email(fake.tid, "  Ann.LEE@Acme.Example ").id == "501"
    assert _assignee(kit, fake) == 501


@pytest.mark.parametrize("email", LOOK_ALIKES)
def test_look_alike_addresses_never_reach_an_agent(kit, rsps, waits, email):
    fake, adapter = make(kit, rsps, waits)
    _directory(kit, fake)
    try:
        agent = adapter.assign_to_email(fake.tid, email)
    except AgentNotFound:
        assert fake.writes() == []
    else:  # the directory holds one agent whose address *is* this look-alike: only that one may match
        assert agent.id == "503" and agent.email == email
    assert _assignee(kit, fake) != 501


def test_kelvin_sign_is_not_k(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    _directory(kit, fake)
    with pytest.raises(AgentNotFound):
        adapter.assign_to_email(fake.tid, "\u212a@acme.example")
    assert adapter.assign_to_email(fake.tid, "K@acme.example").id == "504"


@pytest.mark.parametrize("email", NOT_EMAILS, ids=range(len(NOT_EMAILS)))
def test_what_is_not_an_email_is_refused_before_any_request(kit, rsps, waits, email):
    fake, adapter = make(kit, rsps, waits)
    _directory(kit, fake)
    with pytest.raises(AgentNotFound, match="not an email"):
        adapter.assign_to_email(fake.tid, email)
    assert fake.calls == []


@pytest.mark.parametrize("email", ["jo" + ANN[:4], "ann.lee@acme", "lee@acme.example", "customer@acme.example",
                                   "gone@acme.example", "bot2@acme.example", "nobody@acme.example"])
def test_partial_matches_end_users_inactive_agents_and_bots_are_not_agents(kit, rsps, waits, email):
    fake, adapter = make(kit, rsps, waits)
    _directory(kit, fake)
    with pytest.raises(AgentNotFound):
        adapter.assign_to_email(fake.tid, email)
    assert fake.writes() == []


def test_agent_not_found_says_which_email_and_platform(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    _directory(kit, fake, staff=[])
    with pytest.raises(AgentNotFound) as err:
        adapter.assign_to_email(fake.tid, "Nobody@Acme.example")
    assert str(err.value) == f"no {kit.name} agent has the email nobody@acme.example"


def test_lookup_is_retried_on_429_and_bad_credentials_fail(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    _directory(kit, fake)
    path = EXPECT_LOOKUP[kit.name](ANN)[1].replace(".", r"\.")
    fake.fail("GET", path, "429", retry_after="3")
    assert adapter.assign_to_email(fake.tid, ANN).id == "501"
    assert 3 in waits
    fake.fail("GET", path, "401")
    with pytest.raises(AuthError):
        adapter.assign_to_email(fake.tid, ANN)


def test_assignment_rejected_by_the_helpdesk_is_permanent_with_its_reason(kit, rsps, waits):
    fake, adapter = make(kit, rsps, waits)
    _directory(kit, fake)
    method, path, _ = EXPECT_ASSIGN[kit.name](fake.tid, 501)
    fake.fail(method, path.replace(".", r"\."), "422")
    from adapters.base import PermanentError

    with pytest.raises(PermanentError, match="422"):
        adapter.assign_to_email(fake.tid, ANN)


@pytest.mark.parametrize("platform", ["zendesk", "gorgias", "freshdesk"])
def test_dry_run_writes_the_assignment_to_the_outbox(platform, tmp_path):
    adapter = DryRunAdapter(platform, tmp_path)
    agent = adapter.assign_to_email("77", " Ann.Lee@acme.example")
    assert agent.email == ANN
    entries = [json.loads(x) for x in (tmp_path / f"{platform}.jsonl").read_text().splitlines()]
    assert [(e["action"], e["ticket_id"], e["agent"], e["dry_run"]) for e in entries] == [
        ("assign_agent", "77", ANN, True)]
    with pytest.raises(AgentNotFound):
        adapter.assign_to_email("77", "аnn.lee@acme.example\u200b")


def test_email_key():
    assert email_key(" A.B@X.example ") == "a.b@x.example"
    assert email_key("ÄB@x.example") == "Äb@x.example"  # non-ASCII letters are kept as they are
    assert email_key("a@b") is None and email_key(None) is None
