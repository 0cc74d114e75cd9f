"""End to end in a real headless Chromium: a job fails (helpdesk down past all retries), shows on /ops
and in stats with its reason, the charts render, and the page's Retry button processes it exactly once.

Chromium comes from Debian's ``chromium`` package; without it the test is skipped with that reason.
The browser is driven over the DevTools protocol (``websocket-client``, already a dependency).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import redis
import rq.scheduler
from rq import Queue
from rq.scheduler import RQScheduler
from werkzeug.serving import make_server

from tests.conftest import auth_headers, load_fixture, outbox, run_worker

OPS_TOKEN = "ops-browser-token"
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.path.exists(p)), None)
# Screenshots go where SIDECAR_SCREENSHOT_DIR says, else a temporary folder: never the developer's var/.
SCREENSHOTS = Path(os.environ.get("SIDECAR_SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "sidecar-screenshots")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")


class Browser:
    """A headless Chromium page driven over the DevTools protocol."""

    def __init__(self, profile: Path):
        import websocket

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={profile}",
             "--window-size=1280,1800", "--no-first-run", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.time() + 20
        while not port_file.exists() or not port_file.read_text().strip():
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=20)
        self._id = 0
        self.cmd("Page.enable")
        self.cmd("Runtime.enable")

    def cmd(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            if "method" in msg:
                self.on_event(msg)

    def on_event(self, msg: dict) -> None:
        """A DevTools event read while waiting for a command's answer (dropped unless overridden)."""

    def eval(self, expr: str):
        r = self.cmd("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"].get("text"))
        return r["result"].get("value")

    def wait_for(self, expr: str, timeout: float = 15.0):
        deadline = time.time() + timeout
        while True:
            try:
                v = self.eval(expr)
                if v:
                    return v
            except RuntimeError:
                pass  # page navigating: the execution context is being replaced
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {expr}")
            time.sleep(0.1)

    def goto(self, url: str) -> None:
        self.cmd("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def screenshot(self, path: Path) -> None:
        data = self.cmd("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "chromium-profile")
    yield b
    b.close()


@pytest.fixture
def live_app(sidecar_env, monkeypatch):
    monkeypatch.setenv("OPS_TOKEN", OPS_TOKEN)
    from tests.conftest import reset_caches

    reset_caches()
    from app import create_app

    app = create_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def drain(redis_url: str, monkeypatch) -> None:
    """Run queued jobs; move rq retries from the scheduled registry (clock moved forward, no sleeping)."""
    q = Queue("sidecar", connection=redis.Redis.from_url(redis_url))
    for _ in range(10):
        run_worker(redis_url)
        # Only event retries matter here; SLA timers (sla-*) are scheduled hours ahead on purpose.
        if not [j for j in q.scheduled_job_registry.get_job_ids() if j.startswith("evt-")]:
            return
        monkeypatch.setattr(rq.scheduler, "current_timestamp", lambda: int(time.time()) + 3600)
        s = RQScheduler([q], connection=q.connection)
        s.acquire_locks()
        s.enqueue_scheduled_jobs()
        s.release_locks()
    raise AssertionError("jobs kept being rescheduled")


def test_failed_job_on_ops_in_stats_and_retry_from_page_processes_once(live_app, browser, redis_url, monkeypatch,
                                                                      sidecar_env):
    from adapters.base import TransientError
    from adapters.dryrun import DryRunAdapter
    from app.store.decisions import store_for
    from app.store.queries import compute_stats

    app, base = live_app
    helpdesk = {"down": True, "fetches": 0}
    real_fetch = DryRunAdapter.fetch_ticket

    def fetch(self, ticket_id, hint=None):
        helpdesk["fetches"] += 1
        if helpdesk["down"]:
            raise TransientError("gorgias answered 503 Service Unavailable")
        return real_fetch(self, ticket_id, hint)

    monkeypatch.setattr(DryRunAdapter, "fetch_ticket", fetch)
    body = load_fixture("gorgias", "webhook_message_created.json")
    r = app.test_client().post("/webhooks/gorgias", data=body, headers=auth_headers("gorgias", body))
    assert r.status_code == 202, r.get_data(as_text=True)

    drain(redis_url, monkeypatch)
    q = Queue("sidecar", connection=redis.Redis.from_url(redis_url))
    [jid] = q.failed_job_registry.get_job_ids()
    assert helpdesk["fetches"] == 4  # first try + 3 rq retries
    stats = compute_stats(store_for(app.config["SETTINGS"]), time.time() - 3600)
    assert stats["failed"] == 1
    assert stats["failures"][0]["error"] == "TransientError: gorgias answered 503 Service Unavailable"

    # the page: charts drawn by JS, the failed job with its reason
    browser.goto(f"{base}/ops?token={OPS_TOKEN}")
    browser.wait_for("document.body.dataset.charts === 'ready'")
    charts = browser.eval("Array.from(document.querySelectorAll('.chart')).map(c => "
                          "[c.id, c.dataset.rendered, c.querySelectorAll('svg').length])")
    assert charts == [["chart-volume", "true", 1], ["chart-quality", "true", 1], ["chart-escalations", "true", 1],
                      ["chart-cost", "true", 1]]
    failed_bar = browser.eval("(() => { const b = document.querySelector('#chart-volume rect[data-series=failed]');"
                              " return b && [b.dataset.value, b.getBoundingClientRect().height > 0]; })()")
    assert failed_bar == ["1", True]
    rows = browser.eval("Array.from(document.querySelectorAll('#failed-jobs tr.failed-job')).map(r => "
                        "[r.dataset.jobId, r.querySelector('.reason').textContent])")
    assert rows == [[jid, "adapters.base.TransientError: gorgias answered 503 Service Unavailable"]]
    browser.screenshot(SCREENSHOTS / "ops-failed-job.png")
    assert (SCREENSHOTS / "ops-failed-job.png").stat().st_size > 10_000

    # the helpdesk is back: click Retry on the page, once
    helpdesk["down"] = False
    browser.eval("document.querySelector('#failed-jobs button.retry').click()")
    # Logged in with ?token=: the answer is the page itself, no redirect carrying the token.
    browser.wait_for("location.pathname.endsWith('/retry')")
    browser.wait_for("document.readyState === 'complete' && !!document.getElementById('flash')")
    assert browser.eval("document.getElementById('flash').textContent") == f"Job {jid} requeued."
    assert q.job_ids == [jid]
    drain(redis_url, monkeypatch)
    notes = [e for e in outbox(sidecar_env, "gorgias") if e["action"] == "note"]
    assert len(notes) == 1
    assert q.failed_job_registry.count == 0 and q.count == 0
    stats = compute_stats(store_for(app.config["SETTINGS"]), time.time() - 3600)
    assert (stats["processed"], stats["failed"]) == (1, 0)

    browser.goto(f"{base}/ops?token={OPS_TOKEN}")
    browser.wait_for("document.body.dataset.charts === 'ready'")
    assert browser.eval("document.querySelectorAll('#failed-jobs tr.failed-job').length") == 0
    assert browser.eval("document.querySelector('#recent tr.status-processed td:last-child').textContent.trim()"
                        ).startswith("processed")
    browser.screenshot(SCREENSHOTS / "ops-after-retry.png")
