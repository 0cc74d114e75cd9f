"""False-alarm scan of the phrase signals: how often each signal fires over texts that were not written for
it, and which messages a change of ``pipeline/signals.py`` newly fires (or no longer fires) on.

    python bench/signal_scan.py                                   # figures of this tree's signals
    python bench/signal_scan.py --against /tmp/main/pipeline/signals.py --signal chargeback --show

Texts: every CSV under ``bench/data``, ``tests/fixtures/sentiment_tuning_set.csv``,
``pipeline/data/sentiment_examples.csv``, the examples of ``config/intents.yaml`` and, when present, the
BANKING77 / CLINC150 files under ``--eval-dir`` (default ``/work/data/eval``; column ``text``).
``--against`` loads another version of ``signals.py`` (an export of main) beside this tree's; both read
the same ``pipeline.lookalikes``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import signals as here  # noqa: E402


def _csv_texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return [r["text"] for r in csv.DictReader(f) if r.get("text")]


def sources(eval_dir: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in sorted((ROOT / "bench" / "data").glob("*.csv")):
        out[f"bench/data/{p.name}"] = _csv_texts(p)
    for rel in ("tests/fixtures/sentiment_tuning_set.csv", "pipeline/data/sentiment_examples.csv"):
        out[rel] = _csv_texts(ROOT / rel)
    intents = yaml.safe_load((ROOT / "config" / "intents.yaml").read_text(encoding="utf-8"))["intents"]
    out["config/intents.yaml examples"] = [str(e) for d in intents.values() for e in (d.get("examples") or [])]
    if eval_dir.is_dir():
        for p in sorted(eval_dir.glob("*.csv")):
            out[p.name] = _csv_texts(p)
    return out


def _load(path: Path):
    spec = importlib.util.spec_from_file_location("signals_against", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", type=Path, help="another signals.py to compare with (e.g. an export of main)")
    ap.add_argument("--signal", action="append", help="signal(s) to compare (default: all)")
    ap.add_argument("--show", action="store_true", help="print every new and lost match")
    ap.add_argument("--eval-dir", type=Path, default=Path("/work/data/eval"))
    args = ap.parse_args()
    wanted = args.signal or list(here.SIGNALS)
    other = _load(args.against) if args.against else None
    total = Counter()
    n_texts = 0
    for name, texts in sources(args.eval_dir).items():
        fired, new, lost = Counter(), Counter(), Counter()
        for t in texts:
            now = set(here.detect_signals(t)) & set(wanted)
            fired.update(now)
            if other is not None:
                before = set(other.detect_signals(t)) & set(wanted)
                for s in sorted(now - before):
                    new[s] += 1
                    if args.show:
                        print(f"  NEW  {s:<20} [{name}] {t[:160]!r}")
                for s in sorted(before - now):
                    lost[s] += 1
                    if args.show:
                        print(f"  LOST {s:<20} [{name}] {t[:160]!r}")
        n_texts += len(texts)
        total.update({f"fired {s}": c for s, c in fired.items()})
        total.update({f"new {s}": c for s, c in new.items()})
        total.update({f"lost {s}": c for s, c in lost.items()})
        figs = ", ".join(f"{s} {fired[s]}" + (f" (+{new[s]} -{lost[s]})" if other is not None else "") for s in wanted if fired[s] or new[s] or lost[s])
        print(f"{name}: {len(texts)} texts; {figs or 'nothing fired'}")
    print(f"all: {n_texts} texts; " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())))


if __name__ == "__main__":
    main()
