"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when the state store answers and the config loads."""
    from app.runtime import get_state
    from pipeline.config import ConfigError, get_config

    settings = current_app.config["SETTINGS"]
    checks: dict[str, str] = {}
    try:
        checks["store"] = "ok" if get_state(settings).ping() else "unreachable"
    except Exception as exc:
        checks["store"] = f"error: {exc.__class__.__name__}"
    try:
        get_config()
        checks["config"] = "ok"
    except ConfigError as exc:
        checks["config"] = f"invalid: {str(exc).splitlines()[0]}"
    from pipeline.config import rejected_config

    rejected = rejected_config()
    if rejected:
        # The last good config keeps serving; the files on disk are what the next start would refuse.
        checks["config_on_disk"] = f"rejected: {rejected.splitlines()[0]}"
    checks["mode"] = "embedded" if settings.embedded else "redis"
    if not settings.embedded and checks["store"] == "ok":
        from app.webhooks import get_inbox

        # Accepted events not yet turned into rq jobs: growing means no worker is running.
        inbox = get_inbox(settings)
        checks["inbox"] = str(inbox.depth())
        # Taken by a worker's pump and not yet an rq job: stays near 0 unless something is stuck.
        checks["inbox_processing"] = str(inbox.processing_depth())
    ok = checks["store"] == "ok" and checks["config"] == "ok"
    return jsonify({"status": "ready" if ok else "not ready", "checks": checks}), 200 if ok else 503
