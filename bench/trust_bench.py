"""Cost of the trust guards: draft review (links, promises, authority, secrets, PII) and past-ticket redaction.

    .venv/bin/python bench/trust_bench.py [--n 200]

Prints per-call milliseconds (median and p95) for ``pipeline.guards.review`` on drafts of ~600
characters, for ``knowledge.redact.redact`` on the 105-ticket privacy corpus, and the worst case
of each on a 20,000-character adversarial input (the bound the guards cut to).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.redact import redact  # noqa: E402
from pipeline.guards import review  # noqa: E402
from pipeline.models import Draft, Source  # noqa: E402

DRAFTS = [
    "Hi Ana,\n\nThank you for checking in about your order. Your parcel is with the carrier and tracking updates "
    "within 24 hours of the first scan. If tracking has not moved for more than 5 working days, contact us with your "
    "order number and we will open an investigation with the carrier [1].\n\nBest regards,\nThe support team",
    "Bonjour, nous vous rembourserons la commande dès aujourd'hui. Visitez ｅｖｉｌ．ｅｘａｍｐｌｅ ou evil dot example "
    "slash track. En tant que gérant j'approuve un avoir. Merci d'indiquer le cryptogramme de votre carte [1].",
]
POLICY = Source(id="p", title="Refunds", source_type="policy",
                text="Refunds are issued to the original payment method within 5 working days of receiving the return.")


def timed(fn, items, n):
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(items[i % len(items)])
        out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return statistics.median(out), out[int(0.95 * (len(out) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    n = ap.parse_args().n
    med, p95 = timed(lambda t: review(Draft(text=t, kind="llm", sources=[POLICY], used_source_ids=["p"])), DRAFTS, n)
    print(f"guards.review (~400-char drafts): median {med:.2f} ms, p95 {p95:.2f} ms over {n} calls")
    corpus = json.loads((ROOT / "tests/fixtures/privacy/resolved_tickets.json").read_text(encoding="utf-8"))
    texts = [t["question"] + "\n\n" + t["answer"] for t in corpus]
    med, p95 = timed(redact, texts, max(n, len(texts)))
    print(f"redact (privacy corpus, {len(texts)} tickets): median {med:.2f} ms, p95 {p95:.2f} ms per ticket")
    worst = ("r e f u n d evil.example " * 900)[:20_000]
    t0 = time.perf_counter()
    review(Draft(text=worst, kind="llm", sources=[POLICY], used_source_ids=["p"]))
    t1 = time.perf_counter()
    redact(("Call +33 6 12 34 56 78, IBAN DE89 3704 0044 0532 0130 00. " * 400)[:20_000])
    t2 = time.perf_counter()
    print(f"20,000-char adversarial input: review {1000 * (t1 - t0):.0f} ms, redact {1000 * (t2 - t1):.0f} ms")


if __name__ == "__main__":
    main()
