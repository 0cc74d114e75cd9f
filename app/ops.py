"""Ops page (``GET /ops``) and Prometheus metrics (``GET /metrics``): a Flask blueprint ``bp``.

``/ops`` shows the ``stats`` figures with charts of the last 30 days (drawn client-side as SVG by
``static/ops.js``, no third-party library), the recent decisions with links to their tickets, the
failed jobs with their reason and a retry button, and the rules currently loaded.

Access needs ``OPS_TOKEN``: ``Authorization: Bearer <token>``, basic auth with the token as the
password (any user name), or ``?token=<token>``. Missing or wrong → 401; ``OPS_TOKEN`` not set →
404 saying so (the page is off). The retry button posts a form carrying a token derived from
``OPS_TOKEN`` (HMAC), so another site cannot make a logged-in browser retry jobs (CSRF).

``/metrics`` is open (no customer data in it, only counts), like most Prometheus endpoints; keep
it on the internal network.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__, template_folder="templates", static_folder="static", static_url_path="/ops/static")

RECENT = 50


def _settings() -> Any:
    s = current_app.config.get("SETTINGS")
    if s is None:
        from app.settings import get_settings

        s = get_settings()
    return s


def _store() -> Any:
    from app.store.decisions import store_for

    return current_app.config.get("DECISION_STORE") or store_for(_settings())


def _given_token() -> tuple[str | None, str | None]:
    """The token the request carries and how (``bearer``, ``basic``, ``query``)."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), "bearer"
    if request.authorization and request.authorization.type == "basic" and request.authorization.password:
        return request.authorization.password, "basic"
    if request.args.get("token"):
        return request.args["token"], "query"
    return None, None


def _csrf(token: str) -> str:
    return hmac.new(token.encode(), b"sidecar-ops-retry", hashlib.sha256).hexdigest()


def _check() -> tuple[Response | None, str | None]:
    """``(error response, how)``; the response is ``None`` when the request is authorised."""
    s = _settings()
    if not s.ops_token:
        resp = jsonify({"status": "error", "error": "not found",
                        "detail": "the ops page is disabled: set OPS_TOKEN to enable it"})
        resp.status_code = 404
        return resp, None
    given, how = _given_token()
    if not given or not hmac.compare_digest(given.encode(), s.ops_token.get_secret_value().encode()):
        resp = jsonify({"status": "error", "error": "unauthorized",
                        "detail": "missing or wrong ops token (Bearer header, basic auth password or ?token=)"})
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Basic realm="sidecar ops", charset="UTF-8"'
        return resp, None
    return None, how


@bp.after_request
def _headers(resp: Response) -> Response:
    if request.path.startswith("/ops"):
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")  # the URL may carry ?token=
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
    return resp


def _rules_view() -> dict[str, Any]:
    """The loaded rules: effective per-intent table and the YAML text (or the load error)."""
    try:
        from pipeline.config import get_config

        cfg = get_config()
    except Exception as exc:
        return {"error": str(exc), "rows": [], "yaml": ""}
    rows = []
    for intent in cfg.intent_names:
        r = cfg.rule_for(intent)
        esc = r.get("escalate") or {}
        rows.append({
            "intent": intent, "enabled": r.get("enabled", True), "sensitive": cfg.is_sensitive(intent),
            "draft": r.get("draft"), "min_confidence": r.get("min_confidence"),
            "auto_reply": (r.get("auto_reply") or {}).get("enabled", False),
            "priority": r.get("priority") or (f"≥ {r['priority_floor']}" if r.get("priority_floor") else ""),
            "escalate": "always" if esc.get("always") else ", ".join(
                [k[3:] for k, v in esc.items() if k.startswith("on_") and v is True]
                + list(esc.get("on_signals") or []) + ([f"priority {esc['on_priority']}"] if esc.get("on_priority")
                                                       else [])),
            "tags": ", ".join(r.get("tags") or []),
        })
    try:
        text = (cfg.folder / "rules.yaml").read_text(encoding="utf-8")
    except OSError:
        text = ""
    return {"error": None, "rows": rows, "yaml": text, "folder": str(cfg.folder),
            "escalation": cfg.rules.escalation, "sla": cfg.rules.sla}


def _failed() -> tuple[list[dict[str, Any]], str | None]:
    from app.commands.jobs import failed_jobs

    try:
        return failed_jobs(_settings()), None
    except Exception as exc:
        log.exception("ops: cannot list failed jobs")
        return [], f"cannot list failed jobs: {exc.__class__.__name__}"


def _queue() -> tuple[dict[str, Any] | None, str | None]:
    """Queued, scheduled, running (with age) and failed jobs, in both modes; or why they are unknown."""
    from app.commands.jobs import queue_status

    try:
        return queue_status(_settings()), None
    except Exception as exc:
        log.exception("ops: cannot read the queue")
        return None, f"cannot read the queue: {exc.__class__.__name__}"


def _inbox() -> dict[str, int] | None:
    """Webhook events accepted but not yet turned into jobs, and unreadable ones (Redis mode)."""
    settings = _settings()
    if settings.embedded:
        return None
    try:
        from app.webhooks import get_inbox

        inbox = get_inbox(settings)
        return {"waiting": inbox.depth(), "dead": int(inbox.redis.llen(inbox.key + ":dead"))}
    except Exception:
        log.exception("ops: cannot read the webhook inbox")
        return None


@bp.get("/ops")
def ops_page():
    denied, how = _check()
    if denied:
        return denied
    return _render_page(how)


def _render_page(how: str | None, retried: str | None = None, retry_failed: str | None = None):
    from app.store.queries import compute_stats, parse_since

    since_txt = request.args.get("since", "7d")
    try:
        since = parse_since(since_txt)
    except ValueError:
        since_txt, since = "7d", parse_since("7d")
    now = time.time()
    store = _store()
    stats = compute_stats(store, since, now=now, days=30)
    recent = store.decisions(limit=RECENT)
    failed, failed_error = _failed()
    token = _settings().ops_token.get_secret_value()
    query_token = request.args.get("token") if how == "query" else None
    from app.settings import platform_states
    from pipeline.config import rejected_change

    try:
        config_rejected = rejected_change()
    except Exception:  # the rules section says why the config cannot load
        config_rejected = None
    queue, queue_error = _queue()
    return render_template(
        "ops.html", queue=queue, queue_error=queue_error, platforms={n: st.as_dict() for n, st in platform_states(_settings()).items()},
        config_rejected=config_rejected, stats=stats, since_txt=since_txt, recent=recent, failed=failed, failed_error=failed_error,
        rules=_rules_view(), csrf=_csrf(token), inbox=_inbox(), query_token=query_token, store_kind=store.kind,
        mode="embedded" if _settings().embedded else "redis", retried=retried or request.args.get("retried"),
        retry_failed=retry_failed or request.args.get("retry_failed"),
        chart_data={"daily": stats["daily"], "escalations": stats["escalations"], "by_intent": stats["by_intent"]},
        fmt_time=lambda t: time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t else "",
    )


@bp.get("/ops/stats.json")
def ops_stats_json():
    denied, _ = _check()
    if denied:
        return denied
    from app.store.queries import compute_stats, parse_since

    try:
        since = parse_since(request.args.get("since", "7d"))
    except ValueError as exc:
        return jsonify({"status": "error", "error": "bad request", "detail": str(exc)}), 400
    return jsonify(compute_stats(_store(), since))


@bp.post("/ops/failed/<job_id>/retry")
def ops_retry(job_id: str):
    """Requeue one failed job (once: a job no longer in the failed registry is not requeued again)."""
    denied, how = _check()
    if denied:
        return denied
    token = _settings().ops_token.get_secret_value()
    if how != "bearer" and not hmac.compare_digest(request.form.get("csrf", ""), _csrf(token)):
        return jsonify({"status": "error", "error": "forbidden", "detail": "missing or wrong form token"}), 403
    from app.commands.jobs import retry_job

    try:
        ok = retry_job(_settings(), job_id)
    except Exception as exc:  # e.g. two clicks racing: the second finds the job gone
        log.warning("ops: retry of %s failed: %s", job_id, exc.__class__.__name__)
        ok = False
    log.info("ops: retry of failed job %s %s", job_id, "requeued" if ok else "refused (not a failed job)")
    if how == "bearer":
        return jsonify({"status": "requeued" if ok else "not-found", "job_id": job_id}), 200 if ok else 404
    args = {"retried" if ok else "retry_failed": job_id}
    if how == "query":
        # A redirect would have to carry ?token= in its Location (and the browser's history):
        # answer with the page itself instead.
        return _render_page(how, **args)
    return redirect(url_for("ops.ops_page", **args), code=303)


@bp.get("/metrics")
def metrics():
    from prometheus_client import CONTENT_TYPE_LATEST

    from app.metrics import render_metrics

    return Response(render_metrics(_settings(), current_app.config.get("DECISION_STORE")),
                    mimetype=CONTENT_TYPE_LATEST.split(";")[0], headers={"Content-Type": CONTENT_TYPE_LATEST})
