"""Settings from the environment (12-factor), validated once at start-up.

Secrets live only here, read from env; they never appear in logs, ``repr`` or error messages
(pydantic ``SecretStr``). A platform whose URL or credentials are missing runs in dry-run.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
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


def _int(name: str, environ: dict[str, str], default: int) -> int:
    v = _env(name, environ)
    if v is None:
        return default
    try:
        return int(v)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None


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


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    redis_url: str | None = None
    zendesk: PlatformSettings
    gorgias: PlatformSettings
    freshdesk: PlatformSettings
    zendesk_signature_tolerance: int = 300  # seconds between the signed timestamp and now
    allow_unsigned: bool = False
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    llm_prices: dict[str, tuple[float, float]] = {}  # model -> (input, output) USD per 1M tokens, over defaults
    slack_bot_token: SecretStr | None = None
    slack_channel: str | None = None
    slack_api_url: str | None = None
    sentry_dsn: SecretStr | None = None
    chroma_path: str = "var/chroma"
    chroma_url: str | None = None
    kb_embeddings: str = "local"  # local | openai
    embedding_model: str = "multilingual-e5-small"  # local model: multilingual-e5-small | all-MiniLM-L6-v2
    openai_embedding_model: str = "text-embedding-3-small"
    config_dir: str = "config"
    var_dir: str = "var"
    database_url: SecretStr | None = None
    ops_token: SecretStr | None = None
    max_body_bytes: int = 1_000_000
    dedupe_ttl: int = 7 * 24 * 3600
    queue_name: str = "sidecar"
    job_timeout: int = 300

    def platform(self, name: str) -> PlatformSettings:
        return getattr(self, name)

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
    def outbox_dir(self) -> Path:
        return Path(self.var_dir) / "outbox"


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
        rate_per_minute=_int(f"{up}_RATE_PER_MINUTE", environ, 0),
    )
    has_any = ps.url or ps.api_token or (ps.email and name != "freshdesk")
    if has_any and not ps.configured:
        needed = [f"{up}_URL", token_var] + ([] if name == "freshdesk" else [f"{up}_EMAIL"])
        missing = [v for v in needed if not _env(v, environ)]
        raise SettingsError(f"{name} is partly configured: set {', '.join(missing)} too (or unset all for dry-run)")
    return ps


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate settings from ``environ`` (default ``os.environ``)."""
    env = dict(os.environ if environ is None else environ)
    platforms = {n: _platform(n, env) for n in ("zendesk", "gorgias", "freshdesk")}
    allow_unsigned = _env("SIDECAR_ALLOW_UNSIGNED", env) in ("1", "true", "yes")
    # A live platform without its webhook secret is not a start-up error: its webhooks are
    # refused with 401 (fail closed, per platform) and create_app logs why.
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
    slack_api = _env("SLACK_API_URL", env)
    if slack_api and urlparse(slack_api).scheme not in ("http", "https"):
        raise SettingsError("SLACK_API_URL must be an http(s) URL")
    return Settings(
        redis_url=_env("REDIS_URL", env),
        zendesk_signature_tolerance=_int("ZENDESK_SIGNATURE_TOLERANCE", env, 300),
        allow_unsigned=allow_unsigned,
        openai_api_key=_secret("OPENAI_API_KEY", env),
        openai_base_url=openai_base,
        openai_model=_env("OPENAI_MODEL", env) or "gpt-4o-mini",
        llm_prices=llm_prices,
        slack_bot_token=_secret("SLACK_BOT_TOKEN", env),
        slack_channel=_env("SLACK_CHANNEL", env),
        slack_api_url=slack_api,
        sentry_dsn=_secret("SENTRY_DSN", env),
        chroma_path=_env("CHROMA_PATH", env) or str(Path(_env("SIDECAR_VAR", env) or "var") / "chroma"),
        kb_embeddings=kb_embeddings,
        embedding_model=embedding_model,
        openai_embedding_model=_env("OPENAI_EMBEDDING_MODEL", env) or "text-embedding-3-small",
        chroma_url=_env("CHROMA_URL", env),
        config_dir=_env("SIDECAR_CONFIG", env) or "config",
        var_dir=_env("SIDECAR_VAR", env) or "var",
        database_url=_secret("DATABASE_URL", env),
        ops_token=_secret("OPS_TOKEN", env),
        max_body_bytes=_int("SIDECAR_MAX_BODY_BYTES", env, 1_000_000),
        dedupe_ttl=_int("SIDECAR_DEDUPE_TTL", env, 7 * 24 * 3600),
        queue_name=_env("SIDECAR_QUEUE", env) or "sidecar",
        job_timeout=_int("SIDECAR_JOB_TIMEOUT", env, 300),
        **platforms,
    )


_settings: Settings | None = None


def get_settings() -> Settings:
    """Process-wide settings (read once; tests call :func:`reset_settings`)."""
    global _settings
    if _settings is None:
        _settings = load_settings()
        apply_process_settings(_settings)
    return _settings


def apply_process_settings(settings: Settings) -> None:
    """Process-wide choices that live below the settings (the local embedding model)."""
    from knowledge.embedding import select_model

    select_model(settings.embedding_model)


def reset_settings() -> None:
    global _settings
    _settings = None
