"""Classifier speed and memory on this machine: prints figures, asserts nothing.

    python bench/classifier_bench.py [--n 600] [--config config]

Measures, in a fresh process:
- model load: embedder (ONNX session + sha256 check) and head fit (CV calibration + final fit)
  on ``config/intents.yaml``, i.e. what :func:`pipeline.classify.warm_up` costs at worker start;
- batched throughput: intent prediction for ``--n`` messages in one call (embed + head);
- single-message throughput and p50/p95 latency of the full :func:`pipeline.classify.classify`
  (intent, sentiment, language, signals, priority), one message at a time;
- process RSS after all of it (current and peak).

Targets (issue 4): >= 150 msg/s batched, <= 30 ms p50 single, load <= 2 s, RSS <= 600 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Messages written for the bench (support-style, mixed length), recombined for volume.
OPENERS = ["Hi,", "Hello team,", "Hey", "Good morning,", "", "Bonjour,", "Hola,"]
BODIES = [
    "where is my order? I placed it ten days ago and the tracking has not moved since Monday",
    "the vase arrived smashed, the box was clearly dropped",
    "I would like to send back the jacket, it is too big, how do I get a refund",
    "please cancel order 55102, I bought the wrong model",
    "can you change the delivery address to my office, 4 Market Street",
    "my card was charged twice for the same purchase",
    "I cannot log in, the reset link says it has expired",
    "please delete my account and stop emailing me",
    "is the blue sofa available in a three seater?",
    "the welcome discount code does not work at checkout",
    "this is the third time I write and nobody answers, it's unacceptable",
    "I want to talk to a manager, not a bot",
    "thanks, all good now!",
    "I am out of the office until the 14th with no access to email",
    "Mon colis n'est jamais arrivé, pouvez-vous vérifier ?",
    "¿Pueden cambiar la talla de mi pedido antes del envío?",
]
CLOSERS = ["", "Thanks.", "Regards, Sam", "Order #" + "10443", "Please help asap.", "Cheers"]


def messages(n: int) -> list[str]:
    rng = random.Random(42)
    return [" ".join(x for x in (rng.choice(OPENERS), rng.choice(BODIES), rng.choice(CLOSERS)) if x) for _ in range(n)]


def rss_mb() -> tuple[float, float]:
    cur = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return cur, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=600, help="messages for the batched run (default 600)")
    ap.add_argument("--single", type=int, default=200, help="messages for the single-message run (default 200)")
    ap.add_argument("--config", default="config")
    ap.add_argument("--var", default=None, help="var dir (default: a fresh temp dir, i.e. a cold start)")
    args = ap.parse_args()
    # An empty var dir: measure the shipped taxonomy, not someone's learned history. No OpenAI key.
    os.environ["SIDECAR_VAR"] = args.var or tempfile.mkdtemp(prefix="bench-var-")
    os.environ.pop("OPENAI_API_KEY", None)

    t0 = time.perf_counter()
    from knowledge.embedding import get_classifier_embedder as get_embedder
    from pipeline.classify import classify
    from pipeline.config import load_config
    from pipeline.local_classifier import get_local_model
    from pipeline.signals import detect_language, sentiment

    t_import = time.perf_counter() - t0
    cfg = load_config(args.config)
    cache = Path(os.environ["SIDECAR_VAR"]) / "classifier_cache"
    warm = cache.is_dir() and any(cache.iterdir())
    t1 = time.perf_counter()
    get_embedder()
    t_embedder = time.perf_counter() - t1
    t2 = time.perf_counter()
    model = get_local_model(cfg)
    t_fit = time.perf_counter() - t2
    t3 = time.perf_counter()
    sentiment("warm")
    detect_language("warm up the detector")
    t_aux = time.perf_counter() - t3
    print(f"python imports                 {t_import:6.2f} s")
    print(f"embedder load                  {t_embedder:6.2f} s")
    how = "cached embeddings + calibration, final fit" if warm else "cold: embed + CV calibration + final fit"
    print(f"head fit ({len(model.train_texts)} examples, {len(model.classes_)} intents; {how})  {t_fit:6.2f} s")
    print(f"sentiment + language models    {t_aux:6.2f} s")
    print(f"model load total (warm_up)     {t_embedder + t_fit + t_aux:6.2f} s   target <= 2 s")

    batch = messages(args.n)
    model.predict(batch[:32])  # first-run allocations out of the timing
    t = time.perf_counter()
    get_embedder().embed(batch)
    dt_embed = time.perf_counter() - t
    t = time.perf_counter()
    preds = model.predict(batch)
    dt = time.perf_counter() - t
    print(f"batched intent prediction      {len(batch) / dt:6.0f} msg/s ({len(batch)} messages, {dt:.2f} s, "
          f"embed + n-grams + head)   target >= 150")
    print(f"  embeddings alone             {len(batch) / dt_embed:6.0f} msg/s")
    assert len(preds) == len(batch)

    singles = messages(args.single + 10)
    for m in singles[:10]:
        classify(m, None, cfg)
    lat = []
    for m in singles[10:]:
        t = time.perf_counter()
        classify(m, None, cfg)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    p50 = statistics.median(lat)
    p95 = lat[int(0.95 * (len(lat) - 1))]
    print(f"single classify() full triage  {1000 / statistics.mean(lat):6.0f} msg/s, p50 {p50:.1f} ms, p95 {p95:.1f} ms"
          f"   target p50 <= 30 ms")
    cur, peak = rss_mb()
    print(f"process RSS                    {cur:6.0f} MB now, {peak:.0f} MB peak   target <= 600 MB")
    print(f"cpu cores                      {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} (other processes skew timings)")


if __name__ == "__main__":
    main()
