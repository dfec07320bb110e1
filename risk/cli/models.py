"""Model commands: `backtest`, `train`, `score`, and `model list` / `promote` / `rollback`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from risk.cli.common import (
    EXIT_REFUSED,
    DaskOption,
    DatabaseOption,
    DataDirOption,
    EncodingOption,
    EventsOption,
    GridsOption,
    LabelsOption,
    TzOption,
    _cluster,
    _data_dir,
    _database,
    _feature_builder,
    _load_city,
    _progress_bar,
    domain_errors,
    err,
    out,
)
from risk.contract import DEFAULT_TZ
from risk.errors import ConfigError, ContractError

VisitsOption = Annotated[
    Path | None,
    typer.Option(
        help="Patrol visits (CSV or Parquet: grid_id, visited_at[, outcome]): reported per grid "
        "type and street in metrics.json, the report and the model card."
    ),
]
ExposureOption = Annotated[
    bool,
    typer.Option(
        "--exposure-feature/--no-exposure-feature",
        help="Also give the model the patrol visits as a feature (off by default: a model that "
        "reads exposure can learn the feedback loop itself; docs/adr/019-*). Needs --visits.",
    ),
]


def _read_visits(path: Path | None, encoding: str | None):
    """The raw rows of a visits file (checked by the backtest / training), or None."""
    if path is None:
        return None
    from risk.loaders import read_visits

    return read_visits(path, encoding=encoding)


def _days(text: str) -> int:
    value = text.strip().lower().removesuffix("d")
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"--retrain takes a number of days such as 7d, got {text!r}")
    return int(value)


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
    dask: DaskOption = None,
    label_exclude_sources: Annotated[
        str,
        typer.Option(
            help="Sources whose events the labels leave out, comma-separated, or 'none'. "
            "Default: the system's own patrols (a feedback-loop safeguard, docs/adr/019-*); "
            "`risk train` follows what its backtest used.",
        ),
    ] = "patrol",
    visits: VisitsOption = None,
    exposure_feature: ExposureOption = False,
) -> None:
    """Rolling-origin backtest: LightGBM beside every classic baseline (and the oracle).
    With --dask the feature frame is built per partition on the cluster and LightGBM's trees
    grow across its workers (lightgbm.dask)."""
    from models.backtest import run_backtest, write_outputs
    from models.report import write_report
    from risk.synth.truth import load_truth

    grid_frame, event_frame = _load_city(grids, events, tz, encoding)
    truth_path = truth or (events.parent / "truth.json")
    truth_obj = load_truth(truth_path) if truth_path.exists() else None
    if truth_obj is not None:
        out.print(f"oracle: {truth_path}")
    with _cluster(dask) as client, _progress_bar() as bar:
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
            label_exclude_sources=label_exclude_sources,
            visits=_read_visits(visits, encoding),
            patrol_exposure=exposure_feature,
            build=_feature_builder(client),
            client=client,
        )
    paths = write_outputs(result, out_dir, report=write_report)
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
    issue_stride: Annotated[
        int,
        typer.Option(
            "--issue-stride",
            min=1,
            help="Build the training rows at every k-th issue day only (counted back from the "
            "latest): for a city too large for a frame of every day.",
        ),
    ] = 1,
    dask: DaskOption = None,
    visits: Annotated[
        Path | None,
        typer.Option(
            help="Patrol visits (grid_id, visited_at[, outcome]); needed when the backtest "
            "gave the model the exposure feature (--exposure-feature)."
        ),
    ] = None,
) -> None:
    """Train on all history and register a model version with alias `challenger`.
    With --dask the feature frame is built per partition on the cluster and LightGBM's trees
    grow across its workers (lightgbm.dask); calibration and covers are fitted here."""
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
    measured = (metrics.get("dataset") or {}).get("grids")
    if measured is not None and measured != len(grid_frame):
        # the gates would judge this model by another city's (or another layout's) backtest
        raise ContractError(
            f"the backtest was run on {measured:,} grids and {grids} holds {len(grid_frame):,}",
            file=str(metrics_path),
            field="dataset.grids",
            fix="run `risk backtest` on these grids and events and pass its folder to --backtest",
        )
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
    # The labels of the backtest whose gates this version is judged by (docs/adr/019-*).
    label_sources = (metrics.get("labels") or {}).get("exclude_sources")
    if label_sources is None:
        label_sources = []
        out.print(
            f"note: {metrics_path} predates the label setting, so its labels counted every "
            "source; training alike. Re-run the backtest to leave patrol events out.",
            markup=False,
        )
    exposure = bool((metrics.get("backtest") or {}).get("patrol_exposure_feature"))
    if exposure and visits is None:
        raise ConfigError(
            f"the backtest in {backtest_dir} gave the model the patrol exposure feature; "
            "give the same visits with --visits FILE"
        )
    with _cluster(dask) as client, out.status("training one LightGBM model per target ..."):
        trained = train_forecaster(
            grid_frame,
            event_frame,
            until,
            hour=hour,
            tz=tz,
            calendar=calendar,
            config=settings,
            label_exclude_sources=label_sources,
            visits=_read_visits(visits, encoding),
            patrol_exposure=exposure,
            issue_stride=issue_stride,
            build=_feature_builder(client),
            client=client,
        )
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_run("train", root, tags={"command": "train"}) as run_id,
    ):
        folder = Path(tmp) / "model"
        save_forecaster(
            trained.model,
            folder,
            # window, targets, base rates and the drift reference (models.training)
            extra=trained.manifest_extra(),
        )
        fingerprint = data_fingerprint([grids, events], trained.window[0], trained.until)
        params = {
            "until": trained.until,
            "training_rows": trained.rows,
            "window": trained.window,
            "backtest": str(backtest_dir),
            "configuration": (metrics.get("configuration") or {}).get("chosen", "default"),
            "any_mixed": bool((getattr(trained.model, "mixed_", None) or {}).get("applied")),
            "label_exclude_sources": list(trained.label_exclude_sources),
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
    for target, reason in trained.skipped.items():
        out.print(f"note: no model for target {target}: {reason}", markup=False, highlight=False)
    from models.card import mix_sentence
    from risk.levels import level_notes

    mix = mix_sentence(getattr(trained.model, "mixed_", None))  # ADR 026
    if mix:
        out.print(f"note: {mix}", markup=False, highlight=False)
    points = {t: f.levels_ for t, f in trained.model.forecasters_.items()}
    for line in level_notes(points):
        out.print(line, markup=False, highlight=False)
    out.print(
        f"registered grid-risk version {version} as challenger "
        f"(trained on {trained.rows:,} rows, {trained.window[0]} .. {trained.window[1]})"
    )
    out.print(f"gates on the backtest: {row.gate_summary}", markup=False, highlight=False)


model_app = typer.Typer(
    help="Model versions: list, promote with a named approval, roll back.", no_args_is_help=True
)


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
    dask: DaskOption = None,
) -> None:
    """Forecast every grid at one issue time and send warnings to the review queue (atomically).
    With --dask features, predictions and explanations run per partition on the cluster; the
    run is still written here, in one transaction."""
    from risk.issue_guard import parse_issue_time
    from risk.settings import Settings
    from serve.scoring import score as score_run
    from serve.scoring import summary_lines

    if top_percent is not None and not 0 < top_percent <= 100:
        raise ConfigError(f"--top-percent must be in (0, 100], got {top_percent:g}; e.g. 5")
    root = _data_dir(data_dir)
    issue = parse_issue_time(at, tz)
    factory = _database(database_url, root)
    grid_frame, event_frame = _load_city(grids, events, tz, encoding)
    with _cluster(dask) as client, out.status("scoring, explaining and queueing ..."):
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
            health_file=Settings().health_file,
            client=client,
        )
    for line in summary_lines(summary, tz):
        out.print(line, markup=False, highlight=False)
