"""The `risk` command: the one composition root (it may import every package).

Commands import their packages lazily so `risk --help` stays fast. Domain errors become one
line on stderr and a documented exit code, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from risk.contract import DEFAULT_TZ
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


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
