"""Settings from the environment (12-factor), validated once at start-up.

Secrets live only here, read from env; they never appear in logs, ``repr`` or error messages
(pydantic ``SecretStr``). A platform whose URL or credentials are missing runs in dry-run.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, SecretStr

from pipeline.models import LLMSettings


class SettingsError(ValueError):
    """Invalid environment; the message names the variable, never its value if secret."""


def _env(name: str, environ: dict[str, str]) -> str | None:
    v = environ.get(name)
    return v.strip() if v and v.strip() else None


def _secret(name: str, environ: dict[str, str]) -> SecretStr | None:
    v = _env(name, environ)
    return SecretStr(v) if v else None


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(name: str, environ: dict[str, str]) -> str | None:
    v = _env(name, environ)
    if v is None:
        return None
    u = urlparse(v)
    if u.scheme not in ("https", "http") or not u.hostname:
        raise SettingsError(f"{name} must be a URL like https://acme.example.com (got something else)")
    if u.scheme == "http" and not _is_loopback(u.hostname) and _env("SIDECAR_ALLOW_HTTP", environ) not in ("1", "true"):
        raise SettingsError(f"{name} must use https (plain http is only allowed for loopback test servers, "
                            "or anywhere with SIDECAR_ALLOW_HTTP=1)")
    if u.query or u.fragment:
        raise SettingsError(f"{name} must not carry a query string or fragment")
    return f"{u.scheme}://{u.netloc}{u.path.rstrip('/')}"


def _int(name: str, environ: dict[str, str], default: int, minimum: int | None = None) -> int:
    v = _env(name, environ)
    if v is None:
        return default
    try:
        n = int(v)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None
    if minimum is not None and n < minimum:
        raise SettingsError(f"{name} must be at least {minimum} (got {n})")
    return n


class PlatformSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    url: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None  # Zendesk API token / Gorgias API key / Freshdesk API key
    webhook_secrets: tuple[SecretStr, ...] = ()  # Zendesk signing secrets, or shared tokens
    user_id: str | None = None  # the sidecar's own API user id (loop prevention, Gorgias sender)
    rate_per_minute: int = 0  # client-side budget shared through Redis; 0 = platform default

    @property
    def configured(self) -> bool:
        """True when writes go to the real helpdesk; otherwise dry-run."""
        if self.name == "freshdesk":
            return bool(self.url and self.api_token)
        return bool(self.url and self.email and self.api_token)

    @property
    def secret_var(self) -> str:
        """The env var holding this platform's webhook secret (signing secret or shared token)."""
        return "ZENDESK_WEBHOOK_SECRET" if self.name == "zendesk" else f"{self.name.upper()}_WEBHOOK_TOKEN"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    redis_url: str | None = None
    zendesk: PlatformSettings
    gorgias: PlatformSettings
    freshdesk: PlatformSettings
    zendesk_signature_tolerance: int = 300  # seconds between the signed timestamp and now
    allow_unsigned: bool = False
    # Key of the HMAC marker in the notes we write (recognises our own notes; customers cannot forge it).
    marker_secret: SecretStr = SecretStr("")
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    llm_prices: dict[str, tuple[float, float]] = {}  # model -> (input, output) USD per 1M tokens, over defaults
    slack_bot_token: SecretStr | None = None
    slack_channel: str | None = None
    slack_api_url: str | None = None
    # Slack → sidecar (Events API, interactivity): the app's signing secret, and the previous one
    # while it is being rotated. Empty: the /slack routes are not registered at all.
    slack_signing_secrets: tuple[SecretStr, ...] = ()
    slack_signature_tolerance: int = 300  # seconds; Slack documents a five-minute window
    sentry_dsn: SecretStr | None = None
    chroma_path: str = "var/chroma"
    chroma_url: str | None = None
    kb_embeddings: str = "local"  # local | openai
    embedding_model: str = "multilingual-e5-small"  # local model: multilingual-e5-small | all-MiniLM-L6-v2
    kb_embedding_model: str = "all-MiniLM-L6-v2"  # the knowledge base's local model (same choices)
    triage_minilm: bool = False  # MiniLM's vector beside e5's for triage (SIDECAR_TRIAGE_MINILM)
    triage_english: bool = True  # English messages triaged on bge's vectors (SIDECAR_TRIAGE_ENGLISH=0: off)
    draft_cross_encoder: bool = False  # template drafts' sentence chosen by the cross-encoder (SIDECAR_DRAFT_CROSS_ENCODER)
    embedding_seed: bool = True  # the shipped vectors of the default texts (SIDECAR_EMBEDDING_SEED=0: off)
    # e5 chunk vectors beside MiniLM's for questions in other languages (SIDECAR_KB_MULTILINGUAL:
    # 1 / 0; None = when e5 is the triage model; knowledge.multilingual)
    kb_multilingual: bool | None = None
    # English BM25 terms for those questions from the support glossary (SIDECAR_KB_GLOSSARY=0: off; knowledge.glossary)
    kb_glossary: bool = True
    openai_embedding_model: str = "text-embedding-3-small"
    config_dir: str = "config"
    var_dir: str = "var"
    database_url: SecretStr | None = None
    ops_token: SecretStr | None = None
    metrics_token: SecretStr | None = None  # optional bearer / basic-auth password for GET /metrics
    max_body_bytes: int = 1_000_000
    dedupe_ttl: int = 7 * 24 * 3600
    queue_name: str = "sidecar"
    job_timeout: int = 300

    def platform(self, name: str) -> PlatformSettings:
        return getattr(self, name)

    def platform_state(self, name: str) -> PlatformState:
        """What this platform does with webhooks and writes: see :func:`platform_state`."""
        return platform_state(self, name)

    @property
    def marker_key(self) -> bytes:
        """The marker HMAC key as bytes (see :func:`marker_secret`)."""
        return self.marker_secret.get_secret_value().encode("utf-8")

    @property
    def embedded(self) -> bool:
        """No Redis: events processed in-process, state in SQLite under ``var/``."""
        return not self.redis_url

    def llm(self) -> LLMSettings | None:
        """The OpenAI-compatible model the pipeline may use (None without ``OPENAI_API_KEY``: local models)."""
        if not self.openai_api_key:
            return None
        return LLMSettings(api_key=self.openai_api_key.get_secret_value(), model=self.openai_model,
                           base_url=self.openai_base_url, prices=dict(self.llm_prices))

    @property
    def slack_inbound(self) -> bool:
        """True when Slack may call us (events, button clicks): a signing secret is configured."""
        return bool(self.slack_signing_secrets)

    @property
    def outbox_dir(self) -> Path:
        return Path(self.var_dir) / "outbox"


PLATFORM_NAMES = ("zendesk", "gorgias", "freshdesk")


@dataclass(frozen=True)
class PlatformState:
    """One platform's state, as the start banner, ``/readyz``, ``/ops`` and webhook intake see it.

    ``state`` is ``live`` (writes go to the helpdesk, webhooks accepted), ``dry-run`` (writes go
    to the outbox) or ``refusing`` (webhooks answered 401); ``why`` says why, ``fix`` what to set.
    ``unsigned_ok`` is True when a webhook without a secret is accepted (no secret configured).
    """

    name: str
    state: Literal["live", "dry-run", "refusing"]
    why: str
    writes: Literal["helpdesk", "outbox"]
    url: str | None = None
    fix: str | None = None
    unsigned_ok: bool = False
    authenticated: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state, "why": self.why, "writes": self.writes, "url": self.url, "fix": self.fix,
                "authenticated": self.authenticated}

    def banner(self, outbox: Path) -> str:
        """One line of the start banner, e.g. ``gorgias LIVE but refusing webhooks: set GORGIAS_WEBHOOK_TOKEN``."""
        if self.state == "live":
            extra = "" if self.authenticated else "  (webhooks NOT authenticated: SIDECAR_ALLOW_UNSIGNED)"
            return f"LIVE {self.url}{extra}"
        if self.state == "dry-run":
            return f"DRY RUN → {outbox / (self.name + '.jsonl')}"
        where = f"LIVE {self.url}" if self.writes == "helpdesk" else "DRY RUN"
        return f"{where} but refusing webhooks: {self.fix or self.why}"


def platform_state(settings: Settings, name: str) -> PlatformState:
    """The one rule for whether ``name``'s webhooks are accepted, shared by intake and every report.

    * credentials set → writes go to the helpdesk: webhooks need the platform's secret (refused
      with 401 without it) unless ``SIDECAR_ALLOW_UNSIGNED`` is set;
    * no credentials → dry-run: unsigned webhooks are accepted only when *every* platform is
      dry-run (the demo). As soon as any platform is live, a platform without a secret refuses
      webhooks, so nobody unauthenticated can make the sidecar work (or post to Slack).
    """
    ps = settings.platform(name)
    secret = bool(ps.webhook_secrets)
    writes: Literal["helpdesk", "outbox"] = "helpdesk" if ps.configured else "outbox"
    if ps.configured:
        if secret:
            return PlatformState(name, "live", "credentials and webhook secret set", writes, ps.url,
                                 authenticated=True)
        if settings.allow_unsigned:
            return PlatformState(name, "live", f"{ps.secret_var} not set; SIDECAR_ALLOW_UNSIGNED accepts "
                                 "unauthenticated webhooks", writes, ps.url, unsigned_ok=True)
        return PlatformState(name, "refusing", f"writes to {ps.url} but {ps.secret_var} is not set: webhooks "
                             "are refused (401)", writes, ps.url, fix=f"set {ps.secret_var}")
    if secret:
        return PlatformState(name, "dry-run", "no URL/credentials: writes go to the outbox; webhooks need "
                             f"{ps.secret_var}", writes, authenticated=True)
    live = [n for n in PLATFORM_NAMES if settings.platform(n).configured]
    if live and not settings.allow_unsigned:
        return PlatformState(name, "refusing", f"dry-run without {ps.secret_var} while {', '.join(live)} "
                             "is live: unsigned webhooks are refused (401)", writes,
                             fix=f"set {ps.secret_var} (or SIDECAR_ALLOW_UNSIGNED=1)")
    return PlatformState(name, "dry-run", "no URL/credentials: writes go to the outbox; unsigned webhooks "
                         "accepted (demo)", writes, unsigned_ok=True)


def platform_states(settings: Settings) -> dict[str, PlatformState]:
    """Every platform's :class:`PlatformState`, in a fixed order."""
    return {n: platform_state(settings, n) for n in PLATFORM_NAMES}


def _platform(name: str, environ: dict[str, str]) -> PlatformSettings:
    up = name.upper()
    secret_var = "ZENDESK_WEBHOOK_SECRET" if name == "zendesk" else f"{up}_WEBHOOK_TOKEN"
    secrets = [s for s in (_secret(secret_var, environ), _secret(f"{secret_var}_PREVIOUS", environ)) if s]
    token_var = {"zendesk": "ZENDESK_API_TOKEN", "gorgias": "GORGIAS_API_KEY", "freshdesk": "FRESHDESK_API_KEY"}[name]
    ps = PlatformSettings(
        name=name,
        url=_base_url(f"{up}_URL", environ),
        email=_env(f"{up}_EMAIL", environ),
        api_token=_secret(token_var, environ),
        webhook_secrets=tuple(secrets),
        user_id=_env(f"{up}_USER_ID", environ),
        rate_per_minute=_int(f"{up}_RATE_PER_MINUTE", environ, 0, minimum=0),
    )
    has_any = ps.url or ps.api_token or (ps.email and name != "freshdesk")
    if has_any and not ps.configured:
        needed = [f"{up}_URL", token_var] + ([] if name == "freshdesk" else [f"{up}_EMAIL"])
        missing = [v for v in needed if not _env(v, environ)]
        raise SettingsError(f"{name} is partly configured: set {', '.join(missing)} too (or unset all for dry-run)")
    return ps


_MARKER_MATERIAL = ("ZENDESK_API_TOKEN", "GORGIAS_API_KEY", "FRESHDESK_API_KEY")


def marker_secret(environ: dict[str, str]) -> SecretStr:
    """The key of the marker that identifies the notes the sidecar writes.

    ``SIDECAR_MARKER_SECRET`` when set (recommended: any long random string, the same for the web
    and worker processes). Otherwise derived (HMAC-SHA256) from the helpdesk API credentials that
    are set, which every process of a live deployment shares; rotating one of them then changes
    the key, and older notes are recognised by their author (the API user) only. With no
    credentials at all (every platform dry-run, the demo) a random per-process key: nothing is
    written to a real helpdesk, so no note of ours can come back through a webhook.
    """
    explicit = _env("SIDECAR_MARKER_SECRET", environ)
    if explicit:
        return SecretStr(explicit)
    material = [f"{n}={_env(n, environ)}" for n in _MARKER_MATERIAL if _env(n, environ)]
    if material:
        mac = hmac.new(b"sidecar-marker-v1", "\x1f".join(material).encode("utf-8"), hashlib.sha256)
        return SecretStr(mac.hexdigest())
    return SecretStr(secrets.token_hex(32))


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate settings from ``environ`` (default ``os.environ``)."""
    env = dict(os.environ if environ is None else environ)
    platforms = {n: _platform(n, env) for n in ("zendesk", "gorgias", "freshdesk")}
    allow_unsigned = _env("SIDECAR_ALLOW_UNSIGNED", env) in ("1", "true", "yes")
    # A platform without its webhook secret is not a start-up error: when any platform is live its
    # webhooks are refused with 401 (fail closed, per platform) and create_app logs why.
    kb_embeddings = (_env("KB_EMBEDDINGS", env) or "local").lower()
    if kb_embeddings not in ("local", "openai"):
        raise SettingsError("KB_EMBEDDINGS must be 'local' or 'openai'")
    if kb_embeddings == "openai" and not _env("OPENAI_API_KEY", env):
        raise SettingsError("KB_EMBEDDINGS=openai needs OPENAI_API_KEY")
    from knowledge.embedding import resolve_model

    try:
        embedding_model = resolve_model(_env("SIDECAR_EMBEDDING_MODEL", env))
    except ValueError as exc:
        raise SettingsError(f"SIDECAR_EMBEDDING_MODEL: {exc}") from None
    # The knowledge base keeps MiniLM unless told; a MiniLM triage means MiniLM everywhere.
    kb_model_env = _env("SIDECAR_KB_EMBEDDING_MODEL", env)
    try:
        kb_embedding_model = resolve_model(kb_model_env) if kb_model_env else "all-MiniLM-L6-v2"
    except ValueError as exc:
        raise SettingsError(f"SIDECAR_KB_EMBEDDING_MODEL: {exc}") from None
    openai_base = _env("OPENAI_BASE_URL", env)
    if openai_base and urlparse(openai_base).scheme not in ("http", "https"):
        raise SettingsError("OPENAI_BASE_URL must be an http(s) URL")
    llm_prices: dict[str, tuple[float, float]] = {}
    raw_prices = _env("SIDECAR_LLM_PRICES", env)
    if raw_prices:
        try:
            llm_prices = {str(m): (float(p[0]), float(p[1])) for m, p in json.loads(raw_prices).items()}
        except (ValueError, TypeError, IndexError, AttributeError, KeyError):
            raise SettingsError('SIDECAR_LLM_PRICES must be JSON like {"gpt-4o-mini": [0.15, 0.6]} '
                                "(USD per 1M input and output tokens)") from None
    if _env("SLACK_SIGNING_SECRET_PREVIOUS", env) and not _env("SLACK_SIGNING_SECRET", env):
        raise SettingsError("SLACK_SIGNING_SECRET_PREVIOUS is set without SLACK_SIGNING_SECRET")
    slack_api = _env("SLACK_API_URL", env)
    if slack_api and urlparse(slack_api).scheme not in ("http", "https"):
        raise SettingsError("SLACK_API_URL must be an http(s) URL")
    return Settings(
        redis_url=_env("REDIS_URL", env),
        zendesk_signature_tolerance=_int("ZENDESK_SIGNATURE_TOLERANCE", env, 300, minimum=0),
        allow_unsigned=allow_unsigned,
        marker_secret=marker_secret(env),
        openai_api_key=_secret("OPENAI_API_KEY", env),
        openai_base_url=openai_base,
        openai_model=_env("OPENAI_MODEL", env) or "gpt-4o-mini",
        llm_prices=llm_prices,
        slack_bot_token=_secret("SLACK_BOT_TOKEN", env),
        slack_channel=_env("SLACK_CHANNEL", env),
        slack_api_url=slack_api,
        slack_signing_secrets=tuple(s for s in (_secret("SLACK_SIGNING_SECRET", env),
                                                _secret("SLACK_SIGNING_SECRET_PREVIOUS", env)) if s),
        slack_signature_tolerance=_int("SLACK_SIGNATURE_TOLERANCE", env, 300, minimum=1),
        sentry_dsn=_secret("SENTRY_DSN", env),
        chroma_path=_env("CHROMA_PATH", env) or str(Path(_env("SIDECAR_VAR", env) or "var") / "chroma"),
        kb_embeddings=kb_embeddings,
        embedding_model=embedding_model,
        kb_embedding_model=kb_embedding_model,
        triage_minilm=_tristate("SIDECAR_TRIAGE_MINILM", env) is True,
        # On by default (unset or auto); 0 / false / no / off turns it off; anything else is refused.
        triage_english=_tristate("SIDECAR_TRIAGE_ENGLISH", env) is not False,
        draft_cross_encoder=_tristate("SIDECAR_DRAFT_CROSS_ENCODER", env) is True,
        # Read where the vectors are looked up (knowledge.seed.enabled); a typo is refused here, at start.
        embedding_seed=_tristate("SIDECAR_EMBEDDING_SEED", env) is not False,
        kb_multilingual=_tristate("SIDECAR_KB_MULTILINGUAL", env),
        kb_glossary=_tristate("SIDECAR_KB_GLOSSARY", env) is not False,
        openai_embedding_model=_env("OPENAI_EMBEDDING_MODEL", env) or "text-embedding-3-small",
        chroma_url=_env("CHROMA_URL", env),
        config_dir=_env("SIDECAR_CONFIG", env) or "config",
        var_dir=_env("SIDECAR_VAR", env) or "var",
        database_url=_secret("DATABASE_URL", env),
        ops_token=_secret("OPS_TOKEN", env),
        metrics_token=_secret("METRICS_TOKEN", env),
        max_body_bytes=_int("SIDECAR_MAX_BODY_BYTES", env, 1_000_000, minimum=1),
        dedupe_ttl=_int("SIDECAR_DEDUPE_TTL", env, 7 * 24 * 3600, minimum=1),
        queue_name=_env("SIDECAR_QUEUE", env) or "sidecar",
        job_timeout=_int("SIDECAR_JOB_TIMEOUT", env, 300, minimum=1),
        **platforms,
    )


def _tristate(name: str, env: dict[str, str]) -> bool | None:
    """An on/off variable that may be left unset (None: the default decides)."""
    raw = (_env(name, env) or "").strip().lower()
    if not raw or raw == "auto":
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1, 0 or auto (got {raw!r})")


_settings: Settings | None = None


def get_settings() -> Settings:
    """Process-wide settings (read once; tests call :func:`reset_settings`)."""
    global _settings
    if _settings is None:
        _settings = load_settings()
        apply_process_settings(_settings)
    return _settings


def apply_process_settings(settings: Settings) -> None:
    """Process-wide choices that live below the settings (the local embedding model, its graph cache)."""
    from knowledge import glossary, graph_cache
    from knowledge.cross_encoder import select_cross_encoder
    from knowledge.embedding import (
        select_companion,
        select_english_triage,
        select_kb_model,
        select_kb_multilingual,
        select_model,
    )

    graph_cache.set_folder(Path(settings.var_dir) / "model_cache")

    select_model(settings.embedding_model)
    select_kb_model(settings.kb_embedding_model)
    select_companion(settings.triage_minilm)
    select_english_triage(settings.triage_english)
    select_kb_multilingual(settings.kb_multilingual)
    select_cross_encoder(settings.draft_cross_encoder)
    glossary.select(settings.kb_glossary)


def reset_settings() -> None:
    global _settings
    _settings = None
