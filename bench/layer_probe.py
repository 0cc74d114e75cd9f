"""Triage features from e5's intermediate layers, measured on tuning data only: prints figures, asserts nothing.

The e5 graph (``knowledge/e5_onnx.py``) computes every layer's hidden states anyway; this bench
builds the same graph with each layer's output exposed, mean-pools every layer once per data set
(cached as float16 under ``--cache``), and scores candidate triage vectors made from them with the
product's own head (:class:`pipeline.local_classifier.IntentModel`: centred embedding + char
n-grams, logistic regression), closed set, no threshold. Candidates (``--candidates``)::

    last          layer 12 (what the product reads today; checked equal to OrtE5's vectors)
    mean:A-B      mean of the pooled outputs of layers A..B (1-based), renormalised
    cat:A-B@W     layer 12 beside mean:A-B times W, renormalised (twice the width)
    max@W, cls@W  layer 12 beside the last layer's max-pool / <s> token times W (other poolings, same pass)
    ...+c         every layer centred on the fitting rows' mean first (per fold)

Tuning sets only (never a test split; HINT3 SOFMattress / Curekart are reporting sets)::

    banking77     BANKING77 10-shot train (770 rows), 5-fold stratified CV
    clinc150      CLINC150: 20 train rows per intent (3,000) -> the in-scope ``val`` split (3,000)
    powerplay11   HINT3 v2 Powerplay11 train (in-scope only), 3-fold stratified CV
    languages     bench/triage_quality.py's 7-language intents with the candidate as the product's
                  e5 vector (production path, thresholds included, calibrated afresh):
                  ``--languages CANDIDATE``, same-width candidates without ``+c`` only

Result, 2026-11-30 (docs/measurements.md): no candidate beat the last layer alone.

    python bench/layer_probe.py --datasets /work/shared/datasets --hint3 DIR/dataset/v2 --cache DIR
    python bench/layer_probe.py --languages mean:9-12     # runs bench/triage_quality.py with it
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Rows of a pooled array: the 12 layers' masked means, then the last layer's masked max and its <s> token.
LAST, MAX_ROW, CLS_ROW, ROWS = 11, 12, 13, 14
HEAD_C = 20.0  # the product's default (IntentModel); --C changes it for a wider vector's sake
DEFAULT_CANDIDATES = "last,mean:11-12,mean:10-12,mean:9-12,mean:8-12,mean:6-12,cat:8-11@0.5,cat:8-11@1"


def _layer_session(model: object) -> object:
    """An onnxruntime session of OrtE5's graph that also returns every layer's output."""
    import onnx
    from onnx import TensorProto, helper

    from knowledge.e5_onnx import build_graph, make_session

    f = model._file  # type: ignore[attr-defined]
    g = onnx.load_from_string(build_graph(f))
    del g.graph.output[1:]  # the product's own extra outputs; every layer's is added below, in order
    for i in range(f.NL - 1):
        g.graph.output.append(helper.make_tensor_value_info(f"l{i}.x2", TensorProto.FLOAT, ["B", "S", f.H]))
    return make_session(g.SerializeToString())  # OrtE5's session options: the same last layer


def pooled_layers(model: object, session: object, texts: list[str], batch: int = 64) -> np.ndarray:
    """[n, ROWS, dim]: mean-pooled (masked) outputs of layers 1..12, then the last layer's max and <s>; not normalised."""
    from knowledge.e5_onnx import length_groups

    seqs = model.token_ids(texts, "query: ")  # type: ignore[attr-defined]
    out = np.zeros((len(seqs), ROWS, model.dim), dtype=np.float32)  # type: ignore[attr-defined]
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for s in range(0, len(order), batch):
        for group in length_groups([len(seqs[i]) for i in order[s:s + batch]]):
            idx = [order[s + j] for j in group]
            out[idx] = _ids_pooled(model, session, [seqs[i] for i in idx])
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.clip(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12, None)).astype(np.float32)


def combine(P: np.ndarray, name: str, ref: np.ndarray | None = None) -> np.ndarray:
    """Candidate ``name`` from pooled layers P [n, 12, dim] -> [n, d], rows unit length.

    A ``+c`` suffix centres every layer on ``ref`` (the fitting rows' mean pooled layers) before
    it is normalised: intermediate layers share an even larger common direction than the last
    one, which the head's own centring of the whole vector only removes after the layers are mixed.
    """
    name, centred = (name[:-2], True) if name.endswith("+c") else (name, False)
    if centred:
        if ref is None:
            raise SystemExit(f"{name}+c needs the fitting rows' mean")
        P = P - ref[None]
    if name == "last":
        return _unit(P[:, LAST])
    if name.startswith(("max@", "cls@")):
        other = P[:, MAX_ROW if name.startswith("max") else CLS_ROW]
        return _unit(np.hstack([_unit(P[:, LAST]), float(name[4:]) * _unit(other)]))
    kind, _, rest = name.partition(":")
    span, _, w = rest.partition("@")
    a, b = (int(x) for x in span.split("-"))
    # Each layer unit-normalised before averaging: the layers' scales differ, and the mean should
    # not be the loudest layer's.
    mid = _unit(_unit(P[:, a - 1:b]).mean(axis=1))
    if kind == "mean":
        return mid
    if kind == "cat":
        weight = float(w or 1.0)
        return _unit(np.hstack([_unit(P[:, LAST]), weight * mid]))
    raise SystemExit(f"unknown candidate {name}")


def _cached(cache: Path, name: str, texts: list[str], model: object, session: object) -> np.ndarray:
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"{name}-{key}-v2.npy"
    if path.is_file():
        return np.load(path).astype(np.float32)
    t0 = time.time()
    P = pooled_layers(model, session, texts)
    np.save(path, P.astype(np.float16))
    print(f"  embedded {name}: {len(texts)} texts in {time.time() - t0:.0f} s", flush=True)
    return P


def _score(train: tuple[list[str], list[str]], test: tuple[list[str], list[str]], Xtr: np.ndarray,
           Xte: np.ndarray) -> float:
    from pipeline.local_classifier import IntentModel

    m = IntentModel(C=HEAD_C).fit(train[0], train[1], embeddings=Xtr, calibrate=False)
    pred = [p.label for p in m.predict(test[0], embeddings=Xte)]
    return float(np.mean([p == g for p, g in zip(pred, test[1], strict=True)]))


def _cv(texts: list[str], labels: list[str], P: np.ndarray, cand: str, folds: int) -> float:
    from sklearn.model_selection import StratifiedKFold

    accs = []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=13).split(texts, labels):
        ref = P[tr].mean(axis=0)
        accs.append(_score(([texts[i] for i in tr], [labels[i] for i in tr]), ([texts[i] for i in te], [labels[i] for i in te]),
                           combine(P[tr], cand, ref), combine(P[te], cand, ref)))
    return float(np.mean(accs))


def _sets(args: argparse.Namespace) -> dict[str, dict]:
    import csv
    import random

    out: dict[str, dict] = {}
    d = Path(args.datasets)
    t = (d / "banking77_10shot/seq.in").read_text(encoding="utf-8").splitlines()
    lab = [x.strip().lower() for x in (d / "banking77_10shot/label").read_text(encoding="utf-8").splitlines()]
    out["banking77"] = {"cv": (t, lab, 5)}
    c = json.loads((d / "clinc150/data_full.json").read_text(encoding="utf-8"))
    rng = random.Random(13)
    by: dict[str, list[str]] = {}
    for text, label in c["train"]:
        by.setdefault(label, []).append(text)
    tr = [(x, k) for k in sorted(by) for x in rng.sample(by[k], args.clinc_per_intent)]
    out["clinc150"] = {"split": (([x for x, _ in tr], [k for _, k in tr]),
                                 ([x for x, _ in c["val"]], [k for _, k in c["val"]]))}
    if args.hint3:
        with (Path(args.hint3) / "train/powerplay11_train.csv").open(newline="", encoding="utf-8") as fh:
            rows = [(r["sentence"], r["label"]) for r in csv.DictReader(fh)]
        out["powerplay11"] = {"cv": ([x for x, _ in rows], [k for _, k in rows], 3)}
    return out


def _languages(cand: str) -> None:
    """bench/triage_quality.py with ``cand`` as the product's e5 vector (patched into OrtE5)."""
    os.environ["SIDECAR_EMBEDDING_SEED"] = "0"  # the shipped seed holds today's vectors
    from knowledge import e5_onnx

    state: dict[str, object] = {}

    def encode_ids(self: e5_onnx.OrtE5, seqs: list[list[int]], with_sentiment: bool = False):
        if "s" not in state:
            state["s"] = _layer_session(self)
        P = _ids_pooled(self, state["s"], seqs)
        return combine(P, cand), (combine(P, "mean:11-12") if with_sentiment else None)

    e5_onnx.OrtE5._encode_ids = encode_ids  # type: ignore[method-assign]
    if cand != "last":
        # Another recipe: the shipped calibration (pipeline/data/classifier_seed/, keyed by the
        # feature version) belongs to today's vectors and must not be reused for the candidate's.
        from pipeline import local_classifier

        local_classifier.FEATURES_VERSION += "+layer-probe:" + cand
    import bench.triage_quality as tq

    sys.argv = [sys.argv[0]]
    print(f"candidate {cand}")
    tq.main()


def _ids_pooled(model: object, session: object, seqs: list[list[int]]) -> np.ndarray:
    emb, mask = model.graph_inputs(seqs)  # type: ignore[attr-defined]
    lengths = np.array([len(s) for s in seqs])
    res = session.run(None, {"emb": emb, "mask": mask})  # type: ignore[attr-defined]
    means = [(h * mask[..., None]).sum(axis=1) / lengths[:, None] for h in res[1:] + res[:1]]
    last = res[0]
    top = np.where(mask[..., None] > 0, last, -np.inf).max(axis=1)
    return np.stack([*means, top, last[:, 0]], axis=1)


def main() -> None:
    global HEAD_C
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--hint3", default=None, help="HINT3 dataset/v2 folder (Powerplay11 train is read)")
    ap.add_argument("--cache", default=None, help="folder for the pooled layers (float16 .npy; outside the repo)")
    ap.add_argument("--candidates", default=DEFAULT_CANDIDATES)
    ap.add_argument("--C", type=float, default=HEAD_C, help="the head's inverse regularisation (product: 20)")
    ap.add_argument("--sets", default="banking77,clinc150,powerplay11")
    ap.add_argument("--clinc-per-intent", type=int, default=20)
    ap.add_argument("--languages", default=None, help="run bench/triage_quality.py with this candidate instead")
    args = ap.parse_args()
    if args.languages:
        _languages(args.languages)
        return
    if not args.cache:
        sys.exit("--cache DIR is required (the pooled layers of every set are kept there)")
    HEAD_C = args.C
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    from knowledge.e5_onnx import OrtE5
    from knowledge.embedding import E5Embedder

    emb = E5Embedder()
    model: OrtE5 = emb._model  # type: ignore[assignment]
    session = _layer_session(model)
    sample = ["where is my order?", "Je voudrais annuler ma commande 4471, merci", "x"]
    P = pooled_layers(model, session, sample)
    print(f"check: cosine(last layer here, OrtE5.query) min {float((combine(P, 'last') * model.query(sample)).sum(1).min()):.6f}")
    cands = [c.strip() for c in args.candidates.split(",") if c.strip()]
    table: dict[str, dict[str, float]] = {c: {} for c in cands}
    wanted = set(args.sets.split(","))
    for name, spec in _sets(args).items():
        if name not in wanted:
            continue
        if "cv" in spec:
            texts, labels, folds = spec["cv"]
            P = _cached(cache, name, texts, model, session)
            for c in cands:
                table[c][name] = _cv(texts, labels, P, c, folds)
                print(f"  {name:12s} {c:14s} {100 * table[c][name]:.1f}%", flush=True)
        else:
            (trt, trl), (tet, tel) = spec["split"]
            Ptr = _cached(cache, name + "-train", trt, model, session)
            Pte = _cached(cache, name + "-val", tet, model, session)
            for c in cands:
                ref = Ptr.mean(axis=0)
                table[c][name] = _score((trt, trl), (tet, tel), combine(Ptr, c, ref), combine(Pte, c, ref))
                print(f"  {name:12s} {c:14s} {100 * table[c][name]:.1f}%", flush=True)
    sets = list(next(iter(table.values())))
    print("candidate       " + "  ".join(f"{s:>11s}" for s in sets) + "   mean   vs last")
    base = np.mean([table["last"][s] for s in sets]) if "last" in table else None
    for c in cands:
        m = float(np.mean([table[c][s] for s in sets]))
        delta = f"{100 * (m - base):+.1f}" if base is not None else ""
        print(f"{c:15s} " + "  ".join(f"{100 * table[c][s]:10.1f}%" for s in sets) + f"  {100 * m:5.1f}%  {delta}")
    print(json.dumps({"tuning": table}))


if __name__ == "__main__":
    main()
