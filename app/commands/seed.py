"""CLI: ``python -m app seed build|check`` — the shipped embedding seed (:mod:`knowledge.seed`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def cmd_build(args: argparse.Namespace) -> int:
    """Embed the default config's texts with the real models and write knowledge/seed/*.npz."""
    from knowledge import seed, seed_build

    t0 = time.monotonic()
    written = seed_build.build(args.config, Path(args.out) if args.out else None)
    for model_id, n in written.items():
        if model_id == seed_build.CALIBRATION:
            print(f"{model_id}: written to pipeline/data/classifier_seed/")
            continue
        path = seed.path_for(model_id, Path(args.out) if args.out else None)
        print(f"{path}: {n} vectors ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"built in {time.monotonic() - t0:.1f} s")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 1 when a default text has no vector in the seed (a start would embed it: slower, still correct)."""
    from knowledge import seed, seed_build

    gaps = seed_build.missing(args.config, Path(args.out) if args.out else None)
    for model_id, texts in gaps.items():
        print(f"{model_id}: {len(texts)} default texts missing from the seed")
        for t in texts[:5]:
            print(f"    {t[:100]!r}")
    stale_cv = seed_build.calibration_missing(args.config)
    if stale_cv:
        print(f"{seed_build.CALIBRATION}: none shipped for the default intents (a first start runs the CV pass)")
    if any(gaps.values()) or stale_cv:
        print(f"rebuild it: {seed.BUILD_COMMAND}", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``seed`` command group."""
    p = sub.add_parser("seed", help="the shipped embedding seed of the default config (faster first start)")
    ps = p.add_subparsers(dest="seed_command", required=True)
    for name, func, text in (
            ("build", cmd_build, "embed the default intents, sentiment examples and sample knowledge base; "
                                 "write knowledge/seed/<model>.npz (run after editing them)"),
            ("check", cmd_check, "say which default texts the seed lacks (exit 1 if any)")):
        q = ps.add_parser(name, help=text)
        q.add_argument("--config", default="config", help="config folder whose texts are seeded (default: config)")
        q.add_argument("--out", help="seed folder (default: knowledge/seed)")
        q.set_defaults(func=func)
