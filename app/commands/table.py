"""The intents × actions table printed by ``check-config``."""

from __future__ import annotations

from pipeline.config import Config


def config_table(cfg: Config, platform: str = "zendesk") -> str:
    headers = ["intent", "sensitive", "enabled", "draft", "min_conf", "auto_reply", "priority", "tags", "escalate"]
    rows = []
    for name in cfg.intent_names:
        r = cfg.rule_for(name, platform)
        ar = r.get("auto_reply") or {}
        esc = r.get("escalate") or {}
        prio = r.get("priority") or (f"≥{r['priority_floor']}" if r.get("priority_floor") else "-")
        esc_bits = [k for k in ("always", "on_asks_for_human", "on_very_negative", "on_low_confidence") if esc.get(k)]
        if esc.get("on_priority"):
            esc_bits.append(f"prio≥{esc['on_priority']}")
        rows.append([
            name, "YES" if cfg.is_sensitive(name) else "no", "yes" if r.get("enabled", True) else "NO",
            "yes" if r.get("draft", True) else "no", f"{r.get('min_confidence', 0):.2f}",
            f"≥{ar.get('min_confidence', 0.9):.2f}" if ar.get("enabled") else "off", prio,
            " ".join(r.get("tags") or []), ",".join(esc_bits).replace("on_", "") or "-",
        ])
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])
