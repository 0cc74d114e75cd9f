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
            reader: Any = None) -> dict[str, Any]:
    """``col.query`` for one vector, ``where`` applied: the same rows as chromadb's filtered query
    (the ``n`` nearest that pass), found through an unfiltered query ``OVERFETCH`` times larger.

    The over-fetch asks for ids and distances only: reading a row's metadata and text costs ~20
    times its distance (~70 us a row at 10k chunks), and most over-fetched rows are never kept. The
    metadata (and text) are then read for the nearest rows only, page by page, until ``n`` pass.

    ``reader``: a :class:`knowledge.rows.RowReader` of ``col``, which the rows' metadata and text are read
    through (the unfiltered query then asks chromadb for ids and distances only).
    """
    match = _matcher(where) if where else None
    if n <= 0 or (where is not None and match is None):
        return col.query(query_embeddings=[vec], n_results=max(n, 1), where=where, include=include)
    if where is None or OVERFETCH < 2:
        if reader is None or where is not None or not any(k in include for k in ("documents", "metadatas")):
            return col.query(query_embeddings=[vec], n_results=max(n, 1), where=where, include=include)
        wanted = [k for k in include if k in ("documents", "metadatas")]
        res = col.query(query_embeddings=[vec], n_results=n, include=[k for k in include if k not in wanted])
        rows = reader.read(res["ids"][0], wanted)
        keep = [i for i, cid in enumerate(res["ids"][0]) if cid in rows]  # deleted since the query: skipped
        out = {"ids": [[res["ids"][0][i] for i in keep]]}
        for key in include:
            out[key] = [[rows[out["ids"][0][j]][key] for j in range(len(keep))]] if key in wanted \
                else [[res[key][0][i] for i in keep]]
        return out
    fetched = n * OVERFETCH
    row_data = [k for k in ("documents", "metadatas") if k in include or k == "metadatas"]
    res = col.query(query_embeddings=[vec], n_results=fetched,
                    include=[k for k in include if k not in row_data])
    ids = res["ids"][0]
    keep: list[int] = []
    rows: dict[str, dict[str, Any]] = {}
    pos = 0
    while len(keep) < n and pos < len(ids):
        # The first page is as many rows as are wanted (all pass when the filter admits most of the
        # store); the next ones are sized by the share that passed so far.
        want = n - len(keep)
        share = len(keep) / pos if pos else 1.0
        page = ids[pos:pos + max(want, int(want / max(share, 0.05)))]
        if reader is not None:
            rows.update(reader.read(page, row_data))
        else:
            got = col.get(ids=page, include=row_data)
            for j, cid in enumerate(got["ids"]):
                rows[cid] = {k: got[k][j] for k in row_data}
        for i in range(pos, pos + len(page)):
            row = rows.get(ids[i])
            if row is not None and match(row["metadatas"] or {}) and len(keep) < n:
                keep.append(i)  # a row deleted since the query has no data: skipped, as chromadb would
        pos += len(page)
    if len(keep) < n and len(ids) == fetched:  # the filter is selective here: let chromadb search
        return col.query(query_embeddings=[vec], n_results=n, where=where, include=include)
    out: dict[str, Any] = {"ids": [[ids[i] for i in keep]]}
    for key in include:
        out[key] = [[rows[ids[i]][key] for i in keep]] if key in row_data else [[res[key][0][i] for i in keep]]
    return out
