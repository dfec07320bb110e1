"""Alembic migrations for the service's database; run them with `serve.db.upgrade`."""
