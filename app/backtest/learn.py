"""Agent labels from a backtest → training examples, only after a person approved each row.

``labels_review.csv`` (written by the backtest) lists agent-labelled tickets with the customer's
text (PII redacted), the agents' label and the prediction. A reviewer writes ``yes`` in
``approve`` for the rows that are right, correcting ``label`` where the agents' tag was wrong;
only those rows are learned. Agents' tags are often stale or coarse: learning them blindly would
teach the classifier the helpdesk's tagging habits, not the customers' intents.
"""

from __future__ import annotations

import csv
from pathlib import Path

from app.evaluate import LabeledData, LabeledDataError

APPROVED = {"yes", "y", "1", "true", "x", "ok"}
_DEFUSED = ("'=", "'+", "'-", "'@")


def _undefuse(text: str) -> str:
    # The report prefixes spreadsheet-formula characters with a quote; the customer wrote without it.
    return text[1:] if text.startswith(_DEFUSED) else text


def approved_examples(folder: str | Path) -> tuple[LabeledData, int]:
    """(approved rows as labelled data, number of rows still waiting for review)."""
    path = Path(folder) / "labels_review.csv"
    if not path.is_file():
        raise LabeledDataError(f"{path}: not found (is {folder} a backtest report folder?)")
    out, waiting = LabeledData(), 0
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"approve", "text", "label"} - set(reader.fieldnames or [])
        if missing:
            raise LabeledDataError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for n, row in enumerate(reader, start=2):
            if (row.get("approve") or "").strip().lower() not in APPROVED:
                waiting += 1
                continue
            text, label = _undefuse((row.get("text") or "").strip()), (row.get("label") or "").strip()
            if not text or not label:
                out.rejected.append((n, "empty text" if not text else "empty label"))
                continue
            out.texts.append(text)
            out.labels.append(label)
            out.lines.append(n)
    return out, waiting
