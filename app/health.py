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
    checks["mode"] = "embedded" if settings.embedded else "redis"
    if not settings.embedded and checks["store"] == "ok":
        from app.webhooks import get_inbox

        # Accepted events not yet turned into rq jobs: growing means no worker is running.
        checks["inbox"] = str(get_inbox(settings).depth())
    ok = checks["store"] == "ok" and checks["config"] == "ok"
    return jsonify({"status": "ready" if ok else "not ready", "checks": checks}), 200 if ok else 503
