"""The backtest report: figures streamed from ``results.jsonl``, written as HTML, CSV and JSON.

Figures (all on processed rows, i.e. solved/closed tickets with a public customer message):

* **Draft vs the agent's first public reply** — ``pipeline.feedback.classify_edit``, the live
  feedback measure: ``sent_as_is`` (similarity ≥ 0.9), ``edited`` (≥ 0.5), ``rewritten``.
  *Predicted acceptance* of an intent = share of its drafted-and-answered tickets not rewritten.
* **Intent vs agent labels** (``backtest.yaml`` mapping; unmapped and ambiguous tickets excluded):
  per-intent precision = right / predicted as the intent, recall = right / labelled as the
  intent, and the confusion table (rows = agents' label, columns = prediction).
* **Auto-reply** — under the given rules: how many would have been sent, and how many of those
  the agent's real reply *agreed* with (verdict not ``rewritten`` and, where labelled, the label
  is the predicted intent); ``strict`` counts ``sent_as_is`` only. Per threshold: the same on the
  what-if plan (every guard except the rule's switch passed) with confidence ≥ threshold.
* **Escalation** — would have fired (the plan's escalation reasons) vs actually escalated
  (``backtest.yaml``: urgent priority, escalation tags), with first-response times.
* **LLM** — prompt/completion tokens and estimated cost, per ticket and in total.

Memory is bounded: counters per intent (and intent pair), and first-response-time samples in
fixed-size reservoirs (exact up to 10,000 tickets per cell, a uniform sample beyond).
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from pipeline.config import Config

THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
MIN_N = 20  # fewer tickets than this: no recommendation beyond "not enough data"
AUTO_TARGET = 0.9  # agreement needed to suggest auto-reply at a threshold
DRAFT_TARGET = 0.5  # predicted acceptance needed for "safe to draft"
LABEL_PRECISION_FLOOR = 0.7  # below: the classifier is too often wrong on this intent
RESERVOIR = 10_000
AGREE = ("sent_as_is", "edited")
VERDICTS = ("sent_as_is", "edited", "rewritten")


class Reservoir:
    """A uniform sample of at most ``k`` values (Algorithm R, seeded: the same input gives the same sample)."""

    def __init__(self, k: int = RESERVOIR, seed: int = 15):
        self.k, self.n, self.values = k, 0, []
        self._rng = random.Random(seed)

    def add(self, v: float) -> None:
        self.n += 1
        if len(self.values) < self.k:
            self.values.append(v)
        else:
            j = self._rng.randrange(self.n)
            if j < self.k:
                self.values[j] = v

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile (q in 0..1) of the sample; None when empty."""
        if not self.values:
            return None
        s = sorted(self.values)
        return s[max(0, math.ceil(q * len(s)) - 1)]


@dataclass
class IntentStats:
    n: int = 0
    bands: Counter = field(default_factory=Counter)
    drafted: int = 0
    verdicts: Counter = field(default_factory=Counter)
    similarity_sum: float = 0.0
    would_auto: int = 0
    would_auto_replied: int = 0
    would_auto_agreed: int = 0
    would_auto_agreed_strict: int = 0
    # threshold -> [eligible, replied, agreed, agreed_strict]
    thresholds: dict[float, list[int]] = field(default_factory=lambda: {t: [0, 0, 0, 0] for t in THRESHOLDS})
    escalate: int = 0
    conf_hist: list[int] = field(default_factory=lambda: [0] * 10)


def iter_rows(results: Path) -> Iterator[dict[str, Any]]:
    """Rows of ``results.jsonl``, one ticket+message once (a resumed run may have written one twice)."""
    seen: set[tuple[str, str]] = set()
    with results.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            key = (str(row.get("ticket_id")), str(row.get("message_id")))
            if key in seen:
                continue
            seen.add(key)
            yield row


def _agrees(row: dict[str, Any], strict: bool = False) -> bool:
    ok = row.get("verdict") == "sent_as_is" if strict else row.get("verdict") in AGREE
    return ok and (row.get("label") is None or row.get("label") == row.get("intent"))


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def aggregate(results: Path, cfg: Config, meta: dict[str, Any]) -> dict[str, Any]:
    """Stream ``results.jsonl`` into the summary dict (the JSON summary and what the HTML shows)."""
    status: Counter = Counter()
    reasons: Counter = Counter()
    per: dict[str, IntentStats] = defaultdict(IntentStats)
    confusion: Counter = Counter()
    unmapped: Counter = Counter()
    ambiguous = 0
    esc: Counter = Counter()
    frt = {k: Reservoir() for k in ("all", "tp", "fp", "fn", "tn")}
    llm = {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "rows_with_llm": 0, "llm_calls": 0}
    languages: Counter = Counter()
    replied = drafted_replied = 0
    for row in iter_rows(results):
        status[row.get("status")] += 1
        if row.get("status") != "processed":
            reasons[f"{row.get('status')}: {str(row.get('reason') or '')[:80]}"] += 1
            continue
        intent = row["intent"]
        s = per[intent]
        s.n += 1
        s.bands[row.get("band") or "low"] += 1
        s.conf_hist[min(9, int(float(row.get("confidence") or 0) * 10))] += 1
        languages[row.get("language") or "?"] += 1
        if row.get("draft_kind") not in (None, "none"):
            s.drafted += 1
        if row.get("agent_replied"):
            replied += 1
        if row.get("verdict"):
            drafted_replied += 1
            s.verdicts[row["verdict"]] += 1
            s.similarity_sum += float(row.get("similarity") or 0.0)
        if row.get("would_auto_reply"):
            s.would_auto += 1
            if row.get("agent_replied"):
                s.would_auto_replied += 1
                s.would_auto_agreed += _agrees(row)
                s.would_auto_agreed_strict += _agrees(row, strict=True)
        if row.get("auto_eligible"):
            conf = float(row.get("confidence") or 0)
            for t, cell in s.thresholds.items():
                if conf >= t:
                    cell[0] += 1
                    if row.get("agent_replied"):
                        cell[1] += 1
                        cell[2] += _agrees(row)
                        cell[3] += _agrees(row, strict=True)
        label = row.get("label")
        if label:
            confusion[(label, intent)] += 1
        else:
            unmapped[intent] += 1
            ambiguous += bool(row.get("label_ambiguous"))
        would = bool(row.get("escalate"))
        s.escalate += would
        actual = bool(row.get("escalated_actual"))
        cell = "tp" if would and actual else "fp" if would else "fn" if actual else "tn"
        esc[cell] += 1
        secs = row.get("first_response_seconds")
        if secs is not None:
            frt["all"].add(float(secs))
            frt[cell].add(float(secs))
        if row.get("llm_calls"):
            llm["rows_with_llm"] += 1
            llm["llm_calls"] += int(row["llm_calls"])
        llm["prompt_tokens"] += int(row.get("prompt_tokens") or 0)
        llm["completion_tokens"] += int(row.get("completion_tokens") or 0)
        llm["cost_usd"] += float(row.get("cost_usd") or 0.0)
    processed = status.get("processed", 0)
    labelled = sum(confusion.values())
    intents_out = []
    names = [n for n in cfg.intent_names if n in per or any(k[0] == n for k in confusion)]
    names += sorted(n for n in per if n not in names)
    for name in names:
        s = per.get(name) or IntentStats()
        tp = confusion.get((name, name), 0)
        predicted_labelled = sum(v for (lab, pred), v in confusion.items() if pred == name)
        support = sum(v for (lab, pred), v in confusion.items() if lab == name)
        answered = sum(s.verdicts.values())
        acceptance = _ratio(s.verdicts["sent_as_is"] + s.verdicts["edited"], answered)
        thr = []
        for t in THRESHOLDS:
            e, r, a, a_strict = s.thresholds[t]
            thr.append({"threshold": t, "eligible": e, "replied": r, "agreed": a, "agreed_strict": a_strict,
                        "precision": _ratio(a, r), "precision_strict": _ratio(a_strict, r)})
        item = {
            "intent": name, "sensitive": cfg.is_sensitive(name), "tickets": s.n,
            "share": _ratio(s.n, processed), "bands": {b: s.bands.get(b, 0) for b in ("high", "medium", "low")},
            "drafted": s.drafted, "draft_vs_reply": {v: s.verdicts.get(v, 0) for v in VERDICTS},
            "mean_similarity": _ratio(s.similarity_sum, answered), "predicted_acceptance": acceptance,
            "labelled_support": support, "predicted_labelled": predicted_labelled, "correct": tp,
            "precision": _ratio(tp, predicted_labelled), "recall": _ratio(tp, support),
            "auto_reply": {"would_send": s.would_auto, "replied": s.would_auto_replied,
                           "agreed": s.would_auto_agreed, "agreed_strict": s.would_auto_agreed_strict,
                           "precision": _ratio(s.would_auto_agreed, s.would_auto_replied),
                           "precision_strict": _ratio(s.would_auto_agreed_strict, s.would_auto_replied)},
            "auto_reply_by_threshold": thr, "would_escalate": s.escalate, "confidence_histogram": s.conf_hist,
        }
        item["recommendation"] = recommend(item)
        intents_out.append(item)
    tp, fp, fn, tn = (esc.get(k, 0) for k in ("tp", "fp", "fn", "tn"))
    f1s = [2 * i["precision"] * i["recall"] / (i["precision"] + i["recall"])
           for i in intents_out if i["labelled_support"] and i["precision"] and i["recall"]]
    labelled_intents = [i for i in intents_out if i["labelled_support"]]

    def frt_stats(r: Reservoir) -> dict[str, Any]:
        return {"n": r.n, "median_seconds": r.quantile(0.5), "p90_seconds": r.quantile(0.9)}

    summary = {
        "backtest": meta,
        "tickets": {"rows": sum(status.values()), "processed": processed, "skipped": status.get("skipped", 0),
                    "failed": status.get("failed", 0), "agent_replied": replied, "drafted_and_replied": drafted_replied,
                    "not_processed_reasons": dict(reasons.most_common(10)), "languages": dict(languages.most_common(10))},
        "labels": {"labelled": labelled, "unmapped": sum(unmapped.values()), "ambiguous": ambiguous,
                   "accuracy": _ratio(sum(v for (a, b), v in confusion.items() if a == b), labelled),
                   "macro_f1": round(sum(f1s) / len(labelled_intents), 4) if labelled_intents else None,
                   "confusion": [{"label": a, "predicted": b, "count": v} for (a, b), v in sorted(confusion.items())],
                   "unmapped_predictions": dict(unmapped.most_common())},
        "escalation": {"would_and_did": tp, "would_not_did": fp, "missed": fn, "neither": tn,
                       "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn),
                       "first_response": {"all": frt_stats(frt["all"]), "would_and_did": frt_stats(frt["tp"]),
                                          "would_not_did": frt_stats(frt["fp"]), "missed": frt_stats(frt["fn"]),
                                          "neither": frt_stats(frt["tn"])}},
        "auto_reply": {"would_send": sum(i["auto_reply"]["would_send"] for i in intents_out),
                       "replied": sum(i["auto_reply"]["replied"] for i in intents_out),
                       "agreed": sum(i["auto_reply"]["agreed"] for i in intents_out)},
        "llm": {**llm, "cost_usd": round(llm["cost_usd"], 8),
                "cost_per_ticket_usd": round(llm["cost_usd"] / processed, 8) if processed else None,
                "tokens_per_ticket": round((llm["prompt_tokens"] + llm["completion_tokens"]) / processed, 1)
                if processed else None},
        "intents": intents_out,
        "thresholds": {"min_tickets": MIN_N, "auto_reply_agreement": AUTO_TARGET, "draft_acceptance": DRAFT_TARGET,
                       "label_precision_floor": LABEL_PRECISION_FLOOR},
    }
    summary["auto_reply"]["precision"] = _ratio(summary["auto_reply"]["agreed"], summary["auto_reply"]["replied"])
    return summary


def recommend(item: dict[str, Any]) -> str:
    """A short recommended action for an intent from its figures (thresholds documented in the report)."""
    n = item["tickets"]
    if n < MIN_N:
        return f"not enough tickets ({n} < {MIN_N})"
    suffix = " (sensitive: never auto-reply)" if item["sensitive"] else ""
    if item["labelled_support"] >= MIN_N and item["precision"] is not None and item["precision"] < LABEL_PRECISION_FLOOR:
        return f"keep human: intent right in {item['precision']:.0%} of labelled tickets" + suffix
    if not item["sensitive"]:
        for row in item["auto_reply_by_threshold"]:
            if row["replied"] >= MIN_N and (row["precision"] or 0) >= AUTO_TARGET:
                return f"candidate for auto-reply at ≥ {row['threshold']:g} ({row['precision']:.0%} agreement, " \
                       f"{row['eligible']} tickets)"
    acc = item["predicted_acceptance"]
    if acc is not None and sum(item["draft_vs_reply"].values()) >= MIN_N and acc >= DRAFT_TARGET:
        return "safe to draft" + suffix
    if item["drafted"]:
        return "draft for review: agents rewrite most drafts" + suffix
    return "keep human" + suffix


# ------------------------------------------------------------------------------------------- CSV

CSV_COLUMNS = ("platform", "ticket_id", "url", "created_at", "status", "reason", "message_id", "intent", "confidence",
               "band", "actions", "tags", "escalate", "would_auto_reply", "auto_eligible", "draft_kind",
               "draft_sources", "verdict", "similarity", "agent_replied", "first_response_seconds", "label",
               "label_source", "label_raw", "escalated_actual", "language", "sentiment", "priority",
               "prompt_tokens", "completion_tokens", "cost_usd", "subject")


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting with = + - @ (or a tab/CR) gets a leading quote."""
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(path: Path, results: Path) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for row in iter_rows(results):
            w.writerow([csv_safe(row.get(c)) if row.get(c) is not None else "" for c in CSV_COLUMNS])
            n += 1
    return n


REVIEW_COLUMNS = ("approve", "text", "label", "predicted", "confidence", "label_source", "label_raw", "ticket_id", "url")


def write_review(path: Path, results: Path) -> int:
    """``labels_review.csv``: agent-labelled tickets to review before ``intents learn --from-backtest``.

    ``approve`` is empty: nothing is learned until a person writes ``yes`` on a row. Disagreements
    between agents and the classifier come first (what the model would learn from), then agreements.
    """
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(REVIEW_COLUMNS)
        for disagree in (True, False):
            for row in iter_rows(results):
                if row.get("status") != "processed" or not row.get("label") or not row.get("text"):
                    continue
                if (row["label"] != row["intent"]) != disagree:
                    continue
                w.writerow([csv_safe(x) for x in ("", row["text"], row["label"], row["intent"], row["confidence"],
                                                  row.get("label_source"), row.get("label_raw"), row["ticket_id"],
                                                  row.get("url") or "")])
                n += 1
    return n


# ------------------------------------------------------------------------------------------ HTML

PALETTE = {"high": "#2e7d32", "medium": "#f9a825", "low": "#c62828", "sent_as_is": "#2e7d32", "edited": "#f9a825",
           "rewritten": "#c62828"}
LINE_COLORS = ("#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457", "#4e342e", "#37474f")


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def _dur(v: float | None) -> str:
    if v is None:
        return "–"
    if v < 3600:
        return f"{v / 60:.0f} min"
    if v < 48 * 3600:
        return f"{v / 3600:.1f} h"
    return f"{v / 86400:.1f} d"


def svg_stacked_bars(title: str, rows: list[tuple[str, dict[str, int]]], keys: tuple[str, ...], chart_id: str) -> str:
    """Horizontal stacked bars, one per row, segments in ``keys`` order, with a legend."""
    width, label_w, bar_h, gap = 720, 170, 18, 6
    plot_w = width - label_w - 60
    top = 28
    height = top + len(rows) * (bar_h + gap) + 30
    biggest = max([sum(v.values()) for _, v in rows] + [1])
    parts = [f'<svg id="{chart_id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="0" y="16" class="t">{escape(title)}</text>']
    for i, (name, values) in enumerate(rows):
        y = top + i * (bar_h + gap)
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(name)}</text>')
        x = float(label_w)
        for k in keys:
            v = values.get(k, 0)
            if not v:
                continue
            w = plot_w * v / biggest
            parts.append(f'<rect class="seg" data-key="{k}" data-value="{v}" x="{x:.1f}" y="{y}" width="{w:.1f}" '
                         f'height="{bar_h}" fill="{PALETTE.get(k, "#607d8b")}"><title>{escape(name)} · {k}: {v}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}">{sum(values.values())}</text>')
    ly = height - 10
    for j, k in enumerate(keys):
        lx = label_w + j * 120
        parts.append(f'<rect x="{lx}" y="{ly - 10}" width="10" height="10" fill="{PALETTE.get(k, "#607d8b")}"/>'
                     f'<text x="{lx + 14}" y="{ly}">{escape(k.replace("_", " "))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_threshold_lines(title: str, series: list[tuple[str, list[tuple[float, float | None]]]], chart_id: str) -> str:
    """Agreement (0..1) against the auto-reply threshold, one line per intent, with the target line."""
    width, height, left, right, top, bottom = 720, 300, 50, 180, 30, 40
    pw, ph = width - left - right, height - top - bottom
    lo, hi = THRESHOLDS[0], THRESHOLDS[-1]

    def sx(t: float) -> float:
        return left + pw * (t - lo) / (hi - lo)

    def sy(v: float) -> float:
        return top + ph * (1 - v)

    parts = [f'<svg id="{chart_id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="0" y="16" class="t">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#999"/>']
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.0%}</text>')
    for t in THRESHOLDS:
        parts.append(f'<text x="{sx(t):.1f}" y="{top + ph + 16}" text-anchor="middle">{t:g}</text>')
    parts.append(f'<line class="target" x1="{left}" y1="{sy(AUTO_TARGET):.1f}" x2="{left + pw}" y2="{sy(AUTO_TARGET):.1f}" '
                 f'stroke="#c62828" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{left + pw / 2:.0f}" y="{height - 4}" text-anchor="middle">confidence threshold</text>')
    for i, (name, pts) in enumerate(series):
        color = LINE_COLORS[i % len(LINE_COLORS)]
        xy = [(sx(t), sy(v)) for t, v in pts if v is not None]
        if not xy:
            continue
        parts.append(f'<polyline class="line" data-intent="{escape(name)}" fill="none" stroke="{color}" stroke-width="2" '
                     f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in xy)}"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in xy]
        parts.append(f'<rect x="{left + pw + 12}" y="{top + i * 18}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + pw + 26}" y="{top + i * 18 + 9}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _confusion_table(summary: dict[str, Any]) -> str:
    cells = {(c["label"], c["predicted"]): c["count"] for c in summary["labels"]["confusion"]}
    if not cells:
        return "<p class='muted'>No agent labels mapped to intents (see <code>backtest.yaml</code>).</p>"
    labels = sorted({a for a, _ in cells})
    preds = sorted({b for _, b in cells})
    top = max(cells.values())
    head = "".join(f"<th class='rot'><span>{escape(p)}</span></th>" for p in preds)
    out = [f"<table id='confusion' class='grid'><thead><tr><th>agents' label ↓ / predicted →</th>{head}</tr></thead><tbody>"]
    for a in labels:
        tds = []
        for b in preds:
            v = cells.get((a, b), 0)
            alpha = 0.12 + 0.78 * v / top if v else 0
            color = "46,125,50" if a == b else "198,40,40"
            tds.append(f"<td data-label='{escape(a)}' data-predicted='{escape(b)}' style='background:rgba({color},{alpha:.2f})'>"
                       f"{v or ''}</td>")
        out.append(f"<tr><th>{escape(a)}</th>{''.join(tds)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:130px}.card b{display:block;font-size:20px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 7px;text-align:right}
th{background:#f5f5f5}td.l,th.l{text-align:left}.grid td{min-width:26px;text-align:center}
th.rot{height:110px;vertical-align:bottom}th.rot span{writing-mode:vertical-rl;transform:rotate(180deg)}
svg.chart{display:block;margin:10px 0}svg text{font-size:12px;fill:#333}svg text.t{font-size:14px;font-weight:600}
.rec{font-weight:600}.sens{font-size:11px;background:#fde0dc;color:#8a1c1c;border-radius:3px;padding:0 4px;margin-left:4px}code{background:#f3f3f3;padding:1px 4px;border-radius:3px}
"""


SENS = ' <span class="sens">sensitive</span>'


def render_html(summary: dict[str, Any]) -> str:
    """The report page: no scripts, no external assets, every value escaped."""
    m, t, lab, esc_ = summary["backtest"], summary["tickets"], summary["labels"], summary["escalation"]
    intents = summary["intents"]
    shown = [i for i in intents if i["tickets"]]
    cards = [("tickets replayed", t["processed"]), ("agent replied", t["agent_replied"]),
             ("labelled by agents", lab["labelled"]), ("intent accuracy (labelled)", _pct(lab["accuracy"])),
             ("auto-replies under these rules", summary["auto_reply"]["would_send"]),
             ("their agreement", _pct(summary["auto_reply"]["precision"])),
             ("escalation recall", _pct(esc_["recall"])), ("LLM cost", f"${summary['llm']['cost_usd']:.2f}")]
    card_html = "".join(f"<div class='card' data-k='{escape(k)}'><span class='muted'>{escape(k)}</span><b>{escape(str(v))}</b></div>"
                        for k, v in cards)
    rows = []
    for i in intents:
        ar = i["auto_reply"]
        rows.append(
            f"<tr data-intent='{escape(i['intent'])}'><td class='l'>{escape(i['intent'])}{SENS if i['sensitive'] else ''}</td>"
            f"<td>{i['tickets']}</td><td>{_pct(i['share'])}</td><td>{i['bands']['high']}/{i['bands']['medium']}/{i['bands']['low']}</td>"
            f"<td>{_pct(i['precision'])}</td><td>{_pct(i['recall'])}</td><td>{i['labelled_support']}</td>"
            f"<td>{_pct(i['predicted_acceptance'])}</td><td>{ar['would_send']}</td><td>{_pct(ar['precision'])}</td>"
            f"<td>{i['would_escalate']}</td><td class='l rec'>{escape(i['recommendation'])}</td></tr>")
    bands = svg_stacked_bars("Tickets per predicted intent, by confidence band",
                             [(i["intent"], i["bands"]) for i in shown], ("high", "medium", "low"), "chart-intents")
    verdicts = svg_stacked_bars("Draft vs the agent's first reply (live-feedback similarity)",
                                [(i["intent"], i["draft_vs_reply"]) for i in shown if sum(i["draft_vs_reply"].values())],
                                VERDICTS, "chart-verdicts")
    series = [(i["intent"], [(r["threshold"], r["precision"]) for r in i["auto_reply_by_threshold"]])
              for i in shown if not i["sensitive"] and any(r["replied"] for r in i["auto_reply_by_threshold"])]
    lines = svg_threshold_lines(f"Auto-reply agreement by threshold (target {AUTO_TARGET:.0%}, dashed)", series[:8],
                                "chart-thresholds")
    fr = esc_["first_response"]
    frt_rows = "".join(
        f"<tr><td class='l'>{escape(name)}</td><td>{fr[k]['n']}</td><td>{_dur(fr[k]['median_seconds'])}</td>"
        f"<td>{_dur(fr[k]['p90_seconds'])}</td></tr>"
        for name, k in (("would escalate, was escalated", "would_and_did"), ("would escalate, was not", "would_not_did"),
                        ("missed (escalated, we would not)", "missed"), ("neither", "neither"), ("all", "all")))
    th = summary["thresholds"]
    llm = summary["llm"]
    reasons = "".join(f"<li>{escape(k)}: {v}</li>" for k, v in t["not_processed_reasons"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Backtest report · {escape(m['platform'])}</title><style>{CSS}</style></head><body>
<h1>What the sidecar would have done: {escape(m['platform'])} history</h1>
<p class="muted">Solved/closed tickets updated {escape(m['since'])} → {escape(m['until'])}; rules:
<code>{escape(m.get('rules') or 'config/rules.yaml')}</code>. Read-only: nothing was written to the helpdesk,
no notes, no Slack, no decision-log rows.</p>
<div class="cards" id="cards">{card_html}</div>
<h2>Per intent</h2>
<table id="intents"><thead><tr><th class="l">intent</th><th>tickets</th><th>share</th><th>bands h/m/l</th>
<th>precision</th><th>recall</th><th>labelled</th><th>predicted acceptance</th><th>auto-replies</th>
<th>agreement</th><th>escalations</th><th class="l">recommended action</th></tr></thead><tbody>{''.join(rows)}</tbody></table>
<p class="muted">Precision/recall against agents' labels mapped in <code>backtest.yaml</code>. Predicted acceptance: share of
drafts the agent's first reply did not rewrite (similarity ≥ 0.5). Agreement: auto-replies whose real reply was sent as is
or edited (and whose label, if any, matches). Recommendations need ≥ {th['min_tickets']} tickets; auto-reply needs
≥ {th['auto_reply_agreement']:.0%} agreement; drafting ≥ {th['draft_acceptance']:.0%} acceptance. Sensitive intents are never auto-replied.</p>
{bands}
{verdicts}
{lines}
<h2>Intent vs agents' labels</h2>
<p>{lab['labelled']} labelled, {lab['unmapped']} without a mapped label ({lab['ambiguous']} ambiguous); accuracy
{_pct(lab['accuracy'])}, macro F1 {escape(str(lab['macro_f1']))}.</p>
{_confusion_table(summary)}
<h2>Escalations</h2>
<table id="escalation"><tr><th></th><th>escalated</th><th>not escalated</th></tr>
<tr><th class="l">would escalate</th><td>{esc_['would_and_did']}</td><td>{esc_['would_not_did']}</td></tr>
<tr><th class="l">would not</th><td>{esc_['missed']}</td><td>{esc_['neither']}</td></tr></table>
<p>Precision {_pct(esc_['precision'])}, recall {_pct(esc_['recall'])}.</p>
<table id="frt"><tr><th class="l">first response time</th><th>tickets</th><th>median</th><th>p90</th></tr>{frt_rows}</table>
<h2>LLM usage</h2>
<p>{llm['rows_with_llm']} tickets used an LLM ({llm['llm_calls']} calls): {llm['prompt_tokens']} prompt +
{llm['completion_tokens']} completion tokens, ${llm['cost_usd']:.4f} in total
({escape(str(llm['cost_per_ticket_usd']))} per ticket).</p>
<h2>Run</h2>
<p class="muted">{t['rows']} rows: {t['processed']} replayed, {t['skipped']} skipped, {t['failed']} failed;
{escape(str(m.get('api_calls')))} API calls (GET only) in {escape(str(m.get('elapsed_seconds')))} s.</p>
<ul class="muted">{reasons}</ul>
</body></html>
"""


def write_report(out: Path, results: Path, cfg: Config, meta: dict[str, Any]) -> dict[str, Any]:
    """Write ``report.html``, ``tickets.csv``, ``labels_review.csv`` and ``summary.json``; return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    if not results.exists():
        results.touch()
    summary = aggregate(results, cfg, meta)
    summary["files"] = {"html": str(out / "report.html"), "csv": str(out / "tickets.csv"),
                        "review": str(out / "labels_review.csv"), "results": str(results)}
    summary["tickets"]["csv_rows"] = write_csv(out / "tickets.csv", results)
    summary["labels"]["review_rows"] = write_review(out / "labels_review.csv", results)
    (out / "report.html").write_text(render_html(summary), encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary
