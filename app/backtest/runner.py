"""The backtest run: stream history pages → tickets → offline pipeline → one JSON line per ticket.

Bounded whatever the history's size: one listing page and one ticket are in memory at a time;
each ticket's row is appended to ``results.jsonl`` (flushed) as soon as it is done, and the
report is computed by streaming that file. Memory grows only with the set of ticket ids already
done (to skip them on resume and drop duplicates the listings return).

Resumable: ``var/backtest/checkpoint-<platform>.json`` holds the frozen arguments (the window as
absolute times, so "30d" means the same days after a restart), the output folder and the listing
position of the page in progress. ``--resume`` re-reads that page and skips tickets already in
``results.jsonl`` (a half-written last line is dropped), so an interrupted 20,000-ticket run
continues where it stopped instead of starting over.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.base import AdapterError, PermanentError, TransientError
from adapters.history import HistoryReader, Window, iso, parse_time, reader_for
from app.backtest import compare
from app.backtest.engine import OfflinePipeline
from app.backtest.labels import BacktestFile, agent_label, escalation_evidence, label_tags
from pipeline.config import Config

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
TEXT_CHARS = 1000  # customer text kept per row (redacted) for label review
_SINCE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.I)


class BacktestError(RuntimeError):
    """A run that cannot start or continue; the message says what to do."""


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``30d``, ``12h``, ``2w`` back from now, or an ISO date/time."""
    now = now or datetime.now(UTC)
    m = _SINCE.match(value or "")
    if m:
        n, unit = int(m.group(1)), m.group(2).lower()
        return now - {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
    dt = parse_time(value)
    if dt is None:
        raise BacktestError(f"--since {value!r}: use a duration like 30d, 12h, 2w or a date like 2026-01-31")
    if dt >= now:
        raise BacktestError(f"--since {value!r} is not in the past")
    return dt


@dataclass
class RunArgs:
    """Everything that defines a run (frozen in the checkpoint)."""

    platform: str
    since: str  # ISO, absolute
    until: str  # ISO, absolute
    out: str
    limit: int | None = None
    rules: str | None = None
    every_message: bool = False
    local: bool = False
    budget_share: float = 0.5
    max_cost: float | None = None

    @property
    def window(self) -> Window:
        s, u = parse_time(self.since), parse_time(self.until)
        assert s is not None and u is not None
        return Window(s, u)


@dataclass
class RunState:
    """Counters of this process's part of the run (the report recounts from ``results.jsonl``)."""

    scanned: int = 0
    written: int = 0
    processed: int = 0
    skipped_done: int = 0
    cost: float = 0.0
    pipeline_seconds: float = 0.0
    fetch_seconds: float = 0.0
    stopped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def checkpoint_path(var_dir: str | Path, platform: str) -> Path:
    return Path(var_dir) / "backtest" / f"checkpoint-{platform}.json"


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def load_checkpoint(var_dir: str | Path, platform: str) -> dict[str, Any]:
    path = checkpoint_path(var_dir, platform)
    if not path.exists():
        raise BacktestError(f"nothing to resume: no checkpoint at {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BacktestError(f"checkpoint {path} is unreadable ({exc}); delete it and start again") from None
    if data.get("version") != CHECKPOINT_VERSION:
        raise BacktestError(f"checkpoint {path} is from another version; delete it and start again")
    return data


def done_ids(results: Path) -> set[str]:
    """Ticket ids already written; a half-written last line (the run was killed mid-write) is cut off."""
    ids: set[str] = set()
    if not results.exists():
        return ids
    good = 0
    with results.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break
            try:
                ids.add(str(json.loads(line)["ticket_id"]))
            except (ValueError, KeyError):
                break
            good += len(line)
    if good != results.stat().st_size:
        log.warning("%s: dropping a half-written last line", results)
        with results.open("r+b") as fh:
            fh.truncate(good)
    return ids


def _redact(text: str, names: list[str]) -> str:
    from knowledge.tickets import redact_pii

    return redact_pii(text, names)


class Backtest:
    """One run (new or resumed). ``run()`` returns the report's summary dict."""

    def __init__(self, args: RunArgs, *, settings: Any, cfg: Config, bt_cfg: BacktestFile,
                 reader: HistoryReader | None = None, pipeline: OfflinePipeline | None = None,
                 progress: bool | None = None, clock: Callable[[], float] = time.monotonic):
        self.args = args
        self.settings = settings
        self.cfg = cfg
        self.bt_cfg = bt_cfg
        self.out = Path(args.out)
        self.results = self.out / "results.jsonl"
        self.checkpoint = checkpoint_path(settings.var_dir, args.platform)
        self.reader = reader or self._make_reader()
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.clock = clock
        self.state = RunState()
        self.intents = set(cfg.intent_names)
        self.hidden = label_tags(bt_cfg)
        self.tag_prefix = cfg.rules.defaults.tag_prefix
        self.pipeline = pipeline or OfflinePipeline.from_settings(settings, cfg, local=args.local)

    def _make_reader(self) -> HistoryReader:
        ps = self.settings.platform(self.args.platform)
        if not ps.configured:
            up = self.args.platform.upper()
            raise BacktestError(f"{self.args.platform} is not configured: set {up}_URL and its API credentials "
                                "(the backtest only reads)")
        redis = None
        if self.settings.redis_url:
            import redis as redis_lib

            redis = redis_lib.Redis.from_url(self.settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        return reader_for(self.args.platform, ps, redis=redis, budget_share=self.args.budget_share)

    # -- checkpoint ------------------------------------------------------------------------------
    def _save(self, position: dict[str, Any] | None, status: str = "running") -> None:
        _write_json_atomic(self.checkpoint, {"version": CHECKPOINT_VERSION, "status": status, "args": asdict(self.args),
                                             "position": position, "saved_at": iso(datetime.now(UTC))})

    # -- one ticket ------------------------------------------------------------------------------
    def _fetch(self, raw: dict[str, Any]) -> tuple[Any, list[dict[str, Any]] | None]:
        """(ticket, None) for a ticket to replay, or (None, rows) when it is skipped or unreadable."""
        base: dict[str, Any] = {"platform": self.args.platform, "ticket_id": self.reader.ticket_id(raw)}
        if not self.reader.is_closed(raw):
            return None, [{**base, "status": "skipped", "reason": "not solved/closed"}]
        t0 = self.clock()
        try:
            ticket = self.reader.fetch(raw)
        except TransientError:
            raise
        except PermanentError as exc:  # deleted meanwhile, no permission on one ticket: note it, go on
            return None, [{**base, "status": "failed", "reason": f"fetch: {exc}"}]
        self.state.fetch_seconds += self.clock() - t0
        return ticket, None

    def _prefetch_embeddings(self, tickets: list[Any]) -> None:
        """Embed a page's customer texts in one batch: the pipeline's one-by-one calls then hit the cache."""
        if self.pipeline.llm is not None:
            return  # the LLM classifies: local embeddings are only used for few-shot examples
        from pipeline.draft import split_parts
        from pipeline.normalize import normalize

        texts: list[str] = []
        for ticket in tickets:
            for msg in compare.customer_targets(ticket, self.args.every_message):
                text = normalize(compare.as_of(ticket, msg, self.hidden), msg.id)
                texts.append(text)
                texts += split_parts(text)
        if not texts:
            return
        try:
            from knowledge.embedding import get_embedder

            get_embedder().embed(list(dict.fromkeys(texts)))
        except Exception as exc:  # only a speed-up: the pipeline embeds (or falls back) itself
            log.debug("embedding prefetch skipped: %s", exc)

    def _rows_for(self, ticket: Any) -> list[dict[str, Any]]:
        base: dict[str, Any] = {"platform": self.args.platform, "ticket_id": ticket.id}
        base.update(url=ticket.url, created_at=ticket.created_at, subject=(ticket.subject or "")[:200],
                    final_priority=ticket.priority, final_status=ticket.status)
        label = agent_label(ticket, self.bt_cfg, self.intents, self.tag_prefix)
        evidence = escalation_evidence(ticket, self.bt_cfg)
        base.update(label=label.intent, label_source=label.source, label_raw=label.raw, label_ambiguous=label.ambiguous,
                    escalated_actual=bool(evidence), escalation_evidence=evidence)
        targets = compare.customer_targets(ticket, self.args.every_message)
        if not targets:
            return [{**base, "status": "skipped", "reason": "no public customer message"}]
        rows = []
        for msg in targets:
            rows.append(self._row_for_message(ticket, msg, base))
        return rows

    def _row_for_message(self, ticket: Any, msg: Any, base: dict[str, Any]) -> dict[str, Any]:
        from pipeline.feedback import classify_edit
        from pipeline.normalize import message_text

        view = compare.as_of(ticket, msg, self.hidden)
        row = {**base, "message_id": msg.id, "message_at": msg.created_at}
        reply = compare.first_agent_reply(ticket, msg)
        row["agent_replied"] = reply is not None
        row["first_response_seconds"] = compare.seconds_between(msg.created_at, reply.created_at) if reply else None
        t0 = self.clock()
        try:
            res = self.pipeline.run(view, msg.id, now=compare.message_time(msg) or datetime.now(UTC))
        except Exception as exc:  # one odd ticket must not stop a 20,000-ticket run
            log.exception("%s ticket %s: pipeline failed", ticket.platform, ticket.id)
            return {**row, "status": "failed", "reason": f"pipeline: {type(exc).__name__}: {exc}"[:300]}
        self.state.pipeline_seconds += self.clock() - t0
        t, p, d = res.triage, res.plan, res.draft
        usage = res.usage
        self.state.cost += usage["cost_usd"]
        verdict, sim = (None, None)
        if d is not None and d.kind != "none" and d.text.strip() and reply is not None:
            verdict, sim = classify_edit(d.text, message_text(reply) or reply.body_text or "")
        names = [ticket.requester.name or ""] + [m.author_name or "" for m in ticket.messages]
        row.update(
            status="processed", intent=t.intent, confidence=round(float(t.confidence), 4), band=p.band,
            enabled=p.enabled, out_of_scope=t.out_of_scope, classifier=t.classifier, language=t.language,
            sentiment=t.sentiment, priority=t.priority, signals=list(t.signals), sensitive=p.sensitive,
            actions=[a.kind for a in p.actions], tags=list(p.tags), draft_kind=d.kind if d else "none",
            draft_sources=len(d.sources) if d else 0, draft_warnings=len(d.warnings) if d else 0,
            would_auto_reply=res.would_auto_reply, auto_eligible=res.auto_eligible, escalate=res.escalate,
            verdict=verdict, similarity=sim, prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]), cost_usd=round(usage["cost_usd"], 8),
            llm_calls=int(usage["llm_calls"]), seconds=round(res.timings.get("total", 0.0), 4),
            text=_redact(res.text, names)[:TEXT_CHARS])
        return row

    # -- the run ---------------------------------------------------------------------------------
    def run(self, position: dict[str, Any] | None = None) -> dict[str, Any]:
        """Read, replay and write rows until the window (or ``--limit``) is done; then write the report."""
        from app.backtest.report import write_report

        self.out.mkdir(parents=True, exist_ok=True)
        seen = done_ids(self.results)
        processed_before = _count_processed(self.results) if seen else 0
        self.state.processed = processed_before
        self._save(position)
        bar = self._bar(processed_before)
        started = self.clock()
        try:
            with self.results.open("a", encoding="utf-8") as fh:
                for page in self.reader.pages(self.args.window, position):
                    # Read the page's threads first (I/O), embed their texts in one batch, then replay.
                    todo: list[tuple[str, Any, list[dict[str, Any]] | None]] = []
                    for raw in page.items:
                        self.state.scanned += 1
                        tid = self.reader.ticket_id(raw)
                        if tid in seen or any(tid == t[0] for t in todo):
                            self.state.skipped_done += 1
                            continue
                        if self.args.limit and self.state.processed + sum(t[1] is not None for t in todo) \
                                >= self.args.limit:
                            break  # no more needed for --limit: do not read threads that will not be replayed
                        todo.append((tid, *self._fetch(raw)))
                    self._prefetch_embeddings([t for _, t, rows in todo if t is not None])
                    for tid, ticket, rows in todo:
                        if rows is None:
                            rows = self._rows_for(ticket)
                        fh.write("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))
                        fh.flush()
                        seen.add(tid)
                        self.state.written += len(rows)
                        n = sum(1 for r in rows if r["status"] == "processed")
                        self.state.processed += n
                        if bar is not None:
                            self._tick(bar, n, page.covered)
                        if self.args.limit and self.state.processed >= self.args.limit:
                            self.state.stopped = "limit"
                            break
                        if self.args.max_cost is not None and self.state.cost >= self.args.max_cost:
                            self.state.stopped = "max_cost"
                            break
                    if self.state.stopped:
                        # Resume re-reads this page and skips what is done.
                        self._save(page.position)
                        break
                    self._save(page.next_position)
        except (TransientError, AdapterError) as exc:
            if bar is not None:
                bar.close()
            raise BacktestError(f"{self.args.platform}: {exc}. Progress is saved: run the same command with "
                                f"--resume to continue") from exc
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
            raise BacktestError("interrupted. Progress is saved: run with --resume to continue") from None
        if bar is not None:
            bar.close()
        elapsed = self.clock() - started
        meta = {"platform": self.args.platform, "since": self.args.since, "until": self.args.until,
                "rules": self.args.rules, "limit": self.args.limit, "every_message": self.args.every_message,
                "stopped": self.state.stopped, "api_calls": self.reader.calls, "elapsed_seconds": round(elapsed, 2),
                "pipeline_seconds": round(self.state.pipeline_seconds, 2),
                "tickets_per_second_pipeline": round(self.state.processed / self.state.pipeline_seconds, 2)
                if self.state.pipeline_seconds else None}
        summary = write_report(self.out, self.results, self.cfg, meta)
        if self.state.stopped != "max_cost":
            # Done (or --limit reached). Over the cost cap the checkpoint stays: --resume continues.
            self.checkpoint.unlink(missing_ok=True)
        return summary

    # -- progress --------------------------------------------------------------------------------
    def _bar(self, initial: int) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        total = self.args.limit or None
        return tqdm(total=total, initial=initial, unit="ticket", desc=f"backtest {self.args.platform}",
                    file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def _tick(self, bar: Any, n: int, covered: float | None) -> None:
        bar.update(n)
        if not self.args.limit and covered and covered > 0.02:
            # No listing API gives a count: estimate the total from the share of the window read.
            est = max(bar.n, int(bar.n / covered))
            if bar.total != est:
                bar.total = est
                bar.refresh()


def _count_processed(results: Path) -> int:
    n = 0
    with results.open(encoding="utf-8") as fh:
        for line in fh:
            if '"status": "processed"' in line:
                n += 1
    return n
