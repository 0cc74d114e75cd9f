"""Slack → helpdesk jobs: thread replies become internal notes; the alert's buttons act on the ticket.

Queued by :mod:`app.slack_inbound` (rq with ``REDIS_URL``, else the embedded queue). Each job is
safe to run more than once (Slack retries, rq retries, a worker dying half-way):

* the escalation's thread is mapped to its ticket when the alert is posted
  (:func:`remember_escalation`, in the state store: Redis or ``var/state.sqlite3``, so it survives
  restarts); a reply in any other thread is ignored;
* a reply becomes **one** internal note through the adapter's own note path: the step is logged
  per Slack event, the note carries the marker ``sidecar-event:slack-<event_id>`` that the adapter
  looks for after an ambiguous failure, and the adapter's rate limiter paces the request;
* **Take it** assigns the ticket to the agent whose helpdesk email is the clicking Slack user's
  email (``users.info``; needs the ``users:read.email`` scope) or says in the thread why not;
  **Acknowledge** records who acknowledged and stops further SLA reminders for the ticket. Both
  update the alert (``chat.update``) to show who did what and when, and land in the decision log.

Without ``SLACK_BOT_TOKEN`` the jobs still write notes and assign (names fall back to Slack user
ids, and the alert is not updated); a helpdesk in dry-run gets its note / assignment in the outbox.
"""

from __future__ import annotations

import html
import logging
import re
import time
from typing import Any

from adapters.base import AgentNotFound, PermanentError
from app.slack_payloads import ButtonClick, ThreadReply
from app.store.slack import ESCALATION_TTL, ack_key, acknowledgement, actions_key, escalation_for
from pipeline.models import marker_for

log = logging.getLogger(__name__)

STEP_PREFIX = "slack-"
MAX_STATUS_LINES = 10
# Slack's own markup in message text: <@U123|name>, <#C123|channel>, <!here>, <https://x|label>.
_SLACK_TOKEN = re.compile(r"<([^<>]{1,2000})>")


def _settings() -> Any:
    from app.settings import get_settings

    return get_settings()


def _state(settings: Any) -> Any:
    from app.runtime import get_state

    return get_state(settings)


# --------------------------------------------------------------------------- Slack Web API


def _client(settings: Any) -> Any:
    if not settings.slack_bot_token:
        return None
    from app.escalate import make_client

    return make_client(settings)


def _slack_call(client: Any, method: str, **kw: Any) -> Any:
    """One Web API call; None (logged) when Slack answers an error: names and links are nice to have."""
    if client is None:
        return None
    from slack_sdk.errors import SlackApiError

    try:
        return getattr(client, method)(**kw)
    except SlackApiError as exc:
        log.warning("Slack %s failed: %s", method, (exc.response or {}).get("error") if exc.response else exc)
    except OSError as exc:  # urllib's URLError, timeouts
        log.warning("Slack %s failed: %s", method, exc.__class__.__name__)
    return None


def _user(client: Any, user_id: str) -> dict[str, Any]:
    resp = _slack_call(client, "users_info", user=user_id)
    u = resp.get("user") if resp is not None else None
    return u if isinstance(u, dict) else {}


def _display_name(user: dict[str, Any], fallback: str) -> str:
    p = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    for v in (p.get("real_name"), p.get("display_name"), user.get("real_name"), user.get("name")):
        if isinstance(v, str) and v.strip():
            return " ".join(v.split())[:80]
    return fallback


def _permalink(client: Any, channel: str, ts: str) -> str | None:
    resp = _slack_call(client, "chat_getPermalink", channel=channel, message_ts=ts)
    link = resp.get("permalink") if resp is not None else None
    return link if isinstance(link, str) and link.startswith("https://") else None


def _say_in_thread(client: Any, channel: str, thread_ts: str, text: str) -> None:
    _slack_call(client, "chat_postMessage", channel=channel, thread_ts=thread_ts, text=text, unfurl_links=False)


# --------------------------------------------------------------------------- note


def slack_to_text(text: str) -> str:
    """Slack's message markup as plain text: ``<@U1|ann>`` → ``@ann``, ``<https://x|label>`` → ``label (https://x)``."""

    def token(m: re.Match[str]) -> str:
        inner = m.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return f"{label} ({target})" if label and label != target else target

    out = _SLACK_TOKEN.sub(token, text)
    return out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_note(name: str, text: str, permalink: str | None, files: list[dict[str, str]],
                marker: str) -> tuple[str, str]:
    """(html, text) of the internal note for a Slack reply: who said what, files and the message linked."""
    body = slack_to_text(text).strip()
    esc = html.escape
    parts_html = [f"<p><b>From Slack, {esc(name)}:</b></p>"]
    parts_text = [f"From Slack, {name}: {body}" if body else f"From Slack, {name}:"]
    if body:
        parts_html.append("<blockquote>" + esc(body).replace("\n", "<br>") + "</blockquote>")
    if files:
        links = ", ".join(f'<a href="{esc(f["permalink"], quote=True)}">{esc(f["name"])}</a>' for f in files)
        parts_html.append(f"<p>Files (in Slack): {links}</p>")
        parts_text.append("Files (in Slack): " + ", ".join(f"{f['name']} ({f['permalink']})" for f in files))
    if permalink:
        parts_html.append(f'<p><a href="{esc(permalink, quote=True)}">Open the message in Slack</a></p>')
        parts_text.append(f"Slack message: {permalink}")
    ref = f"ref {marker}"
    parts_html.append(f'<p style="color:#999;font-size:11px"><!-- {esc(marker)} -->{esc(ref)}</p>')
    parts_text.append(ref)
    return "".join(parts_html), "\n".join(parts_text)


def _adapter(platform: str, settings: Any) -> Any:
    from adapters.registry import get_adapter
    from app.runtime import get_redis

    return get_adapter(platform, settings, redis=get_redis(settings))


def _record(settings: Any, **row: Any) -> None:
    """One row in the decision log's Slack actions; never fails the job (the ticket is already changed)."""
    try:
        from app.store.decisions import store_for

        store_for(settings).add_slack_action(**row)
    except Exception:
        log.exception("could not record the Slack action %s on %s ticket %s", row.get("action"),
                      row.get("platform"), row.get("ticket_id"))


def handle_thread_reply(payload: dict[str, Any]) -> dict[str, Any]:
    """Job: a person's reply in an escalation thread → exactly one internal note in the ticket."""
    settings = _settings()
    reply = ThreadReply(**payload)
    state = _state(settings)
    esc = escalation_for(state, reply.channel, reply.thread_ts)
    if esc is None:
        log.info("slack event %s: thread %s/%s was not started by the sidecar, ignored", reply.event_id,
                 reply.channel, reply.thread_ts)
        return {"status": "ignored", "reason": "thread not started by the sidecar"}
    platform, ticket_id = esc["platform"], esc["ticket_id"]
    step_id = STEP_PREFIX + reply.event_id
    if state.is_done(platform, step_id, "note"):
        return {"status": "duplicate", "platform": platform, "ticket_id": ticket_id}
    client = _client(settings)
    name = _display_name(_user(client, reply.user), reply.user)
    link = _permalink(client, reply.channel, reply.ts)
    marker = marker_for(step_id, settings.marker_key)
    note_html, note_text = render_note(name, reply.text, link, reply.files, marker)
    adapter = _adapter(platform, settings)
    ticket = adapter.fetch_ticket(ticket_id)
    adapter.post_internal_note(ticket, note_html, note_text, marker)
    state.mark_done(platform, step_id, "note")
    _record(settings, platform=platform, ticket_id=ticket_id, action="note", key=reply.event_id,
            slack_user=reply.user, slack_name=name, detail={"files": len(reply.files), "dry_run": adapter.dry_run},
            escalated_at=esc.get("alerted_at"))
    log.info("slack event %s: note from %s written to %s ticket %s", reply.event_id, reply.user, platform, ticket_id)
    return {"status": "noted", "platform": platform, "ticket_id": ticket_id, "dry_run": adapter.dry_run}


# --------------------------------------------------------------------------- buttons


def _when(ts: float) -> str:
    """A Slack date token: shown in each reader's own time zone, with UTC as the fallback text."""
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))
    return f"<!date^{int(ts)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _status_line(a: dict[str, Any]) -> str:
    who = f"<@{a['user']}>"
    if a["action"] == "take":
        return f":raising_hand: Taken by {who} (assigned to {a.get('agent') or 'them'}) {_when(a['at'])}"
    return f":white_check_mark: Acknowledged by {who} {_when(a['at'])} — SLA reminders stopped"


def updated_blocks(blocks: list[dict[str, Any]], actions: list[dict[str, Any]],
                   acknowledged: bool) -> list[dict[str, Any]]:
    """The alert's blocks with a status line per action taken (and no Acknowledge button once acknowledged)."""
    out = []
    for b in blocks:
        if b.get("block_id") == "sidecar_status":
            continue
        if b.get("type") == "actions" and acknowledged:
            els = [e for e in b.get("elements") or [] if isinstance(e, dict) and e.get("action_id") != "sidecar_ack"]
            if not els:
                continue
            b = {**b, "elements": els}
        out.append(b)
    lines = [_status_line(a) for a in actions[-MAX_STATUS_LINES:]]
    if lines:
        out.append({"type": "context", "block_id": "sidecar_status",
                    "elements": [{"type": "mrkdwn", "text": "\n".join(lines)}]})
    return out


def _update_alert(client: Any, click: ButtonClick, actions: list[dict[str, Any]], acknowledged: bool) -> bool:
    if client is None or not click.blocks:
        return False
    blocks = updated_blocks(click.blocks, actions, acknowledged)
    text = "Escalation — " + "; ".join(
        ("taken by " if a["action"] == "take" else "acknowledged by ") + (a.get("name") or a["user"])
        for a in actions[-MAX_STATUS_LINES:])
    return _slack_call(client, "chat_update", channel=click.channel, ts=click.message_ts, text=text,
                       blocks=blocks) is not None


def handle_button(payload: dict[str, Any]) -> dict[str, Any]:
    """Job: Take it / Acknowledge on an escalation alert."""
    settings = _settings()
    click = ButtonClick(**payload)
    state = _state(settings)
    client = _client(settings)
    esc = escalation_for(state, click.channel, click.thread_ts)
    if esc is None:
        _say_in_thread(client, click.channel, click.thread_ts,
                       f"<@{click.user}> this alert is no longer linked to a ticket (older than "
                       f"{ESCALATION_TTL // 86400} days?): nothing was changed.")
        return {"status": "ignored", "reason": "alert not linked to a ticket"}
    platform, ticket_id = esc["platform"], esc["ticket_id"]
    user = _user(client, click.user)
    name = _display_name(user, click.user_name or click.user)
    now = click.received_at or time.time()
    entry: dict[str, Any] = {"action": click.action, "user": click.user, "name": name, "at": now}
    step_id = STEP_PREFIX + click.dedupe_id
    result: dict[str, Any] = {"platform": platform, "ticket_id": ticket_id}

    if click.action == "take":
        profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
        email = profile.get("email") if isinstance(profile.get("email"), str) else None
        if not email:
            why = ("Slack did not give me their email (the app needs the users:read.email scope)"
                   if client is not None else "SLACK_BOT_TOKEN is not set, so I cannot look up their email")
            _say_in_thread(client, click.channel, click.thread_ts,
                           f"<@{click.user}> I could not assign {platform} ticket #{ticket_id}: {why}.")
            _record(settings, platform=platform, ticket_id=ticket_id, action="take_failed", key=click.dedupe_id,
                    slack_user=click.user, slack_name=name, detail={"reason": "no email"},
                    escalated_at=esc.get("alerted_at"))
            return {**result, "status": "not-assigned", "reason": why}
        if not state.is_done(platform, step_id, "assign"):
            adapter = _adapter(platform, settings)
            try:
                agent = adapter.assign_to_email(ticket_id, email)
            except AgentNotFound as exc:
                _say_in_thread(client, click.channel, click.thread_ts,
                               f"<@{click.user}> I could not assign {platform} ticket #{ticket_id}: {exc}.")
                _record(settings, platform=platform, ticket_id=ticket_id, action="take_failed", key=click.dedupe_id,
                        slack_user=click.user, slack_name=name, detail={"reason": str(exc)},
                        escalated_at=esc.get("alerted_at"))
                return {**result, "status": "not-assigned", "reason": str(exc)}
            except PermanentError as exc:  # the helpdesk refused (e.g. agent not in the ticket's group)
                _say_in_thread(client, click.channel, click.thread_ts,
                               f"<@{click.user}> {platform} refused to assign ticket #{ticket_id} to you: "
                               f"{str(exc)[:200]}")
                raise
            state.mark_done(platform, step_id, "assign")
            entry["agent"] = agent.name or agent.email or email
            _record(settings, platform=platform, ticket_id=ticket_id, action="take", key=click.dedupe_id,
                    slack_user=click.user, slack_name=name,
                    detail={"agent_id": agent.id, "dry_run": adapter.dry_run}, escalated_at=esc.get("alerted_at"))
        result["status"] = "assigned"
    else:
        first = state.claim(ack_key(platform, ticket_id) + ":claim", ESCALATION_TTL)
        if first:
            state.put_json(ack_key(platform, ticket_id), {"user": click.user, "name": name, "at": now}, ESCALATION_TTL)
            _stop_sla(platform, ticket_id, settings)
            alerted_at = esc.get("alerted_at")
            _record(settings, platform=platform, ticket_id=ticket_id, action="acknowledge", key=click.dedupe_id,
                    slack_user=click.user, slack_name=name, escalated_at=alerted_at,
                    detail={"seconds_to_ack": round(now - alerted_at, 3) if alerted_at else None})
            result["status"] = "acknowledged"
        else:
            result["status"] = "already-acknowledged"
            entry = {}

    actions = state.get_json(actions_key(platform, ticket_id)) or []
    if entry and not any(a.get("at") == entry["at"] and a.get("user") == entry["user"] and
                         a.get("action") == entry["action"] for a in actions):
        actions = [*actions, entry][-MAX_STATUS_LINES:]
        state.put_json(actions_key(platform, ticket_id), actions, ESCALATION_TTL)
    result["alert_updated"] = _update_alert(client, click, actions,
                                            acknowledgement(state, platform, ticket_id) is not None)
    return result


def _stop_sla(platform: str, ticket_id: str, settings: Any) -> None:
    """Remove the ticket's pending SLA checks (those scheduled later see the acknowledgement)."""
    try:
        from app.jobs.sla import cancel_sla_checks

        n = cancel_sla_checks(platform, ticket_id, settings=settings)
        log.info("%s ticket %s acknowledged in Slack: %d SLA check(s) cancelled", platform, ticket_id, n)
    except Exception:  # check_sla also consults the acknowledgement, so a miss here still stops reminders
        log.exception("%s ticket %s: could not cancel SLA checks", platform, ticket_id)
