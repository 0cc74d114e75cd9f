"""Retrieval on an outside help-centre benchmark (doc2dial / MultiDoc2Dial, MTRAG), with the product's defaults.

    python bench/helpcentre_eval.py PATH [--split validation] [--limit 0] [--first-turn-only]
    python bench/helpcentre_eval.py MTRAG_PATH --domain govt|cloud [--queries rewrite|lastturn] [--context none|prev|prev+agent|product]

``PATH`` is a folder holding the public data files (never committed here; the data set's licence
is CC BY 3.0, https://doc2dial.github.io/): either MultiDoc2Dial's ``multidoc2dial_doc.json`` +
``multidoc2dial_dial_<split>.json`` or doc2dial's ``doc2dial_doc_data.json`` +
``doc2dial_dial_<split>.json``.

With ``--domain``, ``MTRAG_PATH`` is a checkout of IBM's MTRAG benchmark (Apache-2.0; a public
copy: github.com/pashaAbri/mt-rag-benchmark) holding ``cleaned_data/tasks/<domain>/*.json`` and
``human/retrieval_tasks/<domain>/``: human questions about government help pages (``govt``) or
IBM Cloud documentation (``cloud``), each labelled with the passages that answer it. Its full
corpora are not in that copy, so the corpus here is every passage any task cites (``govt``: 447
passages of 252 pages; ``cloud``: 462 of 328), grouped back into their pages (by offset); a
question's answer is any page holding one of its labelled passages. ``--queries rewrite`` (the
default) takes the annotators' standalone rewrite of each turn, ``lastturn`` the turn as typed
(later turns lean on the conversation), ``--first-turn-only`` each conversation's first turn. Every document (government help-centre pages: DMV, student aid,
VA, SSA) is ingested through the product's own path into a temporary chroma folder (HTML headings
become sections when the raw HTML is there); each user turn that the data set grounds in a
document is a question, its document the answer. Nothing is tuned for this set: no knob is set,
no threshold (a below-threshold answer counts as a miss, as it would in a draft).

Prints document recall@1, recall@3 and MRR@10 for the product's hybrid retrieval, and the same
for BM25 alone and dense alone in the same run (baselines).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrieval_eval import _summary  # noqa: E402  (the same recall@k / MRR line)


def _load(path: Path, split: str) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
    """(documents by id, [(question, doc id)]) from either data set's files."""
    for doc_name, dial_name in (("multidoc2dial_doc.json", f"multidoc2dial_dial_{split}.json"),
                                ("doc2dial_doc_data.json", f"doc2dial_dial_{split}.json")):
        if (path / doc_name).is_file():
            docs_raw = json.loads((path / doc_name).read_text(encoding="utf-8"))["doc_data"]
            dials_raw = json.loads((path / dial_name).read_text(encoding="utf-8"))["dial_data"]
            break
    else:
        raise SystemExit(f"{path}: neither multidoc2dial_doc.json nor doc2dial_doc_data.json found")
    docs: dict[str, dict[str, Any]] = {}
    for domain, by_id in docs_raw.items():
        for doc_id, d in by_id.items():
            docs[doc_id] = {**d, "domain": domain}
    dialogs: list[tuple[dict[str, Any], str | None]] = []
    for _domain, group in dials_raw.items():
        if isinstance(group, dict):  # doc2dial: {doc_id: [dialogues]}
            for doc_id, dl in group.items():
                dialogs += [(d, doc_id) for d in dl]
        else:  # MultiDoc2Dial: [dialogues], each turn names its document
            dialogs += [(d, None) for d in group]
    questions: list[tuple[str, str]] = []
    for dial, dial_doc in dialogs:
        turns = dial.get("turns") or []
        for i, t in enumerate(turns):
            if t.get("role") != "user" or not (t.get("utterance") or "").strip():
                continue
            refs = t.get("references") or []
            doc = dial_doc or next((r.get("doc_id") for r in refs if r.get("doc_id")), None)
            if doc is None:  # the agent's answer names the document
                nxt = turns[i + 1] if i + 1 < len(turns) else {}
                doc = next((r.get("doc_id") for r in nxt.get("references") or [] if r.get("doc_id")), None)
            if doc in docs:
                questions.append((t["utterance"].strip(), doc))
    return docs, questions


def _load_mtrag(path: Path, domain: str, queries: str, first_turn_only: bool
                ) -> tuple[dict[str, dict[str, Any]], list[tuple[str, set[str]]], list[tuple[str, str]]]:
    """(pages by id, [(question, answering page ids)], [(previous user turn, agent's reply to it)] in the
    same order, ``("", "")`` on a first turn) from an MTRAG checkout."""
    passages: dict[str, dict[str, Any]] = {}
    turns: dict[str, tuple[str, str]] = {}  # task id -> (the user's turn as typed, the agent's reply)
    for f in sorted((path / "cleaned_data/tasks" / domain).glob("*.json")):
        task = json.loads(f.read_text(encoding="utf-8"))
        turns[str(task.get("task_id") or f.stem)] = (str((task.get("user") or {}).get("text") or "").strip(),
                                                     str((task.get("agent") or {}).get("text") or "").strip())
        for c in (task.get("agent") or {}).get("contexts") or []:
            passages[c["document_id"]] = c
    by_page: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
    for pid, c in passages.items():
        page, start, end = pid.rsplit("-", 2)
        by_page.setdefault(page, []).append((int(start), int(end), c))
    docs: dict[str, dict[str, Any]] = {}
    for page, parts in by_page.items():
        parts.sort(key=lambda x: x[0])
        text, upto = "", -1
        for start, end, c in parts:  # passages may overlap: keep each character once
            body = c.get("text") or ""
            if start < upto:
                body = body[upto - start:]
            text += ("\n\n" if text else "") + body
            upto = max(upto, end)
        first = parts[0][2]
        title = (first.get("title") or "").strip() or str(first.get("url") or page).rstrip("/").rsplit("/", 1)[-1]
        docs[page] = {"doc_text": text, "title": title}
    gold: dict[str, set[str]] = {}
    qrels = path / "human/retrieval_tasks" / domain / "qrels/dev.tsv"
    for line in qrels.read_text(encoding="utf-8").splitlines()[1:]:
        qid, pid, _score = line.split("\t")
        gold.setdefault(qid, set()).add(pid.rsplit("-", 2)[0])
    out: list[tuple[str, set[str]]] = []
    context: list[tuple[str, str]] = []
    qfile = path / "human/retrieval_tasks" / domain / f"{domain}_{queries}.jsonl"
    rows = [json.loads(line) for line in qfile.read_text(encoding="utf-8").splitlines()]
    # the rewrite file prefixes every turn with its speaker
    texts = {row["_id"]: row["text"].replace("|user|:", " ").strip().strip('"').strip() for row in rows}
    for row in rows:
        if row["_id"] not in gold or (first_turn_only and not row["_id"].endswith("<::>1")):
            continue
        text = texts[row["_id"]]
        if text:
            conv, _, turn = row["_id"].rpartition("<::>")
            before = f"{conv}<::>{int(turn) - 1}"
            user, agent = turns.get(before, ("", ""))
            # the previous turn as this file words it (a rewrite: its standalone rewrite), else as typed
            context.append((texts.get(before) or user, agent))
            out.append((text, gold[row["_id"]]))
    return docs, out, context


CONTEXT_CHARS = 400  # each earlier turn is clipped to its last this many characters


def _with_context(question: str, context: tuple[str, str], how: str) -> str:
    """The query for ``question`` with the conversation before it (``--context``)."""
    user, agent = context
    if how == "none" or not user:
        return question
    earlier = [user[-CONTEXT_CHARS:]] + ([agent[-CONTEXT_CHARS:]] if how == "prev+agent" and agent else [])
    return "\n\n".join(earlier + [question])


def _earlier(question: str, previous: str) -> str:
    """The previous turn as the product reads a ticket's earlier customer message (clipped)."""
    from pipeline.models import CUSTOMER, Message, Ticket
    from pipeline.normalize import earlier_message

    if not previous:
        return ""
    ticket = Ticket(platform="bench", id="1", messages=[Message(id="1", author_role=CUSTOMER, body_text=previous),
                                                        Message(id="2", author_role=CUSTOMER, body_text=question)])
    return earlier_message(ticket, "2")


def _documents(docs: dict[str, dict[str, Any]]) -> list[Any]:
    from knowledge.chunking import Document, html_to_text

    out = []
    for doc_id, d in docs.items():
        html = d.get("doc_html_raw") or d.get("doc_html_ts") or ""
        text = html_to_text(html) if html else (d.get("doc_text") or "")
        title = str(d.get("title") or doc_id).split("#")[0].strip()
        out.append(Document(doc_id=doc_id, title=title, text=text or title, url=None))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", help="folder with the data set's JSON files")
    ap.add_argument("--split", default="validation")
    ap.add_argument("--limit", type=int, default=0, help="at most this many questions (0: all)")
    ap.add_argument("--first-turn-only", action="store_true", help="only each dialogue's first user turn")
    ap.add_argument("--domain", choices=["govt", "cloud", "fiqa", "clapnq"], default=None,
                    help="PATH is an MTRAG checkout: this domain's questions and cited passages")
    ap.add_argument("--queries", choices=["rewrite", "lastturn"], default="rewrite", help="MTRAG only")
    ap.add_argument("--context", choices=["none", "prev", "prev+agent", "product"], default="none",
                    help="MTRAG only: the query also holds the conversation before the turn: the user's previous "
                         "turn (prev), and the agent's reply to it (prev+agent), each clipped (see _with_context); "
                         "product: the product's rule (pipeline.draft.retrieve: a follow-up that leans on the "
                         "previous turn is searched again with it and the two rankings fused)")
    ap.add_argument("--store", default=None,
                    help="keep the ingested chroma folder here and reuse it on later runs (retrieval-only changes)")
    ap.add_argument("--misses", type=int, default=0, help="print this many questions the product's path missed at 3")
    args = ap.parse_args(argv)

    questions: list[tuple[str, set[str]]]
    context: list[tuple[str, str]] = []
    if args.domain:
        docs, questions, context = _load_mtrag(Path(args.path), args.domain, args.queries, args.first_turn_only)
        args.split = f"MTRAG {args.domain}, {args.queries}, context {args.context}"
        if args.context != "product":
            questions = [(_with_context(q, c, args.context), g) for (q, g), c in zip(questions, context, strict=True)]
    else:
        docs, single = _load(Path(args.path), args.split)
        if args.first_turn_only:
            seen: set[str] = set()
            single = [q for q in single if not (q[1] in seen or seen.add(q[1]))]  # type: ignore[func-returns-value]
        questions = [(q, {d}) for q, d in single]
    if args.limit:
        questions = questions[: args.limit]
    print(f"{len(docs)} documents, {len(questions)} questions ({args.split})")

    with tempfile.TemporaryDirectory() as tmp:
        reuse = bool(args.store) and Path(args.store, "chroma.sqlite3").is_file()
        if args.store:
            Path(args.store).mkdir(parents=True, exist_ok=True)
        os.environ["CHROMA_PATH"] = args.store or tmp
        os.environ.pop("CHROMA_URL", None)
        from app.settings import get_settings, reset_settings
        from knowledge import retrieve as kr
        from knowledge.ingest import ingest_documents
        from knowledge.store import get_store, reset_store
        from pipeline.draft import fuse_with_context, leans_on_context

        reset_settings()
        reset_store()
        store = get_store(get_settings(), create=True)
        if reuse:
            print(f"reusing the store in {args.store} ({store.count()} chunks)")
        else:
            t0 = time.perf_counter()
            rep = ingest_documents(store, _documents(docs), origin="helpcentre-eval", progress=True)
            print(f"ingested: {rep.summary()} ({rep.chunks / (time.perf_counter() - t0):.1f} chunks/s)")
        titles = {k: d.get("title") for k, d in docs.items()}
        missed: list[str] = []

        ranks: dict[str, list[int | None]] = {"hybrid": [], "bm25": [], "dense": []}
        lat: list[float] = []
        for n, (q, gold) in enumerate(questions):
            for mode in ranks:
                t1 = time.perf_counter()
                if mode == "hybrid":  # the product's path, default threshold
                    got = [s.id for s in kr.search(store, q, k=10)]
                    earlier = _earlier(q, context[n][0]) if args.context == "product" else ""
                    if earlier and leans_on_context(q):
                        got = fuse_with_context(got, [s.id for s in kr.search(store, f"{earlier}\n\n{q}", k=10)])[:10]
                    lat.append((time.perf_counter() - t1) * 1000)
                    if not any(d in gold for d in got[:3]) and len(missed) < args.misses:
                        missed.append(f"  {q[:110]!r}\n    want {[titles.get(g) for g in gold]}\n"
                                      f"    got  {[titles.get(d) for d in got[:3]]}")
                else:
                    hits = kr.hybrid_hits(store, q, threshold=-1.0, lexical=mode == "bm25", dense=mode == "dense")
                    got = [g[0].doc_id for g in kr.best_per_document(hits, 10)]
                ranks[mode].append(next((i + 1 for i, d in enumerate(got) if d in gold), None))
        print(_summary("hybrid", ranks["hybrid"]) + "   (product defaults)")
        print(_summary("bm25", ranks["bm25"]) + "   (baseline: BM25 alone)")
        print(_summary("dense", ranks["dense"]) + "   (baseline: embeddings alone)")
        if missed:
            print("missed at 3:\n" + "\n".join(missed))
        lat.sort()
        if lat:
            print(f"retrieval per question: p50 {lat[len(lat) // 2]:.1f} ms, p95 {lat[int(0.95 * (len(lat) - 1))]:.1f} ms "
                  f"({store.count()} chunks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
