"""Fixtures for the knowledge tests (defined in kbfixtures so pipeline tests can import them too)."""

from tests.knowledge.kbfixtures import counting_store, demo_store, kb_env  # noqa: F401
