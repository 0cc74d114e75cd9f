"""Warnings ``check-config`` prints about the environment and the knowledge base (never a secret's value)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A shared webhook token is a password the helpdesk sends with every call (Gorgias, Freshdesk; Zendesk's
# signing secret is an HMAC key): short ones can be guessed or brute-forced over the open endpoint.
MIN_SECRET_CHARS = 16
WEBHOOK_SECRET_VARS = ("ZENDESK_WEBHOOK_SECRET", "GORGIAS_WEBHOOK_TOKEN", "FRESHDESK_WEBHOOK_TOKEN")


def weak_secret_warnings(environ: Mapping[str, str]) -> list[str]:
    """One line per webhook secret (current or ``_PREVIOUS``) shorter than ``MIN_SECRET_CHARS``.

    Measured as the settings read it (surrounding whitespace stripped). Names the variable only:
    neither the value nor its length is printed.
    """
    out = []
    for base in WEBHOOK_SECRET_VARS:
        for var in (base, f"{base}_PREVIOUS"):
            value = (environ.get(var) or "").strip()
            if value and len(value) < MIN_SECRET_CHARS:
                out.append(f"WARNING: {var} is shorter than {MIN_SECRET_CHARS} characters: a short shared secret can "
                           "be guessed; use a long random one, e.g. python -c \"import secrets; "
                           "print(secrets.token_urlsafe(32))\"")
    return out


def knowledge_brand_note(environ: Mapping[str, str]) -> str | None:
    """What the knowledge base's brands mean for tickets without one (None: no store to read).

    Read-only: an existing store is opened, never created; any problem (no store yet, another
    embedding, settings that do not load) leaves the note out, the config check is not about it.
    """
    from pathlib import Path

    try:
        from app.settings import load_settings
        from knowledge.brands import brand_summary, stored_brands
        from knowledge.store import KnowledgeStore, configured_embedding_function

        s = load_settings(dict(environ))
        if not s.chroma_url and not Path(s.chroma_path).exists():
            return None
        store = KnowledgeStore(path=s.chroma_path, url=s.chroma_url, create=False,
                               embedding_function=configured_embedding_function(s))
        return "knowledge base " + brand_summary(stored_brands(store))
    except Exception:  # noqa: BLE001 (a note, never a failure)
        return None


def brand_overrides_without_platform(cfg: Any, environ: Mapping[str, str]) -> list[str]:
    """One warning per rules override matching a ``brand`` without a ``platform`` while several helpdesks are set up.

    Brand ids are each helpdesk's own numbers (Zendesk ``brand_id``, Freshdesk ``product_id``): ``brand: "101"``
    alone also matches the other helpdesk's 101, whose tickets would then get this brand's rules (auto-reply
    included). Retrieval scopes brands by platform (knowledge.brands); rules match what ops wrote.
    """
    try:
        from app.settings import PLATFORM_NAMES, load_settings

        s = load_settings(dict(environ))
        platforms = [n for n in PLATFORM_NAMES if s.platform(n).configured or s.platform(n).webhook_secrets]
    except Exception:  # noqa: BLE001 (a warning about the config, never a failure of the check)
        return []
    if len(platforms) < 2:
        return []
    return [f"WARNING: rules override #{i} matches brand {ov.match['brand']!r} without a platform while "
            f"{', '.join(platforms)} are set up: brand ids are per helpdesk, so it also matches another helpdesk's "
            f"brand {ov.match['brand']!r}; add platform: to the match"
            for i, ov in enumerate(cfg.rules.overrides, 1) if "brand" in ov.match and "platform" not in ov.match]
