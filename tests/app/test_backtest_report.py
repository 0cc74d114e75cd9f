"""The report's figures on a small hand-made fixture, checked against values computed by hand.

Nine result rows (one a duplicate a resumed run wrote twice, one skipped, one failed) cover every
figure: confusion, precision/recall, accuracy, macro F1, draft acceptance, auto-reply agreement
under the rules and per threshold, escalation 2×2, first-response quantiles, LLM totals.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from app.backtest import report
from app.backtest.report import aggregate, recommend, write_report
from pipeline.config import load_config
from tests.conftest import ROOT


def _row(tid: str, intent: str, conf: float, label: str | None, verdict: str | None, *, would: bool = False,
         eligible: bool = False, frt: float | None = None, escalate: list[str] | None = None, actual: bool = False,
         tokens: tuple[int, int, float, int] = (0, 0, 0.0, 0), **extra) -> dict:
    sims = {"sent_as_is": 0.95, "edited": 0.6, "rewritten": 0.2, None: None}
    return {"platform": "zendesk", "ticket_id": tid, "message_id": f"m{tid}", "url": f"https://acme.zendesk.com/agent/tickets/{tid}",
            "status": "processed", "intent": intent, "confidence": conf, "band": "high" if conf >= 0.75 else "medium",
            "label": label, "label_source": "tags" if label else "", "label_ambiguous": False,
            "verdict": verdict, "similarity": extra.pop("sim", sims[verdict]), "agent_replied": frt is not None,
            "first_response_seconds": frt, "would_auto_reply": would, "auto_eligible": eligible,
            "escalate": escalate or [], "escalated_actual": actual, "draft_kind": "template",
            "prompt_tokens": tokens[0], "completion_tokens": tokens[1], "cost_usd": tokens[2], "llm_calls": tokens[3],
            "text": f"customer text {tid}", "language": "en", "subject": f"Subject {tid}", **extra}


ROWS = [
    _row("1", "order_status", 0.95, "order_status", "sent_as_is", would=True, eligible=True, frt=600,
         tokens=(100, 20, 0.001, 1), subject="=HYPERLINK(\"http://evil\",\"x\")"),
    _row("2", "order_status", 0.85, "order_status", "edited", eligible=True, frt=1200, tokens=(50, 10, 0.0005, 1)),
    _row("3", "order_status", 0.72, "delivery_problem", "rewritten", eligible=True, frt=3600, escalate=["urgent"],
         actual=True),
    _row("4", "delivery_problem", 0.9, "delivery_problem", "rewritten", frt=60, escalate=["very_negative"]),
    _row("5", "delivery_problem", 0.6, None, None, actual=True),
    _row("6", "return_refund", 0.97, "order_status", "edited", frt=7200),
    {"platform": "zendesk", "ticket_id": "7", "status": "skipped", "reason": "not solved/closed"},
    {"platform": "zendesk", "ticket_id": "8", "status": "failed", "reason": "fetch: 404"},
    _row("9", "order_status", 0.99, "order_status", "sent_as_is", would=True, eligible=True, frt=300, sim=1.0),
]


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config")


@pytest.fixture
def results(tmp_path) -> Path:
    p = tmp_path / "results.jsonl"
    rows = ROWS[:1] + ROWS + []  # row 1 twice: a resumed run may write a ticket again
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def _intent(summary, name):
    return next(i for i in summary["intents"] if i["intent"] == name)


def test_counts_labels_and_confusion_by_hand(results, cfg):
    s = aggregate(results, cfg, {"platform": "zendesk"})
    assert s["tickets"] == {**s["tickets"], "rows": 9, "processed": 7, "skipped": 1, "failed": 1, "agent_replied": 6,
                            "drafted_and_replied": 6}
    lab = s["labels"]
    assert (lab["labelled"], lab["unmapped"], lab["accuracy"]) == (6, 1, round(4 / 6, 4))
    assert lab["macro_f1"] == round((0.75 + 2 * 1 * 0.5 / 1.5) / 2, 4)
    assert {(c["label"], c["predicted"]): c["count"] for c in lab["confusion"]} == {
        ("order_status", "order_status"): 3, ("delivery_problem", "order_status"): 1,
        ("delivery_problem", "delivery_problem"): 1, ("order_status", "return_refund"): 1}
    assert lab["unmapped_predictions"] == {"delivery_problem": 1}
    os_, dp, rr = _intent(s, "order_status"), _intent(s, "delivery_problem"), _intent(s, "return_refund")
    assert (os_["tickets"], os_["precision"], os_["recall"], os_["labelled_support"]) == (4, 0.75, 0.75, 4)
    assert (dp["precision"], dp["recall"], dp["labelled_support"]) == (1.0, 0.5, 2)
    assert (rr["precision"], rr["recall"], rr["sensitive"]) == (0.0, None, True)


def test_draft_acceptance_and_auto_reply_agreement_by_hand(results, cfg):
    s = aggregate(results, cfg, {"platform": "zendesk"})
    os_ = _intent(s, "order_status")
    assert os_["draft_vs_reply"] == {"sent_as_is": 2, "edited": 1, "rewritten": 1}
    assert os_["predicted_acceptance"] == 0.75
    assert os_["mean_similarity"] == round((0.95 + 0.6 + 0.2 + 1.0) / 4, 4)
    assert _intent(s, "delivery_problem")["predicted_acceptance"] == 0.0
    assert os_["auto_reply"] == {"would_send": 2, "replied": 2, "agreed": 2, "agreed_strict": 2, "precision": 1.0,
                                 "precision_strict": 1.0}
    by_t = {r["threshold"]: r for r in os_["auto_reply_by_threshold"]}
    assert (by_t[0.5]["eligible"], by_t[0.5]["agreed"], by_t[0.5]["agreed_strict"], by_t[0.5]["precision"]) == (4, 3, 2, 0.75)
    assert (by_t[0.75]["eligible"], by_t[0.75]["agreed"], by_t[0.75]["precision"]) == (3, 3, 1.0)
    assert (by_t[0.9]["eligible"], by_t[0.95]["eligible"]) == (2, 2)
    assert s["auto_reply"] == {"would_send": 2, "replied": 2, "agreed": 2, "precision": 1.0}


def test_escalation_response_times_and_llm_by_hand(results, cfg):
    s = aggregate(results, cfg, {"platform": "zendesk"})
    e = s["escalation"]
    assert (e["would_and_did"], e["would_not_did"], e["missed"], e["neither"]) == (1, 1, 1, 4)
    assert (e["precision"], e["recall"]) == (0.5, 0.5)
    fr = e["first_response"]
    assert fr["all"] == {"n": 6, "median_seconds": 600.0, "p90_seconds": 7200.0}
    assert fr["neither"] == {"n": 4, "median_seconds": 600.0, "p90_seconds": 7200.0}
    assert fr["would_and_did"]["median_seconds"] == 3600.0 and fr["missed"]["n"] == 0
    llm = s["llm"]
    assert (llm["prompt_tokens"], llm["completion_tokens"], llm["rows_with_llm"], llm["llm_calls"]) == (150, 30, 2, 2)
    assert llm["cost_usd"] == 0.0015 and llm["cost_per_ticket_usd"] == round(0.0015 / 7, 8)


def test_files_csv_one_row_per_ticket_formulas_defused_review_disagreements_first(results, cfg, tmp_path):
    out = tmp_path / "report"
    s = write_report(out, results, cfg, {"platform": "zendesk", "since": "a", "until": "b"})
    rows = list(csv.DictReader((out / "tickets.csv").open(encoding="utf-8")))
    assert [r["ticket_id"] for r in rows] == ["1", "2", "3", "4", "5", "6", "7", "8", "9"]
    assert s["tickets"]["csv_rows"] == 9
    assert rows[0]["subject"].startswith("'=HYPERLINK"), "a spreadsheet must not run customer-controlled formulas"
    assert rows[0]["url"] == "https://acme.zendesk.com/agent/tickets/1" and rows[3]["escalate"] == "very_negative"
    review = list(csv.DictReader((out / "labels_review.csv").open(encoding="utf-8")))
    assert [r["ticket_id"] for r in review] == ["3", "6", "1", "2", "4", "9"]
    assert all(r["approve"] == "" for r in review), "nothing is approved until a person says so"
    assert json.loads((out / "summary.json").read_text())["labels"]["labelled"] == 6
    html = (out / "report.html").read_text()
    assert "<script" not in html and "http://evil" not in html and "src=" not in html


def test_html_escapes_everything_from_data(tmp_path, cfg):
    p = tmp_path / "results.jsonl"
    bad = _row("<img src=x onerror=alert(1)>", "order_status", 0.9, "order_status", "edited", frt=10)
    p.write_text(json.dumps(bad) + "\n")
    html = report.render_html(aggregate(p, cfg, {"platform": "<b>zendesk</b>", "since": "<i>", "until": "x"}))
    assert "<b>zendesk</b>" not in html and "&lt;b&gt;zendesk&lt;/b&gt;" in html and "<i>" not in html


def _item(**kw):
    base = {"tickets": 100, "sensitive": False, "labelled_support": 50, "precision": 0.95, "predicted_acceptance": 0.2,
            "draft_vs_reply": {"sent_as_is": 5, "edited": 5, "rewritten": 40}, "drafted": 60,
            "auto_reply_by_threshold": [{"threshold": t, "replied": 0, "precision": None, "eligible": 0}
                                        for t in report.THRESHOLDS]}
    base.update(kw)
    return base


def test_recommendations():
    assert recommend(_item(tickets=5)).startswith("not enough tickets")
    assert recommend(_item(precision=0.5)).startswith("keep human: intent right in 50%")
    thr = [{"threshold": t, "replied": 30, "eligible": 40, "precision": p}
           for t, p in zip(report.THRESHOLDS, (0.7, 0.8, 0.85, 0.88, 0.91, 0.95, 0.97, 1.0), strict=True)]
    assert recommend(_item(auto_reply_by_threshold=thr)).startswith("candidate for auto-reply at ≥ 0.8 (91%")
    assert recommend(_item(auto_reply_by_threshold=thr, sensitive=True, predicted_acceptance=0.6,
                           draft_vs_reply={"sent_as_is": 20, "edited": 20, "rewritten": 10})) \
        == "safe to draft (sensitive: never auto-reply)", "a sensitive intent is never a candidate"
    assert recommend(_item(predicted_acceptance=0.6, draft_vs_reply={"sent_as_is": 20, "edited": 20, "rewritten": 10})) \
        == "safe to draft"
    assert recommend(_item()) == "draft for review: agents rewrite most drafts"
    assert recommend(_item(drafted=0, sensitive=True)) == "keep human (sensitive: never auto-reply)"


def test_reservoir_is_bounded_and_exact_below_its_size():
    r = report.Reservoir(k=100)
    for v in range(1, 101):
        r.add(float(v))
    assert r.quantile(0.5) == 50.0 and r.quantile(0.9) == 90.0
    for v in range(101, 100_001):
        r.add(float(v))
    assert len(r.values) == 100 and r.n == 100_000
