"""Repositories: functions that read and write the service's tables, taking a `Session`.

They hold no business rules (those are the pure functions in `risk/`) and never commit: the
caller's `serve.db.transaction` is the unit of work.
"""
