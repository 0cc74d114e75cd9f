"""Secrets never reach access logs: ``?token=`` values are written as ``token=***``.

Gorgias and Freshdesk senders (and the ops page) may carry their shared secret in the URL.
werkzeug's request log (``python -m app serve``) and gunicorn's access log (``--access-logfile``)
both print the request line, so a filter on their loggers rewrites every ``token=<value>``
before any handler sees the record.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_TOKEN = re.compile(r"(?i)(?<![A-Za-z0-9_])(token=)[^&\s\"'#;]*")
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


def mask_tokens(text: str) -> str:
    """``text`` with the value of every ``token=`` parameter replaced by ``***``."""
    return _TOKEN.sub(r"\1***", text) if "token=" in text.lower() else text


def _mask(value: Any) -> Any:
    return mask_tokens(value) if isinstance(value, str) else value


class MaskTokenFilter(logging.Filter):
    """Rewrites ``token=<value>`` in a record's message and arguments (tuple or dict, as gunicorn uses)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_tokens(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _mask(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_mask(a) for a in record.args)
        return True


_FILTER = MaskTokenFilter()


def install() -> None:
    """Attach the filter to the access loggers (idempotent)."""
    for name in ACCESS_LOGGERS:
        lg = logging.getLogger(name)
        if _FILTER not in lg.filters:
            lg.addFilter(_FILTER)
