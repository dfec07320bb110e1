"""The service runs its scheduler only when asked, and stops it on shutdown."""

from __future__ import annotations

from fastapi.testclient import TestClient

from risk.settings import Settings
from serve.app import create_app


def test_scheduler_runs_inside_the_service_when_enabled(db_url, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url, scheduler=True))
    with TestClient(app):
        scheduler = app.state.scheduler
        assert scheduler is not None and scheduler.running
        assert scheduler.score_job is None  # no city files configured: sweep only
    assert not scheduler.running


def test_no_scheduler_by_default(db_url, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url))
    with TestClient(app):
        assert app.state.scheduler is None
