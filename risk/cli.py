"""The `risk` command: the one composition root (it may import every package).

Commands import their packages lazily so `risk --help` stays fast. Domain errors become one
line on stderr and a documented exit code, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from risk.contract import DEFAULT_TZ

if TYPE_CHECKING:
    from features.base import FeatureSpec
from risk.errors import ConfigError, ContractError

EXIT_OK = 0
EXIT_QUARANTINED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_CONFIG = 4

app = typer.Typer(
    help="Grid-risk early warning: synthesise, validate, build features, forecast, review.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """Grid-risk early warning: synthesise, validate, build features, forecast, review."""


out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., object])


def domain_errors(func: F) -> F:
    """Turn domain errors into one clear line and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return func(*args, **kwargs)
        except ContractError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INPUT) from None
        except (ConfigError, ValueError) as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_CONFIG) from None

    return wrapper  # type: ignore[return-value]


TzOption = Annotated[
    str, typer.Option("--tz", help="City time zone; naive timestamps are read in it.")
]
GridsOption = Annotated[Path, typer.Option("--grids", help="Grids: GeoJSON, CSV or Parquet.")]
EventsOption = Annotated[Path, typer.Option("--events", help="Events: CSV or Parquet.")]


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
) -> None:
    """Check grids and events against the data contract; every row is valid, quarantined or a duplicate."""
    from risk.loaders import load_events, load_grids

    q_grids, q_events = _quarantine_paths(quarantine)
    grid_result = load_grids(grids, quarantine=q_grids)
    event_result = load_events(events, grid_result.valid, tz=tz, quarantine=q_events)
    for result in (grid_result, event_result):
        _print_validation(result.summary())
    if quarantine is not None:
        out.print(
            f"quarantine: {q_events}" + (f", {q_grids}" if grid_result.quarantined.shape[0] else "")
        )
    if strict and (grid_result.quarantined.shape[0] or event_result.quarantined.shape[0]):
        raise typer.Exit(EXIT_QUARANTINED)


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
) -> None:
    """Build the feature frame: one row per (issue time, grid), features and labels for every target."""
    import time

    from features.base import FeatureSpec
    from features.build import build_features
    from features.issue_times import daily_issue_times
    from risk.loaders import load_events, load_grids

    spec = FeatureSpec(tz=tz, calendar=calendar)
    if describe:
        _describe_features(grids, events, spec)
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
        err.print(f"[bold red]error:[/] missing {', '.join(missing)} (or give --describe)")
        raise typer.Exit(EXIT_USAGE)
    started = time.perf_counter()
    grid_result = load_grids(grids)
    event_result = load_events(events, grid_result.valid, tz=tz)
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


def _describe_features(grids: Path | None, events: Path | None, spec: FeatureSpec) -> None:
    import pandas as pd

    from features.build import build_features
    from risk.loaders import load_events, load_grids

    if grids is not None and events is not None:
        grid_frame = load_grids(grids).valid
        event_frame = load_events(events, grid_frame, tz=spec.tz).valid
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


@app.command()
@domain_errors
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for everything the demo makes.")
    ] = Path("data/demo"),
    grids: Annotated[int, typer.Option("--grids", help="Grids in the synthetic city.")] = 400,
    days: Annotated[int, typer.Option("--days", help="Days of history.")] = 540,
    seed: Annotated[int, typer.Option("--seed")] = 1,
) -> None:
    """The whole path on a synthetic city with the embedded defaults.

    Today: synthesise -> validate -> build 30 days of features and labels. Training, the
    review queue and the service join as they are built.
    """
    import pandas as pd

    city_dir = out_dir / "city"
    out.rule("1. synthetic city")
    synth(out_dir=city_dir, grids=grids, days=days, seed=seed, start="2024-01-01", tz=DEFAULT_TZ)
    out.rule("2. validation")
    validate(
        grids=city_dir / "grids.geojson",
        events=city_dir / "events.csv",
        quarantine=city_dir / "quarantine.csv",
        tz=DEFAULT_TZ,
        strict=False,
    )
    out.rule("3. features and labels, last 30 days")
    last = pd.Timestamp("2024-01-01") + pd.Timedelta(days=days - 4)  # every 72 h window complete
    feature_path = out_dir / "features.parquet"
    features(
        grids=city_dir / "grids.geojson",
        events=city_dir / "events.csv",
        start=str((last - pd.Timedelta(days=29)).date()),
        end=str(last.date()),
        out_path=feature_path,
        hour=8,
        tz=DEFAULT_TZ,
        calendar="CN",
        describe=False,
    )
    frame = pd.read_parquet(feature_path, columns=["grid_id", "issue_time", "label_any"])
    out.rule("done")
    out.print(
        f"City of {grids} grids, {days} days of events in {city_dir}; feature frame "
        f"{feature_path} ({len(frame):,} rows; {frame['label_any'].mean():.1%} of grid-windows "
        "saw at least one event in the next 72 h)."
    )
    out.print(
        "Next: `risk features --describe` lists every feature; training and review come next."
    )


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
