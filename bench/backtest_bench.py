"""Backtest speed and memory: tickets/s with local models, and peak memory on a long streamed run.

    python bench/backtest_bench.py [--tickets 2000]             # throughput
    python bench/backtest_bench.py --tickets 20000 --memory     # + peak RSS sampled along the run

The helpdesk is replaced by an in-memory reader that generates each ticket when the run asks for
it (nothing held: the history is streamed, as from a real export), so the figure is the
backtest's own cost *excluding helpdesk latency*: reading pages, the as-of view, the real
pipeline (local MiniLM classifier, rules, retrieval in the demo knowledge base, template draft,
escalation decision), the comparison with the agent's reply, and the JSONL row; the report is
written at the end and timed apart. Customer texts are recombined from several openings, details
and closings with random order numbers, products and names, so (nearly) every text is unique and
the embedding cache gets no unfair hits.

Prints the figures, then one JSON line. Runs in a temporary folder; never touches var/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OPEN = ["Hi,", "Hello there,", "Good morning,", "Hey support team,", "Dear team,", ""]
CLOSE = ["Thanks.", "Thank you in advance!", "Cheers", "Regards, {name}", "Best, {name}", ""]


class StreamReader:
    """A history reader generating ticket ``i`` on demand from a seed (no list of tickets kept)."""

    platform = "zendesk"
    page_size = 100
    calls = 0

    def __init__(self, n: int, now: datetime):
        from tests.fakes.history import NAMES, PRODUCTS, SCENARIOS

        self.n, self.now = n, now
        self.scen, self.products, self.names = SCENARIOS, PRODUCTS, NAMES
        self.intents = list(SCENARIOS)

    def pages(self, window: Any, position: dict[str, Any] | None = None) -> Iterator[Any]:
        from adapters.history import HistoryPage

        start = int((position or {}).get("offset", 0))
        for off in range(start, self.n, self.page_size):
            end = min(self.n, off + self.page_size)
            items = [{"id": 100000 + i, "status": "closed" if i % 9 else "open"} for i in range(off, end)]
            yield HistoryPage(items, {"offset": off}, {"offset": end} if end < self.n else None, end / self.n)

    def ticket_id(self, raw: dict[str, Any]) -> str:
        return str(raw["id"])

    def is_closed(self, raw: dict[str, Any]) -> bool:
        return raw["status"] == "closed"

    def fetch(self, raw: dict[str, Any]) -> Any:
        from pipeline.models import AGENT, CUSTOMER, Message, Person, Ticket

        i = raw["id"]
        rng = random.Random(i)
        intent = self.intents[i % len(self.intents)]
        sc = self.scen[intent]
        name = rng.choice(self.names)
        v = {"product": rng.choice(self.products), "order": rng.randint(10000, 999999), "days": rng.randint(2, 30),
             "name": name.split()[0]}
        text = " ".join(x for x in (rng.choice(OPEN), rng.choice(sc["say"]).format(**v),
                                    rng.choice(CLOSE).format(**v)) if x)
        t0 = self.now - timedelta(days=20, minutes=i % 20000)
        msgs = [Message(f"{i}-1", CUSTOMER, text, author_id=str(i), author_name=name, created_at=t0.isoformat())]
        if i % 10:
            msgs.append(Message(f"{i}-2", AGENT, rng.choice(sc["reply"]).format(**v), author_id="1",
                                created_at=(t0 + timedelta(minutes=rng.randint(5, 2000))).isoformat()))
        tags = [sc["tag"]] if i % 3 else []
        return Ticket(platform="zendesk", id=str(i), subject=sc["reason"], status="solved",
                      priority="urgent" if i % 17 == 0 else "normal", tags=tags,
                      requester=Person(id=str(i), name=name), messages=msgs,
                      url=f"https://acme.zendesk.com/agent/tickets/{i}", created_at=t0.isoformat(),
                      updated_at=(t0 + timedelta(hours=30)).isoformat())


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=2000, help="tickets listed (1 in 9 is open and skipped)")
    ap.add_argument("--memory", action="store_true", help="sample RSS along the run and report the curve")
    ap.add_argument("--no-prefetch", action="store_true", help="no per-page batch embedding (to measure what it buys)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="backtest-bench-"))
    os.environ.update({"SIDECAR_VAR": str(tmp / "var"), "CHROMA_PATH": str(tmp / "chroma"),
                       "SIDECAR_CONFIG": str(ROOT / "config")})
    for k in [k for k in os.environ if k.startswith(("OPENAI_", "ZENDESK_", "REDIS_URL"))]:
        del os.environ[k]
    from app.backtest.labels import load_backtest_config
    from app.backtest.runner import Backtest, RunArgs
    from app.settings import get_settings
    from knowledge.ingest import ingest_folder
    from knowledge.store import KnowledgeStore
    from pipeline.classify import warm_up
    from pipeline.config import load_config
    from tests.fakes.history import backtest_yaml

    ingest_folder(KnowledgeStore(path=str(tmp / "chroma"), create=True), ROOT / "config" / "knowledge", progress=False)
    cfg = load_config(ROOT / "config")
    (tmp / "backtest.yaml").write_text(backtest_yaml())
    bt = load_backtest_config(tmp / "backtest.yaml", set(cfg.intent_names))
    warm_up(cfg)
    import knowledge

    knowledge.warm_up(get_settings())
    now = datetime.now(UTC).replace(microsecond=0)
    run_args = RunArgs(platform="zendesk", since=(now - timedelta(days=30)).isoformat(), until=now.isoformat(),
                       out=str(tmp / "out"))
    run = Backtest(run_args, settings=get_settings(), cfg=cfg, bt_cfg=bt, reader=StreamReader(args.tickets, now),
                   progress=False)
    if args.no_prefetch:
        run._prefetch_embeddings = lambda tickets: None  # type: ignore[method-assign]
    samples: list[tuple[int, float]] = []
    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(2.0):
            samples.append((run.state.processed, rss_mb()))

    rss_start = rss_mb()
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    t0 = time.perf_counter()
    # Time the replay apart from the report: run() writes the report at the end.
    from app.backtest import report as report_mod

    timing: dict[str, float] = {}
    real_write = report_mod.write_report

    def timed_write(*a: Any, **kw: Any) -> Any:
        timing["replay"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        out = real_write(*a, **kw)
        timing["report"] = time.perf_counter() - t1
        return out

    report_mod.write_report = timed_write
    summary = run.run()
    stop.set()
    th.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    processed = summary["tickets"]["processed"]
    rate = processed / timing["replay"]
    print(f"tickets listed {args.tickets}, replayed {processed} (cores: {os.cpu_count()}, local models, no helpdesk I/O)")
    print(f"replay: {timing['replay']:.1f} s -> {rate:.1f} tickets/s; pipeline alone "
          f"{summary['backtest']['tickets_per_second_pipeline']} tickets/s; report {timing['report']:.1f} s")
    print(f"memory: RSS {rss_start:.0f} MB after model load, peak {peak:.0f} MB")
    if args.memory and samples:
        marks = [samples[int(k * (len(samples) - 1) / 4)] for k in range(5)]
        print("RSS along the run: " + ", ".join(f"{n} tickets {mb:.0f} MB" for n, mb in marks))
    print(json.dumps({"tickets_listed": args.tickets, "processed": processed, "tickets_per_second": round(rate, 1),
                      "pipeline_tickets_per_second": summary["backtest"]["tickets_per_second_pipeline"],
                      "replay_seconds": round(timing["replay"], 1), "report_seconds": round(timing["report"], 1),
                      "rss_after_load_mb": round(rss_start), "peak_rss_mb": round(peak),
                      "rss_samples": [(n, round(mb)) for n, mb in samples[:: max(1, len(samples) // 20)]],
                      "accuracy_on_synthetic": summary["labels"]["accuracy"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
