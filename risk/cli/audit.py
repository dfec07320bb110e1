"""`risk audit ...`: verify, anchor and re-key the append-only, hash-chained audit log."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from risk.cli.common import (
    EXIT_AUDIT,
    DatabaseOption,
    DataDirOption,
    _database,
    _error,
    domain_errors,
    out,
)
from risk.errors import ConfigError

if TYPE_CHECKING:
    from serve.repo.audit import VerifyResult


audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


def _audit_database(database_url: str | None, data_dir: Path | None):
    """The migrated database and the data dir, sessions holding the audit keys as on disk now."""
    from risk.settings import Settings
    from serve.audit_chain import AuditKeys, bind_keys

    root = data_dir or Settings().data_dir
    return bind_keys(_database(database_url, root), AuditKeys.load(root)), root


def _existing_log(database_url: str | None, data_dir: Path | None) -> None:
    """`ConfigError` when the data dir's own SQLite database does not exist: verifying must
    not create an empty log (and a key) in a mistyped folder and call it OK."""
    if database_url:
        return
    from risk.settings import Settings

    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    if settings.database_url:  # RISK_DATABASE_URL: a server's, not a file of the data dir
        return
    from sqlalchemy.engine import make_url

    database = Path(make_url(settings.resolved_database_url()).database or "")
    if not database.is_file():
        raise ConfigError(
            f"no service database at {database}: there is no audit log to verify there; give "
            "the --data-dir (or --database-url) the service runs with"
        )


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
    _existing_log(database_url, data_dir)
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
