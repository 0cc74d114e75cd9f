"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import pytest
import responses


@pytest.fixture
def rsps():
    """Every HTTP call made with ``requests`` goes to the fake helpdesk registered on this mock."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r
