"""CLI: ``python -m app backtest --platform zendesk|gorgias|freshdesk --since 30d [...]``.

Prints progress on stderr, a short human summary, and the JSON summary as the very last stdout
line. Exit codes: 0 done, 1 stopped (error or interrupted: ``--resume`` continues), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)


def _share(v: str) -> float:
    try:
        f = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number in (0, 1]") from None
    if not 0 < f <= 1:
        raise argparse.ArgumentTypeError("expected a number in (0, 1]")
    return f


def _positive(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a positive integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return n


def _load_config(settings, rules: str | None):
    from pipeline.config import load_config

    return load_config(settings.config_dir, rules_file=rules)


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run (or resume) a backtest and write its report."""
    from app.backtest.labels import load_backtest_config
    from app.backtest.runner import Backtest, BacktestError, RunArgs, load_checkpoint, parse_since
    from app.settings import SettingsError, get_settings
    from pipeline.config import ConfigError

    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.resume:
            cp = load_checkpoint(settings.var_dir, args.platform)
            run_args = RunArgs(**cp["args"])
            position = cp.get("position")
            print(f"resuming the {args.platform} backtest into {run_args.out}", file=sys.stderr)
        else:
            now = datetime.now(UTC).replace(microsecond=0)
            since = parse_since(args.since, now)
            out = args.out or str(Path(settings.var_dir) / "backtest" / now.strftime("%Y%m%dT%H%M%SZ"))
            if args.rules and not Path(args.rules).is_file():
                print(f"--rules {args.rules}: no such file", file=sys.stderr)
                return 2
            run_args = RunArgs(platform=args.platform, since=since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               until=now.strftime("%Y-%m-%dT%H:%M:%SZ"), out=out, limit=args.limit,
                               rules=str(Path(args.rules).resolve()) if args.rules else None,
                               every_message=args.every_message, local=args.local,
                               budget_share=args.budget_share, max_cost=args.max_cost)
            position = None
        cfg = _load_config(settings, run_args.rules)
        bt_path = args.labels or str(Path(settings.config_dir) / "backtest.yaml")
        bt_cfg = load_backtest_config(bt_path, set(cfg.intent_names))
        run = Backtest(run_args, settings=settings, cfg=cfg, bt_cfg=bt_cfg,
                       progress=False if args.no_progress else None)
        summary = run.run(position)
    except ConfigError as exc:
        print(f"invalid config:\n{exc}", file=sys.stderr)
        return 2
    except BacktestError as exc:
        print(f"backtest stopped: {exc}", file=sys.stderr)
        return 1
    _print_human(summary)
    print(json.dumps(summary, ensure_ascii=False, separators=(",", ":")), flush=True)
    return 0


def _print_human(summary: dict) -> None:
    t, lab, ar = summary["tickets"], summary["labels"], summary["auto_reply"]
    print(f"replayed {t['processed']} tickets ({t['skipped']} skipped, {t['failed']} failed); "
          f"labelled {lab['labelled']}, intent accuracy {lab['accuracy']}; "
          f"auto-replies under these rules {ar['would_send']} (agreement {ar['precision']})")
    for i in summary["intents"]:
        if i["tickets"]:
            print(f"  {i['intent']:18s} {i['tickets']:6d}  {i['recommendation']}")
    print(f"report: {summary['files']['html']}\ncsv:    {summary['files']['csv']}\n"
          f"review: {summary['files']['review']} (then: python -m app intents learn --from-backtest "
          f"{Path(summary['files']['html']).parent})")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``backtest``."""
    p = sub.add_parser("backtest", help="replay the store's own solved tickets offline and report (read-only)")
    p.add_argument("--platform", required=True, choices=["zendesk", "gorgias", "freshdesk"])
    p.add_argument("--since", default="30d", help="window start: 30d, 12h, 2w or an ISO date (default 30d)")
    p.add_argument("--limit", type=_positive, help="stop after this many replayed tickets")
    p.add_argument("--rules", help="a candidate rules.yaml to try instead of the live one")
    p.add_argument("--out", help="report folder (default var/backtest/<timestamp>/)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run of this platform")
    p.add_argument("--every-message", action="store_true", help="replay every customer message, not only the first")
    p.add_argument("--local", action="store_true", help="local models only, even with OPENAI_API_KEY set")
    p.add_argument("--max-cost", type=float, help="stop (resumable) once the LLM cost reaches this many USD")
    p.add_argument("--budget-share", type=_share, default=0.5,
                   help="share of the helpdesk's API budget the backtest may use (default 0.5: production keeps half)")
    p.add_argument("--labels", help="label mapping file (default <config>/backtest.yaml)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_backtest)
