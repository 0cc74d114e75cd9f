"""Decision log: one durable row per processed or failed event, plus agent feedback on drafts.

Backends: SQLite by default (``<var_dir>/decisions.sqlite3``, fine for one machine and the embedded
mode) or PostgreSQL when ``DATABASE_URL`` is set (psycopg 3; needed as soon as workers run on more
than one machine). Both run the same SQL (``%s`` placeholders, rewritten to ``?`` for SQLite) so the
same tests cover both.

Rows with status ``alert`` are SLA alerts (recorded by :mod:`app.jobs.sla`): they count in
"escalations by reason" but not as events. A row is keyed by ``(platform, event_id)``: an event that failed and was retried successfully ends
up as one ``processed`` row with ``attempts = 2`` (and its last error kept in ``error`` only while
it is failed). No customer text is stored here: only labels, figures and the ticket link.

Fields read from an :class:`~pipeline.models.Outcome` (the job fills them):

* ``outcome.timings``: ``note_posted_at`` (epoch seconds when the note was written) gives the
  webhook→note time together with ``outcome.event.received_at``; else ``webhook_to_note``
  (seconds), else ``since_webhook`` (seconds, measured at the end of the job); other keys (step durations in seconds) are stored as they are.
* ``triage.usage`` / ``draft.usage``: ``prompt_tokens``/``input_tokens``, ``completion_tokens``/
  ``output_tokens``, ``total_tokens``, ``cost_usd`` (or ``cost`` / ``estimated_cost_usd``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.models import Outcome, Ticket

log = logging.getLogger(__name__)

# Verdicts on a draft. The reply verdicts (what the agent sent compared with the draft) share one
# slot per draft, so a later reply verdict replaces an earlier one; the tag verdicts (rejected,
# handoff, wrong_intent) each have their own slot.
REPLY_VERDICTS = ("sent_as_is", "edited", "rewritten")
DRAFT_VERDICTS = REPLY_VERDICTS + ("rejected", "handoff")
FEEDBACK_VERDICTS = DRAFT_VERDICTS + ("wrong_intent",)
# A draft counts as accepted when the agent sent it unchanged or lightly edited.
ACCEPTED_VERDICTS = ("sent_as_is", "edited")

_PREFIX_RE = re.compile(r"^[a-z0-9_]{0,40}$")


def _schema(p: str, pg: bool) -> list[str]:
    ident = "BIGSERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
    real = "DOUBLE PRECISION" if pg else "REAL"
    return [
        f"""CREATE TABLE IF NOT EXISTS {p}decisions (
            id {ident},
            platform TEXT NOT NULL,
            event_id TEXT NOT NULL,
            ticket_id TEXT NOT NULL,
            ticket_url TEXT,
            channel TEXT,
            intent TEXT,
            confidence {real},
            priority TEXT,
            sentiment TEXT,
            language TEXT,
            classifier TEXT,
            actions TEXT NOT NULL DEFAULT '[]',
            draft_kind TEXT,
            has_draft INTEGER NOT NULL DEFAULT 0,
            escalations TEXT NOT NULL DEFAULT '[]',
            steps TEXT NOT NULL DEFAULT '[]',
            timings TEXT NOT NULL DEFAULT '{{}}',
            received_at {real},
            note_at {real},
            webhook_to_note {real},
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            cost_usd {real} NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 1,
            recorded_at {real} NOT NULL,
            UNIQUE (platform, event_id)
        )""",
        f"CREATE INDEX IF NOT EXISTS {p}decisions_recorded ON {p}decisions (recorded_at)",
        f"""CREATE TABLE IF NOT EXISTS {p}feedback (
            id {ident},
            platform TEXT NOT NULL,
            ticket_id TEXT NOT NULL,
            event_id TEXT NOT NULL DEFAULT '',
            slot TEXT NOT NULL,
            verdict TEXT NOT NULL,
            similarity {real},
            intent TEXT,
            agent_id TEXT,
            details TEXT NOT NULL DEFAULT '{{}}',
            recorded_at {real} NOT NULL,
            UNIQUE (platform, ticket_id, event_id, slot)
        )""",
        f"CREATE INDEX IF NOT EXISTS {p}feedback_recorded ON {p}feedback (recorded_at)",
        # What people did from Slack: a thread reply turned into a note, Take it, Acknowledge.
        f"""CREATE TABLE IF NOT EXISTS {p}slack_actions (
            id {ident},
            platform TEXT NOT NULL,
            ticket_id TEXT NOT NULL,
            action TEXT NOT NULL,
            action_key TEXT NOT NULL,
            slack_user TEXT NOT NULL,
            slack_name TEXT,
            details TEXT NOT NULL DEFAULT '{{}}',
            escalated_at {real},
            recorded_at {real} NOT NULL,
            UNIQUE (platform, ticket_id, action, action_key)
        )""",
        f"CREATE INDEX IF NOT EXISTS {p}slack_actions_recorded ON {p}slack_actions (recorded_at)",
    ]


DECISION_COLUMNS = (
    "platform", "event_id", "ticket_id", "ticket_url", "channel", "intent", "confidence", "priority", "sentiment",
    "language", "classifier", "actions", "draft_kind", "has_draft", "escalations", "steps", "timings", "received_at",
    "note_at", "webhook_to_note", "tokens_in", "tokens_out", "cost_usd", "status", "error", "recorded_at",
)
SLACK_ACTIONS = ("note", "take", "take_failed", "acknowledge")
_JSON_COLUMNS = {"actions": list, "escalations": list, "steps": list, "timings": dict, "details": dict}


@dataclass
class Decision:
    """One row of the decision log (as read back)."""

    platform: str
    event_id: str
    ticket_id: str
    status: str
    recorded_at: float
    ticket_url: str | None = None
    channel: str | None = None
    intent: str | None = None
    confidence: float | None = None
    priority: str | None = None
    sentiment: str | None = None
    language: str | None = None
    classifier: str | None = None
    actions: list[str] = field(default_factory=list)
    draft_kind: str | None = None
    has_draft: bool = False
    escalations: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    timings: dict[str, Any] = field(default_factory=dict)
    received_at: float | None = None
    note_at: float | None = None
    webhook_to_note: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    attempts: int = 1
    id: int | None = None


def _usage_figures(*usages: dict[str, Any] | None) -> tuple[int, int, float]:
    tin = tout = 0
    cost = 0.0
    for u in usages:
        if not u:
            continue
        i = int(u.get("prompt_tokens") or u.get("input_tokens") or 0)
        o = int(u.get("completion_tokens") or u.get("output_tokens") or 0)
        if not (i or o) and u.get("total_tokens"):
            i = int(u["total_tokens"])
        tin, tout = tin + i, tout + o
        cost += float(u.get("cost_usd") or u.get("cost") or u.get("estimated_cost_usd") or 0.0)
    return tin, tout, cost


def decision_from_outcome(outcome: Outcome, *, ticket: Ticket | None = None, channel: str | None = None,
                          escalated: Iterable[str] | None = None, now: float | None = None) -> dict[str, Any]:
    """The row values for one outcome (no customer text: labels, figures and the ticket link only)."""
    now = time.time() if now is None else now
    t, p, d, ev = outcome.triage, outcome.plan, outcome.draft, outcome.event
    timings = {k: v for k, v in (outcome.timings or {}).items() if isinstance(v, int | float)}
    received = ev.received_at
    note_at = timings.get("note_posted_at")
    w2n = timings.get("webhook_to_note")
    if w2n is None and note_at is None:
        w2n = timings.get("since_webhook")  # measured by the job just before recording
    if w2n is None and note_at is not None and received:
        w2n = max(0.0, float(note_at) - float(received))
    tin, tout, cost = _usage_figures(t.usage if t else None, d.usage if d else None)
    actions = [a.kind if not a.value or isinstance(a.value, dict | list) else f"{a.kind}:{a.value}"
               for a in (p.actions if p else [])]
    draft_kind = d.kind if d else None
    esc = list(escalated) if escalated is not None else list(p.escalate if p else [])
    return {
        "platform": ev.platform,
        "event_id": ev.event_id,
        "ticket_id": str(outcome.ticket_id),
        "ticket_url": outcome.ticket_url or (ticket.url if ticket else None),
        # The fetched ticket's channel, else what the webhook said (skipped and failed events have no ticket).
        "channel": channel or (ticket.channel if ticket else None) or getattr(ev, "channel", None),
        "intent": t.intent if t else (p.intent if p else None),
        "confidence": t.confidence if t else None,
        "priority": (p.priority if p and p.priority else None) or (t.priority if t else None),
        "sentiment": t.sentiment if t else None,
        "language": t.language if t else None,
        "classifier": t.classifier if t else None,
        "actions": actions,
        "draft_kind": draft_kind,
        "has_draft": 1 if d is not None and draft_kind != "none" and bool(d.text) else 0,
        "escalations": esc,
        "steps": list(outcome.steps_done),
        "timings": timings,
        "received_at": received,
        "note_at": note_at,
        "webhook_to_note": w2n,
        "tokens_in": tin,
        "tokens_out": tout,
        "cost_usd": cost,
        "status": outcome.status,
        "error": (outcome.error or None) if outcome.status == "failed" else None,
        "recorded_at": now,
    }


class DecisionStore:
    """The decision log on SQLite (``path``) or PostgreSQL (``dsn``); ``prefix`` namespaces the tables."""

    def __init__(self, *, path: str | Path | None = None, dsn: str | None = None, prefix: str = "sidecar_"):
        if not _PREFIX_RE.match(prefix):
            raise ValueError("table prefix: lowercase letters, digits and _ only")
        if (path is None) == (dsn is None):
            raise ValueError("give exactly one of path (SQLite) or dsn (PostgreSQL)")
        self.prefix = prefix
        self.dsn = dsn
        self.path = Path(path) if path is not None else None
        self.pg = dsn is not None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._ready = False
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def kind(self) -> str:
        return "postgresql" if self.pg else "sqlite"

    # ------------------------------------------------------------ plumbing

    def _connect(self) -> Any:
        if self.pg:
            import psycopg

            return psycopg.connect(self.dsn, connect_timeout=5)
        conn = sqlite3.connect(str(self.path), timeout=30)
        # WAL + synchronous=NORMAL: a commit is not fsynced each time (the last rows may be lost on a
        # power cut, never corrupted), which makes recording ~100x cheaper on slow disks.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        """A connection kept per thread and process (reconnects after a fork or a broken connection)."""
        held = getattr(self._local, "conn", None)
        if held is not None and held[0] != os.getpid():
            held = None  # inherited through fork: never share a connection with the parent
        if held is None:
            held = (os.getpid(), self._connect())
            self._local.conn = held
        conn = held[1]
        try:
            yield conn
            conn.commit()
        except BaseException:
            try:
                conn.rollback()
            except Exception:
                pass
            if self.pg and (conn.closed or conn.broken):
                self._local.conn = None
            raise

    def close(self) -> None:
        """Close this thread's connection."""
        held = getattr(self._local, "conn", None)
        self._local.conn = None
        if held is not None and held[0] == os.getpid():
            held[1].close()

    def _run(self, fn: Any) -> Any:
        # A kept PostgreSQL connection may have died (server restart, idle timeout): retry once on a new one.
        try:
            with self._conn() as conn:
                return fn(conn)
        except Exception as exc:
            if not self.pg or exc.__class__.__name__ not in ("OperationalError", "InterfaceError"):
                raise
            self.close_quietly()
            with self._conn() as conn:
                return fn(conn)

    def close_quietly(self) -> None:
        try:
            self.close()
        except Exception:
            self._local.conn = None

    def _sql(self, sql: str) -> str:
        return sql if self.pg else sql.replace("%s", "?")

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> None:
        self.ensure_schema()
        self._run(lambda conn: conn.execute(self._sql(sql), tuple(params)))

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        self.ensure_schema()

        def q(conn: Any) -> list[dict[str, Any]]:
            cur = conn.execute(self._sql(sql), tuple(params))
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        return self._run(q)

    def ensure_schema(self) -> None:
        """Create the tables if missing (idempotent; once per process)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            def create(conn: Any) -> None:
                if not self.pg:
                    conn.execute("PRAGMA journal_mode=WAL")  # readers (ops page) never block the worker
                for stmt in _schema(self.prefix, self.pg):
                    conn.execute(stmt)

            self._run(create)
            self._ready = True

    def drop(self) -> None:
        """Drop this store's tables (tests)."""
        with self._conn() as conn:
            for t in ("decisions", "feedback", "slack_actions"):
                conn.execute(f"DROP TABLE IF EXISTS {self.prefix}{t}")
        self.close()
        self._ready = False

    # ------------------------------------------------------------ writes

    def add_decision(self, row: dict[str, Any]) -> None:
        """Insert or update the row of ``(platform, event_id)`` (a retry overwrites and counts an attempt)."""
        values = [json.dumps(row.get(c)) if c in _JSON_COLUMNS else row.get(c) for c in DECISION_COLUMNS]
        cols = ", ".join(DECISION_COLUMNS)
        marks = ", ".join(["%s"] * len(DECISION_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in DECISION_COLUMNS if c not in ("platform", "event_id"))
        t = f"{self.prefix}decisions"
        self._execute(
            f"INSERT INTO {t} ({cols}) VALUES ({marks}) ON CONFLICT (platform, event_id) DO UPDATE SET "
            f"{updates}, attempts = {t}.attempts + 1",
            values,
        )

    def add_feedback(self, platform: str, ticket_id: str, event_id: str | None, verdict: str,
                     similarity: float | None = None, *, intent: str | None = None, agent_id: str | None = None,
                     details: dict[str, Any] | None = None, now: float | None = None) -> None:
        """Insert or replace one verdict on a draft (keyed by platform, ticket, event and verdict slot)."""
        if verdict not in FEEDBACK_VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(FEEDBACK_VERDICTS)} (got {verdict!r})")
        slot = "reply" if verdict in REPLY_VERDICTS else verdict
        cols = ("platform", "ticket_id", "event_id", "slot", "verdict", "similarity", "intent", "agent_id", "details",
                "recorded_at")
        vals = (platform, str(ticket_id), event_id or "", slot, verdict, similarity, intent, agent_id,
                json.dumps(details or {}), time.time() if now is None else now)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols[4:])
        self._execute(
            f"INSERT INTO {self.prefix}feedback ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
            f"ON CONFLICT (platform, ticket_id, event_id, slot) DO UPDATE SET {updates}",
            vals,
        )

    def add_slack_action(self, *, platform: str, ticket_id: str, action: str, key: str, slack_user: str,
                         slack_name: str | None = None, detail: dict[str, Any] | None = None,
                         escalated_at: float | None = None, now: float | None = None) -> None:
        """Record one action taken from Slack (``note``, ``take``, ``take_failed``, ``acknowledge``).

        Keyed by platform, ticket, action and ``key`` (the Slack event or click), so a retried job
        records it once.
        """
        if action not in SLACK_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(SLACK_ACTIONS)} (got {action!r})")
        cols = ("platform", "ticket_id", "action", "action_key", "slack_user", "slack_name", "details",
                "escalated_at", "recorded_at")
        vals = (platform, str(ticket_id), action, key, slack_user, slack_name, json.dumps(detail or {}),
                escalated_at, time.time() if now is None else now)
        self._execute(
            f"INSERT INTO {self.prefix}slack_actions ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
            f"ON CONFLICT (platform, ticket_id, action, action_key) DO NOTHING",
            vals,
        )

    # ------------------------------------------------------------ reads

    def slack_actions(self, since: float | None = None, until: float | None = None) -> list[dict[str, Any]]:
        """Slack actions recorded in ``[since, until)``, oldest first."""
        where, params = self._range(since, until)
        sql = f"SELECT * FROM {self.prefix}slack_actions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._decode(r) for r in self._query(sql + " ORDER BY recorded_at, id", params)]

    @staticmethod
    def _decode(row: dict[str, Any]) -> dict[str, Any]:
        for c, typ in _JSON_COLUMNS.items():
            if c in row:
                try:
                    row[c] = json.loads(row[c]) if row[c] else typ()
                except ValueError:
                    row[c] = typ()
        return row

    def decisions(self, since: float | None = None, until: float | None = None, *, status: str | None = None,
                  limit: int | None = None) -> list[Decision]:
        """Rows recorded in ``[since, until)``, newest first."""
        where, params = self._range(since, until)
        if status:
            where.append("status = %s")
            params.append(status)
        sql = f"SELECT * FROM {self.prefix}decisions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY recorded_at DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        out = []
        for r in self._query(sql, params):
            r = self._decode(r)
            r["has_draft"] = bool(r["has_draft"])
            out.append(Decision(**r))
        return out

    def feedback(self, since: float | None = None, until: float | None = None) -> list[dict[str, Any]]:
        """Feedback rows recorded in ``[since, until)``, newest first."""
        where, params = self._range(since, until)
        sql = f"SELECT * FROM {self.prefix}feedback"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._decode(r) for r in self._query(sql + " ORDER BY recorded_at DESC, id DESC", params)]

    @staticmethod
    def _range(since: float | None, until: float | None) -> tuple[list[str], list[Any]]:
        where, params = [], []
        if since is not None:
            where.append("recorded_at >= %s")
            params.append(since)
        if until is not None:
            where.append("recorded_at < %s")
            params.append(until)
        return where, params

    def totals(self) -> dict[str, Any]:
        """All-time aggregates computed in SQL (cheap enough to run on every ``/metrics`` scrape)."""
        t = f"{self.prefix}decisions"
        out: dict[str, Any] = {
            "by_status": {r["status"]: int(r["n"]) for r in
                          self._query(f"SELECT status, COUNT(*) AS n FROM {t} GROUP BY status")},
            "by_intent": {(r["intent"] or "unknown"): int(r["n"]) for r in self._query(
                f"SELECT intent, COUNT(*) AS n FROM {t} WHERE status = 'processed' GROUP BY intent")},
            "drafts": {(r["draft_kind"] or "none"): int(r["n"]) for r in self._query(
                f"SELECT draft_kind, COUNT(*) AS n FROM {t} WHERE has_draft = 1 GROUP BY draft_kind")},
        }
        s = self._query(f"SELECT COALESCE(SUM(tokens_in), 0) AS tin, COALESCE(SUM(tokens_out), 0) AS tout, "
                        f"COALESCE(SUM(cost_usd), 0) AS cost FROM {t}")[0]
        out["tokens_in"], out["tokens_out"], out["cost_usd"] = int(s["tin"]), int(s["tout"]), float(s["cost"])
        esc: Counter[str] = Counter()
        for r in self._query(f"SELECT escalations FROM {t} WHERE escalations <> '[]'"):
            esc.update(json.loads(r["escalations"]))
        out["escalations"] = dict(esc)
        out["webhook_to_note"], out["job_durations"] = [], []
        for r in self._query(f"SELECT webhook_to_note AS w, timings FROM {t} WHERE status = 'processed'"):
            if r["w"] is not None:
                out["webhook_to_note"].append(float(r["w"]))
            total = (json.loads(r["timings"] or "{}") or {}).get("total")
            if isinstance(total, int | float):
                out["job_durations"].append(float(total))
        return out


# ---------------------------------------------------------------- process-wide store

_stores: dict[tuple[str | None, str], DecisionStore] = {}
_stores_lock = threading.Lock()


def store_for(settings: Any) -> DecisionStore:
    """The store the settings point at (one per process and target, so connections are reused):
    PostgreSQL with ``DATABASE_URL``, else SQLite ``<var_dir>/decisions.sqlite3``."""
    dsn = settings.database_url.get_secret_value() if settings.database_url else None
    key = (dsn, "" if dsn else str(Path(settings.var_dir).resolve()))
    with _stores_lock:
        if key not in _stores:
            _stores[key] = DecisionStore(dsn=dsn) if dsn else DecisionStore(
                path=Path(settings.var_dir) / "decisions.sqlite3")
        return _stores[key]


def get_store() -> DecisionStore:
    """The process-wide decision store for the current settings."""
    from app.settings import get_settings

    return store_for(get_settings())


def reset_store() -> None:
    """Forget the cached stores (tests)."""
    with _stores_lock:
        for st in _stores.values():
            st.close_quietly()
        _stores.clear()


def record(outcome: Outcome, *, ticket: Ticket | None = None, escalated: Iterable[str] | None = None,
           store: DecisionStore | None = None) -> bool:
    """Record a processed (or failed) event in the decision log.

    Never raises: the note is already in the ticket when this runs, and losing an analytics row
    must not fail (and so re-run) the job. A failure is logged (and reaches Sentry) and ``False``
    is returned. ``escalated`` are the reasons Slack was actually alerted for (default: the plan's).
    """
    try:
        row = decision_from_outcome(outcome, ticket=ticket, escalated=escalated)
        (store or get_store()).add_decision(row)
        log.info("decision %s/%s ticket=%s intent=%s status=%s", row["platform"], row["event_id"], row["ticket_id"],
                 row["intent"], row["status"])
        return True
    except Exception:
        log.exception("could not record decision %s/%s", outcome.event.platform, outcome.event.event_id)
        return False


def record_feedback(platform: str, ticket_id: str, event_id: str | None, verdict: str,
                    similarity: float | None = None, *, intent: str | None = None, agent_id: str | None = None,
                    corrected_intent: str | None = None, details: dict[str, Any] | None = None,
                    store: DecisionStore | None = None, **extra: Any) -> None:
    """Record what an agent did with a draft.

    ``verdict``: ``sent_as_is`` / ``edited`` / ``rewritten`` (the reply compared with the draft;
    ``similarity`` 0..1 says how close), ``rejected``, ``handoff`` or ``wrong_intent`` (with
    ``corrected_intent``). Raises ``ValueError`` on an unknown verdict. Per draft, the latest reply
    verdict wins; each tag verdict is kept once. Extra keyword arguments (JSON-safe labels, never
    customer text) are stored in ``details``.
    """
    det = dict(details or {})
    if corrected_intent:
        det["corrected_intent"] = corrected_intent
    det.update(extra)
    (store or get_store()).add_feedback(platform, ticket_id, event_id, verdict, similarity, intent=intent,
                                        agent_id=agent_id, details=det)
