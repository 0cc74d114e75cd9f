"""Command line: ``python -m app serve|worker|replay|check-config|failed|retry|...``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("app")

# One BLAS thread (numpy/scipy's OpenBLAS reads this when numpy is first imported, i.e. later):
# the heads' matrices are small, and idle BLAS threads spin-wait, which on cores shared with the
# web process, Redis and other workers multiplied a classifier fit's time by up to 7
# (pipeline.classify.single_thread_blas). An operator's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _malloc_tuning() -> None:
    """glibc malloc settings for a long-lived process holding models (an operator's own
    ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_ARENA_MAX`` win).

    A fixed mmap threshold: by default glibc raises it to the largest block ever freed, after
    which the batch arrays of embedding runs (megabytes each) come from the heap and their pages
    stay resident once freed; fixed at 128 KB they are mapped and unmapped. Two arenas: each
    thread that allocates (onnxruntime's pools, the web server's) otherwise gets its own, each
    keeping its freed pages. Worker with every model loaded, 3 webhooks replayed
    (bench/classifier_bench.py): 604 -> 577 MB.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ and "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
            libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
        if "MALLOC_ARENA_MAX" not in os.environ:
            libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: only the resident size differs
        pass


_malloc_tuning()

COMMAND_MODULES = ("app.commands.classifier", "app.commands.kb", "app.commands.ops", "app.commands.backtest",
                   "app.commands.seed")


def _settings_or_exit():
    from app.settings import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as exc:
        sys.exit(f"configuration error: {exc}")


def _config_or_exit():
    from pipeline.config import ConfigError, get_config

    try:
        return get_config()
    except ConfigError as exc:
        sys.exit(f"invalid config:\n{exc}")


def _bind_or_exit(host: str, port: int):
    """Take the port before anything slow: a busy port fails in a second, with the fix in the message.

    The bound socket is handed to the server later, so nobody can take the port while models load.
    """
    import errno
    import socket

    from werkzeug.serving import get_sockaddr, select_address_family

    family = select_address_family(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart right after a stop still binds
    try:
        sock.bind(get_sockaddr(host, port, family))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            other = port + 1 if port < 65535 else 8001
            sys.exit(f"port {port} on {host} is already in use (another sidecar still running?).\n"
                     f"  start on another port:  ./scripts/run --port {other}   (or PORT={other} ./scripts/run)\n"
                     f"  or see who holds it:    lsof -i :{port}   (ss -ltnp 'sport = :{port}')")
        if exc.errno == errno.EACCES:
            sys.exit(f"port {port} needs root privileges: use a port above 1024, e.g. ./scripts/run --port 8000")
        sys.exit(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    sock.set_inheritable(True)
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    """Embedded single-process mode: web + in-process jobs (no Redis needed)."""
    from werkzeug.serving import make_server

    from knowledge.progress import step

    sock = _bind_or_exit(args.host, args.port)
    settings = _settings_or_exit()
    if settings.embedded:
        from app.jobs.embedded import AlreadyServing, hold_var_dir

        try:
            # Two servers on one var/ would run the same queue side by side: refuse the second.
            _serve_lock = hold_var_dir(settings.var_dir)  # noqa: F841 - held until the process ends
        except AlreadyServing as exc:
            sys.exit(str(exc))
    cfg = _config_or_exit()
    print(f"starting the sidecar on http://{args.host}:{args.port} (port reserved)", flush=True)
    from pipeline.classify import warm_up
    from pipeline.local_classifier import learned_path

    # The sample knowledge base is indexed (first start) while the classifier fits: they use
    # different models, and the fit runs on about one core (its logistic regressions and the
    # tokenizer are single-threaded), so on 2 cores the two overlap. Both finish before the web
    # app starts: no ticket is answered from a half-built knowledge base or without its classifier.
    _load_language_identifier()
    _alongside(lambda: _demo_knowledge(settings, progress=True), lambda: warm_up(cfg, learned_path(settings.var_dir)),
               "Loading the intent classifier (the very first start fits it, later starts reuse the cache)")
    _print_embedding_counts()
    with step("Starting the web app and the in-process queue"):
        from app import create_app

        app = create_app(settings)
    if settings.embedded:  # jobs run in this process: warm the pipeline beside the server, not before it
        from app.runtime import warm_pipeline

        threading.Thread(target=warm_pipeline, args=(settings, cfg), name="warm-up", daemon=True).start()
    mode = "embedded (in-process jobs)" if settings.embedded else f"web only, jobs go to Redis queue '{settings.queue_name}'"
    print(f"sidecar listening on http://{args.host}:{args.port}  mode: {mode}")
    from app.settings import platform_states

    for name, st in platform_states(settings).items():
        print(f"  {name:9s} {st.banner(settings.outbox_dir)}")
    print("try:  curl -s -X POST -H 'Content-Type: application/json' "
          f"--data @samples/zendesk_comment_added.json http://{args.host}:{args.port}/webhooks/zendesk", flush=True)
    srv = make_server(args.host, args.port, app, threaded=True, fd=sock.fileno())
    sock.close()  # the server holds its own duplicate of the listening socket
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


def _print_embedding_counts() -> None:
    # Says what the start embedded itself: the shipped seed covers the default config's texts
    # (knowledge/seed/), an operator's own intents and knowledge base are embedded here.
    from knowledge.embedding import embedding_counts

    for model_id, (seeded, computed) in embedding_counts().items():
        if seeded or computed:
            print(f"  {model_id}: {computed} texts embedded, {seeded} from the shipped seed", flush=True)


def _demo_knowledge(settings, progress: bool = False) -> None:
    """First start on embedded defaults: index the sample knowledge base so drafts have sources."""
    import knowledge
    from knowledge.progress import Progress, step

    try:
        from knowledge.ingest import ingest_folder
        from knowledge.store import get_store

        store = get_store(settings, create=True)
        kb = Path(settings.config_dir) / "knowledge"
        if store.count() == 0 and not settings.chroma_url and kb.is_dir():
            # serve reports its start steps on stdout; other commands keep stdout for their own output.
            out = sys.stdout if progress else sys.stderr
            with step(f"Indexing the sample knowledge base {kb} (first start only)", stream=out), \
                    Progress("embedding chunks", "chunk", enabled=progress) as bar:
                rep = ingest_folder(store, kb, progress=bar)
                bar.summary(f"  {rep.summary()}", out=out)
    except Exception as exc:  # drafts then say they found nothing; the sidecar still runs
        log.warning("sample knowledge base not indexed: %s", exc)
    if progress:
        with step("Loading the embedding model"):
            knowledge.warm_up(settings)
    else:
        knowledge.warm_up(settings)


def load_worker_models(settings, cfg) -> None:
    """Every model a worker uses, loaded once in this process before it takes a job (the worker
    does not fork: jobs reuse them). ``bench/classifier_bench.py`` measures memory after this."""
    import knowledge
    from knowledge.progress import step
    from pipeline.classify import warm_up
    from pipeline.local_classifier import learned_path

    def load_knowledge() -> None:
        with step("Loading the embedding model and the knowledge base"):
            knowledge.warm_up(settings)

    # Side by side, as in serve: the knowledge base's model and indexes load while the classifier
    # fits or reads its cache; the worker takes no job before both are done.
    _load_language_identifier()
    _alongside(load_knowledge, lambda: warm_up(cfg, learned_path(settings.var_dir)),
               "Loading the intent classifier (the very first start fits it, later starts reuse the cache)")
    from app.runtime import warm_pipeline

    warm_pipeline(settings, cfg)  # the first job no longer pays first-use costs for the tickets behind it


def _load_language_identifier() -> None:
    """The language identifier, before the other models (~0.5 s of CPU on its own).

    py3langid reads its whole file (~55 MB resident for a moment) before the identifier keeps its
    27 languages' tables (pipeline.langid). Loaded inside the classifier's warm-up, that moment came
    on top of the other models: the worker's peak was 569-571 MB, 546-550 with it loaded first
    (after loading 531-532 either way; bench/classifier_bench.py, 2026-11-30).
    """
    from pipeline.langid import identifier

    identifier()


def _alongside(background: Callable[[], object], foreground: Callable[[], object], label: str) -> None:
    """Run ``background`` in a thread while ``foreground`` runs as the step ``label``; return when
    both are done, re-raising the background's exception if it failed."""
    from knowledge.progress import step

    failed: list[BaseException] = []

    def run() -> None:
        try:
            background()
        except BaseException as exc:  # re-raised below, in the calling thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="start-alongside", daemon=True)
    thread.start()
    with step(label):
        foreground()
    thread.join()
    if failed:
        raise failed[0]


def cmd_worker(args: argparse.Namespace) -> int:
    """An rq worker (one queue per process) with the scheduler; models load once before any job."""
    import redis
    from rq import Queue

    from app.jobs.worker import SidecarWorker, run_forever

    settings = _settings_or_exit()
    if not settings.redis_url:
        sys.exit("REDIS_URL is not set: the worker needs Redis (use `python -m app serve` for the embedded mode)")
    cfg = _config_or_exit()
    _init_observability(settings, "worker")
    load_worker_models(settings, cfg)
    _restart_without_fit_libraries()
    # rq's own connection: rq raises its socket timeout above its blocking dequeue (minutes), which
    # must not reach the jobs' client (get_redis: short timeouts, a Redis pause fails fast).
    conn = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, health_check_interval=30)
    queue = Queue(args.queue or settings.queue_name, connection=conn)
    level = os.environ.get("LOG_LEVEL", "INFO").upper()

    def make_worker() -> SidecarWorker:
        # A non-forking worker: the models loaded above are reused by every job, and onnxruntime
        # never runs in a forked child. It also pumps the webhook inbox into rq.
        return SidecarWorker([queue], connection=conn, settings=settings)

    if args.burst:
        make_worker().work(with_scheduler=True, burst=True, logging_level=level)
        return 0
    # A Redis restart or outage ends rq's loop; the process waits for Redis and carries on.
    run_forever(make_worker, conn, with_scheduler=True, logging_level=level)
    return 0


# Set in the environment of the one restart below, so that a worker whose fit cannot be cached (a read-only
# var/) restarts once, not forever.
_RESTARTED_ENV = "SIDECAR_WORKER_RESTARTED"
_FIT_LIBRARIES = ("sklearn", "scipy")


def _restart_without_fit_libraries() -> None:
    """Replace this worker process by a fresh one when the models' load had to fit (a first start).

    Fitting imports scikit-learn and scipy (~77 MB resident, docs/measurements.md, fourteenth session),
    which a worker serving jobs never needs: the heads predict in numpy from the fit cache the first start
    has just written (pipeline.linear). Python cannot unload modules, so the process execs itself, with the
    same command line, environment and PID (a supervisor sees one process); the fresh process reads the
    cache and serves jobs without them. Nothing is lost: no job has been taken and rq has not registered
    this worker yet. Costs one more load of the models (a few seconds) on the very first start only.
    """
    loaded = sorted({m.partition(".")[0] for m in sys.modules} & set(_FIT_LIBRARIES))
    if not loaded:
        log.info("worker: models loaded from the fit cache (no scikit-learn or scipy in memory)")
        return
    orig_argv = getattr(sys, "orig_argv", None)
    if os.environ.get(_RESTARTED_ENV) or not orig_argv:
        log.warning("worker: %s stay loaded after a restart (is %s writable? the fit cache lives there); "
                    "jobs are served as usual", ", ".join(loaded), "SIDECAR_VAR")
        return
    log.info("worker: the first start fitted the classifier (%s loaded); restarting once to serve jobs from "
             "the fit cache without them", ", ".join(loaded))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os.environ[_RESTARTED_ENV] = "1"
    os.execv(sys.executable, list(orig_argv))


def _init_observability(settings, component: str) -> None:
    from app.observability import init_sentry

    init_sentry(settings, component)


def cmd_replay(args: argparse.Namespace) -> int:
    """Push a sample webhook body through the whole pipeline in this process and print the note."""
    from adapters import registry
    from adapters.base import BadPayload, Ignored
    from app.jobs.process import process_event

    settings = _settings_or_exit()
    _config_or_exit()
    _demo_knowledge(settings)
    body = json.loads(Path(args.file).read_text(encoding="utf-8"))
    mod = registry.module(args.platform)
    try:
        event = mod.parse_webhook({}, body, settings)
    except Ignored as exc:
        print(f"ignored: {exc.reason}")
        return 0
    except BadPayload as exc:
        print(f"bad payload: {exc}", file=sys.stderr)
        return 2
    if args.fresh:
        import uuid

        # A new event id *and* no message claim: "process again even if seen" means this message too.
        event.event_id = f"replay-{uuid.uuid4().hex[:12]}"
    live = settings.platform(args.platform).configured
    preview = live and not args.write
    if preview:
        print(f"{args.platform} is live: preview only, writes go to "
              f"{settings.outbox_dir / (args.platform + '.jsonl')} (pass --write to write to the helpdesk)",
              file=sys.stderr)
    result = process_event(args.platform, event.to_dict(), claim_message=not args.fresh, preview=preview)
    print(json.dumps({k: v for k, v in result.items() if k != "note"}, indent=2))
    if result.get("note"):
        print("\n----- internal note -----\n" + result["note"])
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate intents.yaml + rules.yaml and print intents × actions."""
    from pipeline.config import ConfigError, load_config

    try:
        cfg = load_config(args.config or os.environ.get("SIDECAR_CONFIG") or "config")
    except ConfigError as exc:
        print(f"INVALID config:\n{exc}", file=sys.stderr)
        return 1
    from app.commands.checks import brand_overrides_without_platform, knowledge_brand_note, weak_secret_warnings
    from app.commands.table import config_table

    print(config_table(cfg, args.platform))
    # Warnings, not errors: the config itself is valid.
    for line in weak_secret_warnings(os.environ) + brand_overrides_without_platform(cfg, os.environ):
        print(line, file=sys.stderr)
    note = knowledge_brand_note(os.environ)
    if note:
        print(f"\n{note}")
    print(f"\nOK: {len(cfg.intent_names)} intents, {len(cfg.rules.intents)} rules, {len(cfg.rules.overrides)} overrides")
    return 0


def cmd_failed(args: argparse.Namespace) -> int:
    """List failed jobs with their reason."""
    from app.commands.jobs import failed_jobs

    settings = _settings_or_exit()
    rows = failed_jobs(settings)
    if not rows:
        print("no failed jobs")
    for r in rows:
        print(f"{r['id']}  {r.get('platform') or ''}  {r['error']}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    """Retry a failed job by id."""
    from app.commands.jobs import retry_job

    settings = _settings_or_exit()
    ok = retry_job(settings, args.job_id)
    print("requeued" if ok else f"no failed job {args.job_id}")
    return 0 if ok else 1


def cmd_feedback_corrections(args: argparse.Namespace) -> int:
    """Intent corrections agents made with ai-wrong-intent:<intent>, for review before learning."""
    import csv

    from app.jobs.feedback import pending_corrections

    settings = _settings_or_exit()
    rows = pending_corrections(settings)
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "label", "predicted", "platform", "ticket_id"])
            for r in rows:
                w.writerow([r["text"], r["label"], r.get("predicted"), r["platform"], r["ticket_id"]])
        print(f"{len(rows)} corrections written to {args.csv}: review them, then `python -m app intents learn {args.csv}`")
        return 0
    for r in rows:
        print(f"{r['platform']} ticket {r['ticket_id']}: {r.get('predicted')} → {r['label']}: {r['text'][:80]!r}")
    print(f"{len(rows)} pending corrections")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app", description="Helpdesk AI sidecar")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run web + in-process jobs (embedded mode)")
    s.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    s.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    s.set_defaults(func=cmd_serve)
    w = sub.add_parser("worker", help="run an rq worker (needs REDIS_URL)")
    w.add_argument("--queue", help="queue name (default SIDECAR_QUEUE or 'sidecar')")
    w.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    w.set_defaults(func=cmd_worker)
    r = sub.add_parser("replay", help="run a sample webhook through the pipeline and print the note")
    r.add_argument("file")
    r.add_argument("--platform", required=True, choices=["zendesk", "gorgias", "freshdesk"])
    r.add_argument("--fresh", action="store_true",
                   help="process again even if seen: a new event id, and the message is claimed afresh")
    r.add_argument("--write", action="store_true",
                   help="on a live platform, really write to the helpdesk (default: preview into the outbox)")
    r.set_defaults(func=cmd_replay)
    c = sub.add_parser("check-config", help="validate config/*.yaml and print intents × actions")
    c.add_argument("--config", help="config folder (default SIDECAR_CONFIG or config/)")
    c.add_argument("--platform", default="zendesk", choices=["zendesk", "gorgias", "freshdesk"])
    c.set_defaults(func=cmd_check_config)
    f = sub.add_parser("failed", help="list failed jobs and why")
    f.set_defaults(func=cmd_failed)
    rt = sub.add_parser("retry", help="retry a failed job")
    rt.add_argument("job_id")
    rt.set_defaults(func=cmd_retry)
    fb = sub.add_parser("feedback", help="agent feedback on drafts").add_subparsers(dest="feedback_cmd", required=True)
    fc = fb.add_parser("corrections", help="list (or export to CSV) intent corrections waiting for review")
    fc.add_argument("--csv", help="write them to this CSV file (text,label,...) for review")
    fc.set_defaults(func=cmd_feedback_corrections)
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from app import configure_logging
    from app.settings import SettingsError

    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a command that reads the settings without saying so itself
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
