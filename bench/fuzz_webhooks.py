"""Fuzz the three webhook endpoints with hostile bodies (hypothesis) and print the status codes.

    .venv/bin/python bench/fuzz_webhooks.py [--examples 2000] [--redis-url redis://127.0.0.1:6379/14]

Runs the real Flask app in Redis mode (dry-run adapters, authenticated requests: the bodies are
what is under test, not the signatures) against the given Redis DB, which is flushed. Every
5xx is printed with the body that caused it; the exit status is 1 if there was any.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=2000, help="examples per endpoint (default 2000)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = ap.parse_args()

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    os.environ.update({"REDIS_URL": args.redis_url, "SIDECAR_VAR": tempfile.mkdtemp(prefix="fuzz-var-"),
                       "SIDECAR_CONFIG": str(ROOT / "config"), "ZENDESK_WEBHOOK_SECRET": "fuzz-secret",
                       "GORGIAS_WEBHOOK_TOKEN": "fuzz-token", "FRESHDESK_WEBHOOK_TOKEN": "fuzz-token"})
    logging.disable(logging.CRITICAL)
    from hypothesis import HealthCheck, given, settings

    from app import create_app
    from tests.fuzz import payloads

    def headers(platform: str, raw: bytes) -> dict[str, str]:
        if platform == "zendesk":
            from datetime import UTC, datetime

            from adapters.zendesk import sign

            ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sign("fuzz-secret", ts, raw),
                    "X-Zendesk-Webhook-Signature-Timestamp": ts}
        return {"Content-Type": "application/json", "X-Sidecar-Token": "fuzz-token"}

    client = create_app().test_client()
    failures: list[tuple[str, int, bytes]] = []
    total_5xx = 0
    for platform in ("zendesk", "gorgias", "freshdesk"):
        counts: collections.Counter[int] = collections.Counter()

        @settings(max_examples=args.examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(raw=payloads(platform))
        def fuzz(raw: bytes) -> None:
            r = client.post(f"/webhooks/{platform}", data=raw, headers=headers(platform, raw))  # noqa: B023
            counts[r.status_code] += 1  # noqa: B023
            if r.status_code >= 500:
                failures.append((platform, r.status_code, raw[:300]))  # noqa: B023

        t0 = time.monotonic()
        fuzz()
        n = sum(counts.values())
        fivexx = sum(v for k, v in counts.items() if k >= 500)
        total_5xx += fivexx
        print(f"{platform:9s} {n:6d} requests in {time.monotonic() - t0:5.1f}s  5xx: {fivexx}  "
              f"statuses: {json.dumps(dict(sorted(counts.items())))}")
    for platform, status, raw in failures[:20]:
        print(f"  {platform} {status}: {raw!r}")
    redis.Redis.from_url(args.redis_url).flushdb()
    print(f"total 5xx: {total_5xx}")
    return 1 if total_5xx else 0


if __name__ == "__main__":
    sys.exit(main())
