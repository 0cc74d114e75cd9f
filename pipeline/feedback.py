"""How an agent's reply relates to our draft: sent as is / edited / rewritten, by text similarity.

Pure: the runtime (``app/jobs/feedback.py``) remembers the last draft per ticket, calls
:func:`classify_edit` when the agent replies, and records the verdict and feedback tags.
"""

from __future__ import annotations

import difflib
import logging
import re

from pipeline.normalize import html_to_text, strip_reply

log = logging.getLogger(__name__)

DRAFT_TTL = 30 * 24 * 3600
SENT_AS_IS = 0.9  # similarity at or above: the agent sent the draft (maybe with a typo fixed)
EDITED = 0.5  # at or above: edited; below: rewritten
_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    if "<" in text and ">" in text:
        text = html_to_text(text)
    return _WS.sub(" ", strip_reply(text)).strip().lower()


def classify_edit(draft: str, sent: str) -> tuple[str, float]:
    """How the agent's reply relates to our draft: (sent_as_is | edited | rewritten, similarity 0..1)."""
    a, b = _norm(draft), _norm(sent)
    if not a or not b:
        return "rewritten", 0.0
    sim = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    if sim < SENT_AS_IS and a in b:
        # The draft kept whole, with a greeting or a sign-off around it, is still "sent as is".
        sim = max(sim, len(a) / len(b))
    verdict = "sent_as_is" if sim >= SENT_AS_IS else "edited" if sim >= EDITED else "rewritten"
    return verdict, round(sim, 3)
