"""`risk events …`: the service's event store (issue 16, item 1).

`risk events load --events FILE` puts a contract events file into the service database through
the same validation and quarantine as `risk validate` (`serve.intake.ingest`): every row is
stored, a duplicate (of an earlier row of the file, or of an event already stored), a conflict
(its event_id is stored with other values; the stored event is kept) or quarantined, and the
counts add up. Loading the same file again stores nothing new. One audit entry per load.

Registered on the `risk` app by the CLI's composition root, `risk/cli/__init__.py`
(`app.add_typer(events_app, name="events")`); shared helpers come from `risk.cli.common`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from risk.cli.common import (
    EXIT_QUARANTINED,
    _database,
    _progress_bar,
    domain_errors,
    out,
    time_zone,
)

events_app = typer.Typer(
    help="The service's event store: load events files into the service database.",
    no_args_is_help=True,
)

SHOWN_CONFLICTS = 5


@events_app.command("load")
def load(
    events: Annotated[Path, typer.Option("--events", help="Events: CSV or Parquet (DESIGN §3).")],
    grids: Annotated[
        Path | None,
        typer.Option(
            "--grids",
            help="Grids to place the events in (default: the grids the service database "
            "holds, else RISK_CITY_GRIDS).",
        ),
    ] = None,
    quarantine: Annotated[
        Path | None,
        typer.Option(
            help="Write the rows not stored for a reason to look at here (CSV: row, reason, "
            "detail, then the raw values): quarantined rows and conflicts."
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="City time zone of naive times (default: RISK_TZ).", callback=time_zone
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="Text encoding of a CSV, e.g. utf-8, gb18030 (default: detected; the command "
            "stops and asks when it cannot tell).",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Exit 1 when any row was quarantined or conflicts.")
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL (default: RISK_DATABASE_URL or SQLite in the data dir).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="The service's data folder (default: RISK_DATA_DIR or ./data).",
        ),
    ] = None,
) -> None:
    """Validate an events file and store it in the service database (idempotent on event_id):
    read = stored + duplicates + conflicts + quarantined."""
    domain_errors(_load)(events, grids, quarantine, tz, encoding, strict, database_url, data_dir)


def _load(
    events: Path,
    grids: Path | None,
    quarantine: Path | None,
    tz: str | None,
    encoding: str | None,
    strict: bool,
    database_url: str | None,
    data_dir: Path | None,
) -> None:
    from datetime import UTC, datetime

    from risk.errors import ContractError
    from risk.loaders import read_events
    from risk.settings import Settings
    from serve.db import transaction
    from serve.intake import ingest, known_grids, write_quarantine
    from serve.repo.events import count_events

    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    factory = _database(database_url, data_dir)
    url = factory.kw["bind"].url.render_as_string(hide_password=True)
    out.print(f"database: {url}", markup=False, highlight=False, soft_wrap=True)
    raw = read_events(events, encoding=encoding)
    with transaction(factory) as session, _progress_bar() as bar:
        grid_frame, where = known_grids(session, grids, fallback_file=settings.city_grids,
                                        encoding=encoding)  # fmt: skip
        task = bar.add_task(f"storing {events.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        intake = ingest(
            session,
            raw,
            grid_frame,
            actor="cli",
            action="events.load",
            now=datetime.now(UTC),
            tz=tz or settings.tz,
            file=events.name,
            progress=progress,
            audit_extra={"via": "cli"},
        )
        summary = intake.summary()
        if quarantine is not None:
            write_quarantine(intake, quarantine)
        if summary["quarantined"] + summary["duplicates_in_input"] == summary["read"]:
            reasons = ", ".join(f"{r}: {n}" for r, n in summary["by_reason"].items())
            raise ContractError(  # rolls the load back: nothing stored, nothing audited
                f"no valid rows out of {summary['read']} ({summary['quarantined']} quarantined"
                + (f"; {reasons}" if reasons else "") + ")",
                file=events.name,
                fix=("see the quarantine file " + str(quarantine)) if quarantine
                else "run with --quarantine FILE for the reason of each row",
            )  # fmt: skip
        held = count_events(session)
    _print_load(summary, where, held)
    _print_conflicts(intake.rows)
    if quarantine is not None:
        out.print(f"quarantine: {quarantine}", markup=False, highlight=False)
    if strict and (summary["quarantined"] or summary["conflicts"]):
        raise typer.Exit(EXIT_QUARANTINED)


def _print_load(summary: dict[str, Any], grids_from: str, held: int) -> None:
    from rich.table import Table

    table = Table(title=f"events load: {summary['file']}", title_justify="left")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("read", f"{summary['read']:,}")
    table.add_row("stored (new)", f"{summary['stored']:,}")
    table.add_row("duplicates", f"{summary['duplicates']:,}")
    table.add_row("  repeated in the file", f"{summary['duplicates_in_input']:,}")
    table.add_row("  already stored", f"{summary['duplicates_stored']:,}")
    table.add_row("conflicts (stored event kept)", f"{summary['conflicts']:,}")
    table.add_row("quarantined", f"{summary['quarantined']:,}")
    for reason, n in summary["by_reason"].items():
        table.add_row(f"  quarantined: {reason}", f"{n:,}")
    for kind, n in summary.get("adjusted", {}).items():
        table.add_row(f"  stored, adjusted: {kind}", f"{n:,}")
    out.print(table)
    out.print(
        f"read {summary['read']:,} = stored {summary['stored']:,} + duplicates "
        f"{summary['duplicates']:,} + conflicts {summary['conflicts']:,} + quarantined "
        f"{summary['quarantined']:,}; the store holds {held:,} events (grids: {grids_from}; "
        f"audited as event batch {summary['batch']})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _print_conflicts(rows: Any) -> None:
    conflicts = rows[rows["status"] == "conflict"]
    for row in conflicts.head(SHOWN_CONFLICTS).itertuples():
        out.print(
            f"conflict: row {row.row}, event_id {row.event_id!r}: {row.detail} (kept as stored)",
            markup=False,
            highlight=False,
        )
    if len(conflicts) > SHOWN_CONFLICTS:
        out.print(f"… and {len(conflicts) - SHOWN_CONFLICTS:,} more conflicts (--quarantine "
                  "lists them all)", markup=False)  # fmt: skip


__all__ = ["events_app"]
