"""CLI commands (ops): ``python -m app stats [--since 7d] [--json]``.

``register(sub)`` adds the subcommands; each sets ``func`` (``func(args) -> int`` exit code).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = sub.add_parser("stats", help="decision-log figures: volume, coverage, acceptance, escalations, timing, cost")
    p.add_argument("--since", default="7d", help="window start: 7d, 12h, 30m, 2w or an ISO date (default 7d)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_stats)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def format_stats(s: dict[str, Any]) -> str:
    """The human-readable report of :func:`app.store.queries.compute_stats` figures."""
    t0 = time.strftime("%Y-%m-%d %H:%M", time.gmtime(s["since"]))
    t1 = time.strftime("%Y-%m-%d %H:%M", time.gmtime(s["until"]))
    lines = [f"Decision log {t0} → {t1} UTC",
             f"  events: {s['events']}  processed: {s['processed']}  failed: {s['failed']}  "
             f"skipped: {s['skipped']}  tickets: {s['tickets']}", ""]

    def table(title: str, counts: dict[str, int]) -> None:
        lines.append(title)
        if not counts:
            lines.append("  (none)")
        width = max((len(k) for k in counts), default=0)
        for k, n in counts.items():
            lines.append(f"  {k:<{width}}  {n}")
        lines.append("")

    table("Volume by intent", s["by_intent"])
    table("Volume by channel", s["by_channel"])
    c = s["coverage"]
    lines += [f"Automation coverage: {_pct(c['share'])} ({c['tickets_with_draft']} of {c['tickets']} tickets "
              "have a draft)", ""]
    f = s["feedback"]
    lines.append(f"Draft acceptance: {_pct(f['acceptance'])} of {f['total']} drafts with feedback "
                 f"(sent as is {_pct(f['sent_as_is_share'])})")
    for k, n in f["counts"].items():
        lines.append(f"  {k:<10}  {n}")
    lines.append("")
    table("Escalations by reason", s["escalations"])
    sl = s.get("slack") or {}
    tta = sl.get("median_time_to_acknowledge")
    lines.append(f"Slack: {sl.get('notes', 0)} thread replies noted, {sl.get('taken', 0)} taken "
                 f"({sl.get('take_failed', 0)} could not be assigned), {sl.get('acknowledged', 0)} acknowledged; "
                 f"median time to acknowledge {'n/a' if tta is None else f'{tta / 60:.1f} min'}")
    m = s["median_webhook_to_note"]
    lines.append(f"Median webhook → note: {'n/a' if m is None else f'{m:.1f} s'}")
    llm = s["llm"]
    cpt = llm["cost_per_ticket"]
    lines.append(f"LLM: {llm['tokens_in']} tokens in, {llm['tokens_out']} out, ${llm['cost_usd']:.4f} total, "
                 f"{'n/a' if cpt is None else f'${cpt:.4f}'} per ticket")
    if s["failures"]:
        lines += ["", "Failed events (latest first)"]
        for x in s["failures"][:20]:
            lines.append(f"  {x['platform']} ticket {x['ticket_id']} event {x['event_id']}: {x['error']}")
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the stats for ``--since``; exit code 2 on a bad ``--since``."""
    from app.settings import get_settings
    from app.store.decisions import store_for
    from app.store.queries import compute_stats, parse_since

    out = out or sys.stdout
    try:
        since = parse_since(args.since)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    s = compute_stats(store_for(get_settings()), since)
    if getattr(args, "json", False):
        out.write(json.dumps(s, indent=2, sort_keys=True) + "\n")
    else:
        out.write(format_stats(s) + "\n")
    return 0
