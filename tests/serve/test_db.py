"""Engine, migrations and the unit of work, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text

from risk.errors import ConfigError
from serve.db import (
    atomic,
    current_revision,
    downgrade,
    make_engine,
    table_names,
    transaction,
    upgrade,
)
from serve.repo.runs import FORECAST_COLUMNS, RunInfo, get_run, store_run
from serve.tables import GENESIS_HASH, AuditHeadRow, Base, GridRow

TABLES = {
    "users",
    "tokens",
    "grids",
    "forecast_runs",
    "forecasts",
    "review_items",
    "review_revisions",
    "patrol_reports",
    "audit_log",
    "audit_head",
    "event_counts",
    "hour_profiles",
    "events",
    "run_health",
    "scoring_attempts",
    "patrol_visits",
}
SHANGHAI = timezone(timedelta(hours=8))


def test_upgrade_from_empty_creates_every_table_at_head(empty_db_url):
    assert table_names(empty_db_url) == set()
    upgrade(empty_db_url)
    assert table_names(empty_db_url) == TABLES | {"alembic_version"}
    assert current_revision(empty_db_url) == "0009"


def test_upgrade_seeds_the_audit_chain_head(empty_db_url):
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        head = conn.execute(select(AuditHeadRow.__table__)).all()
    engine.dispose()
    assert [tuple(r) for r in head] == [(1, 0, GENESIS_HASH, 0)]  # legacy_until 0 (0003)


def test_upgrade_twice_is_a_no_op(db_url):
    upgrade(db_url)
    assert current_revision(db_url) == "0009"


def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_drops_every_table(empty_db_url):
    upgrade(empty_db_url)
    downgrade(empty_db_url)
    assert table_names(empty_db_url) == {"alembic_version"}
    assert current_revision(empty_db_url) is None


def test_times_come_back_as_the_same_instant_in_utc(factory):
    # 2024-05-01 08:00:00.123456 +08:00 is 2024-05-01 00:00:00.123456 UTC.
    local = datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=SHANGHAI)
    empty = pd.DataFrame(columns=list(FORECAST_COLUMNS))
    with transaction(factory) as s:
        store_run(s, RunInfo("r", local, "m", "f", local), empty)
    with factory() as s:
        run = get_run(s, "r")
    assert run is not None
    assert run.issue_time.utcoffset() == timedelta(0)
    assert run.issue_time == datetime(2024, 5, 1, 0, 0, 0, 123456, tzinfo=UTC)


def test_transaction_commits_on_success_and_rolls_back_on_error(factory):
    grids = GridRow.__table__
    with transaction(factory) as s:
        s.execute(insert(grids).values(grid_id="g1", community_id="c", street_id="s"))
    with pytest.raises(RuntimeError), transaction(factory) as s:
        s.execute(insert(grids).values(grid_id="g2", community_id="c", street_id="s"))
        raise RuntimeError("boom")
    with factory() as s:
        assert s.scalars(select(grids.c.grid_id)).all() == ["g1"]


def test_atomic_block_that_fails_leaves_nothing_even_if_the_caller_commits(factory):
    grids = GridRow.__table__
    with transaction(factory) as s:
        with pytest.raises(RuntimeError), atomic(s):
            s.execute(insert(grids).values(grid_id="g1", community_id="c", street_id="s"))
            raise RuntimeError("mid-way")
        s.execute(insert(grids).values(grid_id="g2", community_id="c", street_id="s"))
    with factory() as s:
        assert s.scalars(select(grids.c.grid_id)).all() == ["g2"]


def test_sqlite_connections_enforce_foreign_keys_and_wait_for_the_writer(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'risk.db'}")
    with engine.connect() as conn:
        pragmas = [
            conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("foreign_keys", "busy_timeout", "journal_mode")
        ]
    engine.dispose()
    assert pragmas == [1, 30000, "wal"]
    assert (tmp_path / "sub" / "risk.db").exists()


def test_atomic_block_that_succeeds_is_undone_when_the_caller_rolls_back(factory):
    grids = GridRow.__table__
    with pytest.raises(RuntimeError), transaction(factory) as s:
        with atomic(s):
            s.execute(insert(grids).values(grid_id="g1", community_id="c", street_id="s"))
        raise RuntimeError("after the block")
    with factory() as s:
        assert s.scalars(select(grids.c.grid_id)).all() == []


def test_0002_fills_the_level_rank_of_forecasts_stored_before_it(empty_db_url):
    upgrade(empty_db_url, "0001")
    engine = make_engine(empty_db_url)
    at = datetime(2024, 5, 1, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO forecast_runs (run_id, issue_time, model_version, "
                "data_fingerprint, created_at, n_grids, status) "
                "VALUES ('r', :at, 'v1', 'f', :at, 4, 'complete')"
            ),
            {"at": at},
        )
        for grid, level in (("g1", "red"), ("g2", "orange"), ("g3", "yellow"), ("g4", "blue")):
            conn.execute(
                text(
                    "INSERT INTO forecasts (run_id, grid_id, target, prob, level, reasons) "
                    "VALUES ('r', :g, 'any', 0.5, :lv, '[]')"
                ),
                {"g": grid, "lv": level},
            )
    engine.dispose()
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        ranks = dict(conn.execute(text("SELECT grid_id, level_rank FROM forecasts")).all())
    engine.dispose()
    assert ranks == {"g1": 3, "g2": 2, "g3": 1, "g4": 0}


def test_a_database_url_that_is_no_url_is_a_config_error_without_echoing_it():
    with pytest.raises(ConfigError, match="the database URL is not a URL") as caught:
        make_engine("nonsense-with-secret")
    assert "secret" not in str(caught.value)
