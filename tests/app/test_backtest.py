"""``python -m app backtest`` end to end against loopback fakes of the export APIs.

A 240-ticket Zendesk history (agent replies, internal notes, follow-ups, agent tags and a reason
field, urgent/escalated tickets, open ones to skip) is read through the incremental export with a
429 in the middle; the helpdesk goes down part-way (the run stops, its checkpoint stays), comes
back, and ``--resume`` finishes the run. The report's figures are checked against values
computed from the fixture itself, every request on the wire is a GET, and nothing lands in the
production decision log, the outbox or Slack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.history import reader_for
from adapters.ratelimit import RateLimiter
from app.backtest import compare
from app.backtest.labels import BacktestFile, agent_label, escalation_evidence, load_backtest_config
from app.backtest.runner import Backtest, BacktestError, RunArgs, checkpoint_path, load_checkpoint, parse_since
from pipeline.config import ConfigError, load_config
from pipeline.models import AGENT, CUSTOMER, SIDECAR, Message, Ticket
from tests.conftest import ROOT, reset_caches
from tests.fakes.history import SCENARIOS, FakeHistoryServer, backtest_yaml, make_history, platform_env

INTENTS = set(load_config(ROOT / "config").intent_names)


# --------------------------------------------------------------------------------------- units


def _bt_cfg(tmp_path: Path) -> BacktestFile:
    p = tmp_path / "backtest.yaml"
    p.write_text(backtest_yaml())
    return load_backtest_config(p, INTENTS)


def test_agent_label_precedence_correction_field_tags_and_the_sidecars_own_tags_ignored(tmp_path):
    cfg = _bt_cfg(tmp_path)
    t = Ticket(platform="zendesk", id="1", tags=["wismo"], custom_fields={"360001": "Billing"})
    assert agent_label(t, cfg, INTENTS).intent == "billing", "the reason field beats tags"
    t.tags.append("ai-wrong-intent:delivery_problem")
    assert (agent_label(t, cfg, INTENTS).intent, agent_label(t, cfg, INTENTS).source) == ("delivery_problem", "correction")
    t2 = Ticket(platform="zendesk", id="2", tags=["ai-intent-billing", "email"])
    assert agent_label(t2, cfg, INTENTS).intent is None, "our own past prediction is not a label"
    t3 = Ticket(platform="gorgias", id="3", tags=["wismo", "refund-request"])
    lab = agent_label(t3, cfg, INTENTS)
    assert lab.intent is None and lab.ambiguous
    t4 = Ticket(platform="freshdesk", id="4", tags=["wismo", "email"], custom_fields={"cf_reason": None})
    assert agent_label(t4, cfg, INTENTS).intent == "order_status"
    assert agent_label(Ticket(platform="zendesk", id="5", tags=["ai-wrong-intent:nonsense"]), cfg, INTENTS).intent is None


def test_backtest_yaml_is_validated_naming_file_and_field(tmp_path):
    p = tmp_path / "backtest.yaml"
    p.write_text("version: 1\nlabels:\n  tags: {wismo: where_is_it}\n")
    with pytest.raises(ConfigError, match=r"backtest.yaml: labels.tags.wismo: intent 'where_is_it'"):
        load_backtest_config(p, INTENTS)
    p.write_text("version: 1\nlabels:\n  tagz: {}\n")
    with pytest.raises(ConfigError, match=r"backtest.yaml: labels.tagz"):
        load_backtest_config(p, INTENTS)
    assert load_backtest_config(tmp_path / "missing.yaml", INTENTS).escalation.priorities == ["urgent"]


def test_as_of_hides_the_answer_and_first_reply_skips_notes_and_our_own_messages(tmp_path):
    cfg = _bt_cfg(tmp_path)
    msgs = [Message("1", CUSTOMER, "where is my order", created_at="2026-01-01T10:00:00Z"),
            Message("2", AGENT, "checked the warehouse", public=False, created_at="2026-01-01T10:05:00Z"),
            Message("3", SIDECAR, "draft", public=False, created_at="2026-01-01T10:06:00Z"),
            Message("4", AGENT, "It ships today", created_at="2026-01-01T12:00:00Z"),
            Message("5", CUSTOMER, "thanks, this is urgent, escalate", created_at="2026-01-02T10:00:00Z")]
    t = Ticket(platform="zendesk", id="9", tags=["wismo", "vip", "escalated", "ai-intent-billing"], priority="urgent",
               status="solved", messages=msgs)
    view = compare.as_of(t, msgs[0], {"wismo", "escalated"})
    assert [m.id for m in view.messages] == ["1"] and view.priority is None and view.status == "open"
    assert view.tags == ["vip"], "label, escalation and the sidecar's tags hidden; customer attributes kept"
    assert t.tags == ["wismo", "vip", "escalated", "ai-intent-billing"], "the original is untouched"
    reply = compare.first_agent_reply(t, msgs[0])
    assert reply is not None and reply.id == "4"
    assert compare.seconds_between(msgs[0].created_at, reply.created_at) == 7200
    assert compare.first_agent_reply(t, msgs[4]) is None
    assert [m.id for m in compare.customer_targets(t)] == ["1"]
    assert [m.id for m in compare.customer_targets(t, every=True)] == ["1", "5"]
    assert escalation_evidence(t, cfg) == ["priority urgent", "tag escalated"]


def test_parse_since():
    now = datetime(2026, 3, 31, tzinfo=UTC)
    assert parse_since("30d", now) == now - timedelta(days=30)
    assert parse_since("12h", now) == now - timedelta(hours=12)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2026-03-01", now) == datetime(2026, 3, 1, tzinfo=UTC)
    for bad in ("yesterday", "30x", "2027-01-01", ""):
        with pytest.raises(BacktestError):
            parse_since(bad, now)


# ------------------------------------------------------------------------------------ end to end


class Clock:
    def __init__(self) -> None:
        self.now, self.waits = 1_000_000.0, []

    def sleep(self, s: float) -> None:
        self.waits.append(s)
        self.now += s

    def time(self) -> float:
        return self.now


def _expected(history, bt: BacktestFile):
    """What the report must say, computed from the fixture with no sidecar code."""
    closed = [t for t in history if t.status == "closed"]
    by_tag = {sc["tag"]: name for name, sc in SCENARIOS.items()}
    by_reason = {sc["reason"]: name for name, sc in SCENARIOS.items()}
    labels = {}
    for t in closed:
        if t.reason:
            labels[t.id] = by_reason[t.reason]
            continue
        mapped = {by_tag[x] for x in t.tags if x in by_tag}
        labels[t.id] = mapped.pop() if len(mapped) == 1 else None
    frts = []
    for t in closed:
        reply = next((m for m in t.messages[1:] if m.role == "agent"), None)
        if reply:
            frts.append((reply.at - t.messages[0].at).total_seconds())
    frts.sort()
    escalated = {t.id for t in closed if t.priority == "urgent" or "escalated" in t.tags}
    return {"closed": closed, "labels": labels, "frt_median": frts[max(0, -(-len(frts) // 2) - 1)],
            "replied": len(frts), "escalated": escalated}


@pytest.fixture(scope="module")
def demo_chroma(tmp_path_factory):
    from knowledge.ingest import ingest_folder
    from knowledge.store import KnowledgeStore

    path = tmp_path_factory.mktemp("chroma-backtest")
    ingest_folder(KnowledgeStore(path=str(path), create=True), ROOT / "config" / "knowledge", progress=False)
    return path


@pytest.fixture(scope="module")
def zendesk_run(tmp_path_factory, demo_chroma):
    """An interrupted and resumed backtest of 240 Zendesk tickets (module-scoped: the pipeline runs once)."""
    from app.settings import load_settings
    from knowledge.store import reset_store

    tmp = tmp_path_factory.mktemp("bt")
    history = make_history(240, seed=15)
    var = tmp / "var"
    (tmp / "backtest.yaml").write_text(backtest_yaml())
    bt = load_backtest_config(tmp / "backtest.yaml", INTENTS)
    cfg = load_config(ROOT / "config")
    old = dict(os.environ)
    os.environ.update({"SIDECAR_VAR": str(var), "CHROMA_PATH": str(demo_chroma), "SIDECAR_CONFIG": str(ROOT / "config")})
    reset_caches()
    reset_store()
    now = datetime.now(UTC).replace(microsecond=0)
    args = RunArgs(platform="zendesk", since=(now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   until=now.strftime("%Y-%m-%dT%H:%M:%SZ"), out=str(tmp / "out"))
    clock = Clock()
    try:
        with FakeHistoryServer("zendesk", history, fail_429_at=5, retry_after="3", outage_after=150) as fake:
            settings = load_settings({**os.environ, **platform_env("zendesk", fake.base)})

            def reader():
                lim = RateLimiter("t:bt", 100_000, 60.0, None, sleep=clock.sleep, clock=clock.time)
                r = reader_for("zendesk", settings.zendesk, limiter=lim, export_limiter=None, sleep=clock.sleep)
                r.page_size = 40
                return r

            first = Backtest(args, settings=settings, cfg=cfg, bt_cfg=bt, reader=reader(), progress=False)
            with pytest.raises(BacktestError, match="--resume"):
                first.run()
            cp = load_checkpoint(var, "zendesk")
            written_before = sum(1 for _ in (tmp / "out" / "results.jsonl").open())
            fake.outage_after = None
            again = Backtest(RunArgs(**cp["args"]), settings=settings, cfg=cfg, bt_cfg=bt, reader=reader(),
                             progress=False)
            summary = again.run(cp["position"])
            calls = list(fake.calls)
            answered_429 = fake.answered_429
    finally:
        os.environ.clear()
        os.environ.update(old)
        reset_caches()
        reset_store()
    return {"summary": summary, "history": history, "bt": bt, "calls": calls, "cp": cp, "var": var,
            "out": tmp / "out", "written_before": written_before, "waits": clock.waits, "answered_429": answered_429}


def test_interrupted_run_resumes_from_its_checkpoint_and_ends_with_every_ticket_once(zendesk_run):
    r = zendesk_run
    assert r["cp"]["position"] and r["cp"]["position"].get("cursor"), "the checkpoint points into the export"
    assert 0 < r["written_before"] < 240, "the first run stopped part-way"
    rows = [json.loads(x) for x in (r["out"] / "results.jsonl").open()]
    ids = [x["ticket_id"] for x in rows]
    assert sorted(ids) == sorted(str(t.id) for t in r["history"]), "each ticket exactly once across both runs"
    assert not checkpoint_path(r["var"], "zendesk").exists(), "a finished run leaves no checkpoint"
    assert r["answered_429"] == 1 and 3.0 in r["waits"], "the 429's Retry-After was honoured"


def test_only_get_requests_ever_reached_the_helpdesk_and_nothing_was_written_locally(zendesk_run):
    calls = zendesk_run["calls"]
    assert calls and {c.method for c in calls} == {"GET"}
    assert {c.path for c in calls} <= {"/api/v2/incremental/tickets/cursor.json"} | {
        f"/api/v2/tickets/{t.id}/comments.json" for t in zendesk_run["history"]}
    var = zendesk_run["var"]
    for prod in ("decisions.sqlite3", "state.sqlite3", "outbox", "intent_corrections.jsonl", "learned_examples.jsonl"):
        assert not (var / prod).exists(), f"the backtest touched production state: {prod}"


def test_report_figures_match_the_fixture(zendesk_run):
    s, exp = zendesk_run["summary"], _expected(zendesk_run["history"], zendesk_run["bt"])
    closed = exp["closed"]
    assert s["tickets"]["processed"] == len(closed) and s["tickets"]["skipped"] == 240 - len(closed)
    assert s["tickets"]["failed"] == 0 and s["tickets"]["agent_replied"] == exp["replied"]
    assert s["labels"]["labelled"] == sum(1 for v in exp["labels"].values() if v)
    assert s["escalation"]["first_response"]["all"]["median_seconds"] == exp["frt_median"]
    esc = s["escalation"]
    assert esc["would_and_did"] + esc["missed"] == len(exp["escalated"])
    rows = {x["ticket_id"]: x for x in map(json.loads, (zendesk_run["out"] / "results.jsonl").open())}
    for t in closed:
        row = rows[str(t.id)]
        assert row["label"] == exp["labels"][t.id], t.id
        assert row["escalated_actual"] == (t.id in exp["escalated"])
    # Recount the confusion and per-intent precision from the rows themselves.
    labelled = [x for x in rows.values() if x["status"] == "processed" and x["label"]]
    for item in s["intents"]:
        pred = [x for x in labelled if x["intent"] == item["intent"]]
        if pred:
            assert item["precision"] == round(sum(x["label"] == x["intent"] for x in pred) / len(pred), 4)
    assert s["labels"]["accuracy"] > 0.6, "the classifier recognises the store's tickets (sanity, not a benchmark)"
    assert sum(i["auto_reply"]["would_send"] for i in s["intents"]) == 0, "live rules enable no auto-reply"
    assert any(r["eligible"] for i in s["intents"] for r in i["auto_reply_by_threshold"]), "what-if eligibility"
    assert all(not any(r["eligible"] for r in i["auto_reply_by_threshold"]) for i in s["intents"] if i["sensitive"])
    assert len(zendesk_run["calls"]) >= len(closed) + 240 // 40, "one export page per 40 tickets, comments per ticket"
    assert 0 < s["backtest"]["api_calls"] < len(zendesk_run["calls"]), "this process's share (the resumed part)"


def test_candidate_rules_file_changes_the_auto_reply_figures_without_touching_the_live_rules(tmp_path, demo_chroma,
                                                                                          monkeypatch):
    from app.settings import load_settings
    from knowledge.store import reset_store

    live = (ROOT / "config" / "rules.yaml").read_text()
    cand = tmp_path / "candidate.yaml"
    cand.write_text(live.replace("  order_status:\n    tags: [ai-wismo]",
                                 "  order_status:\n    tags: [ai-wismo]\n    auto_reply: {enabled: true, min_confidence: 0.5}"))
    history = [t for t in make_history(60, seed=3) if t.intent in ("order_status", "account_access")]
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("CHROMA_PATH", str(demo_chroma))
    reset_caches()
    reset_store()
    now = datetime.now(UTC).replace(microsecond=0)
    with FakeHistoryServer("gorgias", history) as fake:
        settings = load_settings({**os.environ, **platform_env("gorgias", fake.base), "GORGIAS_RATE_PER_MINUTE": "60000"})
        args = RunArgs(platform="gorgias", since=(now - timedelta(days=30)).isoformat(), until=now.isoformat(),
                       out=str(tmp_path / "out"), rules=str(cand))
        cfg = load_config(ROOT / "config", rules_file=cand)
        s = Backtest(args, settings=settings, cfg=cfg, bt_cfg=_bt_cfg(tmp_path), progress=False).run()
        assert fake.methods == {"GET"}
    reset_store()
    assert (ROOT / "config" / "rules.yaml").read_text() == live
    os_ = next(i for i in s["intents"] if i["intent"] == "order_status")
    assert os_["auto_reply"]["would_send"] > 0, "the candidate rule would auto-reply"
    assert all(i["auto_reply"]["would_send"] == 0 for i in s["intents"] if i["intent"] != "order_status")
    assert s["backtest"]["rules"] == str(cand)


def test_cli_prints_the_json_summary_last_and_learn_needs_review(tmp_path):
    history = make_history(40, seed=9)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENDESK_", "GORGIAS_", "FRESHDESK_", "OPENAI_"))}
    cfgdir = tmp_path / "config"
    cfgdir.mkdir()
    for name in ("intents.yaml", "rules.yaml", "drafting.yaml"):
        (cfgdir / name).write_text((ROOT / "config" / name).read_text())
    (cfgdir / "backtest.yaml").write_text(backtest_yaml())
    with FakeHistoryServer("freshdesk", history, fail_429_at=4, retry_after="1") as fake:
        env.update(platform_env("freshdesk", fake.base), SIDECAR_VAR=str(tmp_path / "var"), SIDECAR_CONFIG=str(cfgdir),
                   FRESHDESK_RATE_PER_MINUTE="60000", CHROMA_PATH=str(tmp_path / "chroma"))
        proc = subprocess.run([sys.executable, "-m", "app", "backtest", "--platform", "freshdesk", "--since", "30d",
                               "--limit", "12", "--out", str(tmp_path / "out"), "--no-progress"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert fake.methods == {"GET"} and fake.answered_429 == 1
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["tickets"]["processed"] == 12 and summary["backtest"]["stopped"] == "limit"
    for f in ("report.html", "tickets.csv", "summary.json", "labels_review.csv", "results.jsonl"):
        assert (tmp_path / "out" / f).is_file(), f
    learn = [sys.executable, "-m", "app", "intents", "learn", "--from-backtest", str(tmp_path / "out")]
    proc = subprocess.run(learn, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "no approved rows" in proc.stderr
    assert not (tmp_path / "var" / "learned_examples.jsonl").exists(), "nothing learned without review"
    review = tmp_path / "out" / "labels_review.csv"
    import csv

    rows = list(csv.DictReader(review.open(encoding="utf-8")))
    assert rows, "agent-labelled tickets to review"
    rows[0]["approve"] = "yes"
    rows[0]["label"] = "order_status"  # the reviewer corrects the agents' label
    with review.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    proc = subprocess.run(learn, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    learned = [json.loads(x) for x in (tmp_path / "var" / "learned_examples.jsonl").read_text().splitlines()]
    assert learned == [{"text": rows[0]["text"].lstrip("'") if rows[0]["text"][:2] in ("'=", "'+", "'-", "'@")
                        else rows[0]["text"], "label": "order_status"}]


def test_resume_without_a_checkpoint_says_so(tmp_path):
    with pytest.raises(BacktestError, match="nothing to resume"):
        load_checkpoint(tmp_path, "gorgias")


class _MemoryReader:
    """A reader over ready-made tickets (for run-control tests that need no HTTP)."""

    platform, page_size, calls = "zendesk", 3, 0

    def __init__(self, tickets: list[Ticket]):
        self.tickets = tickets

    def pages(self, window, position=None):
        from adapters.history import HistoryPage

        start = int((position or {}).get("offset", 0))
        for off in range(start, len(self.tickets), self.page_size):
            end = min(len(self.tickets), off + self.page_size)
            yield HistoryPage([{"id": t.id} for t in self.tickets[off:end]], {"offset": off},
                              {"offset": end} if end < len(self.tickets) else None, end / len(self.tickets))

    def ticket_id(self, raw):
        return str(raw["id"])

    def is_closed(self, raw):
        return True

    def fetch(self, raw):
        return next(t for t in self.tickets if t.id == raw["id"])


def _tickets(n: int) -> list[Ticket]:
    return [Ticket(platform="zendesk", id=str(i), subject="Order", status="solved", messages=[
        Message(f"{i}a", CUSTOMER, f"Where is my order {1000 + i}? It has not arrived.", created_at="2026-01-01T10:00:00Z"),
        Message(f"{i}b", AGENT, "It ships today.", created_at="2026-01-01T11:00:00Z")]) for i in range(n)]


def test_progress_bar_estimates_the_total_from_the_window_and_max_cost_keeps_the_checkpoint(tmp_path, monkeypatch):
    import io

    from app.backtest.engine import OfflinePipeline
    from app.settings import load_settings

    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    reset_caches()
    settings = load_settings({"SIDECAR_VAR": str(tmp_path / "var")})
    now = datetime.now(UTC)
    args = RunArgs(platform="zendesk", since=(now - timedelta(days=3)).isoformat(), until=now.isoformat(),
                   out=str(tmp_path / "out"), max_cost=0.01)
    class Priced(OfflinePipeline):
        def run(self, *a, **kw):  # as if an LLM answered: 0.004 USD per ticket
            res = super().run(*a, **kw)
            res.triage.usage = {"prompt_tokens": 300, "completion_tokens": 40, "cost_usd": 0.004}
            return res

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    run = Backtest(args, settings=settings, cfg=load_config(ROOT / "config"), bt_cfg=BacktestFile(version=1),
                   reader=_MemoryReader(_tickets(9)), pipeline=Priced(load_config(ROOT / "config")), progress=True)
    s = run.run()
    reset_caches()
    assert s["tickets"]["processed"] == 3 and s["backtest"]["stopped"] == "max_cost"
    assert s["llm"]["prompt_tokens"] == 900 and s["llm"]["cost_usd"] == 0.012
    cp = load_checkpoint(tmp_path / "var", "zendesk")
    assert cp["position"] == {"offset": 0}, "resume re-reads the page it stopped in (done tickets are skipped)"
    bar = err.getvalue()
    assert "backtest zendesk" in bar and "3/9" in bar, "the total was estimated from the share of the window read"


def test_llm_tokens_and_cost_per_ticket_from_a_real_openai_client_against_a_loopback_server(tmp_path, monkeypatch,
                                                                                           httpserver):
    """With an LLM configured, every classification's tokens and estimated cost reach the report; --local calls none."""
    from app.settings import load_settings
    from pipeline.llm_classifier import estimate_cost
    from tests.fakes.openai import StubLLM

    llm = StubLLM(httpserver)
    llm.content = json.dumps({"intent": "order_status", "confidence": 0.93, "priority": "normal",
                              "sentiment": "neutral", "language": "en", "signals": []})
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("CHROMA_PATH", str(tmp_path / "no-kb"))
    reset_caches()
    env = {"SIDECAR_VAR": str(tmp_path / "var"), "CHROMA_PATH": str(tmp_path / "no-kb"), "OPENAI_API_KEY": "sk-test",
           "OPENAI_BASE_URL": httpserver.url_for("/v1"), "OPENAI_MODEL": "gpt-4o-mini"}
    settings = load_settings(env)
    now = datetime.now(UTC)
    cfg = load_config(ROOT / "config")

    def run(local: bool, out: str) -> dict:
        args = RunArgs(platform="zendesk", since=(now - timedelta(days=3)).isoformat(), until=now.isoformat(),
                       out=str(tmp_path / out), local=local)
        return Backtest(args, settings=settings, cfg=cfg, bt_cfg=BacktestFile(version=1),
                        reader=_MemoryReader(_tickets(4)), progress=False).run()

    s = run(False, "llm")
    per_call = estimate_cost("gpt-4o-mini", 321, 54)
    assert len(llm.requests) == 4, "one classification call per ticket (template drafts: no knowledge base)"
    assert s["llm"]["llm_calls"] == 4 and s["llm"]["rows_with_llm"] == 4
    assert (s["llm"]["prompt_tokens"], s["llm"]["completion_tokens"]) == (4 * 321, 4 * 54)
    assert s["llm"]["cost_usd"] == pytest.approx(4 * per_call) and s["llm"]["cost_per_ticket_usd"] == pytest.approx(per_call)
    rows = [json.loads(x) for x in (tmp_path / "llm" / "results.jsonl").open()]
    assert {r["classifier"] for r in rows} == {"openai"} and all(r["prompt_tokens"] == 321 for r in rows)
    s_local = run(True, "local")
    assert len(llm.requests) == 4, "--local never calls the LLM"
    assert s_local["llm"]["llm_calls"] == 0 and s_local["llm"]["cost_usd"] == 0.0
    reset_caches()


def test_every_message_replays_each_customer_message_against_the_reply_that_followed_it(tmp_path, monkeypatch):
    from app.settings import load_settings

    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    reset_caches()
    t = Ticket(platform="zendesk", id="77", subject="Order", status="solved", messages=[
        Message("a", CUSTOMER, "Where is my order 55123? Nothing has arrived.", created_at="2026-01-01T10:00:00Z"),
        Message("b", AGENT, "It left the warehouse yesterday.", created_at="2026-01-01T10:30:00Z"),
        Message("c", CUSTOMER, "I want to cancel it now, please refund me.", created_at="2026-01-02T09:00:00Z"),
        Message("d", AGENT, "Cancelled and refunded.", created_at="2026-01-02T11:00:00Z")])
    now = datetime.now(UTC)
    args = RunArgs(platform="zendesk", since=(now - timedelta(days=3)).isoformat(), until=now.isoformat(),
                   out=str(tmp_path / "out"), every_message=True)
    s = Backtest(args, settings=load_settings({"SIDECAR_VAR": str(tmp_path / "var")}), cfg=load_config(ROOT / "config"),
                 bt_cfg=BacktestFile(version=1), reader=_MemoryReader([t]), progress=False).run()
    rows = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").open()]
    assert [(r["message_id"], r["first_response_seconds"]) for r in rows] == [("a", 1800.0), ("c", 7200.0)]
    assert s["tickets"]["processed"] == 2
    reset_caches()


class _KB:
    """A knowledge base holding a help article and the replayed ticket's own resolved answer."""

    def __init__(self) -> None:
        from pipeline.models import Source

        self.docs = [Source(id="ticket:zendesk:77", title="Resolved ticket: order", score=0.99, source_type="ticket",
                            text="Customer question: where is my order 55123. Agent answer: it ships today."),
                     Source(id="track-your-order", title="Track your order", score=0.8,
                            text="Track your order from the link in your shipping confirmation email. Orders ship "
                                 "within 2 business days.")]
        self.asked: list[int] = []

    def count(self) -> int:
        return len(self.docs)

    def embed(self, texts):
        from knowledge.embedding import get_embedder

        return list(get_embedder().embed(list(texts)))

    def search(self, text, *, k, intent=None, brand=None, embedding=None):
        self.asked.append(k)
        return self.docs[:k]


def test_offline_pipeline_never_grounds_on_the_replayed_ticket_and_judges_business_hours_at_the_message_time():
    from app.backtest.engine import OfflinePipeline
    from pipeline.config import AutoReply

    rules = load_config(ROOT / "config")
    rules.rules.intents["order_status"] = rules.rules.intents["order_status"].model_copy(update={
        "auto_reply": AutoReply(enabled=True, min_confidence=0.5), "only_in_business_hours": True})
    kb = _KB()
    pipe = OfflinePipeline(rules, kb=kb)
    t = Ticket(platform="zendesk", id="77", subject="Where is my order", messages=[
        Message("a", CUSTOMER, "Where is my order 55123? The tracking shows nothing.")])
    weekday = pipe.run(t, "a", now=datetime(2026, 3, 4, 10, 0, tzinfo=UTC))  # a Wednesday, 10:00 UTC
    saturday = pipe.run(t, "a", now=datetime(2026, 3, 7, 10, 0, tzinfo=UTC))
    assert weekday.triage.intent == saturday.triage.intent == "order_status"
    for res in (weekday, saturday):
        assert res.draft is not None and [s.id for s in res.draft.sources] == ["track-your-order"]
        assert "ticket:zendesk:77" not in res.draft.text and "ships today" not in res.draft.text
    assert weekday.would_auto_reply is True and weekday.auto_eligible is True
    assert saturday.would_auto_reply is False and "outside business hours" in " ".join(saturday.plan.reasons)
