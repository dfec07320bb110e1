"""One settings class for the toolkit and the service, read from `RISK_*` environment variables.

Built when a command or the app starts (`Settings()`), never at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from risk.contract import DEFAULT_TZ


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISK_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where stores and outputs live.")
    tz: str = Field(default=DEFAULT_TZ, description="City time zone for naive timestamps.")
    calendar: str = Field(default="CN", description="Holiday calendar country (ISO code).")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite in data_dir when unset."
    )
    mlflow_uri: str | None = Field(
        default=None, description="MLflow tracking URI; SQLite in data_dir when unset."
    )
    # The service's scheduler (`risk serve` turns it on): the escalation/expiry sweep always,
    # daily scoring when both city files are set.
    scheduler: bool = Field(default=False, description="Run the scheduler inside the service.")
    city_grids: Path | None = Field(default=None, description="Grids file scored daily.")
    city_events: Path | None = Field(default=None, description="Events file scored daily.")
    score_hour: int = Field(default=8, ge=0, le=23, description="Daily scoring hour, city time.")
    response_target_minutes: int = Field(
        default=120, ge=1, description="Pending warnings escalate after this many minutes."
    )

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'risk.db').resolve()}"

    def resolved_mlflow_uri(self) -> str:
        return self.mlflow_uri or f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"
