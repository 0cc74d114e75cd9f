"""Nearest-neighbour queries on a chromadb collection with a metadata filter, without chromadb's
slow filtered search in the common case."""

from __future__ import annotations

from typing import Any

# A filtered query (brand, language) is answered from an unfiltered one this many times larger,
# filtered here: chromadb's ``where`` search was ~8x slower at 10k chunks (p95 174 ms against
# 25 ms, bench/kb_bench.py). Falls back to chromadb's own filter when too few rows pass; below 2,
# always chromadb's filter (how the benchmark times both).
OVERFETCH = 4


def _matcher(where: dict[str, Any]) -> Any:
    """A predicate on a metadata dict equivalent to a chromadb ``where`` of the forms we build
    (``{"f": v}``, ``{"f": {"$in"|"$eq": ...}}``, ``$and``/``$or``); None for anything else."""
    if not isinstance(where, dict) or len(where) != 1:
        return None
    (key, cond), = where.items()
    if key in ("$and", "$or"):
        subs = [_matcher(w) for w in cond] if isinstance(cond, list) else [None]
        if any(m is None for m in subs):
            return None
        combine = all if key == "$and" else any
        return lambda meta: combine(m(meta) for m in subs)
    if key.startswith("$"):
        return None
    if isinstance(cond, dict):
        if len(cond) != 1:
            return None
        (op, val), = cond.items()
        if op == "$in" and isinstance(val, list):
            allowed = list(val)
            return lambda meta: key in meta and meta[key] in allowed
        if op == "$eq":
            return lambda meta: key in meta and meta[key] == val
        return None
    return lambda meta: key in meta and meta[key] == cond


def nearest(col: Any, vec: Any, n: int, where: dict[str, Any] | None, include: list[str],
            total: int | None = None) -> dict[str, Any]:
    """``col.query`` for one vector, ``where`` applied: the same rows as chromadb's filtered query
    (the ``n`` nearest that pass), found through an unfiltered query ``OVERFETCH`` times larger."""
    total = col.count() if total is None else total
    n = min(n, total)
    match = _matcher(where) if where else None
    if n <= 0 or where is None or match is None or OVERFETCH < 2:
        return col.query(query_embeddings=[vec], n_results=max(n, 1), where=where, include=include)
    fetched = min(total, n * OVERFETCH)
    inc = list(dict.fromkeys([*include, "metadatas"]))
    res = col.query(query_embeddings=[vec], n_results=fetched, include=inc)
    keep = [i for i, m in enumerate(res["metadatas"][0]) if match(m or {})][:n]
    if len(keep) < n and fetched < total:  # the filter is selective here: let chromadb search
        return col.query(query_embeddings=[vec], n_results=n, where=where, include=include)
    return {key: [[res[key][0][i] for i in keep]] for key in ("ids", *include)}
