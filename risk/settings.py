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

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'risk.db').resolve()}"

    def resolved_mlflow_uri(self) -> str:
        return self.mlflow_uri or f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"
