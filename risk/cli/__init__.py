"""The `risk` command: the one composition root (it may import every package).

Commands import their packages lazily so `risk --help` stays fast. Domain errors become one
line on stderr and a documented exit code, never a traceback. One module per command group
(`data`, `models`, `service`, `users`, `audit`, `events`; shared pieces in `common`); this
module makes the app, registers the groups in help order, and re-exports the shared names
callers import from `risk.cli` (the exit codes above all).
"""

from __future__ import annotations

import typer

from risk.cli.audit import audit_app
from risk.cli.common import (  # re-exported
    EXIT_AUDIT,
    EXIT_CONFIG,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_QUARANTINED,
    EXIT_REFUSED,
    EXIT_USAGE,
    DatabaseOption,
    DataDirOption,
    EncodingOption,
    EventsOption,
    GridsOption,
    LabelsOption,
    TzOption,
    _data_dir,
    _database,
    _error,
    _load_city,
    _progress_bar,
    domain_errors,
    err,
    out,
)
from risk.cli.data import features, grid_app, import_, labels_check, synth, validate
from risk.cli.events import events_app
from risk.cli.models import backtest, model_app, score, train
from risk.cli.service import demo, serve
from risk.cli.users import users_app

__all__ = [
    "app",
    "main",
    "EXIT_AUDIT",
    "EXIT_CONFIG",
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_QUARANTINED",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "DatabaseOption",
    "DataDirOption",
    "EncodingOption",
    "EventsOption",
    "GridsOption",
    "LabelsOption",
    "TzOption",
    "_data_dir",
    "_database",
    "_error",
    "_load_city",
    "_progress_bar",
    "domain_errors",
    "err",
    "out",
]

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


app.command()(validate)
app.command("import")(import_)
app.add_typer(grid_app, name="grid")
app.command()(synth)
app.command()(features)
app.command()(demo)
app.command()(backtest)
app.command()(train)
app.add_typer(model_app, name="model")
app.command()(serve)
app.command()(score)
app.command("labels")(labels_check)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(events_app, name="events")


def main() -> None:  # pragma: no cover - console entry point
    app()
