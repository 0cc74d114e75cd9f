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
# Bounded work: the comparison grows with the product of the two lengths (a 10k-character reply
# cost ~15 s). Drafts are a few hundred characters; what an agent adds past this is not compared.
FEEDBACK_CHARS = 2_000
_RAW_CHARS = 20_000  # HTML / reply parsing before the cut


def _norm(text: str) -> str:
    text = text[:_RAW_CHARS]
    if "<" in text and ">" in text:
        text = html_to_text(text)
    return _WS.sub(" ", strip_reply(text)).strip().lower()[:FEEDBACK_CHARS]


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
