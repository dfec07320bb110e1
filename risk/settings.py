"""One settings class for the toolkit and the service, read from `RISK_*` environment variables.

Built when a command or the app starts (`Settings()`), never at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
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
    # daily scoring when the grids file is set: events from the file when one is set, else
    # from the service's event store (issue 16, item 1).
    scheduler: bool = Field(default=False, description="Run the scheduler inside the service.")
    city_grids: Path | None = Field(default=None, description="Grids file scored daily.")
    city_events: Path | None = Field(
        default=None,
        description="Events file scored daily; unset: the events stored in the service database.",
    )
    score_hour: int = Field(default=8, ge=0, le=23, description="Daily scoring hour, city time.")
    dask_scheduler: str | None = Field(
        default=None,
        description="Dask cluster of the heavy steps (daily scoring; the commands' --dask): "
        "'local' or a scheduler address such as tcp://10.0.0.5:8786; unset: one process.",
    )
    labels_file: Path | None = Field(
        default=None,
        description="The city's label table (grid types, attributes, categories; zh/en), "
        "merged over risk/labels.toml for the reasons of the daily scoring.",
    )
    health_file: Path | None = Field(
        default=None,
        description="Model health thresholds of scoring runs (PSI, inputs, ECE); unset: "
        "risk/health.toml.",
    )
    response_target_minutes: int = Field(
        default=120, ge=1, description="Pending warnings escalate after this many minutes."
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request body the API reads (413 beyond; bulk review: 1 MiB).",
    )
    events_batch_max: int = Field(
        default=1000, ge=1, le=100_000, description="Most events one POST /api/v1/events takes."
    )
    # Logins and tokens (docs/adr/016-login-and-browser-defences.md).
    login_account_failures: int = Field(
        default=5, ge=1, description="Failed logins per account within the window before 429."
    )
    login_address_failures: int = Field(
        default=20, ge=1, description="Failed logins per client address within the window."
    )
    login_window_minutes: int = Field(
        default=15, ge=1, description="Sliding window of the login failure limits."
    )
    api_token_days: int = Field(
        default=90, ge=1, description="Lifetime of a new or renewed API token, in days."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Scrape token of /metrics (Prometheus), at least 32 characters, or "
        "'sha256:<hex>' of it; unset: only admin and monitor accounts' tokens read /metrics.",
    )
    trusted_origins: list[str] = Field(
        default=[],
        description="Origins besides the service's own (e.g. a TLS proxy's https://host) "
        "allowed to make cookie-authenticated changes; JSON list in RISK_TRUSTED_ORIGINS.",
    )

    @field_validator("dask_scheduler")
    @classmethod
    def _dask_scheduler(cls, value: str | None) -> str | None:
        from risk.cluster import check_scheduler  # imports no Dask
        from risk.errors import ConfigError

        try:
            return check_scheduler(value)
        except ConfigError as exc:  # pydantic names the variable with it
            raise ValueError(str(exc)) from None

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'risk.db').resolve()}"

    def resolved_mlflow_uri(self) -> str:
        return self.mlflow_uri or f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"
