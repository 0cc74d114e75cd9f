"""CLI commands (classifier). `register(sub)` adds subcommands to `python -m app`.

- ``intents learn FILE.csv [--text-column text] [--label-column label]``: add labeled history
  (e.g. exported past tickets) to the store the local model trains on
  (``<SIDECAR_VAR>/learned_examples.jsonl``); labels must be configured intents.
- ``intents learn --from-backtest DIR``: the same from a backtest's ``labels_review.csv``, only
  the rows a reviewer approved (``approve`` = yes).
- ``eval --train TRAIN.csv --test TEST.csv [...]``: fit on TRAIN only, score TEST, print the
  figures and, as the very last line, the same figures as one JSON object.

Each subcommand sets ``func``: call ``args.func(args)``, which returns the exit code.
Standalone: ``python -m app.commands.classifier eval ...``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

log = logging.getLogger(__name__)


def _add_columns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-column", default="text", help="CSV column holding the message text (default: text)")
    p.add_argument("--label-column", default="label", help="CSV column holding the intent label (default: label)")


def cmd_learn(args: argparse.Namespace) -> int:
    """Validate a labeled CSV against the configured intents and append the good rows to the store."""
    from app.evaluate import LabeledDataError, read_labeled_csv
    from app.settings import get_settings
    from pipeline.config import ConfigError, load_config
    from pipeline.local_classifier import learned_path, load_learned

    settings = get_settings()
    if bool(args.file) == bool(args.from_backtest):
        print("error: give either FILE.csv or --from-backtest DIR", file=sys.stderr)
        return 2
    try:
        cfg = load_config(settings.config_dir)
        if args.from_backtest:
            from app.backtest.learn import approved_examples

            data, waiting = approved_examples(args.from_backtest)
            source = f"{args.from_backtest}/labels_review.csv"
            if not data.texts:
                print(f"{source}: no approved rows ({waiting} waiting for review). Nothing is learned blindly: "
                      "write yes in the approve column of the rows that are right (fix the label where the agents' "
                      "was wrong), then run this again.", file=sys.stderr)
                return 1
            args.file = source
        else:
            data = read_labeled_csv(args.file, args.text_column, args.label_column)
    except (ConfigError, LabeledDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    known = set(cfg.intents.intents)
    store = learned_path(settings.var_dir)
    seen = set(load_learned(store))
    rejected = list(data.rejected)
    added: list[tuple[str, str]] = []
    duplicates = 0
    from knowledge.progress import Progress, report_embedding

    bar = Progress("checking rows", "row", len(data.texts), enabled=not args.quiet)
    for n, text, label in zip(data.lines, data.texts, data.labels, strict=True):
        bar.update(1)
        if label not in known:
            rejected.append((n, f"unknown intent '{label}'"))
            continue
        if (text, label) in seen:
            duplicates += 1
            continue
        seen.add((text, label))
        added.append((text, label))
    bar.close()
    if added:
        store.parent.mkdir(parents=True, exist_ok=True)
        with store.open("a", encoding="utf-8") as fh:
            for text, label in added:
                fh.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
    fitted = ""
    if args.fit and added:
        # Fit now, with a bar over the examples embedded: the embeddings and calibration are cached
        # under <var>/classifier_cache/, so the next start (and every worker) only refits the head.
        from pipeline.local_classifier import get_local_model, new_model, texts_embedded

        # Each head embeds every example (two with the English head on): the bar counts them all.
        texts_total = texts_embedded(new_model(), train=len(training_texts(cfg, store)))
        t0 = time.monotonic()
        bar.start(texts_total, "embedding training examples", "text")
        with report_embedding(bar):
            get_local_model(cfg, store)
        fitted = f"; classifier refitted in {time.monotonic() - t0:.1f}s"
        bar.close()
    by_reason: dict[str, int] = {}
    for _, reason in rejected:
        by_reason[reason] = by_reason.get(reason, 0) + 1
    print(f"{args.file}: {len(added)} examples added to {store}, {duplicates} already there, {len(rejected)} rejected")
    for reason, count in sorted(by_reason.items(), key=lambda kv: -kv[1]):
        where = [str(n) for n, r in rejected if r == reason][:10]
        print(f"  rejected {count}: {reason} (CSV lines {', '.join(where)}{', ...' if count > 10 else ''})")
    if any(r.startswith("unknown intent") for r in by_reason):
        print(f"  known intents: {', '.join(sorted(known))}")
    counts: dict[str, int] = {}
    for _, label in load_learned(store):
        counts[label] = counts.get(label, 0) + 1
    print("learned examples per intent: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    if not fitted:
        print("the local model refits on next use (workers pick the change up automatically; --fit does it now)")
    print(f"intents learn: {len(added)} added, {duplicates} already there, {len(rejected)} rejected{fitted}")
    return 0 if added or duplicates else 1


def training_texts(cfg, learned) -> list[str]:
    """The texts the local model trains on for ``cfg`` + the learned store (for the bar's total)."""
    from pipeline.local_classifier import training_data

    return list(training_data(cfg, learned)[0])


def cmd_eval(args: argparse.Namespace) -> int:
    """Fit on TRAIN, evaluate on TEST, print figures; the last line is one JSON object."""
    from app.evaluate import LabeledDataError, evaluate, format_report, read_labeled_csv
    from app.settings import SettingsError, get_settings

    # The models production would use (SIDECAR_EMBEDDING_MODEL, SIDECAR_TRIAGE_MINILM,
    # SIDECAR_TRIAGE_ENGLISH): get_settings applies them to this process.
    try:
        get_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    try:
        train = read_labeled_csv(args.train, args.text_column, args.label_column)
        test = read_labeled_csv(args.test, args.text_column, args.label_column)
    except LabeledDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, d in (("train", train), ("test", test)):
        if d.rejected:
            print(f"{name}: {len(d.rejected)} rows skipped (empty text or label)")
    if len(set(train.labels) - {args.oos_label}) < 2:
        print("error: TRAIN needs at least two in-scope labels", file=sys.stderr)
        return 2
    threshold: float | None
    if args.threshold == "auto":
        threshold = None
    elif args.threshold is None:
        # Without --oos-label nobody declared out-of-scope messages part of the task: score it
        # closed-set (what BANKING77-style benchmarks do). --threshold auto picks one by train CV.
        threshold = None if args.oos_label else 0.0
    else:
        threshold = float(args.threshold)
    if threshold == 0.0:
        print("closed-set evaluation (out-of-scope threshold 0); pass --threshold auto to choose one by CV on TRAIN")
    val = read_labeled_csv(args.val, args.text_column, args.label_column) if args.val else None
    if val is not None and args.threshold in (None, "auto"):
        threshold = None  # chosen on VAL
    from knowledge.progress import Progress, report_embedding
    from pipeline.local_classifier import new_model, texts_embedded

    # Embedding every text is the slow part (the CV fit after it is seconds): the bar counts it, as
    # many times as it is embedded (every head reads the training texts; VAL and TEST their head).
    model = new_model()
    n = texts_embedded(model, train=len(train.texts), predict=list(test.texts) + (list(val.texts) if val else []))
    with Progress("embedding texts", "text", n, enabled=not args.quiet) as bar, report_embedding(bar):
        result = evaluate(train.texts, train.labels, test.texts, test.labels, oos_label=args.oos_label,
                          threshold=threshold, val_texts=val.texts if val else None,
                          val_labels=val.labels if val else None, model=model)
    for line in format_report(result):
        print(line)
    sec = result.get("seconds") or {}
    print(f"eval: {result['n_train']} train / {result['n_test']} test rows, accuracy {100 * result['accuracy']:.1f}%, "
          f"macro-F1 {100 * result['macro_f1']:.1f}% in {sec.get('total', 0)}s")
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


def _threshold(v: str) -> str | float:
    if v == "auto":
        return v
    try:
        f = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number between 0 and 1, or 'auto'") from None
    if not 0 <= f <= 1:
        raise argparse.ArgumentTypeError("expected a number between 0 and 1, or 'auto'")
    return f


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands: ``intents learn`` and ``eval``."""
    intents = sub.add_parser("intents", help="manage the intent classifier's training data")
    isub = intents.add_subparsers(dest="intents_command", required=True)
    learn = isub.add_parser("learn", help="add labeled examples (CSV) to the local model's training data")
    learn.add_argument("file", nargs="?", help="CSV with a header row")
    learn.add_argument("--from-backtest", metavar="DIR",
                       help="a backtest report folder: learn the rows of its labels_review.csv approved by a reviewer")
    _add_columns(learn)
    learn.add_argument("--fit", action="store_true", help="refit the local classifier now (cached for the next start)")
    learn.add_argument("--quiet", action="store_true", help="no progress bar")
    learn.set_defaults(func=cmd_learn)

    ev = sub.add_parser("eval", help="fit the local classifier on TRAIN.csv and measure it on TEST.csv")
    ev.add_argument("--train", required=True, help="labeled CSV to fit on (config/intents.yaml is ignored)")
    ev.add_argument("--test", required=True, help="labeled CSV to score")
    _add_columns(ev)
    ev.add_argument("--oos-label", default=None,
                    help="label meaning out-of-scope (rows with it, or with labels absent from TRAIN, "
                         "count as correct only when predicted out-of-scope)")
    ev.add_argument("--val", help="labeled CSV held out from TRAIN and TEST to choose the out-of-scope threshold on")
    ev.add_argument("--threshold", type=_threshold, default=None,
                    help="out-of-scope confidence threshold, or 'auto' to choose it by class-held-out "
                         "cross-validation on TRAIN (default: auto with --oos-label, else 0 = closed-set)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_eval)


def main(argv: list[str] | None = None) -> int:
    """Run these subcommands without the full ``python -m app`` entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m app.commands.classifier")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
