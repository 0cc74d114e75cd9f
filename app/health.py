"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when the state store answers and the config loads; says what each platform does.

    503 only when the sidecar cannot work at all (store down, no valid config). A platform that
    refuses its webhooks, or a config change on disk that was rejected (the last good config is
    in force), leaves the sidecar serving the rest: 200 with ``status: degraded`` and the
    problems listed, so a glance (or a monitor) sees the truth.
    """
    from app.runtime import get_state
    from app.settings import platform_states
    from pipeline.config import ConfigError, get_config, rejected_change

    settings = current_app.config["SETTINGS"]
    checks: dict[str, str] = {}
    problems: list[str] = []
    try:
        checks["store"] = "ok" if get_state(settings).ping() else "unreachable"
    except Exception as exc:
        checks["store"] = f"error: {exc.__class__.__name__}"
    try:
        get_config()
        checks["config"] = "ok"
        rejected = rejected_change()
        if rejected:
            checks["config"] = "ok (last good config in force)"
            checks["config_on_disk"] = "rejected: " + rejected
            problems.append("config change on disk rejected: " + rejected.splitlines()[0])
    except ConfigError as exc:
        checks["config"] = f"invalid: {str(exc).splitlines()[0]}"
    checks["mode"] = "embedded" if settings.embedded else "redis"
    if not settings.embedded and checks["store"] == "ok":
        from app.webhooks import get_inbox

        # Accepted events not yet turned into rq jobs: growing means no worker is running.
        checks["inbox"] = str(get_inbox(settings).depth())
    platforms = {name: st.as_dict() for name, st in platform_states(settings).items()}
    for name, st in platforms.items():
        if st["state"] == "refusing":
            problems.append(f"{name} refuses webhooks: {st['fix']}")
    ok = checks["store"] == "ok" and checks["config"].startswith("ok")
    status = ("degraded" if problems else "ready") if ok else "not ready"
    body = {"status": status, "checks": checks, "platforms": platforms}
    if problems:
        body["problems"] = problems
    return jsonify(body), 200 if ok else 503
