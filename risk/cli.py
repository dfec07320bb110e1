"""The `risk` command: the one composition root (it may import every package).

Commands import their packages lazily so `risk --help` stays fast. Domain errors become one
line on stderr and a documented exit code, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from risk.contract import DEFAULT_TZ

if TYPE_CHECKING:
    from features.base import FeatureSpec
    from serve.repo.audit import VerifyResult
from risk.errors import ConfigError, ContractError, RiskError

EXIT_OK = 0
EXIT_QUARANTINED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_CONFIG = 4
EXIT_REFUSED = 5
EXIT_AUDIT = 6

app = typer.Typer(
    help="Grid-risk early warning: synthesise, validate, build features, forecast, review.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """Grid-risk early warning: synthesise, validate, build features, forecast, review."""
    import logging
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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

    return wrapper  # type: ignore[return-value]


TzOption = Annotated[
    str, typer.Option("--tz", help="City time zone; naive timestamps are read in it.")
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


def _print_validation(summary: dict) -> None:
    table = Table(title=f"{summary['kind']}: {summary['file']}", title_justify="left")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("input", str(summary["input_rows"]))
    table.add_row("valid", str(summary["valid"]))
    table.add_row("quarantined", str(summary["quarantined"]))
    table.add_row("exact duplicates", str(summary["duplicates"]))
    for reason, n in summary["by_reason"].items():
        table.add_row(f"  quarantined: {reason}", str(n))
    out.print(table)


def _quarantine_paths(quarantine: Path | None) -> tuple[Path | None, Path | None]:
    if quarantine is None:
        return None, None
    return quarantine.with_name(f"{quarantine.stem}_grids{quarantine.suffix}"), quarantine


@app.command()
@domain_errors
def validate(
    grids: GridsOption,
    events: EventsOption,
    quarantine: Annotated[
        Path | None,
        typer.Option(
            help="Write quarantined event rows here (CSV, with row, reason, detail); "
            "quarantined grid rows go beside it as <name>_grids.csv."
        ),
    ] = None,
    tz: TzOption = DEFAULT_TZ,
    strict: Annotated[bool, typer.Option(help="Exit 1 when any row was quarantined.")] = False,
    encoding: EncodingOption = None,
) -> None:
    """Check grids and events against the data contract; every row is valid, quarantined or a duplicate."""
    from risk.loaders import load_events, load_grids

    q_grids, q_events = _quarantine_paths(quarantine)
    grid_result = load_grids(grids, quarantine=q_grids, encoding=encoding)
    event_result = load_events(
        events, grid_result.valid, tz=tz, quarantine=q_events, encoding=encoding
    )
    for result in (grid_result, event_result):
        _print_validation(result.summary())
    if quarantine is not None:
        out.print(
            f"quarantine: {q_events}" + (f", {q_grids}" if grid_result.quarantined.shape[0] else "")
        )
    if strict and (grid_result.quarantined.shape[0] or event_result.quarantined.shape[0]):
        raise typer.Exit(EXIT_QUARANTINED)


def _split_columns(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(c.strip() for c in text.split(","))
    if not all(names):
        raise ConfigError(f"--columns takes comma-separated names such as a,b,c, got {text!r}")
    return names


@app.command("import")
@domain_errors
def import_(
    events: Annotated[Path, typer.Option("--events", help="Raw events file: CSV or Parquet.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="Contract events file to write (CSV or Parquet).")
    ],
    mapping: Annotated[
        str | None,
        typer.Option(
            help="Mapping TOML file, or the name of a shipped one (chicago); "
            "the options below override its fields."
        ),
    ] = None,
    time_col: Annotated[str | None, typer.Option(help="Column of the occurrence time.")] = None,
    time_format: Annotated[
        str | None,
        typer.Option(
            help="strptime format of the times, e.g. '%m/%d/%Y %I:%M:%S %p' (default ISO 8601)."
        ),
    ] = None,
    category_col: Annotated[str | None, typer.Option(help="Column of the category.")] = None,
    lon_col: Annotated[str | None, typer.Option(help="Column of the longitude (WGS84).")] = None,
    lat_col: Annotated[str | None, typer.Option(help="Column of the latitude (WGS84).")] = None,
    grid_col: Annotated[
        str | None, typer.Option(help="Column of the grid id (instead of lon/lat).")
    ] = None,
    reported_col: Annotated[
        str | None,
        typer.Option(help="Column of the reporting time (default: reported_at = occurred_at)."),
    ] = None,
    id_col: Annotated[
        str | None, typer.Option(help="Column of the event id (default: generated, stable).")
    ] = None,
    no_header: Annotated[
        bool, typer.Option("--no-header", help="The file has no header line (give --columns).")
    ] = False,
    columns: Annotated[
        str | None, typer.Option(help="Column names of a headerless file, e.g. time,type,lat,lon.")
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            help=f"City time zone of the raw times (default: the mapping's, else {DEFAULT_TZ}).",
        ),
    ] = None,
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Write quarantined lines here (CSV, with row, reason, detail)."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when any row was quarantined.")] = False,
    encoding: EncodingOption = None,
) -> None:
    """Read a raw incident file through a column mapping and write contract events (DESIGN §3)."""
    import time

    from risk.importer import (
        import_events,
        load_mapping,
        mapping_from_dict,
        write_events,
        write_import_quarantine,
    )

    names = _split_columns(columns)
    if no_header and names is None and mapping is None:
        raise ConfigError("--no-header needs --columns naming the file's columns, e.g. a,b,c")
    if names is not None and not no_header:
        raise ConfigError("--columns names the columns of a headerless file: add --no-header")
    overrides = {
        "time_col": time_col,
        "time_format": time_format,
        "category_col": category_col,
        "lon_col": lon_col,
        "lat_col": lat_col,
        "grid_col": grid_col,
        "reported_col": reported_col,
        "id_col": id_col,
        "columns": names,
        "tz": tz,
    }
    if mapping is not None:
        column_mapping = load_mapping(mapping).with_overrides(**overrides)
        if no_header and column_mapping.columns is None:
            raise ConfigError("--no-header needs --columns (the mapping names no columns)")
    else:
        given = {k: v for k, v in overrides.items() if v is not None}
        column_mapping = mapping_from_dict(given, where="command line")
    started = time.perf_counter()
    with out.status(f"importing {events} ..."):
        result = import_events(events, column_mapping, encoding=encoding)
        write_events(result.events, out_path)
    if quarantine is not None:
        write_import_quarantine(result, quarantine)
    _print_import(result.summary(), time.perf_counter() - started)
    out.print(f"wrote {out_path}" + (f"; quarantine: {quarantine}" if quarantine else ""))
    if strict and len(result.quarantined):
        raise typer.Exit(EXIT_QUARANTINED)


def _print_import(summary: dict, seconds: float) -> None:
    table = Table(title=f"import: {summary['file']} in {seconds:.1f} s", title_justify="left")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("rows read", f"{summary['rows_read']:,}")
    table.add_row("exact duplicates", f"{summary['duplicates']:,}")
    table.add_row("quarantined", f"{summary['quarantined']:,}")
    for reason, n in summary["by_reason"].items():
        table.add_row(f"  quarantined: {reason}", f"{n:,}")
    table.add_row("written", f"{summary['written']:,}")
    for key in ("on_the_hour", "out_of_order", "dst_nonexistent_shifted"):
        table.add_row(key.replace("_", " "), f"{summary[key]:,}")
    table.add_row("dst ambiguous (as standard)", f"{summary['dst_ambiguous_as_standard']:,}")
    out.print(table)
    for note in summary["notes"]:
        out.print(f"note: {note}", markup=False, highlight=False)


grid_app = typer.Typer(help="Lay grids of equal cells over a city.", no_args_is_help=True)
app.add_typer(grid_app, name="grid")


@grid_app.command("make")
@domain_errors
def grid_make(
    out_path: Annotated[Path, typer.Option("--out", help="Grids file to write (GeoJSON).")],
    events: Annotated[
        Path | None,
        typer.Option("--events", help="Events with lon/lat (e.g. written by `risk import`)."),
    ] = None,
    cell_m: Annotated[float, typer.Option("--cell-m", help="Cell size in metres.")] = 500.0,
    shape: Annotated[
        str, typer.Option(help="square, or hex (hexagons of the same area as the square).")
    ] = "square",
    boundary: Annotated[
        Path | None, typer.Option(help="City boundary: GeoJSON polygon(s) in WGS84.")
    ] = None,
    communities: Annotated[
        Path | None, typer.Option(help="Community polygons (GeoJSON, WGS84); also the boundary.")
    ] = None,
    community_key: Annotated[
        str | None, typer.Option(help="Property naming each community, e.g. pri_neigh.")
    ] = None,
    street_key: Annotated[
        str | None, typer.Option(help="Property naming each community's street, e.g. sec_neigh.")
    ] = None,
    keep: Annotated[
        str | None,
        typer.Option(
            help="intersects_boundary (default with a boundary or communities) or has_events."
        ),
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(help="Projected CRS in metres (default: the UTM zone of the data's centre)."),
    ] = None,
    encoding: EncodingOption = None,
) -> None:
    """Lay square or hexagonal cells over a city, keep the city's, assign each to a community."""
    from risk.gridmake import make_grid, read_event_points, write_grids

    points = read_event_points(events, encoding=encoding) if events is not None else None
    with out.status("laying cells ..."):
        grids, report = make_grid(
            points,
            cell_m=cell_m,
            shape=shape,
            boundary=boundary,
            communities=communities,
            community_key=community_key,
            street_key=street_key,
            keep=keep,
            crs=crs,
        )
        write_grids(grids, out_path)
    _print_grid_report(report)
    out.print(f"wrote {out_path}")


def _print_grid_report(report: dict) -> None:
    table = Table(
        title=f"grid: {report['shape']} {report['cell_m']:g} m cells in {report['crs']}",
        title_justify="left",
    )
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in (
        "cells_laid",
        "cells_kept",
        "cells_without_events",
        "cells_partly_outside_boundary",
        "events",
        "events_outside_cells",
        "communities",
        "cells_by_largest_overlap",
        "cells_by_nearest_community",
    ):
        if report.get(key) is not None:
            table.add_row(key.replace("_", " "), f"{report[key]:,}")
    out.print(table)
    out.print(f"kept: {report['keep_rule']} — {report['keep_reason']}", markup=False)
    empty = report.get("communities_without_cells")
    if empty:
        out.print(
            f"communities with no cell of their own ({len(empty)}): {', '.join(empty)}",
            markup=False,
            highlight=False,
        )


@app.command()
@domain_errors
def synth(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for grids.geojson, events.csv, truth.json.")
    ],
    grids: Annotated[int, typer.Option("--grids", help="Number of grids.")] = 400,
    days: Annotated[int, typer.Option("--days", help="Days of history.")] = 365,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same files.")] = 1,
    start: Annotated[str, typer.Option("--start", help="First day (city time).")] = "2024-01-01",
    tz: TzOption = DEFAULT_TZ,
) -> None:
    """Write a synthetic city with a known truth: grids, events and the generator's parameters."""
    import time

    from risk.synth.city import synthesise
    from risk.synth.io import write_city

    started = time.perf_counter()
    with out.status(f"simulating {grids} grids x {days} days ..."):
        city = synthesise(grids, days, seed, start=start, tz=tz)
        paths = write_city(city, out_dir)
    events = city.events
    table = Table(
        title=f"synthetic city (seed {seed}) in {time.perf_counter() - started:.1f} s",
        title_justify="left",
    )
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("grids", f"{len(city.grids):,}")
    table.add_row(
        "communities / streets",
        f"{city.grids['community_id'].nunique()} / {city.grids['street_id'].nunique()}",
    )
    table.add_row("events", f"{len(events):,}")
    table.add_row(
        "period",
        f"{events['occurred_at'].min():%Y-%m-%d} .. {events['occurred_at'].max():%Y-%m-%d}",
    )
    for category, n in events["category"].value_counts().sort_index().items():
        table.add_row(f"  {category}", f"{n:,}")
    out.print(table)
    for path in paths.values():
        out.print(f"wrote {path}")


@app.command()
@domain_errors
def features(
    grids: Annotated[
        Path | None, typer.Option("--grids", help="Grids: GeoJSON, CSV or Parquet.")
    ] = None,
    events: Annotated[Path | None, typer.Option("--events", help="Events: CSV or Parquet.")] = None,
    start: Annotated[
        str | None, typer.Option(help="First issue day (city time), e.g. 2025-06-01.")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Last issue day, inclusive.")] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Parquet file for the feature frame.")
    ] = None,
    hour: Annotated[int, typer.Option(help="Issue hour, city time.")] = 8,
    tz: TzOption = DEFAULT_TZ,
    calendar: Annotated[
        str, typer.Option(help="Holiday calendar country (ISO code, e.g. CN, US).")
    ] = "CN",
    describe: Annotated[
        bool,
        typer.Option("--describe", help="Print every feature with family and label, then stop."),
    ] = False,
    encoding: EncodingOption = None,
) -> None:
    """Build the feature frame: one row per (issue time, grid), features and labels for every target."""
    import time

    from features.base import FeatureSpec
    from features.build import build_features
    from features.issue_times import daily_issue_times
    from risk.loaders import load_events, load_grids

    spec = FeatureSpec(tz=tz, calendar=calendar)
    if describe:
        _describe_features(grids, events, spec, encoding)
        return
    missing = [
        name
        for name, value in (
            ("--grids", grids),
            ("--events", events),
            ("--start", start),
            ("--end", end),
            ("--out", out_path),
        )
        if value is None
    ]
    if missing:
        _error(ConfigError(f"missing {', '.join(missing)} (or give --describe)"))
        raise typer.Exit(EXIT_USAGE)
    started = time.perf_counter()
    grid_result = load_grids(grids, encoding=encoding)
    event_result = load_events(events, grid_result.valid, tz=tz, encoding=encoding)
    issue_times = daily_issue_times(start, end, hour=hour, tz=tz)
    with out.status(
        f"building features for {len(grid_result.valid):,} grids x {len(issue_times)} issue times ..."
    ):
        built = build_features(grid_result.valid, event_result.valid, issue_times, spec)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        built.frame.to_parquet(out_path, index=False)
    n_features = len(built.info)
    out.print(
        f"wrote {out_path}: {len(built.frame):,} rows, {n_features} features, "
        f"targets {', '.join(built.targets)} in {time.perf_counter() - started:.1f} s"
    )
    if event_result.quarantined.shape[0]:
        out.print(
            f"note: {event_result.quarantined.shape[0]} event rows were quarantined (risk validate shows why)"
        )


def _describe_features(
    grids: Path | None, events: Path | None, spec: FeatureSpec, encoding: str | None = None
) -> None:
    import pandas as pd

    from features.build import build_features
    from risk.loaders import load_events, load_grids

    if grids is not None and events is not None:
        grid_frame = load_grids(grids, encoding=encoding).valid
        event_frame = load_events(events, grid_frame, tz=spec.tz, encoding=encoding).valid
        source = str(events)
    else:
        from risk.synth.city import synthesise

        city = synthesise(16, 60, seed=0, tz=spec.tz)
        grid_frame, event_frame = city.grids, city.events
        source = "the synthetic city's categories (give --grids/--events for yours)"
    last_day = event_frame["occurred_at"].max().normalize()
    built = build_features(grid_frame, event_frame, [last_day + pd.Timedelta(hours=8)], spec)
    out.print(f"# {len(built.info)} features; per-category ones for {source}", highlight=False)
    out.print("# name\tfamily\tlabel_en\tlabel_zh", highlight=False)
    for item in built.info:
        print(f"{item.name}\t{item.family}\t{item.label_en}\t{item.label_zh}")


DEMO_USERS = (  # name, role, scope, password (demo only, printed on purpose)
    ("admin", "admin", "city", "demo-admin-pass"),
    ("analyst", "analyst", "city", "demo-analyst-pass"),
    ("reviewer", "reviewer", "city", "demo-reviewer-pass"),
    ("commander", "commander", "city", "demo-commander-pass"),
)


@app.command()
@domain_errors
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for everything the demo makes (emptied first).")
    ] = Path("data/demo"),
    grids: Annotated[int, typer.Option("--grids", help="Grids in the synthetic city.")] = 400,
    days: Annotated[int, typer.Option("--days", help="Days of history.")] = 540,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Leave the service running at the end.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the service.")] = 8000,
) -> None:
    """The whole path on a synthetic city: synth -> validate -> backtest -> demo users ->
    train (the analyst proposes) -> promote (the admin approves) -> score -> review queue ->
    the service."""
    import shutil
    from datetime import UTC, datetime

    import pandas as pd

    from models.registry import PromotionRefused
    from serve import promotions
    from serve.db import transaction
    from serve.demo_day import play_demo_day
    from serve.repo.users import add_user, issue_token

    if out_dir.exists():
        shutil.rmtree(out_dir)
    # The city's history ends today, so the warnings scored at the end are live ones.
    today = pd.Timestamp.now(tz=DEFAULT_TZ).normalize().tz_localize(None)
    first_day = today - pd.Timedelta(days=days)  # the history ends yesterday
    city_dir, backtest_dir = out_dir / "city", out_dir / "backtest"
    g, e = city_dir / "grids.geojson", city_dir / "events.csv"
    last = first_day + pd.Timedelta(days=days - 4)  # every 72 h window complete

    out.rule("1. synthetic city")
    synth(
        out_dir=city_dir,
        grids=grids,
        days=days,
        seed=seed,
        start=str(first_day.date()),
        tz=DEFAULT_TZ,
    )
    # As a live feed would: events not reported yet by now are not in the file.
    raw = pd.read_csv(e, dtype=str)
    reported = pd.to_datetime(raw["reported_at"], utc=True, format="ISO8601")
    known = (reported <= pd.Timestamp.now(tz="UTC")).to_numpy()
    raw[known].to_csv(e, index=False)
    out.print(
        f"{int((~known).sum())} events occurred but are not reported yet; the feed holds them back"
    )
    out.rule("2. validation")
    validate(grids=g, events=e, quarantine=city_dir / "quarantine.csv", tz=DEFAULT_TZ, strict=False)
    out.rule("3. backtest: LightGBM beside the classic baselines and the oracle, last 4 weeks")
    backtest(
        grids=g,
        events=e,
        start=str((last - pd.Timedelta(days=27)).date()),
        end=str(last.date()),
        out_dir=backtest_dir,
        retrain="7d",
        truth=None,
        config=None,
        hour=8,
        tz=DEFAULT_TZ,
        calendar="CN",
        data_dir=out_dir,
        track=True,
        # the packaged settings: a first run should not wait for the configuration search
        search=False,
    )
    out.rule("4. demo users: the analyst proposes models, the admin approves them")
    factory = _database(None, out_dir)
    grid_ids = pd.read_parquet(backtest_dir / "predictions.parquet", columns=["grid_id"])[
        "grid_id"
    ].unique()
    logins = []
    with transaction(factory) as session:
        for name, role, scope_text, password in DEMO_USERS:
            add_user(session, name, role, _scope(scope_text), password=password)
            logins.append((name, role, scope_text, password, issue_token(session, name, "api")))
    out.rule("5. train on all history -> model version (challenger)")
    train(
        grids=g,
        events=e,
        backtest_dir=backtest_dir,
        until=None,
        config=None,
        hour=8,
        tz=DEFAULT_TZ,
        calendar="CN",
        proposed_by="analyst",
        data_dir=out_dir,
    )
    out.rule("6. promotion: the production gates (models/gates.toml) + the admin's approval")
    try:
        with transaction(factory) as session:
            admin = promotions.approver_account(session, "admin")
            result = promotions.promote(
                session, 1, admin, data_dir=out_dir, at=datetime.now(UTC), via="cli"
            )
    except PromotionRefused as refused:
        # The same gates as for a real city: a refused model is never promoted, demo or not.
        out.print(str(refused), markup=False, highlight=False)
        _error(
            ConfigError(
                "the demo's model did not pass the production gates, so nothing is promoted "
                f"or scored; the backtest report is {backtest_dir / 'report.html'}"
            )
        )
        raise typer.Exit(EXIT_REFUSED) from refused
    out.print(f"champion: v{result.version}, approved by {result.approved_by}", markup=False)
    out.rule("7. score the next issue time -> review queue")
    issue = f"{(last + pd.Timedelta(days=3)).date()}T08:00"
    score(
        grids=g,
        events=e,
        at=issue,
        model=None,
        top_percent=5.0,
        min_level="orange",
        tz=DEFAULT_TZ,
        calendar="CN",
        data_dir=out_dir,
        database_url=None,
    )
    out.rule("8. a first day of work on the queue (demo only: played by the demo users)")
    day = play_demo_day(factory, datetime.now(UTC))
    out.print(
        f"reviewer approved {day.approved} and rejected {day.rejected} warnings (the rest wait in "
        f"the queue); commander dispatched {day.dispatched}; worker reported {day.reports} "
        f"patrols; commander completed {day.completed}",
        markup=False,
    )
    worker_grids = ",".join(day.worker_grids or sorted(map(str, grid_ids))[:3])
    with transaction(factory) as session:
        scope_text = f"grids:{worker_grids}"
        add_user(session, "worker", "grid_worker", _scope(scope_text), password="demo-worker-pass")
        token = issue_token(session, "worker", "api")
        logins.append(("worker", "grid_worker", scope_text, "demo-worker-pass", token))
    out.print("demo logins (demo only; never reuse these passwords):", markup=False)
    for name, role, scope_text, password, token in logins:
        # plain print: tokens must never be cut to the terminal width
        print(f"  {name:<10} {role:<11} {scope_text:<24} password {password:<20} token {token}")
    out.rule("done")
    out.print(
        f"Everything is under {out_dir}: city, backtest report ({backtest_dir / 'report.html'}), "
        f"MLflow store, service database.",
        markup=False,
    )
    if serve_after:
        import os

        from risk.settings import Settings

        os.environ["RISK_DATA_DIR"] = str(out_dir)
        settings = Settings(data_dir=out_dir, scheduler=True, city_grids=g, city_events=e)
        out.print(f"Web pages: http://127.0.0.1:{port}/login (the logins above)", markup=False)
        out.print(
            f"To manage this demo's users and models, point the commands at its folder: "
            f"RISK_DATA_DIR={out_dir} risk users list",
            markup=False,
        )
        out.print(
            f"API: http://127.0.0.1:{port}/api/v1/docs — e.g. curl -H 'Authorization: Bearer <token>' "
            f"http://127.0.0.1:{port}/api/v1/forecasts/ranked",
            markup=False,
        )
        from serve.app import run

        run(host="127.0.0.1", port=port, settings=settings)


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
    path.mkdir(parents=True, exist_ok=True)
    return path


def _days(text: str) -> int:
    value = text.strip().lower().removesuffix("d")
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"--retrain takes a number of days such as 7d, got {text!r}")
    return int(value)


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


@app.command()
@domain_errors
def backtest(
    grids: GridsOption,
    events: EventsOption,
    start: Annotated[str, typer.Option(help="First evaluation issue day (city time).")],
    end: Annotated[str, typer.Option(help="Last evaluation issue day, inclusive.")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Folder for metrics.json, predictions.parquet, report.html."),
    ],
    retrain: Annotated[
        str, typer.Option(help="Retrain LightGBM and the baselines every N days, e.g. 7d.")
    ] = "7d",
    truth: Annotated[
        Path | None,
        typer.Option(
            help="truth.json of a synthetic city (adds the oracle); default: beside the events file."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML overriding models/lightgbm.toml.")
    ] = None,
    hour: Annotated[int, typer.Option(help="Issue hour, city time.")] = 8,
    tz: TzOption = DEFAULT_TZ,
    calendar: Annotated[str, typer.Option(help="Holiday calendar country (ISO code).")] = "CN",
    data_dir: DataDirOption = None,
    track: Annotated[bool, typer.Option(help="Log the run to the local MLflow store.")] = True,
    search: Annotated[
        bool | None,
        typer.Option(
            "--search/--no-search",
            help="Choose LightGBM's settings on the 4 weeks before --start (default: yes, "
            "unless --config is given).",
        ),
    ] = None,
    encoding: EncodingOption = None,
) -> None:
    """Rolling-origin backtest: LightGBM beside every classic baseline (and the oracle)."""
    from models.backtest import run_backtest, write_outputs
    from risk.synth.truth import load_truth

    grid_frame, event_frame = _load_city(grids, events, tz, encoding)
    truth_path = truth or (events.parent / "truth.json")
    truth_obj = load_truth(truth_path) if truth_path.exists() else None
    if truth_obj is not None:
        out.print(f"oracle: {truth_path}")
    with _progress_bar() as bar:
        tasks: dict[str, object] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        result = run_backtest(
            grid_frame,
            event_frame,
            start,
            end,
            retrain_days=_days(retrain),
            hour=hour,
            tz=tz,
            calendar=calendar,
            truth=truth_obj,
            config=str(config) if config else None,
            progress=progress,
            search=search,
        )
    paths = write_outputs(result, out_dir)
    _print_model_table(result.metrics)
    for note in result.notes:
        out.print(f"note: {note}")
    out.print(f"timings (s): {result.timings}; peak RSS {result.peak_rss_mb:.0f} MB")
    out.print(f"wrote {paths['metrics']}, {paths['predictions']}, {paths['report']}")
    if track:
        from models.tracking import data_fingerprint, log_backtest, start_run, tracking_uri

        root = _data_dir(data_dir)
        fingerprint = data_fingerprint([grids, events], start, end)
        with start_run("backtest", root, tags={"command": "backtest"}) as run_id:
            log_backtest(
                result.metrics,
                result.settings,
                result.feature_info,
                fingerprint,
                artifacts=[p for k, p in paths.items() if k != "predictions"],
            )
        out.print(f"MLflow run {run_id} in {tracking_uri(root)}")


def _print_model_table(metrics: dict) -> None:
    keys = ("pr_auc", "pei@5", "pai@5", "ece", "miss_rate@10", "miss_rate_true@10")
    table = Table(title="target any", title_justify="left")
    table.add_column("model")
    for key in keys:
        table.add_column(key, justify="right")
    for model, values in metrics["targets"]["any"]["models"].items():
        if values.get("status") == "failed":
            table.add_row(model, *["failed"] * len(keys))
            continue
        cells = [values.get(k) for k in keys]
        table.add_row(model, *["—" if v is None or v != v else f"{v:.3f}" for v in cells])
    out.print(table)


@app.command()
@domain_errors
def train(
    grids: GridsOption,
    events: EventsOption,
    backtest_dir: Annotated[
        Path,
        typer.Option(
            "--backtest", help="Folder of a `risk backtest` run; its metrics.json feeds the gates."
        ),
    ],
    until: Annotated[
        str | None,
        typer.Option(help="Train on what is known at this time (default: latest report)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML overriding models/lightgbm.toml.")
    ] = None,
    hour: Annotated[int, typer.Option(help="Issue hour, city time.")] = 8,
    tz: TzOption = DEFAULT_TZ,
    calendar: Annotated[str, typer.Option(help="Holiday calendar country (ISO code).")] = "CN",
    proposed_by: Annotated[
        str | None,
        typer.Option(
            help="User account of the analyst proposing this version (`risk users list`); "
            "that account may not approve its promotion."
        ),
    ] = None,
    data_dir: DataDirOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Train on all history and register a model version with alias `challenger`."""
    import json
    import tempfile

    from models.persist import save_forecaster
    from models.registry import list_versions, register_model
    from models.tracking import data_fingerprint, log_backtest, start_run
    from models.training import train_forecaster

    metrics_path = backtest_dir / "metrics.json"
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractError(
            f"cannot read the backtest metrics: {exc}",
            file=str(metrics_path),
            fix="run `risk backtest ... --out DIR` and pass --backtest DIR",
        ) from exc
    root = _data_dir(data_dir)
    if proposed_by is not None:  # before the training: an unknown account fails at once
        proposed_by = _proposer(proposed_by, root)
    grid_frame, event_frame = _load_city(grids, events, tz, encoding)
    # The settings the backtest's configuration search chose (its gates were checked on
    # them), unless --config gives others.
    chosen = (metrics.get("configuration") or {}).get("override")
    settings = str(config) if config else chosen
    if config is None and chosen is not None:
        out.print(
            f"settings: '{metrics['configuration']['chosen']}', chosen by the backtest's "
            "configuration search",
            markup=False,
        )
    with out.status("training one LightGBM model per target ..."):
        trained = train_forecaster(
            grid_frame,
            event_frame,
            until,
            hour=hour,
            tz=tz,
            calendar=calendar,
            config=settings,
        )
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_run("train", root, tags={"command": "train"}) as run_id,
    ):
        folder = Path(tmp) / "model"
        save_forecaster(
            trained.model,
            folder,
            extra={
                "training_window": trained.window,
                "until": trained.until,
                "targets_trained": list(trained.targets),
                # the training period's, never the scoring day's (docs/adr/013-*)
                "base_rates": trained.base_rates,
            },
        )
        fingerprint = data_fingerprint([grids, events], trained.window[0], trained.until)
        params = {
            "until": trained.until,
            "training_rows": trained.rows,
            "window": trained.window,
            "backtest": str(backtest_dir),
            "configuration": (metrics.get("configuration") or {}).get("chosen", "default"),
        }
        log_backtest(metrics, params, trained.feature_info, fingerprint)
        version = register_model(
            folder,
            run_id,
            metrics,
            data_dir=root,
            feature_info=trained.feature_info,
            training_window=trained.window,
            proposed_by=proposed_by,
        )
    row = next(r for r in list_versions(data_dir=root) if r.version == version)
    out.print(
        f"registered grid-risk version {version} as challenger "
        f"(trained on {trained.rows:,} rows, {trained.window[0]} .. {trained.window[1]})"
    )
    out.print(f"gates on the backtest: {row.gate_summary}", markup=False, highlight=False)


model_app = typer.Typer(
    help="Model versions: list, promote with a named approval, roll back.", no_args_is_help=True
)
app.add_typer(model_app, name="model")


@model_app.command("list")
@domain_errors
def model_list(data_dir: DataDirOption = None) -> None:
    """Show versions, aliases, gate results and approvals."""
    from models.registry import list_versions

    rows = list_versions(data_dir=_data_dir(data_dir))
    table = Table(title="grid-risk model versions", title_justify="left")
    for column in ("version", "aliases", "created", "gates", "approved by", "approved at"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.version),
            ", ".join(r.aliases) or "—",
            f"{r.created:%Y-%m-%d %H:%M}",
            Text(r.gate_summary),  # gate names hold brackets: never markup
            r.approved_by or "—",
            r.approved_at or "—",
        )
    out.print(table if rows else "no model versions yet (risk train registers one)")


ApproverOption = Annotated[
    str,
    typer.Option(
        "--approved-by",
        help="User account of the approving admin (`risk users list`; not the proposer); "
        "recorded as the actor in the audit log.",
    ),
]


@model_app.command("promote")
@domain_errors
def model_promote(
    version: Annotated[int, typer.Option(help="Version to make champion.")],
    approved_by: ApproverOption,
    gates: Annotated[
        Path | None, typer.Option(help="Gate thresholds (TOML; default models/gates.toml).")
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Move `champion` to a version whose backtest passes every gate, approved by an admin
    account other than its proposer; the promotion, or the refusal, is audited."""
    from datetime import UTC, datetime

    from models.gates import load_gate_config
    from models.registry import PromotionRefused
    from serve import promotions
    from serve.db import transaction

    config = load_gate_config(gates) if gates else None
    root = _data_dir(data_dir)
    with transaction(_database(database_url, root)) as session:
        approver = promotions.approver_account(session, approved_by)
        try:
            result = promotions.promote(
                session, version, approver, data_dir=root, at=datetime.now(UTC), via="cli",
                gates=config,
            )  # fmt: skip
        except PromotionRefused as exc:
            err.print(
                "refused: " + str(exc),
                style="bold red", markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip
            raise typer.Exit(EXIT_REFUSED) from None
    was = f"v{result.previous_champion}" if result.previous_champion else "none"
    out.print(
        f"champion: v{result.version} (was {was}), approved by {result.approved_by} at {result.approved_at}"
    )


@model_app.command("rollback")
@domain_errors
def model_rollback(
    to: Annotated[
        int, typer.Option("--to", help="Earlier approved version to make champion again.")
    ],
    approved_by: ApproverOption,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Move `champion` back to a version that was approved before, by an admin account; audited
    (a version never approved, and other registry errors: exit 4)."""
    from datetime import UTC, datetime

    from serve import promotions
    from serve.db import transaction

    root = _data_dir(data_dir)
    with transaction(_database(database_url, root)) as session:
        approver = promotions.approver_account(session, approved_by)
        result = promotions.rollback(
            session, to, approver, data_dir=root, at=datetime.now(UTC), via="cli"
        )
    out.print(
        f"champion: v{result.version} (was v{result.previous_champion}), rolled back by {result.approved_by}"
    )


def _proposer(name: str, data_dir: Path) -> str:
    """The account name of the proposer: an active analyst of the service database."""
    from serve import promotions
    from serve.db import transaction

    with transaction(_database(None, data_dir)) as session:
        return promotions.proposer_account(session, name).username


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


@app.command()
@domain_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM); with --keyfile serves HTTPS.")
    ] = None,
    keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    scheduler: Annotated[
        bool, typer.Option(help="Run daily scoring and the sweep inside the service.")
    ] = True,
) -> None:
    """Run the API (and, later, the web pages) until interrupted.

    The scheduler runs inside: the escalation/expiry sweep always, daily scoring when
    RISK_CITY_GRIDS and RISK_CITY_EVENTS name the city's files."""
    from risk.settings import Settings
    from serve.app import run

    settings = Settings(scheduler=scheduler)
    scheme = "https" if certfile and keyfile else "http"
    out.print(f"serving on {scheme}://{host}:{port}/api/v1/docs  (Ctrl+C to stop)")
    if scheduler:
        daily = (
            "and daily scoring"
            if settings.city_grids and settings.city_events
            else "(no daily scoring: set RISK_CITY_GRIDS / RISK_CITY_EVENTS)"
        )
        out.print(f"scheduler: escalation/expiry sweep {daily}", markup=False)
    run(host=host, port=port, certfile=certfile, keyfile=keyfile, settings=settings)


@app.command()
@domain_errors
def score(
    grids: GridsOption,
    events: EventsOption,
    at: Annotated[
        str, typer.Option("--at", help="Issue time, e.g. 2025-12-01T08:00 (city time when naive).")
    ],
    model: Annotated[
        Path | None,
        typer.Option("--model", help="A model folder (default: the registry's champion)."),
    ] = None,
    top_percent: Annotated[
        float | None,
        typer.Option(help="Also send the top k% of grids to review (reviewer capacity)."),
    ] = None,
    min_level: Annotated[
        str, typer.Option(help="Lowest level that becomes a review item.")
    ] = "orange",
    tz: TzOption = DEFAULT_TZ,
    calendar: Annotated[str, typer.Option(help="Holiday calendar country (ISO code).")] = "CN",
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
    encoding: EncodingOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Score even when --at is after now, before the first event, or more than the "
            "horizon (72 h) after the newest event.",
        ),
    ] = False,
    labels: LabelsOption = None,
) -> None:
    """Forecast every grid at one issue time and send warnings to the review queue (atomically)."""
    from risk.issue_guard import parse_issue_time
    from risk.settings import Settings
    from serve.scoring import score as score_run
    from serve.scoring import summary_lines

    root = _data_dir(data_dir)
    issue = parse_issue_time(at, tz)
    factory = _database(database_url, root)
    grid_frame, event_frame = _load_city(grids, events, tz, encoding)
    with out.status("scoring, explaining and queueing ..."):
        summary = score_run(
            issue,
            grid_frame,
            event_frame,
            factory=factory,
            model_dir=model,
            data_dir=None if model else root,
            tz=tz,
            calendar=calendar,
            min_level=min_level,
            top_percent=top_percent,
            data_paths=[grids, events],
            force=force,
            labels_file=labels if labels is not None else Settings().labels_file,
        )
    for line in summary_lines(summary, tz):
        out.print(line, markup=False, highlight=False)


@app.command("labels")
@domain_errors
def labels_check(
    grids: GridsOption,
    events: EventsOption,
    labels: LabelsOption = None,
    tz: TzOption = DEFAULT_TZ,
    encoding: EncodingOption = None,
) -> None:
    """List the grid types, area attributes, categories and sources of the data that the label
    table does not name (reasons show them raw until the city adds them); exit 1 when any."""
    from risk.contract import ANY_TARGET, ATTR_PREFIX
    from risk.labels import load_labels
    from risk.settings import Settings

    city_file = labels if labels is not None else Settings().labels_file
    table = load_labels(city_file)
    grid_frame, event_frame = _load_city(grids, events, tz, encoding)
    missing = table.missing(
        targets=[ANY_TARGET, *event_frame["category"].dropna().astype(str).unique()],
        grid_types=grid_frame["grid_type"].dropna().astype(str).unique(),
        attributes=[c.removeprefix(ATTR_PREFIX) for c in grid_frame.columns
                    if str(c).startswith(ATTR_PREFIX)],
        sources=event_frame["source"].dropna().astype(str).unique(),
    )  # fmt: skip
    source = f"risk/labels.toml + {city_file}" if city_file else "risk/labels.toml"
    if not missing:
        out.print(f"every value of the data has a label ({source})", markup=False)
        return
    out.print(f"values without a label in {source} (add them to the city's label file):",
              markup=False)  # fmt: skip
    for section, values in missing.items():
        out.print(f"  [{section}] {', '.join(values)}", markup=False, highlight=False)
    raise typer.Exit(EXIT_QUARANTINED)


users_app = typer.Typer(help="Users, roles, scopes and API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _scope(text: str):
    from risk.scopes import Scope

    kind, _, values = text.partition(":")
    if kind == "city":
        return Scope.city()
    ids = [v.strip() for v in values.split(",") if v.strip()]
    if kind not in ("street", "community", "grids") or not ids:
        raise ConfigError(
            f"--scope {text!r}: give city, street:ID[,ID], community:ID[,ID] or grids:ID[,ID]"
        )
    return Scope.of(kind, ids)


@users_app.command("add")
@domain_errors
def users_add(
    username: Annotated[str, typer.Argument(help="Login name (no personal data needed).")],
    role: Annotated[str, typer.Option(help="analyst, reviewer, commander, grid_worker or admin.")],
    scope: Annotated[
        str, typer.Option(help="city | street:ID,.. | community:ID,.. | grids:ID,..")
    ] = "city",
    password: Annotated[
        bool,
        typer.Option(
            "--password", help="Ask for a password for the web pages (min. 8 characters)."
        ),
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Create a user and print an API token once (only its hash is stored)."""
    from serve.db import transaction
    from serve.repo.audit import append
    from serve.repo.users import add_user, issue

    secret = (
        typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    )
    factory = _database(database_url)
    with transaction(factory) as session:
        user = add_user(session, username, role, _scope(scope), password=secret)
        token = issue(session, username, "api", ttl=_api_token_ttl())
        append(
            session,
            "cli",
            "user.add",
            "user",
            username,
            after={"role": str(user.role.value), "scope": user.scope.to_dict()},
        )
    out.print(f"user {username} ({user.role.value}, {scope}) created")
    _print_token(token)


@users_app.command("list")
@domain_errors
def users_list(database_url: DatabaseOption = None) -> None:
    """Users with role, scope and state (never tokens)."""
    from serve.db import transaction
    from serve.repo.users import list_users

    with transaction(_database(database_url)) as session:
        rows = list_users(session)
    table = Table(title="users", title_justify="left")
    for column in ("username", "role", "scope", "created", "disabled"):
        table.add_column(column)
    for u in rows:
        scope = u.scope.to_dict()
        table.add_row(
            u.username,
            u.role.value,
            Text(f"{scope['kind']}:{','.join(scope.get('values', []))}"),
            f"{u.created_at:%Y-%m-%d %H:%M}",
            f"{u.disabled_at:%Y-%m-%d}" if u.disabled_at else "—",
        )
    out.print(table)


@users_app.command("revoke")
@domain_errors
def users_revoke(
    username: Annotated[str, typer.Argument(help="User whose tokens to revoke.")],
    disable: Annotated[bool, typer.Option(help="Also disable the user.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke every token of a user (and optionally disable the user)."""
    from serve.db import transaction
    from serve.repo.audit import append
    from serve.repo.users import disable_user, revoke_user_tokens

    with transaction(_database(database_url)) as session:
        n = revoke_user_tokens(session, username)
        if disable:
            disable_user(session, username)
        append(
            session,
            "cli",
            "user.revoke",
            "user",
            username,
            after={"tokens_revoked": n, "disabled": disable},
        )
    out.print(f"revoked {n} token(s) of {username}" + (" and disabled the user" if disable else ""))


def _api_token_ttl(days: int | None = None):
    """``days``, or RISK_API_TOKEN_DAYS (90), as a lifetime."""
    from datetime import timedelta

    from risk.settings import Settings

    return timedelta(days=Settings().api_token_days if days is None else days)


def _print_token(issued) -> None:
    out.print(
        f"API token (shown once, store it now; it expires {issued.expires_at:%Y-%m-%d %H:%M} "
        "UTC, renew it before with POST /api/v1/auth/tokens/renew):",
        highlight=False,
        markup=False,
    )
    print(issued.token)  # plain print: never cut to the terminal width


@users_app.command("token")
@domain_errors
def users_token(
    username: Annotated[str, typer.Argument(help="User to issue a new API token for.")],
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Lifetime in days (default: RISK_API_TOKEN_DAYS, 90)."),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Issue a new API token (e.g. after one expired) and print it once with its expiry."""
    from serve.db import transaction
    from serve.repo.audit import append
    from serve.repo.users import issue

    with transaction(_database(database_url)) as session:
        token = issue(session, username, "api", ttl=_api_token_ttl(days))
        append(session, "cli", "token.issue", "token", str(token.id),
               after={"user": username, "expires_at": token.expires_at})  # fmt: skip
    _print_token(token)


@users_app.command("pseudonym")
@domain_errors
def users_pseudonym(
    name: Annotated[str, typer.Argument(help="A username as it would be typed at login.")],
    data_dir: DataDirOption = None,
) -> None:
    """The ``name#…`` under which failed logins with this name are audited."""
    from risk.settings import Settings
    from serve.pseudonyms import names_key, pseudonym

    folder = data_dir if data_dir is not None else Settings().data_dir
    print(pseudonym(names_key(folder), name))


audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _audit_database(database_url: str | None, data_dir: Path | None):
    """The migrated database and the data dir, sessions holding the audit keys as on disk now."""
    from risk.settings import Settings
    from serve.audit_chain import AuditKeys, bind_keys

    root = data_dir or Settings().data_dir
    return bind_keys(_database(database_url, root), AuditKeys.load(root)), root


def _audit_broken(result: VerifyResult) -> NoReturn:
    """The verify result's one line on stderr, and exit 6."""
    at = f" at entry {result.first_bad_seq}" if result.first_bad_seq else ""
    _error(RuntimeError(f"audit log BROKEN{at}: {result.reason}"))
    raise typer.Exit(EXIT_AUDIT)


@audit_app.command("verify")
@domain_errors
def audit_verify(
    anchor: Annotated[
        Path | None,
        typer.Option(help="An anchor file (`risk audit anchor`) the log must still extend."),
    ] = None,
    database_url: DatabaseOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Check the chain up to its head with the audit key of the data dir: names the first
    edited, deleted, reordered or wrongly keyed entry (exit 6). Safe while the service writes."""
    from serve.audit_chain import read_anchor
    from serve.db import transaction
    from serve.repo.audit import verify

    anchored = read_anchor(anchor) if anchor is not None else None
    factory, _ = _audit_database(database_url, data_dir)
    with transaction(factory) as session:
        result = verify(session, anchored)
    if not result.ok:
        _audit_broken(result)
    legacy = f" ({result.unkeyed} from before the chain was keyed)" if result.unkeyed else ""
    out.print(f"audit log OK: {result.checked} entries{legacy}", markup=False)
    if anchored is not None:
        out.print(
            f"it extends the anchor of {anchored.anchored_at} (entry {anchored.seq})", markup=False
        )


@audit_app.command("anchor")
@domain_errors
def audit_anchor(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the anchor here (default: stdout).")
    ] = None,
    database_url: DatabaseOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Verify the chain, then write its head (entry, hash, time) signed with the audit key as
    JSON. Keep it away from the database; `risk audit verify --anchor FILE` checks it later."""
    from serve.db import transaction
    from serve.repo.audit import anchor_head

    factory, _ = _audit_database(database_url, data_dir)
    with transaction(factory) as session:
        result, anchor = anchor_head(session)
    if anchor is None:
        _audit_broken(result)
    if out_file is None:
        print(anchor.to_json(), end="")  # stdout holds the anchor only
        return
    try:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(anchor.to_json(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{out_file}: cannot write the anchor ({exc.strerror}); fix: --out "
                          "a file in a folder you can write to") from None  # fmt: skip
    out.print(f"anchored entry {anchor.seq} ({anchor.anchored_at}) in {out_file}", markup=False)


@audit_app.command("rotate-key")
@domain_errors
def audit_rotate_key(
    database_url: DatabaseOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Retire the audit key file (kept in keys/audit-retired/, so older entries still verify)
    and start a new one; only over a log that verifies. Restart the service afterwards."""
    from risk.settings import Settings
    from serve.audit_chain import AuditKeys, bind_keys, require_key_file, rotate_key_file
    from serve.db import transaction
    from serve.repo.audit import append, verify

    require_key_file(data_dir or Settings().data_dir)  # an environment key: refused up front
    factory, root = _audit_database(database_url, data_dir)
    with transaction(factory) as session:
        result = verify(session)
    if not result.ok:  # a new key must never seal a broken log
        _audit_broken(result)
    old, new = rotate_key_file(root)
    bind_keys(factory, AuditKeys.load(root))
    with transaction(factory) as session:
        append(
            session, "cli", "audit.rotate_key", "audit_key", new,
            before={"key_id": old}, after={"key_id": new},
        )  # fmt: skip
    out.print(
        f"audit key rotated: {old} retired, {new} signs from now on. Restart the service, back up "
        f"{root / 'keys'}, and take a new anchor (`risk audit anchor`).",
        markup=False,
    )


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
