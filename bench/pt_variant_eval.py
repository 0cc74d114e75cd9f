"""Which Portuguese variant a template draft chooses (pipeline.pt_variant), on messages of known variant.

    python bench/pt_variant_eval.py [--split tune|report] [--default pt-PT|pt-BR] [--show-errors]

- ``bench/data/pt_variants.csv``: 40 Brazilian and 40 European messages written for this (2026-12-02), the
  same requests in each variant so the topic tells nothing; half ``tune`` (the markers were adjusted on it),
  half ``report`` (run once, at the end);
- the Portuguese messages other sessions wrote for triage (``bench/data/multilingual_intents.csv``, 42,
  European Portuguese by the project's register) and for retrieval (``eval_ml_tune.yaml``, language ``pt``):
  nobody wrote them with a variant detector in mind; they count as European.

Prints, per set: how many get their variant, how many the markers could not tell (the default decides).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _own(split: str | None) -> list[tuple[str, str]]:
    with (ROOT / "bench/data/pt_variants.csv").open(encoding="utf-8", newline="") as f:
        return [(r["text"], r["variant"]) for r in csv.DictReader(f) if split is None or r["split"] == split]


def _others() -> list[tuple[str, str]]:
    with (ROOT / "bench/data/multilingual_intents.csv").open(encoding="utf-8", newline="") as f:
        out = [(r["text"], "pt-PT") for r in csv.DictReader(f) if r["lang"] == "pt"]
    ml = yaml.safe_load((ROOT / "tests/fixtures/knowledge/eval_ml_tune.yaml").read_text(encoding="utf-8"))
    items = ml["items"]
    out += [(m["msg"], "pt-PT") for m in items if isinstance(m, dict) and m.get("language") == "pt"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["tune", "report"], default="tune")
    ap.add_argument("--default", choices=["pt-PT", "pt-BR"], default="pt-PT")
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    from pipeline.pt_variant import portuguese_variant, variant_scores

    sets = [(f"own {args.split}", _own(args.split))]
    if args.split == "tune":
        sets.append(("others' European (triage 42 + ml-tune pt)", _others()))
    for name, rows in sets:
        print(f"== {name}")
        for want in ("pt-BR", "pt-PT"):
            group = [t for t, v in rows if v == want]
            if not group:
                continue
            right = tied = 0
            for t in group:
                br, pt = variant_scores(t)
                tied += br == pt
                got = portuguese_variant(t, default=args.default)
                right += got == want
                if got != want and args.show_errors:
                    print(f"   {want} read as {got} (BR {br}, PT {pt}): {t}")
            print(f"{want}: {right}/{len(group)} right ({tied} without a deciding marker, default {args.default})")


if __name__ == "__main__":
    main()
