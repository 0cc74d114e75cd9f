"""Flask app factory: ``gunicorn 'app:create_app()'``."""

from __future__ import annotations

import logging
import os

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.settings import Settings, apply_process_settings, get_settings

log = logging.getLogger(__name__)


def configure_logging() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        root.setLevel(level)


def body_too_large(limit: int):
    """The 413 answer: the same JSON error shape as every other rejection, naming the limit and its knob."""
    resp = jsonify({"status": "error", "error": "body too large",
                    "detail": f"the body is larger than {limit} bytes; raise SIDECAR_MAX_BODY_BYTES to accept more",
                    "limit_bytes": limit})
    resp.status_code = 413
    return resp


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app. Settings and config are validated here, so a bad start fails loudly."""
    configure_logging()
    from app import logsafe

    logsafe.install()  # ?token= is masked in werkzeug's and gunicorn's access logs
    settings = settings or get_settings()
    apply_process_settings(settings)
    from pipeline.config import get_config

    get_config()  # invalid YAML stops the start with file, intent and field named

    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False

    from app.health import bp as health_bp
    from app.observability import init_sentry
    from app.ops import bp as ops_bp
    from app.webhooks import bp as webhooks_bp

    init_sentry(settings, "web")
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(ops_bp)
    if settings.slack_inbound:
        # Slack may call us only when we can check that it is Slack: no secret, no routes (404).
        from app.slack_inbound import bp as slack_bp

        app.register_blueprint(slack_bp)
        if not settings.slack_bot_token:
            log.warning("SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not: Slack replies become notes "
                        "without names or links, and the buttons cannot update the alert")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # JSON errors everywhere (413 too large, 405, 404 ...), never an HTML page.
        if isinstance(exc, RequestEntityTooLarge):
            return body_too_large(settings.max_body_bytes)
        resp = jsonify({"status": "error", "error": exc.name.lower(), "detail": exc.description})
        resp.status_code = exc.code or 500
        return resp

    from app.settings import platform_states

    for name, st in platform_states(settings).items():
        if st.state == "refusing":
            log.error("%s: %s (%s)", name, st.why, st.fix)
        elif st.state == "dry-run":
            log.warning("%s: DRY RUN, writes go to %s/%s.jsonl", name, settings.outbox_dir, name)
        elif not st.authenticated:
            log.warning("%s: SIDECAR_ALLOW_UNSIGNED is set: webhooks are not authenticated", name)
    if settings.embedded:
        from app.jobs.embedded import get_embedded_queue

        get_embedded_queue(settings)  # starts the in-process worker thread; resumes pending jobs
        log.info("embedded mode (no REDIS_URL): events are processed in this process")
    return app
