"""Storage fixtures: every storage test runs on SQLite and on PostgreSQL.

* ``empty_db_url`` — a brand-new empty database (a SQLite file, or a throw-away PostgreSQL
  schema), for the migration tests.
* ``db_url`` — a migrated database with every table emptied and the audit chain head
  reseeded before the test. The migrations run once per backend and session; emptying the
  tables is much faster than migrating a new schema per test.

PostgreSQL tests use the database named by ``RISK_TEST_DATABASE_URL`` (the ``postgres_url``
fixture: a skip locally without it, a failure in CI) and touch nothing outside schemas they
create (``t_<random>``) and drop afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from serve.db import make_engine, session_factory, upgrade
from serve.tables import GENESIS_HASH, AuditHeadRow, Base

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a database runs once per backend."""
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _schema_url(base: str, schema: str) -> str:
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _fresh(request: pytest.FixtureRequest, backend: str, folder) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'risk-{uuid.uuid4().hex[:8]}.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _schema_url(base, schema)
    finally:
        with admin.begin() as conn:  # fail, not hang, if a test left a session open
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, backend: str, tmp_path) -> Iterator[str]:
    """URL of a new, empty database on ``backend``."""
    yield from _fresh(request, backend, tmp_path)


@pytest.fixture(scope="session")
def migrated_url(request: pytest.FixtureRequest, backend: str, tmp_path_factory) -> Iterator[str]:
    for url in _fresh(request, backend, tmp_path_factory.mktemp("db")):
        upgrade(url)
        yield url


@pytest.fixture
def db_url(migrated_url: str) -> str:
    """The migrated database, emptied: no rows but the seeded audit chain head."""
    engine = make_engine(migrated_url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
        conn.execute(insert(AuditHeadRow).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
    engine.dispose()
    return migrated_url


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()
