"""The local classifier on public data it has never seen: prints figures, asserts nothing.

Measuring only: nothing here is read by the product, and no figure chooses anything unless the
set is named as the choosing set below. Every run goes through :func:`app.evaluate.evaluate` — the
code behind ``python -m app eval`` — fitting on TRAIN only; the out-of-scope threshold comes from
cross-validation on TRAIN, never from TEST.

HINT3 (Haptik, EMNLP 2020 Insights; ODbL/DbCL): real customer queries to three production bots,
with the real out-of-scope traffic labelled ``NO_NODES_DETECTED`` in the test splits (train has
none). Use the corrected ``dataset/v2``::

    git -C MIRROR archive HEAD dataset/v2 | tar -x -C /tmp/hint3    # or a checkout of hellohaptik/HINT3
    python bench/outside_eval.py hint3 /tmp/hint3/dataset/v2 [--sets sofmattress,curekart,powerplay11]

Powerplay11 (fantasy sports, 57 intents, 69% out of scope) is the set the out-of-scope rule was
*chosen* on; SOFMattress and Curekart (e-commerce: mattresses, health products) are reported
only, as the held-out e-commerce sets.

Bitext customer-support intents, two public releases of the same 27 intents (CDLA-Sharing 1.0):
the 2020 "20,000 utterances" sample (``TrainingdatasetBitextsample.csv``) and the 2022 8,175-row
"Customer Service Training Dataset" (``Bitext_Sample_Customer_Service_Training_Dataset.csv``).
Both CSVs are in the history of github.com/shxunxk/Chatbot (commit 1e2b735, ``Data/archive/...``;
``git show <blob>`` of each from a mirror). Train on the older release, test on the newer; rows of
the newer one that also occur (same lower-cased text) in the older one are dropped from the test, so
nothing is scored that was trained on::

    python bench/outside_eval.py bitext OLD_2020.csv NEW_2022.csv [--per-intent N] [--max-test N]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HINT3_SETS = ("sofmattress", "curekart", "powerplay11")
HINT3_OOS = "NO_NODES_DETECTED"
CHOOSING_SET = "powerplay11"
# The 2020 release names one intent in the plural; the 2022 release in the singular.
BITEXT_RENAMES = {"check_invoices": "check_invoice"}


def _read(path: Path, text_cols: tuple[str, ...], label_cols: tuple[str, ...]) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        tcol = next((c for c in text_cols if c in cols), None)
        lcol = next((c for c in label_cols if c in cols), None)
        if tcol is None or lcol is None:
            sys.exit(f"{path}: expected a text column {text_cols} and a label column {label_cols}, got {cols}")
        texts, labels = [], []
        for row in reader:
            t, lab = (row.get(tcol) or "").strip(), (row.get(lcol) or "").strip()
            if t and lab:
                texts.append(t)
                labels.append(lab)
    return texts, labels


def _hint3_file(root: Path, name: str, split: str) -> Path:
    for p in (root / split / f"{name}_{split}.csv", root / f"{name}_{split}.csv"):
        if p.is_file():
            return p
    sys.exit(f"{root}: no {name}_{split}.csv (expected HINT3's dataset/v2 layout: {split}/{name}_{split}.csv)")


def _run(name: str, role: str, train: tuple[list[str], list[str]], test: tuple[list[str], list[str]],
         oos_label: str | None) -> dict:
    from app.evaluate import evaluate, format_report

    t0 = time.time()
    r = evaluate(train[0], train[1], test[0], test[1], oos_label=oos_label, threshold=None if oos_label else 0.0)
    print(f"== {name} ({role})")
    for line in format_report(r):
        print("   " + line)
    summary = {"set": name, "role": role, **{k: r[k] for k in (
        "accuracy", "in_scope_accuracy", "oos_recall", "closed_set_accuracy", "threshold", "threshold_source",
        "n_train", "n_test", "n_test_oos", "n_classes")}, "seconds": round(time.time() - t0, 1)}
    print("   " + json.dumps(summary), flush=True)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="which", required=True)
    h = sub.add_parser("hint3", help="HINT3 v2: fit on train, score test with its out-of-scope rows")
    h.add_argument("path", help="HINT3 dataset/v2 folder (train/ and test/ inside)")
    h.add_argument("--sets", default=",".join(HINT3_SETS))
    b = sub.add_parser("bitext", help="Bitext customer-support intents: older release -> newer release")
    b.add_argument("old", help="the 2020 release CSV (flags,utterance,category,intent)")
    b.add_argument("new", help="the 2022 release CSV")
    b.add_argument("--per-intent", type=int, default=0,
                   help="random subsample of the older release, at most N rows per intent (0: all)")
    b.add_argument("--max-test", type=int, default=0, help="random subsample of the newer release (0: all)")
    ap.add_argument("--model", default=None, help="embedding model (default: the project default)")
    ap.add_argument("--with-minilm", action="store_true", help="MiniLM's vector beside e5's (SIDECAR_TRIAGE_MINILM=1)")
    args = ap.parse_args()

    from knowledge.embedding import select_companion, select_model

    print(f"embedding model {select_model(args.model)}{' + MiniLM beside it' if select_companion(args.with_minilm) else ''}")
    results = []
    if args.which == "hint3":
        root = Path(args.path)
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            train = _read(_hint3_file(root, name, "train"), ("sentence", "text"), ("label",))
            test = _read(_hint3_file(root, name, "test"), ("sentence", "text"), ("label",))
            role = "chooses the out-of-scope rule" if name == CHOOSING_SET else "held out, reported only"
            results.append(_run(f"HINT3 {name}", role, train, test, HINT3_OOS))
    else:
        old = _read(Path(args.old), ("utterance", "text"), ("intent", "label"))
        new = _read(Path(args.new), ("utterance", "text"), ("intent", "label"))
        seen = {t.lower() for t in old[0]}
        keep = [i for i, t in enumerate(new[0]) if t.lower() not in seen]
        print(f"newer release: {len(new[0])} rows, {len(new[0]) - len(keep)} also in the older one (dropped)")
        rng = random.Random(13)
        tr_idx = list(range(len(old[0])))
        if args.per_intent:
            by: dict[str, list[int]] = {}
            for i, lab in enumerate(old[1]):
                by.setdefault(lab, []).append(i)
            tr_idx = sorted(j for lab in sorted(by) for j in rng.sample(by[lab], min(args.per_intent, len(by[lab]))))
        old = (old[0], [BITEXT_RENAMES.get(x, x) for x in old[1]])
        new = (new[0], [BITEXT_RENAMES.get(x, x) for x in new[1]])
        if args.max_test and args.max_test < len(keep):
            keep = sorted(rng.sample(keep, args.max_test))
        unknown = set(new[1]) - set(old[1])
        if unknown:
            print(f"intents only in the newer release (scored as out of scope): {sorted(unknown)}")
        results.append(_run("Bitext 2020 -> 2022", "held out, reported only",
                            ([old[0][i] for i in tr_idx], [old[1][i] for i in tr_idx]),
                            ([new[0][i] for i in keep], [new[1][i] for i in keep]), None))
    print(json.dumps({"results": results}), flush=True)


if __name__ == "__main__":
    main()
