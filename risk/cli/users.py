"""`risk users ...`: users, roles, scopes and API tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from risk.cli.common import (
    DatabaseOption,
    DataDirOption,
    _database,
    domain_errors,
    out,
)
from risk.errors import ConfigError

users_app = typer.Typer(help="Users, roles, scopes and API tokens.", no_args_is_help=True)


def _scope(text: str):
    from risk.scopes import Scope

    kind, _, values = text.partition(":")
    if kind == "city":
        return Scope.city()
    ids = [v.strip() for v in values.split(",") if v.strip()]
    if kind not in ("street", "community", "grids") or not ids:
        raise ConfigError(
            f"--scope {text!r}: give city, street:ID[,ID], community:ID[,ID] or grids:ID[,ID]"
        )
    return Scope.of(kind, ids)


@users_app.command("add")
@domain_errors
def users_add(
    username: Annotated[str, typer.Argument(help="Login name (no personal data needed).")],
    role: Annotated[
        str,
        typer.Option(
            help="analyst, reviewer, commander, grid_worker, admin, integration (a city "
            "system posting events; API token only) or monitor (reads /metrics; API token only)."
        ),
    ],
    scope: Annotated[
        str, typer.Option(help="city | street:ID,.. | community:ID,.. | grids:ID,..")
    ] = "city",
    password: Annotated[
        bool,
        typer.Option(
            "--password", help="Ask for a password for the web pages (min. 8 characters)."
        ),
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Create a user and print an API token once (only its hash is stored)."""
    from serve.db import transaction
    from serve.repo.audit import append
    from serve.repo.users import add_user, issue

    secret = (
        typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    )
    factory = _database(database_url)
    with transaction(factory) as session:
        user = add_user(session, username, role, _scope(scope), password=secret)
        token = issue(session, username, "api", ttl=_api_token_ttl())
        append(
            session,
            "cli",
            "user.add",
            "user",
            username,
            after={"role": str(user.role.value), "scope": user.scope.to_dict()},
        )
    out.print(f"user {username} ({user.role.value}, {scope}) created")
    _print_token(token)


@users_app.command("list")
@domain_errors
def users_list(database_url: DatabaseOption = None) -> None:
    """Users with role, scope and state (never tokens)."""
    from serve.db import transaction
    from serve.repo.users import list_users

    with transaction(_database(database_url)) as session:
        rows = list_users(session)
    table = Table(title="users", title_justify="left")
    for column in ("username", "role", "scope", "created", "disabled"):
        table.add_column(column)
    for u in rows:
        scope = u.scope.to_dict()
        table.add_row(
            u.username,
            u.role.value,
            Text(f"{scope['kind']}:{','.join(scope.get('values', []))}"),
            f"{u.created_at:%Y-%m-%d %H:%M}",
            f"{u.disabled_at:%Y-%m-%d}" if u.disabled_at else "—",
        )
    out.print(table)


@users_app.command("revoke")
@domain_errors
def users_revoke(
    username: Annotated[str, typer.Argument(help="User whose tokens to revoke.")],
    disable: Annotated[bool, typer.Option(help="Also disable the user.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke every token of a user (and optionally disable the user)."""
    from serve.db import transaction
    from serve.repo.audit import append
    from serve.repo.users import disable_user, revoke_user_tokens

    with transaction(_database(database_url)) as session:
        n = revoke_user_tokens(session, username)
        if disable:
            disable_user(session, username)
        append(
            session,
            "cli",
            "user.revoke",
            "user",
            username,
            after={"tokens_revoked": n, "disabled": disable},
        )
    out.print(f"revoked {n} token(s) of {username}" + (" and disabled the user" if disable else ""))


def _api_token_ttl(days: int | None = None):
    """``days``, or RISK_API_TOKEN_DAYS (90), as a lifetime."""
    from datetime import timedelta

    from risk.settings import Settings

    return timedelta(days=Settings().api_token_days if days is None else days)


def _print_token(issued) -> None:
    out.print(
        f"API token (shown once, store it now; it expires {issued.expires_at:%Y-%m-%d %H:%M} "
        "UTC, renew it before with POST /api/v1/auth/tokens/renew):",
        highlight=False,
        markup=False,
    )
    print(issued.token)  # plain print: never cut to the terminal width


@users_app.command("token")
@domain_errors
def users_token(
    username: Annotated[str, typer.Argument(help="User to issue a new API token for.")],
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Lifetime in days (default: RISK_API_TOKEN_DAYS, 90)."),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Issue a new API token (e.g. after one expired) and print it once with its expiry."""
    from serve.db import transaction
    from serve.repo.audit import append
    from serve.repo.users import issue

    with transaction(_database(database_url)) as session:
        token = issue(session, username, "api", ttl=_api_token_ttl(days))
        append(session, "cli", "token.issue", "token", str(token.id),
               after={"user": username, "expires_at": token.expires_at})  # fmt: skip
    _print_token(token)


@users_app.command("pseudonym")
@domain_errors
def users_pseudonym(
    name: Annotated[str, typer.Argument(help="A username as it would be typed at login.")],
    data_dir: DataDirOption = None,
) -> None:
    """The ``name#…`` under which failed logins with this name are audited."""
    from risk.settings import Settings
    from serve.pseudonyms import names_key, pseudonym

    folder = data_dir if data_dir is not None else Settings().data_dir
    print(pseudonym(names_key(folder), name))
