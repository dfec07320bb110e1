"""Engines, sessions and migrations for the service's database (issue 5, item 7).

One URL decides everything: a SQLite file (the default, `Settings.resolved_database_url()`)
or PostgreSQL through psycopg 3 (``postgresql+psycopg://user@host/db``, credentials from
``RISK_DATABASE_URL`` only). The schema comes from the Alembic migrations in
``serve/migrations``, run programmatically by `upgrade`: no ``alembic.ini`` at run time.

SQLite connections get foreign keys on, a busy timeout (a second writer waits for the first
instead of failing) and, for files, WAL (readers do not block the writer). Repositories take a
`Session` and never commit; `transaction` is the unit of work around them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from risk import locks
from risk.errors import ConfigError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0


POOL_SIZE = 10
POOL_MAX_OVERFLOW = 40  # 10 + 40 > the 40 worker threads of FastAPI/anyio


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; for a SQLite file its folder is created if missing.
    `ConfigError` when ``url`` is not a database URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        scheme = url.split("://", 1)[0] if "://" in url else None  # never echo a password
        raise ConfigError(
            "the database URL is not a URL"
            + (f" (scheme {scheme!r})" if scheme else "")
            + "; give e.g. sqlite:///data/risk.db or postgresql+psycopg://user@host:5432/db"
        ) from None
    # A request holds its connection from authentication to the end of the route, and FastAPI
    # runs those steps in separate calls of its 40-thread pool. With fewer connections than
    # threads, threads waiting for a connection can starve the holders of the thread they
    # need to finish: a deadlock until the pool timeout. So the pool can outgrow the threads.
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not (parsed.get_backend_name() == "sqlite" and in_memory):  # in-memory: one connection
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_MAX_OVERFLOW)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, **kwargs.pop("connect_args", {})}
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    return engine


def session_factory(
    engine_or_url: Engine | str, *, data_dir: Path | None = None
) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (the API returns them afterwards).

    ``data_dir`` (in ``session.info``) is where the keys sealing free text live
    (`serve.repo.sealing`); default: the settings' data directory.
    """
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    info = {} if data_dir is None else {"data_dir": Path(data_dir)}
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit if the block ends normally, roll back if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def atomic(session: Session) -> Iterator[None]:
    """All the writes in the block, or none of them, even if the caller later commits.

    A SAVEPOINT inside the session's transaction. pysqlite opens a transaction only before
    its first write, and a SAVEPOINT as the first statement would commit on release, so on
    SQLite a ``BEGIN IMMEDIATE`` (take the write lock, waiting up to the busy timeout) opens it
    first when none is open.
    """
    connection = session.connection()
    if (
        connection.dialect.name == "sqlite"
        and not connection.connection.driver_connection.in_transaction
    ):  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    with session.begin_nested():
        yield


def alembic_config() -> Config:
    """The Alembic configuration, built in code (the migrations ship inside the package)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _run(url: str, fn: Any, revision: str) -> None:
    engine = make_engine(url)
    try:
        with locks.MIGRATIONS, engine.begin() as connection:  # Alembic context: process-global
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            fn(cfg, revision)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (an empty database gets every table)."""
    _run(url, command.upgrade, revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (``base`` drops every table the migrations made)."""
    _run(url, command.downgrade, revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


__all__ = [
    "alembic_config",
    "atomic",
    "current_revision",
    "downgrade",
    "is_sqlite",
    "make_engine",
    "session_factory",
    "table_names",
    "transaction",
    "upgrade",
]
