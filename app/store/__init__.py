"""Storage the runtime owns: per-ticket state (Redis or SQLite) and the decision log."""
