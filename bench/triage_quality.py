"""Triage quality on the project's own multilingual eval sets: prints figures, asserts nothing.

    python bench/triage_quality.py [--config config] [--model multilingual-e5-small|all-MiniLM-L6-v2]
                                   [--set original|tune|heldout|heldout2|heldout3|heldout4|heldout5|heldout6|heldout7|heldout8|PATH] [--intents-only]

- Intents: ``bench/data/multilingual_intents.csv`` — the same 42 store messages written in
  EN/FR/ES/DE/IT/NL/PT (12 default intents x 3 + 6 not actionable), classified by the production
  path (:func:`pipeline.local_classifier.classify_local` on ``config/intents.yaml``, thresholds
  included). Accuracy per language; a message the model rejects as out of scope counts as ``other``.
  ``--set`` picks another file of the same columns: ``tune`` (``multilingual_intents_tune.csv``,
  the set the classifier's examples and thresholds are chosen on) or ``heldout``
  (``multilingual_intents_heldout.csv``, written before any tuning and run once per change, at the
  end); ``heldout2`` (``multilingual_intents_heldout2.csv``) was written after ``heldout`` had been
  read, for changes chosen on ``tune`` and ``original`` only, and is run once at the end too;
  ``heldout3`` (``multilingual_intents_heldout3.csv``) was written after both had been read (their
  errors are listed in docs/measurements.md), with other scenarios, and is run once at the end too;
  ``heldout4`` (``multilingual_intents_heldout4.csv``) was written after all three had been read and before
  the fifteenth session's change to how not-actionable mail is learned, with other scenarios (its
  not-actionable rows are kinds the shipped generic text does not cover), and is run once at the end too;
  ``heldout5`` (``multilingual_intents_heldout5.csv``) was written in the sixteenth session (2026-12-02, helper 1)
  after all four had been read and before any of that session's changes or any look at its errors: new
  scenarios (several of them requests to change, return or cancel asked as questions: "would it be possible to
  send it to a pickup point?"), written in English and then in each language by the same writer, informal,
  regional and with typos; it is run once on the code before the session's change and once at the end;
  ``heldout6`` (``multilingual_intents_heldout6.csv``) was written in the same session by helper 9 after all five had
  been read and before its change to the not-actionable text: new scenarios (a wardrobe delivery moved to the 21st,
  a parcel-locker code that opens nothing, a price drop a week after buying, a podcast sponsorship pitch, a payout
  notification, "sent to the wrong address, ignore this"), each written in the seven languages; run once on the code
  before that change and once at the end;
  ``heldout7`` (``multilingual_intents_heldout7.csv``) was written in the seventeenth session (2026-12-02, helper 1)
  after all six had been read and before that helper read the classifier's code or ran anything: new scenarios (a
  parcel held while the family is away, a fridge moved to Saturday, 82 in the basket and 91 taken, an office address
  saved beside the home one, "never mind, my husband had already collected it, close the ticket", a job application,
  an out-of-office reply), written in English and then in each language (Brazilian Portuguese) by the same writer;
  run once on the code before that helper's change and once at the end;
  ``heldout8`` (``multilingual_intents_heldout8.csv``) was written in the seventeenth session (2026-12-02, helper 5)
  after all the earlier sets had been read and before that helper's change to the classifier head: new scenarios (a
  fridge left on the pavement, a proof-of-delivery photo of someone else's door, two identical birthday lamps, a
  gift card emptied by a smaller order, an account in a late father's name, a shopping list typed in the wrong tab),
  each written in the seven languages (Brazilian Portuguese); run once on the code before that change and once at the end.
  Earlier sessions chose things while reading the original set, so it flatters the product; the
  held-out sets are the honest figures. The neutral-sentiment line reads the chosen set's rows.
- Sentiment: ``bench/data/sentiment_angry.csv`` (105 clearly angry messages: complaints, threats,
  sarcasm, shouting; 15 per language) must score negative or very_negative; the neutral questions
  are the intent set's plain requests (order status, returns, cancellations, changes, account,
  product, discount questions, not-actionable), which must not.
- Signals: ``bench/data/signals.csv`` — messages with the signals they should raise (and must not).

``--lookalikes`` runs the same sets with every Latin a, e, o, c and p written in its Cyrillic
look-alike ("thе rеsеt еmail"), the spelling that hid intents and the answering passage before
:mod:`pipeline.lookalikes` (figures should match the plain run).

None of these files is used for training: the models learn from ``config/intents.yaml`` and
``pipeline/data/`` only.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "bench" / "data"
LANGS = ("en", "fr", "es", "de", "it", "nl", "pt")
SETS = {"original": "multilingual_intents.csv", "tune": "multilingual_intents_tune.csv",
        "heldout": "multilingual_intents_heldout.csv", "heldout2": "multilingual_intents_heldout2.csv",
        "heldout3": "multilingual_intents_heldout3.csv", "heldout4": "multilingual_intents_heldout4.csv",
        "heldout5": "multilingual_intents_heldout5.csv", "heldout6": "multilingual_intents_heldout6.csv",
        "heldout7": "multilingual_intents_heldout7.csv",
        "heldout8": "multilingual_intents_heldout8.csv"}
NEUTRAL_INTENTS = {"order_status", "return_refund", "cancel_order", "change_order", "account_access",
                   "account_change", "product_question", "discount_promo", "other"}


SPOOF = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "p": "\u0440"})
_spoof = False


def _rows(name: str | Path) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as fh:  # an absolute path replaces DATA
        rows = list(csv.DictReader(fh))
    if _spoof:
        for r in rows:
            r["text"] = r["text"].translate(SPOOF)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config"))
    ap.add_argument("--model", default=None, help="embedding model (default: the project default)")
    ap.add_argument("--with-minilm", action="store_true", help="MiniLM's vector beside e5's (SIDECAR_TRIAGE_MINILM=1)")
    ap.add_argument("--show-errors", action="store_true")
    ap.add_argument("--set", default="original",
                    help="intent set: original (default), tune, heldout, heldout2, heldout3, heldout4, heldout5, heldout6, heldout7, heldout8, or the path of a CSV (text,label,lang)")
    ap.add_argument("--intents-only", action="store_true", help="skip the sentiment and signal figures")
    ap.add_argument("--lookalikes", action="store_true", help="every message spelled with Cyrillic look-alike letters")
    args = ap.parse_args()
    global _spoof
    _spoof = args.lookalikes
    var = Path(tempfile.mkdtemp(prefix="bench-var-"))
    os.environ["SIDECAR_VAR"] = str(var)

    from app.settings import load_settings
    from knowledge.embedding import select_companion, select_english_triage, select_model
    from pipeline.config import load_config
    from pipeline.local_classifier import classify_local, embed_sentiment
    from pipeline.signals import detect_signals, sentiment

    model = select_model(args.model)
    select_companion(args.with_minilm)
    # SIDECAR_TRIAGE_ENGLISH (README): English messages on their own head on bge's vectors, or not.
    english = select_english_triage(load_settings().triage_english)
    cfg = load_config(args.config)
    learned = var / "learned_examples.jsonl"
    print(f"embedding model {model}{' (English messages: their own head on bge-small-en-v1.5)' if english else ''}")

    set_file = SETS.get(args.set, args.set)
    intents = _rows(Path(set_file).resolve() if args.set not in SETS else set_file)
    ok: dict[str, list[bool]] = defaultdict(list)
    errors = []
    for r in intents:
        pred, oos = classify_local(r["text"], cfg, learned)
        got = cfg.intents.oos_intent if oos else pred.label
        ok[r["lang"]].append(got == r["label"])
        if got != r["label"]:
            errors.append((r["lang"], r["label"], got, round(pred.confidence, 2), r["text"]))
    print(f"intents: {set_file} ({len(intents)} messages, production thresholds)   target >= 90% in every language")
    for lang in LANGS:
        v = ok[lang]
        if v:  # a set may leave a language out
            print(f"  {lang}  {100 * sum(v) / len(v):5.1f}%  ({sum(v)}/{len(v)})")
    allv = [x for v in ok.values() for x in v]
    print(f"  all {100 * sum(allv) / len(allv):5.1f}%")
    confusion: dict[tuple[str, str], int] = defaultdict(int)
    for _lang, gold, got, _conf, _text in errors:
        confusion[(gold, got)] += 1
    if confusion:
        print("  errors, gold -> read as (count): " + ", ".join(
            f"{g} -> {p} {n}" for (g, p), n in sorted(confusion.items(), key=lambda kv: (-kv[1], kv[0]))))
    if args.intents_only:
        if args.show_errors:
            for lang, gold, got, conf, text in errors:
                print(f"    intent error [{lang}] gold {gold} got {got} ({conf:.2f}) {text}")
        return

    def negative(texts: list[str]) -> list[bool]:
        embs = embed_sentiment(texts)
        return [sentiment(t, cfg, e)[0] in ("negative", "very_negative") for t, e in zip(texts, embs, strict=True)]

    angry = _rows("sentiment_angry.csv")
    neg = negative([r["text"] for r in angry])
    by: dict[str, list[bool]] = defaultdict(list)
    for r, n in zip(angry, neg, strict=True):
        by[r["lang"]].append(n)
    print(f"sentiment: angry messages scored negative   {100 * sum(neg) / len(neg):5.1f}%  ({sum(neg)}/{len(neg)})"
          "   target >= 90%")
    print("  " + "  ".join(f"{lang} {100 * sum(by[lang]) / len(by[lang]):.0f}%" for lang in LANGS))
    neutral = [r for r in intents if r["label"] in NEUTRAL_INTENTS]
    nn = negative([r["text"] for r in neutral])
    print(f"sentiment: neutral questions scored negative {100 * sum(nn) / len(nn):5.1f}%  ({sum(nn)}/{len(nn)})"
          "   target <= 5%")
    if args.show_errors:
        for r, n in zip(angry, neg, strict=True):
            if not n:
                print(f"    missed angry [{r['lang']}] {r['text'][:100]}")
        for r, n in zip(neutral, nn, strict=True):
            if n:
                print(f"    neutral scored negative [{r['lang']}] {r['text'][:100]}")

    sig_rows = _rows("signals.csv")
    hits = misses = false = 0
    for r in sig_rows:
        want = {s for s in r["signals"].split() if s}
        got = set(detect_signals(r["text"]))
        hits += len(want & got)
        misses += len(want - got)
        unwanted = {s for s in r["must_not"].split() if s} & got
        false += len(unwanted)
        if args.show_errors and (want - got or unwanted):
            print(f"    signals [{r['lang']}] want {sorted(want)} got {sorted(got)}: {r['text'][:90]}")
    print(f"signals: {hits}/{hits + misses} expected signals raised, {false} raised where they must not "
          f"({len(sig_rows)} messages)")
    if args.show_errors:
        for e in errors:
            lang, gold, got, conf, text = e
            print(f"    intent error [{lang}] gold {gold} got {got} ({conf:.2f}) {text}")


if __name__ == "__main__":
    main()
