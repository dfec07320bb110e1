"""What the command groups share: exit codes, the consoles, the domain-error wrapper, the
common options, and the helpers that open the data dir, the service database and a city."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from risk.errors import ConfigError, ContractError, RiskError

EXIT_OK = 0
EXIT_QUARANTINED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_CONFIG = 4
EXIT_REFUSED = 5
EXIT_AUDIT = 6


out = Console()
err = Console(stderr=True)


F = TypeVar("F", bound=Callable[..., object])


def _error(exc: BaseException) -> None:
    """One line on stderr; the message is shown as is (never read as rich markup)."""
    err.print("error: " + str(exc), style="bold red", markup=False, highlight=False, soft_wrap=True)


def domain_errors(func: F) -> F:
    """Turn domain errors into one clear line and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return func(*args, **kwargs)
        except ContractError as exc:
            _error(exc)
            raise typer.Exit(EXIT_INPUT) from None
        except (ConfigError, ValueError, RiskError) as exc:
            _error(exc)
            raise typer.Exit(EXIT_CONFIG) from None
        except Exception as exc:
            driver = _database_error(exc)
            if driver is None:
                raise
            _error(
                f"a database could not be written or read: {driver}; "
                "fix: check that the service database (--database-url) and the MLflow "
                "store (<data dir>/mlflow.db) are files or servers this toolkit wrote and "
                "that they and their folders are writable"
            )
            raise typer.Exit(EXIT_CONFIG) from None

    return wrapper  # type: ignore[return-value]


def _database_error(exc: BaseException) -> BaseException | None:
    """The driver's error inside SQLAlchemy's wrapper (a read-only or damaged SQLite file, a
    server that refuses), raised directly or as the cause of MLflow's own exception."""
    from sqlalchemy.exc import DBAPIError

    for candidate in (exc, exc.__cause__):
        if isinstance(candidate, DBAPIError):
            return candidate.orig
    return None


def _checked(check: Callable[[str], str | None], value: str | None) -> str | None:
    """An option checked before the command runs: a bad value is exit 4 with one line."""
    if value is None:
        return None
    try:
        return check(value)
    except ConfigError as exc:
        _error(exc)
        raise typer.Exit(EXIT_CONFIG) from None


def time_zone(value: str | None) -> str | None:
    """`--tz` checked before the command runs: an unknown zone is exit 4 with one line."""
    from risk.contract import check_time_zone

    return _checked(check_time_zone, value)


TzOption = Annotated[
    str,
    typer.Option(
        "--tz", help="City time zone; naive timestamps are read in it.", callback=time_zone
    ),
]


GridsOption = Annotated[Path, typer.Option("--grids", help="Grids: GeoJSON, CSV or Parquet.")]


LabelsOption = Annotated[
    Path | None,
    typer.Option(
        "--labels",
        help="The city's label table (TOML shaped like risk/labels.toml), merged over the "
        "packaged one (default: RISK_LABELS_FILE).",
    ),
]


EventsOption = Annotated[Path, typer.Option("--events", help="Events: CSV or Parquet.")]


EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Text encoding of the CSV files, e.g. utf-8, gb18030, latin-1 "
        "(default: detected; the command stops and asks when it cannot tell).",
    ),
]


DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the MLflow store and outputs live (default: RISK_DATA_DIR or ./data).",
    ),
]


def _data_dir(data_dir: Path | None) -> Path:
    from risk.settings import Settings

    path = data_dir or Settings().data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name, no permission, read-only disk, ...
        raise ConfigError(
            f"--data-dir {path} is not a folder this command can write to "
            f"({exc.strerror or exc}); give another --data-dir (or set RISK_DATA_DIR)"
        ) from None
    return path


def _load_city(grids: Path, events: Path, tz: str, encoding: str | None = None):
    from risk.loaders import load_events, load_grids

    grid_frame = load_grids(grids, encoding=encoding).valid
    event_result = load_events(events, grid_frame, tz=tz, encoding=encoding)
    if event_result.quarantined.shape[0]:
        out.print(
            f"note: {event_result.quarantined.shape[0]} event rows quarantined (risk validate shows why)"
        )
    return grid_frame, event_result.valid


def _progress_bar():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=out,
        transient=False,
    )


def _database(database_url: str | None, data_dir: Path | None = None):
    """Migrated database of the settings (or the given URL); returns a session factory."""
    from risk.settings import Settings
    from serve.db import session_factory, upgrade

    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    upgrade(url)
    return session_factory(url, data_dir=settings.data_dir)  # its keys seal free text


DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: RISK_DATABASE_URL or SQLite in the data dir).",
    ),
]


def dask_scheduler(value: str | None) -> str | None:
    """`--dask` checked before the command runs: a bad value is exit 4 with one line."""
    from risk.cluster import check_scheduler

    return _checked(check_scheduler, value)


DaskOption = Annotated[
    str | None,
    typer.Option(
        "--dask",
        envvar="RISK_DASK_SCHEDULER",
        help="Run the heavy steps on a Dask cluster: 'local' (one worker process per core on "
        "this machine) or the address of your scheduler, e.g. tcp://10.0.0.5:8786 "
        "(default: one process, no Dask).",
        callback=dask_scheduler,
        show_envvar=True,
    ),
]


def _cluster(scheduler: str | None):
    """The Dask client of `--dask` (None without it), its dashboard link printed."""
    from risk.cluster import dask_client

    return dask_client(scheduler, echo=lambda line: out.print(line, markup=False, highlight=False))


def _feature_builder(client: object | None) -> Callable[..., object]:
    """`build_features`, or — with a Dask client — the same frame built per partition on its
    workers (`features.partition.build_partitioned`)."""
    if client is None:
        from features.build import build_features

        return build_features
    from features.partition import build_partitioned

    return functools.partial(build_partitioned, client)
