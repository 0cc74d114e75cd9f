"""First start on a fresh clone: how long until ``/healthz`` answers. Prints figures, asserts nothing.

    python bench/first_start.py [--repo .] [--ref BRANCH] [--install] [--keep]

What a new operator does after ``git clone``: ``./scripts/run``. This script

1. clones ``--repo`` (its committed HEAD) into a temporary folder — nothing of the developer's
   ``var/`` (classifier cache, knowledge base, queue) comes along;
2. with ``--install``, times ``./scripts/setup`` creating ``.venv`` and installing the pinned
   requirements (pip's own cache is used if the machine has one: say so when quoting it);
   without it, links this checkout's ``.venv`` (the install is then not part of the figure);
3. starts ``./scripts/run --port P`` and polls ``GET /healthz`` until it answers, recording when
   each start step the sidecar prints (port, indexing, classifier, web app) finished;
4. stops it and starts it again on the same clone: the second-start figure (caches warm).

The machine's load average is printed with the figures: on a shared 2-core machine a busy
neighbour easily doubles the classifier fit.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rig import free_port  # noqa: E402

STEP_DONE = re.compile(r"^✓ (?P<label>.+) \((?P<secs>[\d.]+) s\)$")



def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


NO_SEED = False  # --no-seed
EXTRA_ENV: dict[str, str] = {}  # --set KEY=VALUE (an option's first start, e.g. SIDECAR_TRIAGE_ENGLISH=1)


def _env() -> dict[str, str]:
    # The clone's defaults, as a new user has them: no Redis, no keys, var/ inside the clone.
    drop = ("ZENDESK_", "GORGIAS_", "FRESHDESK_", "OPENAI_", "SLACK_", "SENTRY_", "CHROMA_", "REDIS_URL", "SIDECAR_",
            "DATABASE_URL", "OPS_TOKEN", "KB_", "PORT", "HOST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["HF_HUB_OFFLINE"] = "1"
    if NO_SEED:
        # What a store's own intents and knowledge base cost on their first start: nothing is in the seed.
        env["SIDECAR_EMBEDDING_SEED"] = "0"
    env.update(EXTRA_ENV)
    return env


def start(clone: Path, timeout: float) -> dict[str, object]:
    """One ``./scripts/run``: seconds to /healthz, and each step's own figure as printed."""
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen(["./scripts/run", "--port", str(port)], cwd=clone, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    steps: list[tuple[str, float, float]] = []  # label, its own seconds, seconds since start when done
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            m = STEP_DONE.match(line)
            if m:
                steps.append((m["label"], float(m["secs"]), time.monotonic() - t0))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    healthy_at = None
    try:
        while time.monotonic() - t0 < timeout and proc.poll() is None:
            if _healthy(port):
                healthy_at = time.monotonic() - t0
                break
            time.sleep(0.25)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        reader.join(5)
    return {"healthz_s": healthy_at, "steps": steps, "exit": proc.returncode, "tail": lines[-15:]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", default=str(ROOT), help="repository to clone (default: this checkout)")
    ap.add_argument("--ref", help="branch or commit to check out in the clone (default: the repo's HEAD)")
    ap.add_argument("--install", action="store_true", help="time ./scripts/setup building a fresh .venv too")
    ap.add_argument("--no-seed", action="store_true",
                    help="without the shipped embedding seed (SIDECAR_EMBEDDING_SEED=0): every text is embedded")
    ap.add_argument("--timeout", type=float, default=900, help="give up on a start after this many seconds")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="environment for the sidecar's starts (repeatable; e.g. SIDECAR_TRIAGE_ENGLISH=1)")
    ap.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = ap.parse_args()
    global NO_SEED
    NO_SEED = args.no_seed
    for kv in args.set:
        key, sep, value = kv.partition("=")
        if not sep:
            sys.exit(f"--set {kv}: expected KEY=VALUE")
        EXTRA_ENV[key] = value

    tmp = Path(tempfile.mkdtemp(prefix="sidecar-first-start-"))
    clone = tmp / "sidecar"
    try:
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", args.repo, str(clone)], check=True)
        if args.ref:
            subprocess.run(["git", "-C", str(clone), "checkout", "-q", args.ref], check=True)
        head = subprocess.run(["git", "-C", str(clone), "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True, check=True).stdout.strip()
        print(f"fresh clone of {args.repo} at {head[:72]}")
        print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        install_s = None
        if args.install:
            t = time.monotonic()
            subprocess.run(["./scripts/setup"], cwd=clone, env=_env(), check=True)
            install_s = time.monotonic() - t
        else:
            venv = ROOT / ".venv"
            (clone / ".venv").symlink_to(venv.resolve())
        first = start(clone, args.timeout)
        second = start(clone, args.timeout)
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print()
        if install_s is not None:
            print(f"install (./scripts/setup, fresh .venv):   {install_s:6.1f} s")
        else:
            print("install:                                  not measured (linked this checkout's .venv; --install)")
        for name, r in (("first start", first), ("second start", second)):
            hz = r["healthz_s"]
            shown = f"{hz:6.1f} s" if hz is not None else "never (see below)"
            print(f"{name} → /healthz answers:          {shown}")
            for label, secs, at in r["steps"]:  # type: ignore[misc]
                print(f"    {secs:6.1f} s  {label[:70]}  (done at {at:.1f} s)")
            if hz is None:
                print("    last output:\n      " + "\n      ".join(r["tail"]))  # type: ignore[arg-type]
        if install_s is not None and first["healthz_s"] is not None:
            print(f"fresh clone → /healthz (install + first start): {install_s + first['healthz_s']:.1f} s")
    finally:
        if args.keep:
            print(f"clone kept at {clone}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
