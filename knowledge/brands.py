"""Which stored documents a ticket may be answered from, by brand: the one rule every retrieval path applies.

Documents carry a ``brand`` in their metadata (chunks, their sentence rows and their multilingual rows
alike). ``""`` means every brand: an article without ``brand:`` front matter, a help-centre article.
A past ticket is stored under its ticket's scope (:func:`pipeline.models.brand_scope`):
``zendesk:123``, ``freshdesk:7``, or ``gorgias:`` for a ticket without a brand, because brand ids are
the helpdesk's own numbers (a Zendesk brand and a Freshdesk product may both be 123) and a ticket
without a brand is not an article for every brand. Front matter may name a brand by its bare id
(``brand: 123``, as before) or by scope (``brand: zendesk:123``).

A ticket searches with its scope (:func:`allowed`):

* ``<platform>:<id>``: unbranded documents, the bare id, and the scope itself.
* ``<platform>:`` (Gorgias never sends a brand; Freshdesk only with a product): when the knowledge
  base holds one brand at most (:func:`single_brand`), everything, as before; when it holds several,
  only unbranded documents and that platform's brandless past tickets. Which brand's article or
  past ticket would answer such a ticket cannot be known, and another brand's must not be shown
  (a warning says so once per process, and ``check-config`` lists the brands).
* a bare value (``kb query --brand 123``, older callers): unbranded documents and that value.
* a brand id holding ``:`` (``zendesk:freshdesk:101``): unbranded documents and its own exact scope
  only, never, by its bare id, another platform's scope.

"Everything" is what the caller's snapshot of the store's brands holds (``knowledge.retrieve`` checks
each candidate against it): a brand stored since is not read before the rule has seen it.

Values are compared exactly, after stripping surrounding whitespace: a brand written in another case
or with look-alike letters is another brand (it sees unbranded documents only), never a wildcard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

SEP = ":"


def canonical(value: Any) -> str:
    """A stored or asked brand value as compared: surrounding whitespace is not part of an id."""
    return str(value or "").strip()


def single_brand(brands: Iterable[str]) -> bool:
    """Whether the stored brand values (``""`` ignored) name one brand at most.

    ``zendesk:123`` and a bare ``123`` count as one brand (front matter naming the bare id of the
    brand whose past tickets are stored); ``zendesk:123`` and ``freshdesk:123`` as two.
    """
    named = {canonical(b) for b in brands} - {""}
    scoped = {b for b in named if SEP in b}
    bare = named - scoped
    if len(scoped) > 1 or len(bare) > 1:
        return False
    if scoped and bare:
        return next(iter(bare)) == next(iter(scoped)).split(SEP, 1)[1]
    return True


_warned = False


def allowed(query: str | None, brands: Iterable[str] | Callable[[], Iterable[str]] | None = None
            ) -> frozenset[str] | None:
    """The stored brand values a search with ``query`` (a ticket's scope, or a bare brand) may read.

    ``brands``: the values the knowledge base holds, or a function giving them (called only for a
    ticket without a brand). None: no filter.
    """
    global _warned
    q = canonical(query)
    platform, sep, brand = q.partition(SEP)
    if not sep:
        brand, platform = q, ""
    brand = brand.strip()
    if brand and SEP in brand:
        # "zendesk:freshdesk:101": a brand id holding the separator would read, as its bare id, the scope of
        # another platform's brand ("freshdesk:101", its past tickets). No helpdesk sends such an id; it is
        # another brand, never a way into one: unbranded documents and its own exact scope only.
        return frozenset({"", q})
    if brand:
        return frozenset({"", brand} | ({f"{platform}{SEP}{brand}"} if sep else set()))
    if callable(brands):
        brands = brands()
    held = sorted({canonical(b) for b in brands or ()} - {""})
    if single_brand(held):
        return None
    if not _warned:
        _warned = True
        log.warning("the knowledge base holds several brands (%s): tickets without a brand (Gorgias; Freshdesk "
                    "without a product) are answered from unbranded documents%s only", ", ".join(held[:10]),
                    " and their platform's brandless past tickets" if sep else "")
    return frozenset({""} | ({f"{platform}{SEP}"} if sep and platform else set()))


def legacy_ticket_scope(meta: dict[str, Any]) -> str | None:
    """The scope a past ticket stored before scopes existed should carry (None: nothing to change).

    Its platform is in its document id (``ticket:<platform>:<id>``, :mod:`knowledge.tickets`).
    """
    if meta.get("source_type") != "ticket":
        return None
    brand = canonical(meta.get("brand"))
    if SEP in brand:
        return None
    parts = str(meta.get("doc_id") or "").split(SEP)
    if len(parts) < 3 or parts[0] != "ticket" or not parts[1]:
        return None
    return f"{parts[1]}{SEP}{brand}"


# Recorded in the collection's metadata once every past ticket carries its scope: the re-tag runs on every
# kb write (ingest, sync, add-tickets), and without it each one read every past ticket's metadata again.
# Nothing written since can need it (past tickets are stored under their scope).
SCOPED_MARK = "brand_scopes"


def scope_legacy_tickets(store: Any, page: int = 1000) -> int:
    """Give past tickets stored before scopes existed their scope (chunks, sentences, multilingual rows).

    Before, a brandless past ticket (every Gorgias one) was stored as ``""``, which every brand's
    tickets read, and a branded one under the bare id, which the other platform's brand with the same
    number read. Idempotent; nothing is embedded. Bounded: one page of chunks is read and re-tagged
    at a time (re-tagging changes no past ticket's place in the listing, which is by insertion), and
    once a store is done it is marked (``SCOPED_MARK``) and never read for this again. Returns the
    chunks re-tagged.
    """
    from knowledge import multilingual, sentences

    col = store.collection
    if (col.metadata or {}).get(SCOPED_MARK):
        return 0
    done = 0
    offset = 0
    done_marked = False
    try:
        while True:
            got = col.get(where={"source_type": "ticket"}, include=["metadatas"], limit=page, offset=offset)
            changed: dict[str, dict[str, Any]] = {}
            for cid, meta in zip(got["ids"], got.get("metadatas") or [], strict=False):
                scope = legacy_ticket_scope(meta or {})
                if scope is not None:
                    changed[cid] = {**(meta or {}), "brand": scope}
            if changed:
                ids = list(changed)
                col.update(ids=ids, metadatas=[changed[c] for c in ids])
                sentences.update_metadata(store, changed)
                multilingual.update_metadata(store, changed)
                done += len(ids)
            if len(got["ids"]) < page:
                break
            offset += page
        meta = {k: v for k, v in (col.metadata or {}).items() if not k.startswith("hnsw:")}
        col.modify(metadata={**meta, SCOPED_MARK: 1})
        done_marked = True
    finally:  # other processes' BM25 indexes follow the change marker
        if done or done_marked:
            # Also after writing the mark alone: the metadata written back holds the change marker this
            # process read when it opened the store, which another process may have moved since; a new
            # one makes sure nobody stays behind (once per store).
            store.mark_changed()
    if done:
        log.info("past tickets: %d chunks given their platform-scoped brand", done)
    return done


def stored_brands(store: Any, page: int = 1000) -> list[str]:
    """Every chunk's brand value in ``store`` (metadata only, page by page)."""
    out: list[str] = []
    offset = 0
    while True:
        got = store.collection.get(include=["metadatas"], limit=page, offset=offset)
        out += [canonical((m or {}).get("brand")) for m in got.get("metadatas") or []]
        if len(got["ids"]) < page:
            return out
        offset += page


def brand_summary(values: Iterable[str]) -> str:
    """One line on the brands a knowledge base holds and what a ticket without a brand then sees."""
    held = sorted({canonical(v) for v in values} - {""})
    if not held:
        return "brands: none (every document is for every brand)"
    shown = ", ".join(held[:10]) + (f", ... ({len(held)} in all)" if len(held) > 10 else "")
    if single_brand(held):
        return f"brands: one ({shown}): tickets without a brand are answered from every document"
    return (f"brands: several ({shown}): tickets without a brand (Gorgias; Freshdesk without a product) are "
            "answered from unbranded documents and their platform's brandless past tickets only")
