"""Error reporting to Sentry (when ``SENTRY_DSN`` is set), without customer text or secrets.

Call :func:`init_sentry` once per process (``component`` = ``web``, ``worker`` or ``serve``), and
:func:`set_job_context` at the start of each job so events carry platform, ticket id and event id
as tags. Every event passes through :func:`scrub_event` before it leaves the process: request
bodies, cookies and query strings are dropped, sensitive headers filtered, rq job arguments and
descriptions (they contain the webhook event) removed, log parameters removed, and any key that
names text or a secret (``body``, ``text``, ``note``, ``draft``, ``token``, ``password``, ...) is
replaced by ``[Filtered]`` wherever it appears. Local variables are never sent.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

FILTERED = "[Filtered]"
# Keys whose values are customer text or secrets, wherever they appear in an event.
SENSITIVE_KEYS = frozenset({
    "body", "body_hint", "body_text", "body_html", "text", "note", "note_html", "note_text", "draft", "drafts",
    "public_reply", "subject", "subject_hint", "message", "messages", "description", "comment", "comments",
    "requester_email", "requester_name", "email", "phone", "content", "html", "plain", "summary", "args",
    "kwargs", "data", "cookies", "query_string", "password", "passwd", "token", "secret", "authorization",
    "api_key", "apikey", "dsn", "cookie", "set-cookie", "signature",
})
# Substrings that make any key sensitive (x-sidecar-token, slack_bot_token, webhook_secret, ...).
SENSITIVE_PARTS = ("token", "secret", "password", "authorization", "api_key", "apikey", "signature", "cookie", "dsn")
# Keys of the event's own structure that must survive (their names collide with the list above).
_STRUCTURAL = {"logentry", "exception", "values", "stacktrace", "frames", "breadcrumbs", "contexts", "tags", "extra",
               "request", "sdk", "modules", "threads", "mechanism"}


def _sensitive(key: Any) -> bool:
    k = str(key).lower()
    return k in SENSITIVE_KEYS or any(p in k for p in SENSITIVE_PARTS)


def scrub(obj: Any, depth: int = 0) -> Any:
    """Replace values of sensitive keys by ``[Filtered]`` in nested dicts/lists."""
    if depth > 20:
        return FILTERED
    if isinstance(obj, dict):
        return {k: (FILTERED if _sensitive(k) and k not in _STRUCTURAL else scrub(v, depth + 1)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub(v, depth + 1) for v in obj]
    return obj


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry ``before_send``: remove customer text and secrets from an event."""
    req = event.get("request")
    if isinstance(req, dict):
        for k in ("data", "cookies", "query_string", "env"):
            req.pop(k, None)
        if isinstance(req.get("url"), str):
            req["url"] = req["url"].split("?", 1)[0]
        if isinstance(req.get("headers"), dict):
            req["headers"] = {k: (FILTERED if _sensitive(k) else v) for k, v in req["headers"].items()}
    extra = event.get("extra")
    if isinstance(extra, dict) and isinstance(extra.get("rq-job"), dict):
        job = extra["rq-job"]
        extra["rq-job"] = {k: job[k] for k in ("job_id", "func", "queue") if k in job}
    le = event.get("logentry")
    if isinstance(le, dict):  # keep the %-template, drop the parameters and the formatted text
        event["logentry"] = {"message": le.get("message"), "params": []}
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    if isinstance(values, list):
        for c in values:
            if isinstance(c, dict):
                c.pop("data", None)
    event.pop("user", None)
    for exc in (event.get("exception") or {}).get("values") or []:
        for frame in (exc.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    for key in ("extra", "contexts", "tags"):
        if isinstance(event.get(key), dict):
            event[key] = scrub(event[key])
    return event


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry ``before_breadcrumb``: log breadcrumbs keep the message template, not the formatted text."""
    record = (hint or {}).get("log_record")
    if record is not None:
        crumb["message"] = str(record.msg)
    crumb.pop("data", None)
    return crumb


def init_sentry(settings: Any, component: str) -> bool:
    """Initialise Sentry with Flask, rq and logging integrations when ``SENTRY_DSN`` is set; ``True`` if enabled."""
    if not settings.sentry_dsn:
        return False
    import os

    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        integrations=[FlaskIntegration(), RqIntegration(), LoggingIntegration(level=logging.INFO,
                                                                              event_level=logging.ERROR)],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        include_source_context=True,
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=0.0,
        environment=os.environ.get("SENTRY_ENVIRONMENT") or "production",
        release=os.environ.get("SENTRY_RELEASE") or None,
    )
    sentry_sdk.set_tag("component", component)
    log.info("Sentry enabled for %s", component)
    return True


def set_job_context(platform: str | None, ticket_id: str | None, event_id: str | None) -> None:
    """Tag the current scope (the rq integration gives each job its own) with the job's identifiers."""
    try:
        import sentry_sdk
    except ImportError:  # pragma: no cover - sentry-sdk is a requirement
        return
    for k, v in (("platform", platform), ("ticket_id", ticket_id), ("event_id", event_id)):
        if v is not None:
            sentry_sdk.set_tag(k, str(v))
