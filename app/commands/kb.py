"""CLI commands (kb). `register(sub)` adds subcommands to `python -m app`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
