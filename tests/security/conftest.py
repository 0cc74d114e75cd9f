"""Fixtures of the security suites: the contract suite's fake helpdesks and retry recorder."""

from tests.adapters.test_contract import rsps, waits  # noqa: F401 (pytest fixtures)
