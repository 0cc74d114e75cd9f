"""Over-redaction audit: the redaction of a git ref (default ``main``) against the working tree's, on
training utterances that hold no personal data (BANKING77, CLINC150, Bitext 2020 train).

A change of the redaction should remove more personal data without touching these: every
utterance whose strict redaction differs between the two versions is printed (a new ``[name]`` in
"can my husband use my card" is a false positive the learned examples and past tickets pay for).
Only training splits are read (the team's data rules).

    .venv/bin/python bench/redact_audit.py --n 8000 --seed 1 [--ref main]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path("/work/data")
SOURCES = (("banking77", DATA / "banking77_train.csv", "text"), ("clinc150", DATA / "clinc150_train.csv", "text"),
           ("bitext", DATA / "bitext" / "bitext_20k.csv", "utterance"))


def _old_redact(ref: str):
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:knowledge/redact.py"], check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "redact_old.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("redact_old", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod.redact


def _texts(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for name, path, col in SOURCES:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = [r[col] for r in csv.DictReader(f) if r.get(col)]
        out += [(name, t) for t in rng.sample(rows, min(len(rows), n // len(SOURCES)))]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ref", default="main")
    args = ap.parse_args()
    from knowledge.redact import redact

    old = _old_redact(args.ref)
    texts = _texts(args.n, args.seed)
    changed = [(src, t, old(t, strict_names=True), redact(t, strict_names=True)) for src, t in texts]
    changed = [c for c in changed if c[2] != c[3]]
    for src, t, a, b in changed:
        print(f"[{src}] {t!r}\n   {args.ref}: {a!r}\n   now:  {b!r}")
    print(f"{len(texts)} utterances, {len(changed)} redacted differently from {args.ref}")


if __name__ == "__main__":
    main()
