"""Job ids: rq allows only letters, digits, ``_`` and ``-``; one id per event so a job is never queued twice."""

from __future__ import annotations

import hashlib
import re

_JOB_ID_BAD = re.compile(r"[^A-Za-z0-9_-]")


def job_id_for(platform: str, event_id: str) -> str:
    """An rq job id (letters, digits, ``_`` and ``-`` only) for an event."""
    raw = f"evt-{platform}-{event_id}"
    clean = _JOB_ID_BAD.sub("_", raw)
    if clean != raw or len(clean) > 100:
        clean = f"evt-{platform}-" + hashlib.sha256(event_id.encode()).hexdigest()[:40]
    return clean
