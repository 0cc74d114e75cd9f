"""Backtest: what the sidecar would have done on a store's own history, read-only.

``python -m app backtest --platform zendesk --since 30d`` reads solved/closed tickets through the
read-only history readers (:mod:`adapters.history`), runs the real pipeline offline on each
ticket's first customer message (:mod:`app.backtest.engine`), compares it with what the agents
did (:mod:`app.backtest.compare`) and writes an HTML/CSV/JSON report (:mod:`app.backtest.report`).
Runs are resumable from a checkpoint in ``var/backtest/`` (:mod:`app.backtest.runner`).
"""
