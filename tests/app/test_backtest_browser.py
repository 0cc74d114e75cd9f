"""The backtest's HTML report in a real headless Chromium: self-contained, charts drawn, figures right.

The report of the hand-computed fixture (``test_backtest_report``) is opened from disk with the
network watched: the page must make no request but itself, raise no console error or exception,
draw its SVG charts with non-zero size, and show the figures of ``summary.json``.
"""

from __future__ import annotations

import json

import pytest

from app.backtest.report import write_report
from pipeline.config import load_config
from tests.app.test_backtest_report import ROWS
from tests.app.test_ops_browser import CHROMIUM, SCREENSHOTS, Browser
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")


class WatchingBrowser(Browser):
    """A :class:`Browser` that keeps the DevTools events it reads past (requests, console, exceptions)."""

    def __init__(self, profile):
        self.events: list[dict] = []
        super().__init__(profile)
        self.cmd("Network.enable")
        self.cmd("Log.enable")

    def on_event(self, msg: dict) -> None:
        self.events.append(msg)


@pytest.fixture
def report_dir(tmp_path):
    results = tmp_path / "results.jsonl"
    many = []
    for k in range(3):  # enough rows for every chart (the hand fixture three times, distinct ids)
        for r in ROWS:
            many.append({**r, "ticket_id": f"{r['ticket_id']}-{k}"})
    results.write_text("".join(json.dumps(r) + "\n" for r in many))
    out = tmp_path / "report"
    summary = write_report(out, results, load_config(ROOT / "config"),
                           {"platform": "zendesk", "since": "2026-01-01T00:00:00Z", "until": "2026-01-31T00:00:00Z",
                            "api_calls": 42, "elapsed_seconds": 1.5})
    return out, summary


def test_report_renders_self_contained_with_charts_and_the_summary_figures(tmp_path, report_dir):
    out, summary = report_dir
    b = WatchingBrowser(tmp_path / "profile")
    try:
        url = (out / "report.html").as_uri()
        b.goto(url)
        b.wait_for("document.querySelectorAll('svg.chart').length === 3")
        sizes = b.eval("[...document.querySelectorAll('svg.chart')].map(s => {const r = s.getBoundingClientRect();"
                       " return [s.id, r.width, r.height]})")
        segs = b.eval("document.querySelectorAll('#chart-intents rect.seg').length")
        lines = b.eval("[...document.querySelectorAll('#chart-thresholds polyline.line')].map(p => p.dataset.intent)")
        rows = b.eval("[...document.querySelectorAll('#intents tbody tr')].map(r => [r.dataset.intent,"
                      " r.cells[1].textContent, r.cells[4].textContent, r.cells[11].textContent])")
        cards = b.eval("Object.fromEntries([...document.querySelectorAll('.card')].map(c => [c.dataset.k,"
                       " c.querySelector('b').textContent]))")
        cell = b.eval("document.querySelector(\"#confusion td[data-label='delivery_problem'][data-predicted='order_status']\")"
                      ".textContent")
        esc = b.eval("[...document.querySelectorAll('#escalation td')].map(td => td.textContent)")
        b.screenshot(SCREENSHOTS / "backtest_report.png")
    finally:
        b.close()
    assert {s[0] for s in sizes} == {"chart-intents", "chart-verdicts", "chart-thresholds"}
    assert all(w > 300 and h > 80 for _, w, h in sizes), sizes
    assert segs >= 3 and lines == ["order_status"]
    intents = {i["intent"]: i for i in summary["intents"]}
    assert [r[0] for r in rows] == list(intents)
    os_row = next(r for r in rows if r[0] == "order_status")
    assert os_row[1] == str(intents["order_status"]["tickets"]) == "12"
    assert os_row[2] == "75%" and os_row[3].startswith("not enough tickets")
    assert cards["tickets replayed"] == str(summary["tickets"]["processed"]) == "21"
    assert cards["intent accuracy (labelled)"] == "67%"
    assert cell == "3" and esc == ["3", "3", "3", "12"]
    requests = [e["params"]["request"]["url"] for e in b.events if e["method"] == "Network.requestWillBeSent"]
    assert requests == [url], f"the report must load nothing else: {requests}"
    errors = [e for e in b.events if e["method"] in ("Runtime.exceptionThrown",)
              or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
              or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")]
    assert errors == []
