"""Data commands: `validate`, `import`, `grid make`, `synth`, `features`, `labels`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from risk.cli.common import (
    EXIT_QUARANTINED,
    EXIT_USAGE,
    DaskOption,
    EncodingOption,
    EventsOption,
    GridsOption,
    LabelsOption,
    TzOption,
    _cluster,
    _error,
    _feature_builder,
    _load_city,
    domain_errors,
    out,
)
from risk.contract import DEFAULT_TZ
from risk.errors import ConfigError

if TYPE_CHECKING:
    from features.base import FeatureSpec


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
    for kind, n in summary.get("adjusted", {}).items():
        table.add_row(f"  valid, adjusted: {kind}", str(n))
    out.print(table)
    adjusted = summary.get("adjusted", {})
    if adjusted:
        out.print(
            "note: wall times without an offset that daylight saving makes impossible or "
            "repeated were kept and adjusted — a time in the spring-forward gap moves to the end "
            "of the gap, a time in the repeated fall-back hour is read as standard time. Give "
            "times with their UTC offset (e.g. 2025-11-02T01:30:00-05:00) to say which you mean."
        )


def _quarantine_paths(quarantine: Path | None) -> tuple[Path | None, Path | None]:
    if quarantine is None:
        return None, None
    return quarantine.with_name(f"{quarantine.stem}_grids{quarantine.suffix}"), quarantine


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
    from risk.gridmake import grids_path, make_grid, read_event_points, write_grids

    grids_path(out_path)  # before any work: the output must be readable back
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
        "events_without_lon_lat",
        "events_not_placed",
        "events_far_from_centre",
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
    for note in report.get("notes", []):
        out.print(f"note: {note}", markup=False, highlight=False)


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
    dask: DaskOption = None,
) -> None:
    """Build the feature frame: one row per (issue time, grid), features and labels for every target."""
    import time

    from features.base import FeatureSpec
    from features.issue_times import daily_issue_times
    from risk.loaders import load_events, load_grids
    from risk.option_times import option_date

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
    first, last = option_date(start, "--start"), option_date(end, "--end")
    started = time.perf_counter()
    grid_result = load_grids(grids, encoding=encoding)
    event_result = load_events(events, grid_result.valid, tz=tz, encoding=encoding)
    issue_times = daily_issue_times(first, last, hour=hour, tz=tz)
    with out.status(
        f"building features for {len(grid_result.valid):,} grids x {len(issue_times)} issue times ..."
    ):
        with _cluster(dask) as client:  # --dask: per partition, the same frame
            build = _feature_builder(client)
            built = build(grid_result.valid, event_result.valid, issue_times, spec)
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
