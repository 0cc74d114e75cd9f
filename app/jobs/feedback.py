"""Agent feedback on drafts, captured by the runtime: the last draft per ticket is remembered in the
state store; an agent's reply or feedback tag is compared with it (``pipeline.feedback.classify_edit``)
and recorded in the decision log; intent corrections wait for review in ``var/intent_corrections.jsonl``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from pipeline.feedback import DRAFT_TTL, classify_edit
from pipeline.models import AgentFeedback, Outcome

log = logging.getLogger(__name__)


def draft_key(platform: str, ticket_id: str) -> str:
    return f"sidecar:draft:{platform}:{ticket_id}"


def remember_draft(state: Any, outcome: Outcome, customer_text: str) -> None:
    """Keep what the agent will respond to: the draft, the intent and the customer's text."""
    d = outcome.draft
    state.put_json(draft_key(outcome.event.platform, outcome.ticket_id), {
        "event_id": outcome.event.event_id, "intent": outcome.triage.intent if outcome.triage else None,
        "draft": d.text if d is not None else "", "draft_kind": d.kind if d is not None else "none",
        "text": customer_text[:4000], "at": time.time()}, DRAFT_TTL)


def _record(platform: str, ticket_id: str, event_id: str, verdict: str, similarity: float | None,
            detail: dict[str, Any]) -> None:
    from app.store import decisions as record

    fn = getattr(record, "record_feedback", None)
    if fn is not None:
        fn(platform, ticket_id, event_id, verdict, similarity, **detail)
    log.info("feedback %s ticket %s on event %s: %s%s", platform, ticket_id, event_id, verdict,
             f" (similarity {similarity:.2f})" if similarity is not None else "")


def capture(settings: Any, state: Any, platform: str, fb: AgentFeedback) -> list[str]:
    """Record the agent's response to our last draft on ``fb.ticket_id``. Returns the verdicts recorded."""
    last = state.get_json(draft_key(platform, fb.ticket_id))
    if not last:
        return []  # nothing of ours on this ticket (or too old): not feedback on a draft
    event_id = last["event_id"]
    verdicts: list[str] = []

    def once(verdict: str) -> bool:
        # Webhooks are retried and duplicated: count each verdict once per draft.
        return state.claim(f"sidecar:feedback:{platform}:{fb.ticket_id}:{event_id}:{verdict}", DRAFT_TTL)

    if fb.reply_text and last.get("draft"):
        verdict, sim = classify_edit(last["draft"], fb.reply_text)
        if once("reply"):
            _record(platform, fb.ticket_id, event_id, verdict, sim, {"intent": last.get("intent")})
            verdicts.append(verdict)
    for tag in fb.tags:
        if tag == "ai-reject" and once("rejected"):
            _record(platform, fb.ticket_id, event_id, "rejected", None, {"intent": last.get("intent")})
            verdicts.append("rejected")
        elif tag == "ai-handoff" and once("handoff"):
            _record(platform, fb.ticket_id, event_id, "handoff", None, {"intent": last.get("intent")})
            verdicts.append("handoff")
        elif tag.startswith("ai-wrong-intent:"):
            correct = tag.split(":", 1)[1].strip()
            if correct and once(f"wrong_intent_{correct}"):
                _record(platform, fb.ticket_id, event_id, "wrong_intent", None,
                        {"intent": last.get("intent"), "corrected_intent": correct})
                _queue_correction(settings, platform, fb.ticket_id, event_id, last, correct)
                verdicts.append("wrong_intent")
    return verdicts


def _corrections_path(settings: Any) -> Path:
    return Path(settings.var_dir) / "intent_corrections.jsonl"


def _queue_correction(settings: Any, platform: str, ticket_id: str, event_id: str, last: dict[str, Any],
                      correct: str) -> None:
    path = _corrections_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"platform": platform, "ticket_id": ticket_id, "event_id": event_id,
                             "text": last.get("text", ""), "predicted": last.get("intent"), "label": correct,
                             "status": "pending", "at": time.time()}, ensure_ascii=False) + "\n")


def pending_corrections(settings: Any) -> list[dict[str, Any]]:
    """Intent corrections from agents, waiting for review."""
    path = _corrections_path(settings)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
