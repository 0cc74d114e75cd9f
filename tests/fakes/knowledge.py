"""A knowledge base in memory, for pipeline tests that need retrieval without a store."""

from __future__ import annotations

from pipeline.models import Source


class FakeKB:
    """Answers every search with its first ``k`` passages and records what it was asked (text, brand)."""

    def __init__(self, sources: list[Source]):
        self.sources = sources
        self.queries: list[tuple[str, str | None]] = []

    def count(self) -> int:
        return len(self.sources)

    def embed(self, texts):
        return [None for _ in texts]

    def search(self, text, *, k, intent=None, brand=None, embedding=None, language=None, strict_language=False):
        self.queries.append((text, brand))
        return self.sources[:k]
