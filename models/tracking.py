"""MLflow tracking with an explicit, local store: every backtest and training run is a run.

The store is ``sqlite:///<data_dir>/mlflow.db`` with artifacts under ``<data_dir>/mlartifacts``
unless ``RISK_MLFLOW_URI`` says otherwise — never MLflow's implicit ``./mlruns``. Telemetry is
switched off before MLflow is imported.

    with start_run("backtest", data_dir, tags={"command": "backtest"}) as run_id:
        log_backtest(metrics, params, feature_info, data_fingerprint(paths, start, end), plots)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow  # after the environment above: telemetry must be off first
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from sqlalchemy.exc import DBAPIError

from risk.errors import ConfigError
from risk.locks import MIGRATIONS
from risk.metrics import json_ready
from risk.settings import Settings

# MLflow sets its own logger to INFO on import; store creation chatter is not for users.
logging.getLogger("mlflow").setLevel(logging.WARNING)

MAX_PARAM_CHARS = 6000  # MLflow's limit on a param value
BATCH = 900  # below MLflow's 1000 metrics per log_batch
_UNSAFE = re.compile(r"[^\w.\- /:]")


# ----------------------------------------------------------------------------- store


def tracking_uri(data_dir: Path) -> str:
    """``RISK_MLFLOW_URI`` when set, else ``sqlite:///<data_dir>/mlflow.db`` (absolute)."""
    return Settings(data_dir=Path(data_dir)).resolved_mlflow_uri()


def artifact_location(data_dir: Path) -> str | None:
    """Where new experiments keep artifacts: ``<data_dir>/mlartifacts`` for a local store;
    ``None`` (the server's default) when the store is a tracking server."""
    if tracking_uri(data_dir).startswith(("http://", "https://", "databricks")):
        return None
    return (Path(data_dir) / "mlartifacts").resolve().as_uri()


_READY: set[str] = set()


def client(data_dir: Path) -> MlflowClient:
    """A client bound to the toolkit's store (tracking and registry share it).

    The first client of a store in this process opens it under a lock: opening a new store
    runs its Alembic migrations, which must not overlap another migration in this process
    (`risk.locks.MIGRATIONS`)."""
    uri = tracking_uri(data_dir)
    if uri in _READY:
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    with MIGRATIONS:
        try:
            c = MlflowClient(tracking_uri=uri, registry_uri=uri)  # opens (and migrates) it
            c.search_registered_models(max_results=1)  # ... and the registry's
        except DBAPIError as exc:
            # a server URL may hold a password: only a local file is named
            shown = uri if uri.startswith("sqlite:") else "set by RISK_MLFLOW_URI"
            raise ConfigError(
                f"cannot open the MLflow store ({shown}): {exc.orig}; "
                "fix: point --data-dir at the folder the toolkit wrote (or move the damaged "
                "mlflow.db aside: a new one is created), or set RISK_MLFLOW_URI"
            ) from None
        _READY.add(uri)
    return c


def ensure_experiment(name: str, data_dir: Path) -> str:
    """Id of experiment ``name``, created with an explicit artifact location if missing."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    c = client(data_dir)
    found = c.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return c.create_experiment(name, artifact_location=artifact_location(data_dir))


@contextmanager
def start_run(
    experiment: str,
    data_dir: Path,
    tags: Mapping[str, str] | None = None,
    run_name: str | None = None,
) -> Iterator[str]:
    """Open an MLflow run in ``experiment`` on the toolkit's store; yields the run id.

    Points MLflow's process-wide URIs at the store, so ``log_*`` here and in ``mlflow``
    itself land in this run. The run ends FAILED if the block raises.
    """
    uri = tracking_uri(data_dir)
    experiment_id = ensure_experiment(experiment, data_dir)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    tags = {str(k): str(v) for k, v in (tags or {}).items()}
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
        yield run.info.run_id


def _active_run_id() -> str:
    run = mlflow.active_run()
    if run is None:
        raise ConfigError("no active MLflow run; call this inside `with start_run(...)`")
    return run.info.run_id


# ----------------------------------------------------------------------------- logging


def data_fingerprint(paths: Sequence[Path], start: Any, end: Any) -> str:
    """sha256 over the input files' bytes (in the order given) and the date range.

    Each file contributes ``b"<size>\\n"`` then its bytes (so file boundaries count), then
    ``"<start>/<end>"`` with both as ISO timestamps (``pd.Timestamp(x).isoformat()``), so
    ``"2024-01-01"`` and ``date(2024, 1, 1)`` give the same fingerprint. File names do not count.
    """
    h = hashlib.sha256()
    for path in paths:
        path = Path(path)
        h.update(f"{path.stat().st_size}\n".encode())
        with path.open("rb") as f:
            for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                h.update(chunk)
    h.update(f"{pd.Timestamp(start).isoformat()}/{pd.Timestamp(end).isoformat()}".encode())
    return h.hexdigest()


def flatten_metrics(metrics: Mapping[str, Any], all_segments: bool = False) -> dict[str, float]:
    """Numeric leaves of a ``metrics.json`` dict as MLflow metric names.

    Path parts are joined by ``.``; ``targets``/``models`` levels are dropped
    (``any.lightgbm.pr_auc``), ``@`` becomes ``_at_`` (``any.lightgbm.pei_at_5``) and any other
    character MLflow refuses becomes ``_``. ``None``/NaN/booleans are left out. Per-street and
    other ``by_<key>`` blocks (all but the grid-type ``by_segment``) are left out unless
    ``all_segments``: they can run to thousands of values and stay whole in ``metrics.json``.
    """
    out: dict[str, float] = {}
    for key, value in _leaves(metrics, ()):
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            continue
        if not all_segments and any(p.startswith("by_") and p != "by_segment" for p in key):
            continue
        out[_metric_name(key)] = float(value)
    return out


def flatten_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Nested params as ``a.b`` → string (lists as JSON), cut to MLflow's 6000 characters."""
    out: dict[str, str] = {}
    for key, value in _leaves(params, ()):
        text = value if isinstance(value, str) else json.dumps(json_ready(value), default=str)
        out[_safe(".".join(key))] = text[:MAX_PARAM_CHARS]
    return out


def _leaves(obj: Any, path: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], Any]]:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _leaves(v, (*path, str(k)))
    else:
        yield path, obj


def _metric_name(path: tuple[str, ...]) -> str:
    parts = [p for i, p in enumerate(path) if not (p in ("targets", "models") and i < 3)]
    return _safe(".".join(parts))


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name.replace("@", "_at_"))


def _features_table(feature_info: Iterable[Any]) -> list[dict[str, str]]:
    """``(name, family)`` pairs or ``features.base.FeatureInfo`` objects → JSON rows."""
    rows = []
    for f in feature_info:
        name, family = (f.name, f.family) if hasattr(f, "family") else (f[0], f[1])
        rows.append({"name": str(name), "family": str(family)})
    return rows


def log_backtest(
    metrics: Mapping[str, Any],
    params: Mapping[str, Any],
    feature_info: Iterable[Any],
    data_fingerprint: str,
    artifacts: Sequence[Path] = (),
    run_id: str | None = None,
    data_dir: Path | None = None,
) -> str:
    """Log one backtest or training run; returns the run id.

    Writes flattened metrics (:func:`flatten_metrics`), flattened params, tag and param
    ``data_fingerprint``, ``features.json`` (``[{name, family}]``), ``metrics.json`` (the whole
    dict) and each path in ``artifacts`` (files at the artifact root, directories by name).
    Uses the active run from :func:`start_run` unless ``run_id`` (+ ``data_dir``) is given.
    """
    run_id = run_id or _active_run_id()
    c = client(data_dir) if data_dir is not None else MlflowClient()
    features = _features_table(feature_info)
    flat = flatten_params(params)
    flat["data_fingerprint"] = data_fingerprint
    flat["n_features"] = str(len(features))
    items = [Param(k, v) for k, v in flat.items()]
    for i in range(0, len(items), 90):  # MLflow accepts 100 params per batch
        c.log_batch(run_id, params=items[i : i + 90])
    now = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
    points = [Metric(k, v, now, 0) for k, v in flatten_metrics(metrics).items()]
    for i in range(0, len(points), BATCH):
        c.log_batch(run_id, metrics=points[i : i + BATCH])
    c.set_tag(run_id, "data_fingerprint", data_fingerprint)
    c.log_dict(run_id, features, "features.json")
    c.log_dict(run_id, json_ready(dict(metrics)), "metrics.json")
    for path in artifacts:
        path = Path(path)
        if path.is_dir():
            c.log_artifacts(run_id, str(path), path.name)
        else:
            c.log_artifact(run_id, str(path))
    return run_id


def log_model_card(
    markdown: str, html: str, run_id: str | None = None, data_dir: Path | None = None
) -> None:
    """Store a model card as ``model_card.md`` and ``model_card.html`` in the run."""
    run_id = run_id or _active_run_id()
    c = client(data_dir) if data_dir is not None else MlflowClient()
    c.log_text(run_id, markdown, "model_card.md")
    c.log_text(run_id, html, "model_card.html")
