"""Loopback fakes of the three helpdesks' history APIs, with a synthetic store history.

:func:`make_history` builds a seeded history of tickets (customer message, internal notes, agent
replies, follow-ups; agent tags and a "reason" custom field; urgent/escalated tickets; open ones
the backtest must skip). :class:`FakeHistoryServer` serves it on 127.0.0.1 the way each vendor
does (shapes from the vendors' specs):

* Zendesk: ``GET /api/v2/incremental/tickets/cursor.json`` (``start_time`` then ``cursor``,
  ``after_cursor``/``after_url``/``end_of_stream``), ``GET /api/v2/tickets/{id}/comments.json``
  (cursor pages: ``meta.has_more`` + ``links.next``; at most ``comment_page`` per page).
* Gorgias: ``GET /api/tickets`` (``order_by=updated_datetime:desc``, ``cursor``, ``data`` +
  ``meta.next_cursor``), ``GET /api/tickets/{id}``, ``GET /api/messages?ticket_id=`` (cursor pages).
* Freshdesk: ``GET /api/v2/tickets`` (``updated_since``, ascending ``updated_at``, ``page`` ≤
  ``max_page`` else 400 as Freshdesk answers), ``GET /api/v2/tickets/{id}/conversations``.

Every request is recorded (method, path, query) *before* anything else, so a test can prove
what went over the wire. ``fail_429_at`` answers one 429 with ``Retry-After`` at that request;
``outage`` answers 503 to everything (an interrupted run); anything but GET gets 405.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

EMAIL = "bot@example.com"
TOKEN = "history-token"
REASON_FIELD = {"zendesk": "360001", "gorgias": "77", "freshdesk": "cf_reason"}

# intent -> (agent tag, reason field value, customer openings, details, agent replies)
SCENARIOS: dict[str, dict[str, Any]] = {
    "order_status": {
        "tag": "wismo", "reason": "Where is my order",
        "say": ["I ordered the {product} {days} days ago and the tracking page shows no movement at all. Can you tell me where it is?",
                "Any news on order #{order}? The confirmation said it would ship in two days but I have heard nothing since.",
                "Hello, could you check when my parcel with the {product} is going to be delivered? Order {order}."],
        "reply": ["Hi {name}, your order #{order} left our warehouse yesterday with the courier; tracking updates within 24 hours. "
                  "Delivery is expected in 2-3 business days.",
                  "Hello {name}, thanks for your patience. Order {order} is in transit and should arrive by Friday."],
    },
    "delivery_problem": {
        "tag": "damaged-item", "reason": "Damaged or lost",
        "say": ["The {product} arrived with a cracked casing and the box was completely crushed. What can you do?",
                "My tracking says the parcel was delivered on Monday but there was nothing at my door or with the neighbours.",
                "I received a {product} in the wrong colour, I had ordered black and got beige."],
        "reply": ["Hi {name}, I'm sorry the {product} arrived damaged. We are sending a replacement today at no cost, "
                  "no need to return the broken one.",
                  "Hello {name}, I've opened an investigation with the carrier and will update you within 48 hours."],
    },
    "return_refund": {
        "tag": "refund-request", "reason": "Return or refund",
        "say": ["I would like to send back the {product}, it does not fit. How do I get my money back?",
                "I posted my return two weeks ago and still no refund on my card for order {order}.",
                "Can I return the {product}? I changed my mind, it is unused and in the original box."],
        "reply": ["Hi {name}, you can start the return from your account page under Orders; the refund reaches your card "
                  "within 5-7 business days after we receive the item.",
                  "Hello {name}, your refund for order {order} was issued today, it can take up to 5 days to appear."],
    },
    "cancel_order": {
        "tag": "cancellation", "reason": "Cancel order",
        "say": ["Please cancel order #{order}, I placed it twice by accident.",
                "I need to cancel my purchase of the {product} before it ships, is that still possible?"],
        "reply": ["Hi {name}, order #{order} has been cancelled and you will not be charged.",
                  "Hello {name}, the order had not shipped yet so I cancelled it; the refund is on its way."],
    },
    "billing": {
        "tag": "billing", "reason": "Billing",
        "say": ["My card was charged twice for order {order}, I can see two identical payments on my statement.",
                "Could I get an invoice for order {order} with my company details on it?"],
        "reply": ["Hi {name}, I can see the duplicate authorisation; the second one is released automatically within 3 days.",
                  "Hello {name}, I've attached the invoice for order {order} with your company details."],
    },
    "account_access": {
        "tag": "login-issue", "reason": "Account access",
        "say": ["I cannot log into my account, the reset password email never arrives even in spam.",
                "My account got locked after I typed the wrong password a few times, please help."],
        "reply": ["Hi {name}, I've unlocked your account and sent a new reset link; it is valid for one hour.",
                  "Hello {name}, please try the reset link again now, the email server had a delay this morning."],
    },
    "product_question": {
        "tag": "product-question", "reason": "Product question",
        "say": ["Is the {product} suitable for heavy rain? I need it for hiking in Scotland.",
                "What size of the {product} would you recommend, I am usually between M and L?"],
        "reply": ["Hi {name}, the {product} is fully waterproof (10,000 mm) and taped at the seams.",
                  "Hello {name}, it runs slightly large, so we recommend M if you are between sizes."],
    },
    "discount_promo": {
        "tag": "promo-code", "reason": "Discount",
        "say": ["The code WELCOME10 says it is invalid at checkout, can you apply it to my order {order}?",
                "Do you have any discount for a first order? I saw an ad about 15% off."],
        "reply": ["Hi {name}, I've applied the 10% discount to order {order} manually and refunded the difference.",
                  "Hello {name}, first orders get 10% off with WELCOME10 at checkout."],
    },
    "complaint": {
        "tag": "complaint", "reason": "Complaint",
        "say": ["This is the third time I write and nobody answers. Your service is terrible and I am really angry.",
                "Very disappointed, the quality of the {product} is far below what the photos show."],
        "reply": ["Hi {name}, I'm truly sorry for the wait and the experience. I've escalated this to our team lead.",
                  "Hello {name}, thank you for the honest feedback; I've issued a 20% refund as an apology."],
    },
    "human_request": {
        "tag": "wants-human", "reason": "Human",
        "say": ["I want to speak to a real person, not a bot. Please call me back.",
                "Can a manager contact me about order {order}? I don't want automated answers."],
        "reply": ["Hi {name}, this is Sam from the support team, I'm a real person and I'm on it.",
                  "Hello {name}, our team lead will call you this afternoon."],
    },
}
PRODUCTS = ["trail running shoes", "rain jacket", "ceramic mug set", "wool sweater", "backpack", "desk lamp"]
NAMES = ["Alice Martin", "Bruno Costa", "Chloé Dubois", "Dev Patel", "Emma Schulz", "Farid Haddad", "Grace Kim"]
AGENTS = [("Sam Agent", "sam@shop.example"), ("Lee Agent", "lee@shop.example")]


@dataclass
class FakeMessage:
    id: int
    role: str  # customer | agent | note | system
    text: str
    at: datetime
    author: tuple[int, str, str]  # id, name, email


@dataclass
class FakeTicket:
    id: int
    intent: str
    subject: str
    status: str  # closed | open
    priority: str  # low normal high urgent
    tags: list[str]
    reason: str | None
    created: datetime
    updated: datetime
    requester: tuple[int, str, str]
    messages: list[FakeMessage] = field(default_factory=list)


def make_history(n: int = 240, seed: int = 15, now: datetime | None = None, days: int = 25) -> list[FakeTicket]:
    """A seeded store history of ``n`` tickets updated in the last ``days`` days."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    intents = list(SCENARIOS)
    out: list[FakeTicket] = []
    mid = 10_000
    for i in range(n):
        intent = intents[i % len(intents)] if i < len(intents) * 2 else rng.choice(intents)
        sc = SCENARIOS[intent]
        name = rng.choice(NAMES)
        cust = (5000 + i, name, f"{name.split()[0].lower()}.{i}@mail.example")
        created = now - timedelta(days=days) + timedelta(minutes=rng.randint(0, days * 24 * 60 - 600))
        values = {"product": rng.choice(PRODUCTS), "order": rng.randint(10000, 99999), "days": rng.randint(3, 12),
                  "name": name.split()[0]}
        text = rng.choice(sc["say"]).format(**values)
        msgs = [FakeMessage(mid, "customer", text, created, cust)]
        mid += 1
        t = created
        if rng.random() < 0.3:
            t += timedelta(minutes=rng.randint(1, 30))
            msgs.append(FakeMessage(mid, "note", "Checked the order in the warehouse system.", t, (1, *AGENTS[0])))
            mid += 1
        replied = rng.random() < 0.92
        if replied:
            t += timedelta(minutes=rng.randint(5, 60 * 30))
            agent = rng.choice(AGENTS)
            msgs.append(FakeMessage(mid, "agent", rng.choice(sc["reply"]).format(**values), t,
                                    (1 + AGENTS.index(agent), *agent)))
            mid += 1
            if rng.random() < 0.35:
                t += timedelta(hours=rng.randint(1, 20))
                msgs.append(FakeMessage(mid, "customer", "Thanks for the quick answer, that helps.", t, cust))
                mid += 1
                t += timedelta(minutes=rng.randint(10, 120))
                msgs.append(FakeMessage(mid, "agent", f"You're welcome {values['name']}, have a nice day!", t,
                                        (1 + AGENTS.index(agent), *agent)))
                mid += 1
        tags = ["email"]
        r = rng.random()
        reason: str | None = None
        if r < 0.55:
            tags.append(sc["tag"])
        elif r < 0.75:
            reason = sc["reason"]
        elif r < 0.8:
            tags += [sc["tag"], SCENARIOS[rng.choice(intents)]["tag"]]  # sometimes two labels (maybe conflicting)
        # else: unlabelled
        if rng.random() < 0.2:
            tags.append(f"ai-intent-{rng.choice(intents)}")  # the sidecar's own tag from a live run: not a label
        priority = rng.choices(["low", "normal", "high", "urgent"], [1, 6, 2, 1])[0]
        if intent in ("complaint", "human_request") and rng.random() < 0.6:
            tags.append("escalated")
        status = "open" if rng.random() < 0.12 else "closed"
        updated = max(t, created) + timedelta(minutes=rng.randint(1, 240))
        if updated > now - timedelta(minutes=5):
            updated = now - timedelta(minutes=5)
        subject = {"order_status": "Order status", "delivery_problem": "Problem with my delivery",
                   "return_refund": "Return", "cancel_order": "Cancel", "billing": "Payment question",
                   "account_access": "Login", "product_question": "Question", "discount_promo": "Discount code",
                   "complaint": "Unhappy", "human_request": "Call me"}[intent]
        out.append(FakeTicket(id=1000 + i, intent=intent, subject=subject, status=status, priority=priority,
                              tags=list(dict.fromkeys(tags)), reason=reason, created=created, updated=updated,
                              requester=cust, messages=msgs))
    return out


def _z(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _enc(*parts: Any) -> str:
    return base64.urlsafe_b64encode("|".join(str(p) for p in parts).encode()).decode()


def _dec(cursor: str) -> list[str]:
    return base64.urlsafe_b64decode(cursor.encode()).decode().split("|")


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]


class FakeHistoryServer:
    """One platform's history API on 127.0.0.1 (a thread); ``base`` is its URL."""

    def __init__(self, platform: str, tickets: list[FakeTicket], *, fail_429_at: int | None = None,
                 retry_after: str = "1", comment_page: int = 2, max_page: int = 300,
                 outage_after: int | None = None):
        self.platform = platform
        self.tickets = tickets
        self.by_id = {t.id: t for t in tickets}
        self.calls: list[Call] = []
        self.fail_429_at = fail_429_at
        self.retry_after = retry_after
        self.comment_page = comment_page
        self.max_page = max_page
        self.outage = False
        self.outage_after = outage_after  # from this request on: 503 (the helpdesk went down mid-run)
        self.answered_429 = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeHistoryServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def methods(self) -> set[str]:
        return {c.method for c in self.calls}

    # -- WSGI ------------------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        with self._lock:
            self.calls.append(Call(req.method, req.path, dict(req.args)))
            n = len(self.calls)
        resp = self._answer(req, n)
        return resp(environ, start_response)

    def _answer(self, req: Request, n: int) -> Response:
        if req.method != "GET":
            return _json({"error": "method not allowed"}, 405)
        expected = (f"{EMAIL}/token", TOKEN) if self.platform == "zendesk" else \
            (EMAIL, TOKEN) if self.platform == "gorgias" else (TOKEN, "X")
        if req.authorization is None or (req.authorization.username, req.authorization.password) != expected:
            return _json({"error": "Couldn't authenticate you"}, 401)
        if self.outage or (self.outage_after is not None and n > self.outage_after):
            return _json({"error": "Service unavailable"}, 503)
        if self.fail_429_at is not None and n == self.fail_429_at:
            self.answered_429 += 1
            r = _json({"error": "TooManyRequests", "description": "You have exceeded a rate limit"}, 429)
            r.headers["Retry-After"] = self.retry_after
            return r
        handler = getattr(self, f"_{self.platform}")
        return handler(req)

    # -- Zendesk ---------------------------------------------------------------------------------
    def _zendesk(self, req: Request) -> Response:
        p = req.path
        if p == "/api/v2/incremental/tickets/cursor.json":
            per = min(int(req.args.get("per_page", 1000)), 1000)
            if "cursor" in req.args:
                start, offset = (int(x) for x in _dec(req.args["cursor"]))
            elif "start_time" in req.args:
                start, offset = int(req.args["start_time"]), 0
            else:
                return _json({"error": "InvalidValue", "description": "start_time or cursor is required"}, 400)
            rows = sorted((t for t in self.tickets if t.updated.timestamp() >= start),
                          key=lambda t: (t.updated, t.id))
            page = rows[offset:offset + per]
            nxt = _enc(start, offset + len(page))
            return _json({"tickets": [self._zd_ticket(t) for t in page], "after_cursor": nxt,
                          "after_url": f"{self.base}{p}?cursor={nxt}", "before_cursor": None, "before_url": None,
                          "end_of_stream": offset + len(page) >= len(rows)})
        parts = p.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["api", "v2", "tickets"] and parts[4] == "comments.json":
            t = self.by_id.get(int(parts[3]))
            if t is None:
                return _json({"error": "RecordNotFound"}, 404)
            size = min(int(req.args.get("page[size]", 100)), 100, self.comment_page)
            after = int(_dec(req.args["page[after]"])[0]) if req.args.get("page[after]") else 0
            msgs = t.messages[after:after + size]
            more = after + size < len(t.messages)
            cur = _enc(after + size)
            users = {m.author[0]: m.author for m in msgs} | {t.requester[0]: t.requester}
            return _json({
                "comments": [self._zd_comment(m) for m in msgs],
                "users": [{"id": u[0], "name": u[1], "email": u[2],
                           "role": "end-user" if u[0] == t.requester[0] else "agent"} for u in users.values()],
                "meta": {"has_more": more, "after_cursor": cur if more else None},
                "links": {"next": f"{self.base}{p}?page[size]={size}&page[after]={cur}" if more else None}})
        return _json({"error": "InvalidEndpoint"}, 404)

    def _zd_ticket(self, t: FakeTicket) -> dict[str, Any]:
        cf = [{"id": int(REASON_FIELD["zendesk"]), "value": t.reason}, {"id": 99, "value": None}]
        return {"id": t.id, "url": f"{self.base}/api/v2/tickets/{t.id}.json", "subject": t.subject, "raw_subject": t.subject,
                "description": t.messages[0].text, "status": "solved" if t.status == "closed" else "open",
                "priority": t.priority, "tags": t.tags, "custom_fields": cf, "requester_id": t.requester[0],
                "submitter_id": t.requester[0], "created_at": _z(t.created), "updated_at": _z(t.updated),
                "generated_timestamp": int(t.updated.timestamp()), "via": {"channel": "email"}, "brand_id": None}

    @staticmethod
    def _zd_comment(m: FakeMessage) -> dict[str, Any]:
        return {"id": m.id, "type": "Comment", "author_id": m.author[0], "body": m.text, "plain_body": m.text,
                "html_body": f"<div class=\"zd-comment\"><p>{m.text}</p></div>", "public": m.role != "note",
                "created_at": _z(m.at), "via": {"channel": "email" if m.role == "customer" else "web"}}

    # -- Gorgias ---------------------------------------------------------------------------------
    def _gorgias(self, req: Request) -> Response:
        p = req.path
        if p == "/api/tickets":
            if req.args.get("order_by") != "updated_datetime:desc":
                return _json({"error": "unexpected order_by"}, 400)
            limit = min(int(req.args.get("limit", 30)), 100)
            offset = int(_dec(req.args["cursor"])[0]) if req.args.get("cursor") else 0
            rows = sorted(self.tickets, key=lambda t: (t.updated, t.id), reverse=True)
            page = rows[offset:offset + limit]
            more = offset + limit < len(rows)
            return _json({"data": [self._g_ticket(t) for t in page], "object": "list", "uri": "/api/tickets",
                          "meta": {"next_cursor": _enc(offset + limit) if more else None,
                                   "prev_cursor": _enc(max(0, offset - limit)) if offset else None}})
        if p.startswith("/api/tickets/"):
            t = self.by_id.get(int(p.rsplit("/", 1)[1]))
            return _json(self._g_ticket(t, full=True)) if t else _json({"error": "not found"}, 404)
        if p == "/api/messages":
            t = self.by_id.get(int(req.args.get("ticket_id", 0)))
            if t is None:
                return _json({"data": [], "meta": {"next_cursor": None}})
            limit = min(int(req.args.get("limit", 30)), 100, self.comment_page)
            offset = int(_dec(req.args["cursor"])[0]) if req.args.get("cursor") else 0
            msgs = t.messages[offset:offset + limit]
            more = offset + limit < len(t.messages)
            return _json({"data": [self._g_message(t, m) for m in msgs], "object": "list",
                          "meta": {"next_cursor": _enc(offset + limit) if more else None}})
        return _json({"error": "not found"}, 404)

    def _g_ticket(self, t: FakeTicket, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": t.id, "subject": t.subject, "status": t.status, "priority": "critical" if t.priority == "urgent" else t.priority,
            "channel": "email", "via": "email", "tags": [{"id": i, "name": x} for i, x in enumerate(t.tags)],
            "customer": {"id": t.requester[0], "name": t.requester[1], "email": t.requester[2]},
            "created_datetime": t.created.isoformat(), "updated_datetime": t.updated.isoformat(),
            "closed_datetime": t.updated.isoformat() if t.status == "closed" else None, "spam": False,
            "trashed_datetime": None, "messages_count": len(t.messages), "uri": f"/api/tickets/{t.id}"}
        if full:
            d["custom_fields"] = {REASON_FIELD["gorgias"]: {"id": 77, "value": t.reason}} if t.reason else {}
        return d

    @staticmethod
    def _g_message(t: FakeTicket, m: FakeMessage) -> dict[str, Any]:
        agent = m.role in ("agent", "note")
        return {"id": m.id, "ticket_id": t.id, "channel": "internal-note" if m.role == "note" else "email",
                "via": "helpdesk" if agent else "email", "from_agent": agent, "public": m.role != "note",
                "sender": {"id": m.author[0], "name": m.author[1], "email": m.author[2]},
                "body_text": m.text, "body_html": f"<p>{m.text}</p>", "stripped_text": m.text,
                "created_datetime": m.at.isoformat()}

    # -- Freshdesk -------------------------------------------------------------------------------
    def _freshdesk(self, req: Request) -> Response:
        p = req.path
        if p == "/api/v2/tickets":
            page = int(req.args.get("page", 1))
            if page > self.max_page:
                return _json({"description": "Validation failed", "errors": [
                    {"field": "page", "message": f"It should be less than or equal to {self.max_page}",
                     "code": "invalid_value"}]}, 400)
            per = min(int(req.args.get("per_page", 30)), 100)
            since = datetime.fromisoformat(req.args.get("updated_since", "1970-01-01T00:00:00Z").replace("Z", "+00:00"))
            if req.args.get("order_by") != "updated_at" or req.args.get("order_type") != "asc":
                return _json({"description": "unexpected order"}, 400)
            rows = sorted((t for t in self.tickets if t.updated >= since), key=lambda t: (t.updated, t.id))
            return _json([self._f_ticket(t) for t in rows[(page - 1) * per: page * per]])
        parts = p.strip("/").split("/")
        if len(parts) == 4 and parts[:3] == ["api", "v2", "tickets"] and parts[3].isdigit():
            t = self.by_id.get(int(parts[3]))
            return _json(self._f_ticket(t)) if t else _json({"description": "not found"}, 404)
        if len(parts) == 5 and parts[:3] == ["api", "v2", "tickets"] and parts[4] == "conversations":
            t = self.by_id.get(int(parts[3]))
            if t is None:
                return _json({"description": "not found"}, 404)
            page, per = int(req.args.get("page", 1)), min(int(req.args.get("per_page", 30)), 100)
            convs = [self._f_conv(t, m) for m in t.messages[1:]]
            return _json(convs[(page - 1) * per: page * per])
        return _json({"description": "not found"}, 404)

    def _f_ticket(self, t: FakeTicket) -> dict[str, Any]:
        first = t.messages[0]
        return {"id": t.id, "subject": t.subject, "status": 5 if t.status == "closed" else 2,
                "priority": {"low": 1, "normal": 2, "high": 3, "urgent": 4}[t.priority], "source": 1,
                "tags": t.tags, "custom_fields": {REASON_FIELD["freshdesk"]: t.reason},
                "requester_id": t.requester[0],
                "requester": {"id": t.requester[0], "name": t.requester[1], "email": t.requester[2]},
                "description": f"<div>{first.text}</div>", "description_text": first.text,
                "created_at": _z(t.created), "updated_at": _z(t.updated)}

    @staticmethod
    def _f_conv(t: FakeTicket, m: FakeMessage) -> dict[str, Any]:
        return {"id": m.id, "user_id": m.author[0], "body": f"<div>{m.text}</div>", "body_text": m.text,
                "incoming": m.role == "customer", "private": m.role == "note", "source": 0 if m.role == "customer" else 2,
                "created_at": _z(m.at), "from_email": m.author[2]}


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def platform_env(platform: str, base: str) -> dict[str, str]:
    """Env vars that point the sidecar at a fake."""
    up = platform.upper()
    env = {f"{up}_URL": base, {"zendesk": "ZENDESK_API_TOKEN", "gorgias": "GORGIAS_API_KEY",
                               "freshdesk": "FRESHDESK_API_KEY"}[platform]: TOKEN}
    if platform != "freshdesk":
        env[f"{up}_EMAIL"] = EMAIL
    return env


BACKTEST_YAML = """\
version: 1
labels:
  tags:
{tags}
  custom_field: {{zendesk: "360001", gorgias: "77", freshdesk: cf_reason}}
  field_values:
{values}
escalation:
  tags: [escalated]
  priorities: [urgent]
"""


def backtest_yaml() -> str:
    """A ``backtest.yaml`` mapping the fakes' agent tags and reason values to intents."""
    tags = "\n".join(f"    {sc['tag']}: {name}" for name, sc in SCENARIOS.items())
    values = "\n".join(f"    \"{sc['reason']}\": {name}" for name, sc in SCENARIOS.items())
    return BACKTEST_YAML.format(tags=tags, values=values)
