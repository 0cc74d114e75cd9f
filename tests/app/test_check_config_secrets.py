"""check-config warns about short shared webhook secrets, without ever printing them."""

from __future__ import annotations

from app.commands.checks import MIN_SECRET_CHARS, weak_secret_warnings
from tests.app.test_cli import _env, run


def test_check_config_warns_about_a_short_webhook_token_without_printing_it(tmp_path):
    short = "hunter2-x"  # 9 characters
    r = run("check-config", env=_env(tmp_path, GORGIAS_WEBHOOK_TOKEN=short,
                                     FRESHDESK_WEBHOOK_TOKEN="a-long-enough-random-token-0123456789",
                                     ZENDESK_WEBHOOK_SECRET_PREVIOUS="  tiny  "))
    assert r.returncode == 0, r.stderr  # a warning, not an invalid config
    out = r.stdout + r.stderr
    assert "GORGIAS_WEBHOOK_TOKEN is shorter than 16 characters" in out
    assert "ZENDESK_WEBHOOK_SECRET_PREVIOUS is shorter than 16 characters" in out
    assert "FRESHDESK_WEBHOOK_TOKEN" not in out
    assert short not in out and "tiny" not in out and " 9 " not in out


def test_the_limit_is_on_the_stripped_value_and_long_secrets_pass():
    assert weak_secret_warnings({"GORGIAS_WEBHOOK_TOKEN": "x" * MIN_SECRET_CHARS}) == []
    assert weak_secret_warnings({"GORGIAS_WEBHOOK_TOKEN": " " * 20 + "x" * (MIN_SECRET_CHARS - 1)})
    assert weak_secret_warnings({"FRESHDESK_WEBHOOK_TOKEN": "", "ZENDESK_WEBHOOK_SECRET": "   "}) == []  # unset
    # Multi-byte characters count as characters, not bytes.
    assert weak_secret_warnings({"FRESHDESK_WEBHOOK_TOKEN": "é" * 10})


def test_no_warning_without_secrets(tmp_path):
    r = run("check-config", env=_env(tmp_path))
    assert r.returncode == 0 and "shorter than" not in r.stdout + r.stderr


def test_check_config_says_what_tickets_without_a_brand_see(tmp_path):
    from knowledge.chunking import Document
    from knowledge.ingest import ingest_documents
    from knowledge.store import KnowledgeStore

    store = KnowledgeStore(path=str(tmp_path / "var" / "chroma"))
    ingest_documents(store, [Document("a", "A returns", "Brand A takes returns for 60 days.", brand="101"),
                             Document("b", "B returns", "Brand B takes returns for 14 days.", brand="202")],
                     origin="test", progress=False)
    r = run("check-config", env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "brands: several (101, 202)" in r.stdout and "unbranded documents" in r.stdout
    # No store at all: no note, no store created by the check.
    r = run("check-config", env=_env(tmp_path / "empty"))
    assert r.returncode == 0 and "brands:" not in r.stdout and not (tmp_path / "empty" / "var" / "chroma").exists()


def test_check_config_warns_about_a_brand_override_without_a_platform_when_several_helpdesks_are_set_up(tmp_path):
    # Brand ids are each helpdesk's own numbers: "brand: 101" alone also gives Freshdesk product 101's
    # tickets Zendesk brand 101's rules (auto-reply included).
    import shutil

    from tests.app.test_cli import ROOT

    cfg = tmp_path / "config"
    shutil.copytree(ROOT / "config", cfg)
    rules = cfg / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + """
overrides:
  - match: {brand: "101"}
    intents:
      order_status: {auto_reply: false}
  - match: {platform: zendesk, brand: "202"}
    intents:
      order_status: {auto_reply: false}
""", encoding="utf-8")
    two = {"SIDECAR_CONFIG": str(cfg), "ZENDESK_WEBHOOK_SECRET": "z" * 32, "FRESHDESK_WEBHOOK_TOKEN": "f" * 32}
    r = run("check-config", env=_env(tmp_path, **two))
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "override #1 matches brand '101' without a platform" in out and "zendesk, freshdesk" in out
    assert "'202'" not in out  # scoped by its platform
    one = {"SIDECAR_CONFIG": str(cfg), "ZENDESK_WEBHOOK_SECRET": "z" * 32}
    r = run("check-config", env=_env(tmp_path, **one))
    assert r.returncode == 0 and "without a platform" not in r.stdout + r.stderr  # one helpdesk: unambiguous
