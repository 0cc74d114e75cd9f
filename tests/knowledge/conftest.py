"""Fixtures for the knowledge tests (defined in kbfixtures so pipeline tests can import them too)."""

import pytest

from tests.knowledge.kbfixtures import counting_store, demo_store, kb_env  # noqa: F401


@pytest.fixture()
def restore_embedding_selection():
    """Puts back the process's triage and knowledge-base model choices after a test that changes them."""
    from knowledge import embedding as emb

    before, kb_before = emb.selected_model(), emb.kb_model()
    yield
    emb.select_model(before)
    emb.select_kb_model(kb_before)
