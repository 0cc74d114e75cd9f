"""Convert the public benchmark datasets to ``text,label`` CSVs for ``python -m app eval``.

Measuring only: the sidecar never reads these at run or test time. Usage::

    python bench/convert_datasets.py /work/shared/datasets OUT_DIR

writes ``OUT_DIR/banking77_{train,test}.csv``, ``OUT_DIR/banking77_10shot_train.csv`` and
``OUT_DIR/clinc150_{train,train_oos,test_oos}.csv`` (``train_oos`` = train + oos_train,
``test_oos`` = test + oos_test; out-of-scope rows carry the label ``oos``).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    print(f"{path}: {len(rows)} rows")


def _read_b77(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [(r["text"], r["category"].lower()) for r in csv.DictReader(fh)]


def main(src: str, out: str) -> None:
    s, o = Path(src), Path(out)
    o.mkdir(parents=True, exist_ok=True)
    _write(o / "banking77_train.csv", _read_b77(s / "banking77/train.csv"))
    _write(o / "banking77_test.csv", _read_b77(s / "banking77/test.csv"))
    texts = (s / "banking77_10shot/seq.in").read_text(encoding="utf-8").splitlines()
    labels = (s / "banking77_10shot/label").read_text(encoding="utf-8").splitlines()
    assert len(texts) == len(labels), "seq.in and label differ in length"
    # The 10-shot split capitalises one label (Refund_not_showing_up); the full set does not.
    _write(o / "banking77_10shot_train.csv", [(t, lab.strip().lower()) for t, lab in zip(texts, labels, strict=True)])
    d = json.loads((s / "clinc150/data_full.json").read_text(encoding="utf-8"))
    _write(o / "clinc150_train.csv", [(t, lab) for t, lab in d["train"]])
    _write(o / "clinc150_train_oos.csv", [(t, lab) for t, lab in d["train"] + d["oos_train"]])
    _write(o / "clinc150_test_oos.csv", [(t, lab) for t, lab in d["test"] + d["oos_test"]])
    # The validation split (with its out-of-scope part) is what chooses the threshold: never the test split.
    _write(o / "clinc150_val_oos.csv", [(t, lab) for t, lab in d["val"] + d["oos_val"]])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
