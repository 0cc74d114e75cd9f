"""intents.yaml / rules.yaml: validation names file, intent and field; hot reload keeps the last good config."""

from __future__ import annotations

import logging
import os
import shutil
import time

import pytest

from pipeline.config import ConfigError, ConfigHolder, load_config
from tests.conftest import ROOT


@pytest.fixture
def cfg_dir(tmp_path):
    d = tmp_path / "config"
    shutil.copytree(ROOT / "config", d, ignore=shutil.ignore_patterns("knowledge"))
    return d


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
    # mtime granularity can be coarse: make sure the change is seen.
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 2))


def test_shipped_config_is_valid():
    cfg = load_config(ROOT / "config")
    assert cfg.intents.oos_intent in cfg.intent_names
    for name in ("return_refund", "cancel_order", "change_order", "account_change", "billing"):
        assert cfg.is_sensitive(name)
    assert not any((cfg.rule_for(n).get("auto_reply") or {}).get("enabled") for n in cfg.intent_names)


@pytest.mark.parametrize("file,old,new,expected", [
    ("rules.yaml", "  return_refund:\n    priority_floor: normal", "  return_refund:\n    auto_reply: {enabled: true}",
     "rules.yaml: intent 'return_refund': auto_reply.enabled"),
    ("rules.yaml", "  cancel_order:\n    priority_floor: high", "  cancel_order:\n    priority_floor: soon",
     "rules.yaml: intent 'cancel_order': priority_floor"),
    ("rules.yaml", "  complaint:\n    priority_floor: high", "  complaint:\n    prioritee: high",
     "rules.yaml: intent 'complaint': prioritee"),
    ("rules.yaml", "  complaint:\n    priority_floor: high", "  complaints:\n    priority_floor: high",
     "intent 'complaints': not defined in intents.yaml"),
    ("rules.yaml", "version: 1", "version: 2", "rules.yaml: version"),
    ("intents.yaml", "oos_intent: other", "oos_intent: nothing", "oos_intent 'nothing'"),
    ("intents.yaml", "  product_question:\n    description", "  product_question:\n    sensitive: maybe\n    description",
     "intents.yaml: intent 'product_question': sensitive"),
    ("rules.yaml", "auto_reply: {enabled: false, min_confidence: 0.9}", "auto_reply: {enabled: true, min_confidence: 0.9}",
     "defaults: auto_reply.enabled"),
])
def test_invalid_config_names_file_intent_and_field(cfg_dir, file, old, new, expected):
    _edit(cfg_dir / file, old, new)
    with pytest.raises(ConfigError) as exc:
        load_config(cfg_dir)
    assert expected in str(exc.value)


def test_always_sensitive_names_cannot_be_unflagged(cfg_dir):
    _edit(cfg_dir / "intents.yaml", "  cancel_order:\n    description: Cancel an order before it ships.\n    sensitive: true",
          "  cancel_order:\n    description: Cancel an order before it ships.\n    sensitive: false")
    _edit(cfg_dir / "rules.yaml", "  cancel_order:\n    priority_floor: high", "  cancel_order:\n    auto_reply: {enabled: true}")
    with pytest.raises(ConfigError, match="cancel_order"):
        load_config(cfg_dir)


def test_not_yaml_is_reported_with_the_file(cfg_dir):
    (cfg_dir / "rules.yaml").write_text("version: 1\nintents: [unclosed\n")
    with pytest.raises(ConfigError, match="rules.yaml: not valid YAML"):
        load_config(cfg_dir)


def test_hot_reload_valid_change_takes_effect(cfg_dir):
    holder = ConfigHolder(cfg_dir)
    assert holder.get().rule_for("order_status").get("priority") is None
    _edit(cfg_dir / "rules.yaml", "  order_status:\n    tags: [ai-wismo]", "  order_status:\n    tags: [ai-wismo]\n    priority: low")
    assert holder.get().rule_for("order_status")["priority"] == "low"


def test_hot_reload_invalid_change_keeps_last_good_and_logs_why(cfg_dir, caplog):
    holder = ConfigHolder(cfg_dir)
    before = holder.get()
    _edit(cfg_dir / "rules.yaml", "  return_refund:\n    priority_floor: normal", "  return_refund:\n    auto_reply: {enabled: true}")
    with caplog.at_level(logging.ERROR):
        after = holder.get()
    assert after is before
    assert "rules.yaml: intent 'return_refund': auto_reply.enabled" in caplog.text
    assert "keeping the last good config" in caplog.text
    assert "return_refund" in holder.last_error
    # Fixing the file is picked up again.
    time.sleep(0.01)
    _edit(cfg_dir / "rules.yaml", "  return_refund:\n    auto_reply: {enabled: true}", "  return_refund:\n    priority_floor: high")
    assert holder.get().rule_for("return_refund")["priority_floor"] == "high"


def test_override_per_platform_and_brand(cfg_dir):
    text = (cfg_dir / "rules.yaml").read_text() + """
overrides:
  - match: {platform: gorgias, brand: outdoor}
    intents:
      order_status:
        tags: [outdoor-wismo]
        priority: high
"""
    (cfg_dir / "rules.yaml").write_text(text)
    cfg = load_config(cfg_dir)
    assert cfg.rule_for("order_status", "gorgias", "outdoor")["priority"] == "high"
    assert "outdoor-wismo" in cfg.rule_for("order_status", "gorgias", "outdoor")["tags"]
    assert "ai-processed" in cfg.rule_for("order_status", "gorgias", "outdoor")["tags"]
    assert cfg.rule_for("order_status", "zendesk", "outdoor").get("priority") is None


def test_drafting_yaml_is_validated_too(cfg_dir):
    shutil.copy(ROOT / "config" / "drafting.yaml", cfg_dir / "drafting.yaml")
    load_config(cfg_dir)
    _edit(cfg_dir / "drafting.yaml", "max_sources: 4", "max_sources: lots")
    with pytest.raises(ConfigError, match="drafting.yaml: max_sources"):
        load_config(cfg_dir)
    _edit(cfg_dir / "drafting.yaml", "max_sources: lots", "max_sources: 4\nintro_typo: {}")
    with pytest.raises(ConfigError, match="drafting.yaml: intro_typo"):
        load_config(cfg_dir)


def test_auto_reply_true_shorthand_is_accepted(cfg_dir):
    _edit(cfg_dir / "rules.yaml", "  order_status:\n    tags: [ai-wismo]",
          "  order_status:\n    tags: [ai-wismo]\n    auto_reply: true")
    cfg = load_config(cfg_dir)
    assert cfg.rule_for("order_status")["auto_reply"] == {"enabled": True, "min_confidence": 0.9}
    assert not cfg.rule_for("delivery_problem")["auto_reply"]["enabled"]


@pytest.mark.parametrize("intent,anchor", [("return_refund", "priority_floor: normal"),
                                           ("cancel_order", "priority_floor: high"),
                                           ("account_change", "{}")])
def test_auto_reply_true_shorthand_is_still_refused_on_sensitive_intents(cfg_dir, intent, anchor):
    if anchor == "{}":
        _edit(cfg_dir / "rules.yaml", f"  {intent}: {{}}", f"  {intent}:\n    auto_reply: true")
    else:
        _edit(cfg_dir / "rules.yaml", f"  {intent}:\n    {anchor}", f"  {intent}:\n    auto_reply: true")
    with pytest.raises(ConfigError) as exc:
        load_config(cfg_dir)
    assert f"rules.yaml: intent '{intent}': auto_reply.enabled: sensitive intents can never be auto-replied" in str(exc.value)


@pytest.mark.parametrize("value", ["enabled", "1", "[true]", '"true"'])
def test_auto_reply_of_another_shape_says_what_to_write(cfg_dir, value):
    _edit(cfg_dir / "rules.yaml", "  order_status:\n    tags: [ai-wismo]",
          f"  order_status:\n    tags: [ai-wismo]\n    auto_reply: {value}")
    with pytest.raises(ConfigError) as exc:
        load_config(cfg_dir)
    msg = str(exc.value)
    assert "rules.yaml: intent 'order_status': auto_reply" in msg
    assert "auto_reply: true" in msg and "{enabled: true, min_confidence: 0.9}" in msg
