"""Stateful fakes of the three helpdesk APIs, on ``responses`` (the HTTP transport the adapters use).

Each fake keeps tickets, threads, tags and fields, built from payloads modelled on real samples
(tests/fixtures/<platform>/api_*.json); faults (429, 500, 401, a read timeout after the write was
stored) are injected per route. Shared by the adapter contract suite, the e2e suite and the rest.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import requests
import responses

FIX = Path(__file__).resolve().parent.parent / "fixtures"
TOKEN = "tok-SECRET-123"
EMAIL = "bot@acme.example"
BOT_ID = 900


def fixture(platform: str, name: str) -> Any:
    return json.loads((FIX / platform / name).read_text())


def strip_tags(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html or "").split())


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    auth: str | None


@dataclass
class Fault:
    method: str
    path: str  # regex, full match
    kind: str  # 429 | 500 | 401 | 404 | timeout_after_store | timeout_before_store
    times: int = 1
    retry_after: str = "2"


# --------------------------------------------------------------------------------------------
# Fake helpdesks
# --------------------------------------------------------------------------------------------


class FakeHelpdesk:
    base = ""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.routes: list[tuple[str, re.Pattern[str], Any]] = []
        self.clock = 0
        self.route("GET", r"/ping-.*", lambda m, p, b: (200, {"ok": True}))  # for rate-limit tests

    def install(self, rsps: responses.RequestsMock) -> FakeHelpdesk:
        for m in ("GET", "PUT", "POST", "DELETE"):
            rsps.add_callback(m, re.compile(re.escape(self.base) + r"/.*"), callback=self._dispatch)
        return self

    def route(self, method: str, pattern: str, handler: Any) -> None:
        self.routes.append((method, re.compile(pattern), handler))

    def fail(self, method: str, path: str, kind: str, times: int = 1, retry_after: str = "2") -> None:
        self.faults.append(Fault(method, path, kind, times, retry_after))

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def _dispatch(self, req: requests.PreparedRequest):
        u = urlparse(req.url)
        params = {k: v[0] for k, v in parse_qs(u.query).items()}
        body = json.loads(req.body) if req.body else None
        self.calls.append(Call(req.method, u.path, params, body, req.headers.get("Authorization")))
        for f in self.faults:
            if f.times > 0 and f.method == req.method and re.fullmatch(f.path, u.path):
                f.times -= 1
                if f.kind == "429":
                    return 429, {"Retry-After": f.retry_after}, json.dumps({"error": "TooManyRequests"})
                if f.kind == "500":
                    return 500, {}, json.dumps({"error": "InternalError"})
                if f.kind == "401":
                    return 401, {}, json.dumps({"error": "Couldn't authenticate you"})
                if f.kind == "404":
                    return 404, {}, json.dumps({"error": "RecordNotFound", "description": "Not found"})
                if f.kind == "timeout_before_store":
                    raise requests.ReadTimeout("read timed out")
                if f.kind == "connect_timeout":
                    raise requests.ConnectTimeout("connect timed out")
                if f.kind == "403":
                    return 403, {}, json.dumps({"error": "Forbidden", "description": "You do not have access"})
                if f.kind == "422":
                    return 422, {}, json.dumps({"description": "Validation failed", "errors": [
                        {"field": "priority", "message": "It should be one of these values: '1,2,3,4'",
                         "code": "invalid_value"}]})
                if f.kind == "timeout_after_store":
                    self._handle(req.method, u.path, params, body)
                    raise requests.ReadTimeout("read timed out")
        status, payload = self._handle(req.method, u.path, params, body)
        return status, {"Content-Type": "application/json"}, json.dumps(payload)

    def _handle(self, method: str, path: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
        for m, rx, handler in self.routes:
            match = rx.fullmatch(path)
            if m == method and match:
                return handler(match, params, body)
        return 404, {"error": "no such route in the fake"}


class FakeZendesk(FakeHelpdesk):
    base = "https://acme.zendesk.com"
    tid = "4242"

    def __init__(self, n_messages: int = 3) -> None:
        super().__init__()
        show = fixture("zendesk", "api_ticket_show.json")
        self.ticket, self.users = show["ticket"], show["users"]
        self.users.append({"id": BOT_ID, "name": "Sidecar Bot", "email": EMAIL, "role": "agent"})
        self.template = fixture("zendesk", "api_comments_page.json")["comments"][0]
        self.comments: list[dict[str, Any]] = []
        for i in range(n_messages):
            agent = i % 2 == 1
            self.add_comment(f"{'Agent answer' if agent else 'Customer message'} {i}",
                             self.users[1]["id"] if agent else self.ticket["requester_id"], True)
        t = r"/api/v2/tickets/(\d+)"
        self.route("GET", t + r"\.json", lambda m, p, b: (200, {"ticket": self.ticket, "users": self.users[:2]}))
        self.route("GET", t + r"/comments\.json", self._comments)
        self.route("PUT", t + r"\.json", self._update)
        self.route("PUT", t + r"/tags\.json", self._tags)
        self.route("GET", t + r"/macros/(\d+)/apply\.json", lambda m, p, b: (200, fixture("zendesk", "api_macro_apply.json")))

    def add_comment(self, text: str, author_id: int, public: bool, html: str | None = None) -> None:
        c = copy.deepcopy(self.template)
        n = self.tick()
        c.update(id=33144692244499 + n, author_id=author_id, body=text, plain_body=text, public=public,
                 html_body=html or f'<div class="zd-comment"><p>{text}</p></div>',
                 created_at=f"2024-09-06T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z")
        self.comments.append(c)

    def _comments(self, m, p, b):
        size = int(p.get("page[size]", 100))
        start = int(p.get("page[after]", 0))
        desc = p.get("sort") == "-created_at"  # cursor pagination's sort (newest first)
        ordered = self.comments[::-1] if desc else self.comments
        page = ordered[start:start + size]
        more = start + size < len(self.comments)
        nxt = (f"{self.base}/api/v2/tickets/{m.group(1)}/comments.json?include=users&"
               f"{quote('page[after]')}={start + size}&{quote('page[size]')}={size}" + ("&sort=-created_at" if desc else ""))
        return 200, {"comments": page, "users": self.users, "meta": {"has_more": more, "after_cursor": str(start + size)},
                     "links": {"next": nxt if more else None, "prev": None}}

    def _update(self, m, p, b):
        t = b["ticket"]
        if "comment" in t:
            c = t["comment"]
            self.add_comment(strip_tags(c["html_body"]), BOT_ID, c["public"], html=c["html_body"])
        for k in ("priority", "group_id", "assignee_id", "status"):
            if k in t:
                self.ticket[k] = t[k]
        for f in t.get("custom_fields", []):
            cur = [x for x in self.ticket["custom_fields"] if x["id"] == f["id"]]
            if cur:
                cur[0]["value"] = f["value"]
            else:
                self.ticket["custom_fields"].append(dict(f))
        return 200, {"ticket": self.ticket, "audit": {"id": 1, "events": []}}

    def _tags(self, m, p, b):
        self.ticket["tags"] += [x for x in b["tags"] if x not in self.ticket["tags"]]
        return 200, {"tags": self.ticket["tags"]}

    # state accessors shared by the suite
    def notes(self) -> list[str]:
        return [c["html_body"] for c in self.comments if not c["public"] and c["author_id"] == BOT_ID]

    def replies(self) -> list[str]:
        return [c["html_body"] for c in self.comments if c["public"] and c["author_id"] == BOT_ID]

    def tags(self) -> list[str]:
        return list(self.ticket["tags"])

    def add_tag_elsewhere(self, tag: str) -> None:
        self.ticket["tags"].append(tag)


class FakeGorgias(FakeHelpdesk):
    base = "https://acme.gorgias.com"
    tid = "86538298"

    def __init__(self, n_messages: int = 3) -> None:
        super().__init__()
        self.ticket = fixture("gorgias", "api_ticket.json")
        self.template = fixture("gorgias", "api_message.json")
        self.messages: list[dict[str, Any]] = []
        for i in range(n_messages):
            agent = i % 2 == 1
            self.add_message(f"{'Agent answer' if agent else 'Customer message'} {i}", agent=agent)
        t = r"/api/tickets/(\d+)"
        self.route("GET", t, lambda m, p, b: (200, self.ticket))
        self.route("GET", r"/api/messages", self._list)
        self.route("POST", t + r"/messages", self._create)
        self.route("POST", t + r"/tags", self._tags)
        self.route("PUT", t, self._update)
        self.route("PUT", t + r"/custom-fields/(\d+)", self._field)
        self.route("GET", r"/api/macros/(\d+)", lambda m, p, b: (200, fixture("gorgias", "api_macro.json")))
        self.route("GET", r"/api/users/0", lambda m, p, b: (200, fixture("gorgias", "api_user_me.json")))

    def add_message(self, text: str, agent: bool, **extra: Any) -> dict[str, Any]:
        msg = copy.deepcopy(self.template)
        n = self.tick()
        msg.update(id=208841467 + n, body_text=text, stripped_text=text, body_html=f"<div>{text}</div>",
                   stripped_html=f"<div>{text}</div>", from_agent=agent, ticket_id=int(self.tid),
                   created_datetime=f"2024-02-14T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000000+00:00")
        if agent:
            msg["sender"] = {"id": 387654483, "email": "sam@acme.example", "name": "Sam Agent"}
        msg.update(extra)
        self.messages.append(msg)
        return msg

    def _list(self, m, p, b):
        assert p["ticket_id"] == self.tid and p["order_by"] in ("created_datetime:asc", "created_datetime:desc")
        size, start = int(p["limit"]), int(p.get("cursor", 0))
        more = start + size < len(self.messages)
        ordered = self.messages if p["order_by"].endswith(":asc") else self.messages[::-1]
        return 200, {"data": ordered[start:start + size], "object": "list",
                     "meta": {"next_cursor": str(start + size) if more else None, "prev_cursor": None}}

    def _create(self, m, p, b):
        msg = self.add_message(b.get("body_text") or "", agent=True, channel=b["channel"], via=b["via"],
                               sender=dict(b["sender"]), body_html=b["body_html"],
                               public=b["channel"] != "internal-note", external_id=b.get("external_id"),
                               source=b["source"])
        return 201, msg

    def _tags(self, m, p, b):
        have = {t["name"] for t in self.ticket["tags"]}
        self.ticket["tags"] += [{"id": 100 + i, "name": n} for i, n in enumerate(b["names"]) if n not in have]
        return 201, {}

    def _update(self, m, p, b):
        self.ticket.update(b)
        return 200, self.ticket

    def _field(self, m, p, b):
        self.ticket["custom_fields"][m.group(2)] = {"id": int(m.group(2)), "value": b}
        return 200, {"id": int(m.group(2)), "value": b}

    def notes(self) -> list[str]:
        return [x["body_html"] for x in self.messages if x.get("channel") == "internal-note"]

    def replies(self) -> list[str]:
        return [x["body_html"] for x in self.messages if x.get("via") == "api" and x.get("channel") != "internal-note"]

    def tags(self) -> list[str]:
        return [t["name"] for t in self.ticket["tags"]]

    def add_tag_elsewhere(self, tag: str) -> None:
        self.ticket["tags"].append({"id": 999, "name": tag})


class FakeFreshdesk(FakeHelpdesk):
    base = "https://acme.freshdesk.com"
    tid = "11"

    def __init__(self, n_messages: int = 3) -> None:
        super().__init__()
        self.ticket = fixture("freshdesk", "api_ticket.json")
        self.template = fixture("freshdesk", "api_conversations.json")
        self.convs: list[dict[str, Any]] = []
        for i in range(n_messages):
            agent = i % 2 == 1
            self.add_conv(f"{'Agent answer' if agent else 'Customer message'} {i}", private=False,
                          user_id=6010396333 if agent else self.ticket["requester_id"], incoming=not agent)
        t = r"/api/v2/tickets/(\d+)"
        self.route("GET", t, self._show)
        self.route("GET", t + r"/conversations", self._list)
        self.route("POST", t + r"/notes", lambda m, p, b: (201, self.add_conv(
            strip_tags(b["body"]), private=b["private"], user_id=BOT_ID, incoming=False, body=b["body"])))
        self.route("POST", t + r"/reply", lambda m, p, b: (201, self.add_conv(
            strip_tags(b["body"]), private=False, user_id=BOT_ID, incoming=False, body=b["body"])))
        self.route("PUT", t, self._update)
        self.route("GET", r"/api/v2/canned_responses/(\d+)", lambda m, p, b: (200, fixture("freshdesk", "api_canned_response.json")))

    def add_conv(self, text: str, private: bool, user_id: int, incoming: bool, body: str | None = None) -> dict[str, Any]:
        c = copy.deepcopy(self.template[1])
        n = self.tick()
        c.update(id=n, body=body or f"<div>{text}</div>", body_text=text, private=private, user_id=user_id,
                 incoming=incoming, source=2 if private else 0, ticket_id=int(self.tid),
                 created_at=f"2016-05-19T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z")
        self.convs.append(c)
        return c

    def _show(self, m, p, b):
        t = dict(self.ticket)
        if p.get("include") != "requester":
            t.pop("requester", None)
        return 200, t

    def _list(self, m, p, b):
        page, per = int(p.get("page", 1)), int(p.get("per_page", 30))
        return 200, self.convs[(page - 1) * per:page * per]

    def _update(self, m, p, b):
        for k, v in b.items():
            if k == "custom_fields":
                self.ticket["custom_fields"].update(v)
            else:
                self.ticket[k] = v
        return 200, self.ticket

    def notes(self) -> list[str]:
        return [c["body"] for c in self.convs if c["private"] and c["user_id"] == BOT_ID]

    def replies(self) -> list[str]:
        return [c["body"] for c in self.convs if not c["private"] and c["user_id"] == BOT_ID]

    def tags(self) -> list[str]:
        return list(self.ticket["tags"])

    def add_tag_elsewhere(self, tag: str) -> None:
        self.ticket["tags"].append(tag)


# --------------------------------------------------------------------------------------------
# Per-platform expectations (what each vendor documents)
# --------------------------------------------------------------------------------------------


