"""Alembic environment: migrate the connection `serve.db.upgrade` hands over.

Run from code (`serve.db.upgrade(url)`), which puts an open connection in
``config.attributes['connection']``. A developer writing a new revision can run
``alembic -x url=sqlite:///scratch.db revision --autogenerate -m ...`` with a config whose
``script_location`` is this folder; the URL then comes from ``-x url=`` (never from a file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from serve.tables import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("no database: run serve.db.upgrade(url) or pass -x url=...")
    engine = create_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use serve.db.upgrade")
run_migrations_online()
