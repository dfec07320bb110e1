"""Service commands: `serve` (the API and web pages) and `demo` (the whole path on a synthetic
city, ending in the service)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from risk.cli.common import (
    EXIT_REFUSED,
    _database,
    _error,
    domain_errors,
    out,
)
from risk.cli.data import synth, validate
from risk.cli.models import backtest, score, train
from risk.cli.users import _scope
from risk.contract import DEFAULT_TZ
from risk.errors import ConfigError

DEMO_USERS = (  # name, role, scope, password (demo only, printed on purpose)
    ("admin", "admin", "city", "demo-admin-pass"),
    ("analyst", "analyst", "city", "demo-analyst-pass"),
    ("reviewer", "reviewer", "city", "demo-reviewer-pass"),
    ("commander", "commander", "city", "demo-commander-pass"),
)


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
        f"patrols and {day.events} event; commander completed {day.completed}",
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
    RISK_CITY_GRIDS names the city's grids (events from RISK_CITY_EVENTS when set, else from
    the service's event store)."""
    from risk.settings import Settings
    from serve.app import run

    settings = Settings(scheduler=scheduler)
    scheme = "https" if certfile and keyfile else "http"
    out.print(f"serving on {scheme}://{host}:{port}/api/v1/docs  (Ctrl+C to stop)")
    if scheduler:
        if not settings.city_grids:
            daily = "(no daily scoring: set RISK_CITY_GRIDS to the city's grids file)"
        elif settings.city_events:
            daily = f"and daily scoring (events from {settings.city_events})"
        else:
            daily = "and daily scoring (events from the event store)"
        out.print(f"scheduler: escalation/expiry sweep {daily}", markup=False, soft_wrap=True)
    run(host=host, port=port, certfile=certfile, keyfile=keyfile, settings=settings)
