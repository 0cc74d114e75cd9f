"""CLI commands for the knowledge base: ``python -m app kb ingest|sync|query|stats``."""

from __future__ import annotations

import argparse
import sys
import time


def _scope_past_tickets(store) -> None:
    """Past tickets stored before brand scopes get theirs (knowledge.brands): once, on any kb write."""
    from knowledge.brands import scope_legacy_tickets

    n = scope_legacy_tickets(store)
    if n:
        print(f"past tickets: {n} chunks re-tagged with their platform-scoped brand", file=sys.stderr)


def _store(create: bool):
    from app.settings import SettingsError, get_settings
    from knowledge.store import KnowledgeError, KnowledgeStore

    try:
        s = get_settings()
        return KnowledgeStore(path=s.chroma_path, url=s.chroma_url, create=create)
    except (SettingsError, KnowledgeError) as exc:
        sys.exit(f"knowledge base: {exc}")


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest a folder of Markdown / HTML / text files (incremental): one bar, one summary line."""
    from knowledge.ingest import ingest_folder
    from knowledge.progress import Progress

    if getattr(args, "rebuild", False):
        from pathlib import Path

        from app.settings import get_settings
        from knowledge.store import drop_collection

        if not Path(args.path).is_dir():  # never drop a store we cannot refill
            sys.exit(f"knowledge folder not found: {args.path}")
        s = get_settings()
        if drop_collection(s.chroma_path, s.chroma_url):
            print("dropped the knowledge collection: rebuilding it with the configured embedding", file=sys.stderr)
    store = _store(create=True)
    _scope_past_tickets(store)
    with Progress("embedding chunks", "chunk", enabled=not args.quiet) as bar:
        try:
            rep = ingest_folder(store, args.path, progress=bar)
        except FileNotFoundError as exc:
            bar.close()
            sys.exit(str(exc))
        bar.summary(f"ingested {args.path}: {rep.summary()} (store now holds {store.count()} chunks)")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Sync a helpdesk's help centre (base URL and credentials from the environment)."""
    from app.settings import get_settings
    from knowledge.helpcenter import SyncError, sync_platform
    from knowledge.progress import Progress

    store = _store(create=True)
    _scope_past_tickets(store)
    settings = get_settings()
    with Progress(f"fetching {args.platform} articles", "article", enabled=not args.quiet) as bar:
        try:
            rep = sync_platform(settings, store, args.platform, progress=bar)
        except SyncError as exc:
            bar.close()
            sys.exit(f"sync {args.platform}: {exc}")
        bar.summary(f"synced {args.platform}: {rep.summary()}")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    """Print the passages retrieval returns for a question (look-alike letters folded, as drafts search)."""
    from knowledge.retrieve import default_threshold, search
    from pipeline.lookalikes import fold_lookalikes

    store = _store(create=False)
    threshold = default_threshold() if args.threshold is None else args.threshold
    hits = search(store, fold_lookalikes(" ".join(args.text)), k=args.k, intent=args.intent, brand=args.brand,
                  language=args.language, threshold=threshold)
    if not hits:
        print(f"nothing above the relevance threshold ({threshold:.2f})")
        return 1
    for i, s in enumerate(hits, 1):
        print(f"[{i}] {s.score:.3f}  {s.title}  ({s.source_type}, {s.id}){'  ' + s.url if s.url else ''}")
        body = s.text if args.full else (s.text[:300] + (" ..." if len(s.text) > 300 else ""))
        print("    " + body.replace("\n", "\n    "))
    return 0


def cmd_add_tickets(args: argparse.Namespace) -> int:
    """Index resolved tickets (question + final public answer, PII redacted)."""
    import json

    from knowledge.progress import Progress
    from knowledge.tickets import document_from_ticket, ingest_ticket
    from pipeline.models import Ticket

    tickets: list[Ticket | str] = []
    if args.from_json:
        with open(args.from_json, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    tickets.append(Ticket.from_dict(json.loads(line)))
    else:
        from adapters.registry import get_adapter
        from app.settings import get_settings

        if not args.platform or not args.ids:
            sys.exit("give --platform and ticket ids, or --from-json FILE")
        settings = get_settings()
        if not settings.platform(args.platform).configured:
            sys.exit(f"{args.platform} is not configured: set its URL and credentials in the env")
        adapter = get_adapter(args.platform, settings)
        tickets = [str(i) for i in args.ids]  # fetched one by one below, under the bar
    store = _store(create=True)
    _scope_past_tickets(store)
    indexed = skipped = chunks = 0
    t0 = time.monotonic()
    with Progress("indexing resolved tickets", "ticket", len(tickets), enabled=not args.quiet) as bar:
        for t in tickets:
            ticket = adapter.fetch_ticket(t) if isinstance(t, str) else t
            if document_from_ticket(ticket) is None:
                skipped += 1
            else:
                chunks += ingest_ticket(ticket, store)
                indexed += 1
            bar.update(1)
        bar.summary(f"indexed {indexed} resolved tickets ({skipped} skipped: no public agent answer), "
                    f"{chunks} chunks embedded in {time.monotonic() - t0:.1f}s")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Chunks and documents per origin and source type."""
    from collections import Counter

    store = _store(create=False)
    got = store.collection.get(include=["metadatas"])
    metas = got.get("metadatas") or []
    docs = {(m.get("origin"), m.get("doc_id")) for m in metas}
    print(f"collection '{store.name}' ({store.signature}): {len(metas)} chunks, {len(docs)} documents")
    for origin, n in sorted(Counter(m.get("origin") for m in metas).items(), key=lambda kv: str(kv[0])):
        ndocs = sum(1 for o, _ in docs if o == origin)
        print(f"  {origin}: {n} chunks, {ndocs} documents")
    for st, n in sorted(Counter(m.get("source_type") for m in metas).items(), key=lambda kv: str(kv[0])):
        print(f"  type {st}: {n} chunks")
    from knowledge.brands import brand_summary

    print(brand_summary(str(m.get("brand") or "") for m in metas))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``kb`` command group."""
    kb = sub.add_parser("kb", help="knowledge base: ingest, sync, query, stats")
    kbs = kb.add_subparsers(dest="kb_command", required=True)

    p = kbs.add_parser("ingest", help="ingest a folder of Markdown/HTML/text files (incremental)")
    p.add_argument("path")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--rebuild", action="store_true",
                   help="drop the collection first and re-embed everything (after changing the embedding model); "
                        "other sources (help centre, tickets) must then be synced again")
    p.set_defaults(func=cmd_ingest)

    p = kbs.add_parser("sync", help="sync a helpdesk's help-centre articles")
    p.add_argument("platform", choices=["zendesk", "freshdesk", "gorgias"])
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sync)

    p = kbs.add_parser("query", help="show the passages retrieved for a question")
    p.add_argument("text", nargs="+")
    p.add_argument("-k", type=int, default=3)
    p.add_argument("--intent")
    p.add_argument("--brand", help="a ticket's brand scope, e.g. zendesk:123 (its brand, unbranded documents and "
                                   "its past tickets), gorgias: (a ticket without a brand), or a bare brand value")
    p.add_argument("--language")
    p.add_argument("--threshold", type=float, help="relevance threshold (default: the pipeline's)")
    p.add_argument("--full", action="store_true", help="print whole passages")
    p.set_defaults(func=cmd_query)

    p = kbs.add_parser("add-tickets", help="index resolved tickets (PII redacted)")
    p.add_argument("ids", nargs="*", help="ticket ids (fetched with the platform's adapter)")
    p.add_argument("--platform", choices=["zendesk", "freshdesk", "gorgias"])
    p.add_argument("--from-json", help="a JSON-lines file of pipeline Ticket dicts instead")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_add_tickets)

    p = kbs.add_parser("stats", help="chunks and documents per source")
    p.set_defaults(func=cmd_stats)
