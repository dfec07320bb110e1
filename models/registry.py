"""Model registry with a human gate, on the toolkit's MLflow store (see ``models.tracking``).

* :func:`register_model` logs the model file (or directory) into its run under ``model/``,
  with ``registry/manifest.json`` (sha256 of each file) and ``registry/backtest_metrics.json``,
  creates a version and points alias ``challenger`` at it. Gate results at registration are
  stored as version tags (``gates``, ``gates_passed``) so :func:`list_versions` can show them.
* :func:`promote` re-checks the gates on the stored metrics and moves alias ``champion`` only
  when all pass **and** a named person approves; tags ``approved_by``/``approved_at`` record
  it. Otherwise :class:`PromotionRefused` lists every failed gate. A promoted version loses
  the ``challenger`` alias (it no longer challenges anything).
* :func:`rollback` moves ``champion`` back to a version that was approved before, without
  re-checking gates (they may have changed since; the version passed the gates of its day).
  Who rolled back and when is recorded. A never-approved version must go through promote.

Every promotion, refusal and rollback is also appended to the version's ``history`` tag.
Register one version per run: a second registration from the same run overwrites ``model/``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from models.card import model_card
from models.gates import GateConfig, GateResult, all_passed, check_gates, load_gate_config
from models.tracking import client, log_model_card
from risk.errors import RiskError
from risk.metrics import json_ready
from risk.scopes import check_four_eyes

DEFAULT_NAME = "grid-risk"
CHALLENGER = "challenger"
PROPOSED_BY = "proposed_by"  # version tag: who proposed it (may not approve it)
CHAMPION = "champion"
MODEL_DIR = "model"
MANIFEST = "registry/manifest.json"
METRICS = "registry/backtest_metrics.json"
CARD_INPUTS = "registry/card_inputs.json"
HISTORY_KEEP = 20
TAG_LIMIT = 100_000  # MLflow's limit on a model-version tag value
_NAME = re.compile(r"^[\w.\-]+$")


class RegistryError(RiskError):
    """A registry request that cannot be carried out (unknown version, no champion…)."""


class PromotionRefused(RegistryError):
    """A version may not become champion; ``failed`` holds the gates that failed."""

    def __init__(self, version: int, reasons: Sequence[str], failed: Sequence[GateResult] = ()):
        self.version = version
        self.failed = list(failed)
        lines = "\n".join(f"  - {r}" for r in reasons)
        super().__init__(f"version {version} was not promoted to {CHAMPION}:\n{lines}")


@dataclass(frozen=True)
class PromotionResult:
    version: int
    previous_champion: int | None
    approved_by: str
    approved_at: str
    gate_results: list[GateResult] = field(default_factory=list)
    action: str = "promote"  # or "rollback"


@dataclass(frozen=True)
class VersionRow:
    """One line of ``risk model list``."""

    version: int
    aliases: tuple[str, ...]
    created: datetime
    run_id: str
    gates_passed: bool | None
    gate_results: list[GateResult]
    approved_by: str | None
    approved_at: str | None
    proposed_by: str | None = None

    @property
    def gate_summary(self) -> str:
        """``pass``, ``not checked`` or ``FAIL: <failed gate names>``."""
        if self.gates_passed is None:
            return "not checked"
        if self.gates_passed:
            return "pass"
        return "FAIL: " + ", ".join(g.name for g in self.gate_results if not g.passed)


# ----------------------------------------------------------------------------- register


def register_model(
    model_path: Path,
    run_id: str,
    metrics: Mapping[str, Any],
    *,
    data_dir: Path,
    name: str = DEFAULT_NAME,
    gates: GateConfig | None = None,
    feature_info: Iterable[Any] | None = None,
    training_window: tuple[Any, Any] | None = None,
    proposed_by: str | None = None,
) -> int:
    """Register the model file or directory at ``model_path`` from run ``run_id``; returns the
    new version number, which now holds alias ``challenger``.

    ``proposed_by`` (tag ``proposed_by``) names who proposes the version: that person may not
    approve its promotion (four eyes, `risk.scopes.check_four_eyes`).

    ``metrics`` is the backtest ``metrics.json`` dict the gates will be checked on. With
    ``feature_info`` and ``training_window`` a model card is logged to the run as well.
    """
    _check_name(name)
    model_path = Path(model_path)
    if not model_path.exists():
        raise RegistryError(f"{model_path}: model file not found; train the model first")
    c = client(data_dir)
    results = check_gates(metrics, gates or load_gate_config())
    if model_path.is_dir():
        c.log_artifacts(run_id, str(model_path), MODEL_DIR)
    else:
        c.log_artifact(run_id, str(model_path), MODEL_DIR)
    c.log_dict(run_id, _manifest(model_path), MANIFEST)
    c.log_dict(run_id, json_ready(dict(metrics)), METRICS)
    card = feature_info is not None and training_window is not None
    if card:
        inputs = {
            "features": _feature_rows(feature_info),
            "training_window": [str(w) for w in training_window],
        }
        c.log_dict(run_id, inputs, CARD_INPUTS)
    try:
        c.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    run = c.get_run(run_id)
    mv = c.create_model_version(
        name,
        source=f"{run.info.artifact_uri}/{MODEL_DIR}",
        run_id=run_id,
        tags={
            **_gate_tags(results),
            **({PROPOSED_BY: proposed_by.strip()} if proposed_by and proposed_by.strip() else {}),
        },
    )
    version = int(mv.version)
    c.set_registered_model_alias(name, CHALLENGER, str(version))
    if card:
        _log_card(version, data_dir=data_dir, name=name)
    return version


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise RegistryError(
            f"model name {name!r} is not accepted; use letters, digits, '.', '_' or '-'"
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest(model_path: Path) -> dict[str, Any]:
    """``entry``: the file to load (``""`` for a directory); ``files``: relative path → sha256."""
    if model_path.is_dir():
        files = {
            p.relative_to(model_path).as_posix(): _sha256(p)
            for p in sorted(model_path.rglob("*"))
            if p.is_file()
        }
        return {"entry": "", "files": files}
    return {"entry": model_path.name, "files": {model_path.name: _sha256(model_path)}}


def _feature_rows(feature_info: Iterable[Any]) -> list[list[str]]:
    rows = []
    for f in feature_info:
        name, family = (f.name, f.family) if hasattr(f, "family") else (f[0], f[1])
        rows.append([str(name), str(family)])
    return rows


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _gate_tags(results: list[GateResult]) -> dict[str, str]:
    gates = json.dumps([r.as_dict() for r in results], ensure_ascii=False)
    if len(gates) > TAG_LIMIT:  # keep the verdicts, drop the wording
        gates = json.dumps([{**r.as_dict(), "detail": ""} for r in results])
    return {
        "gates": gates,
        "gates_passed": str(all_passed(results)).lower(),
        "gates_checked_at": _now(),
    }


# ----------------------------------------------------------------------------- promote


def promote(
    version: int,
    approved_by: str,
    *,
    data_dir: Path,
    gates: GateConfig | None = None,
    name: str = DEFAULT_NAME,
) -> PromotionResult:
    """Move ``champion`` to ``version`` if every gate passes; record who approved and when.

    Raises :class:`PromotionRefused` naming each failed gate (``champion`` unchanged),
    :class:`RegistryError` for a blank approver or an unknown version, and
    `risk.scopes.Forbidden` when the approver proposed the version.
    """
    approver = _approver(approved_by)
    c = client(data_dir)
    mv = _version(c, name, version)
    proposer = mv.tags.get(PROPOSED_BY)
    if proposer:
        check_four_eyes(approver, proposer)
    metrics = _download_json(c, mv.run_id, METRICS)
    results = check_gates(metrics, gates or load_gate_config())
    at = _now()
    for key, value in _gate_tags(results).items():
        c.set_model_version_tag(name, str(version), key, value)
    if not all_passed(results):
        failed = [r for r in results if not r.passed]
        _append_history(c, name, mv, {"action": "refused", "by": approver, "at": at})
        raise PromotionRefused(version, [f"{r.name}: {r.detail}" for r in failed], failed)
    previous = _champion_version(c, name)
    _move_champion(c, name, version, approver, at, "approved")
    _append_history(c, name, mv, {"action": "promoted", "by": approver, "at": at, "from": previous})
    if _alias_version(c, name, CHALLENGER) == version:
        c.delete_registered_model_alias(name, CHALLENGER)
    if any(f.path == CARD_INPUTS for f in c.list_artifacts(mv.run_id, "registry")):
        _log_card(version, data_dir=data_dir, name=name)
    return PromotionResult(version, previous, approver, at, results)


def rollback(
    to_version: int, approved_by: str, *, data_dir: Path, name: str = DEFAULT_NAME
) -> PromotionResult:
    """Move ``champion`` back to ``to_version``, which must have been approved before."""
    approver = _approver(approved_by)
    c = client(data_dir)
    mv = _version(c, name, to_version)
    previous = _champion_version(c, name)
    if previous == to_version:
        raise RegistryError(f"version {to_version} is already {CHAMPION}; nothing to roll back")
    if "approved_at" not in mv.tags:
        raise PromotionRefused(
            to_version,
            [
                f"version {to_version} was never approved as {CHAMPION}; "
                f"use promote, which checks the gates"
            ],
        )
    at = _now()
    _move_champion(c, name, to_version, approver, at, "rolled_back")
    _append_history(c, name, mv, {"action": "rollback", "by": approver, "at": at, "from": previous})
    gates = [GateResult.from_dict(d) for d in json.loads(mv.tags.get("gates", "[]"))]
    return PromotionResult(to_version, previous, approver, at, gates, action="rollback")


def _approver(approved_by: str) -> str:
    approver = (approved_by or "").strip()
    if not approver:
        raise RegistryError(
            "approved_by is empty; give the name of the person approving, e.g. --approved-by 'Li Wei'"
        )
    return approver


def _move_champion(c: Any, name: str, version: int, by: str, at: str, verb: str) -> None:
    c.set_registered_model_alias(name, CHAMPION, str(version))
    c.set_model_version_tag(name, str(version), f"{verb}_by", by)
    c.set_model_version_tag(name, str(version), f"{verb}_at", at)


def _append_history(c: Any, name: str, mv: Any, entry: dict[str, Any]) -> None:
    history = json.loads(mv.tags.get("history", "[]"))
    history = (history + [entry])[-HISTORY_KEEP:]
    c.set_model_version_tag(
        name, str(mv.version), "history", json.dumps(history, ensure_ascii=False)
    )


# ----------------------------------------------------------------------------- read


def list_versions(*, data_dir: Path, name: str = DEFAULT_NAME) -> list[VersionRow]:
    """Every version of ``name``, oldest first; empty when nothing is registered yet."""
    _check_name(name)
    c = client(data_dir)
    try:
        aliases = c.get_registered_model(name).aliases
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return []
        raise
    by_version: dict[int, list[str]] = {}
    for alias, v in aliases.items():
        by_version.setdefault(int(v), []).append(alias)
    rows = []
    for mv in c.search_model_versions(f"name='{name}'"):
        tags = mv.tags
        passed = tags.get("gates_passed")
        rows.append(
            VersionRow(
                version=int(mv.version),
                aliases=tuple(sorted(by_version.get(int(mv.version), []))),
                created=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
                run_id=mv.run_id,
                gates_passed=None if passed is None else passed == "true",
                gate_results=[GateResult.from_dict(d) for d in json.loads(tags.get("gates", "[]"))],
                approved_by=tags.get("approved_by"),
                approved_at=tags.get("approved_at"),
                proposed_by=tags.get(PROPOSED_BY),
            )
        )
    return sorted(rows, key=lambda r: r.version)


def load_champion(dest: Path, *, data_dir: Path, name: str = DEFAULT_NAME) -> Path:
    """Download the champion's model into ``dest/v<version>/`` and return the model file (or
    directory), after checking every file against the sha256 recorded at registration."""
    c = client(data_dir)
    version = _champion_version(c, name)
    if version is None:
        raise RegistryError(
            f"model {name!r} has no {CHAMPION}; promote a version first (risk model promote)"
        )
    mv = _version(c, name, version)
    target = Path(dest) / f"v{version}"
    target.mkdir(parents=True, exist_ok=True)
    manifest = _download_json(c, mv.run_id, MANIFEST)
    local = Path(c.download_artifacts(mv.run_id, MODEL_DIR, str(target)))
    for rel, digest in manifest["files"].items():
        if _sha256(local / rel) != digest:
            raise RegistryError(
                f"{local / rel}: sha256 differs from the one registered with version {version}; "
                "the artifact store was altered — re-register the model"
            )
    return local / manifest["entry"] if manifest["entry"] else local


def _version(c: Any, name: str, version: int) -> Any:
    try:
        return c.get_model_version(name, str(int(version)))
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise RegistryError(
            f"model {name!r} has no version {version}; see `risk model list` for the versions"
        ) from exc


def _alias_version(c: Any, name: str, alias: str) -> int | None:
    try:
        return int(c.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _champion_version(c: Any, name: str) -> int | None:
    return _alias_version(c, name, CHAMPION)


def _download_json(c: Any, run_id: str, path: str) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        local = c.download_artifacts(run_id, path, tmp)
        return json.loads(Path(local).read_text(encoding="utf-8"))


def _log_card(version: int, *, data_dir: Path, name: str) -> None:
    """Render the version's model card from what the registry stored and log it to its run."""
    c = client(data_dir)
    mv = _version(c, name, version)
    inputs = _download_json(c, mv.run_id, CARD_INPUTS)
    metrics = _download_json(c, mv.run_id, METRICS)
    row = next(r for r in list_versions(data_dir=data_dir, name=name) if r.version == version)
    info = {
        "name": name,
        "version": version,
        "run_id": mv.run_id,
        "created": row.created.isoformat(timespec="seconds"),
        "approved_by": row.approved_by or "not approved",
        "approved_at": row.approved_at or "—",
    }
    window = inputs.get("training_window") or ["?", "?"]
    markdown, html = model_card(info, metrics, inputs["features"], tuple(window), row.gate_results)
    log_model_card(markdown, html, run_id=mv.run_id, data_dir=data_dir)
