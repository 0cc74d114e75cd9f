"""Anchors of a knowledge-base model's calibration line (knowledge.embedding.calibrate).

    python bench/kb_calibration.py [--split tune] [--model bge-small-en-v1.5]

Knowledge scores are put on all-MiniLM-L6-v2's scale so that one set of thresholds, margins and
weights serves every model. The line maps two anchors of the model onto MiniLM's: the mean cosine
of the split's questions against all the demo KB's chunks (what an unrelated passage scores) and
the mean of each question's best cosine (what an answering passage scores). Prints both models'
anchors, the line (origin, scale) and, as a check, the 90th percentile of all cosines mapped.
Run on a tuning split only (``tune``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cosines(model: str, questions: list[str], chunks: list[str]) -> np.ndarray:
    from knowledge import embedding

    emb = embedding._FACTORIES[embedding.resolve_model(model)](cache_size=0)
    # Questions as the knowledge base asks them (bge: with its retrieval instruction).
    ask = getattr(emb, "embed_queries", emb.embed)
    return np.asarray(ask(questions)) @ np.asarray(emb.embed_passages(chunks)).T


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="tune", choices=["tune", "tune2"])
    ap.add_argument("--model", default="bge-small-en-v1.5")
    args = ap.parse_args(argv)
    from knowledge.chunking import chunk_document, load_folder

    items = yaml.safe_load((ROOT / f"tests/fixtures/knowledge/eval_{args.split}.yaml").read_text())["items"]
    questions = [it["msg"] for it in items]
    chunks = [ch.embed_text for doc in load_folder((ROOT / "config/knowledge").resolve()) for ch in chunk_document(doc)]
    ref = cosines("all-MiniLM-L6-v2", questions, chunks)
    got = cosines(args.model, questions, chunks)
    (r_mean, r_best), (g_mean, g_best) = [(float(c.mean()), float(c.max(axis=1).mean())) for c in (ref, got)]
    scale = (r_best - r_mean) / (g_best - g_mean)
    origin = g_mean - r_mean / scale
    print(f"{len(questions)} questions x {len(chunks)} chunks")
    print(f"MiniLM       mean {r_mean:.4f}  mean best {r_best:.4f}  p90 {np.percentile(ref, 90):.4f}")
    print(f"{args.model:<12} mean {g_mean:.4f}  mean best {g_best:.4f}  p90 {np.percentile(got, 90):.4f}"
          f" -> mapped {(np.percentile(got, 90) - origin) * scale:.4f}")
    print(f"line: calibrated = (cos - {origin:.4f}) * {scale:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
