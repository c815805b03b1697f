"""`couponry users create|list|disable`: people who sign in to the web pages (API keys are for machines)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from couponry.adapters.db.engine import Database
from couponry.adapters.db.migrate import upgrade
from couponry.domain.errors import CouponryError
from couponry.settings import get_settings

users_app = typer.Typer(help="People who sign in to the web pages.", no_args_is_help=True)


def _database() -> Database:
    db = Database(get_settings().database_url, pool_size=1)
    upgrade(db.engine)
    return db


@users_app.command("create")
def create(
    email: Annotated[str, typer.Option(help="the e-mail the person signs in with")],
    role: Annotated[str, typer.Option(help="admin | store | pos")],
    store_id: Annotated[str | None, typer.Option("--store-id", help="the store of a store user")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a user; unless --password-stdin, the generated password is the last line of the output."""
    from couponry.services.access.users import create_user, generate_password
    from couponry.services.ids import utcnow

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else generate_password()
    try:
        user = create_user(
            _database(), email=email, role=role, password=password, store_id=store_id, now=utcnow()
        )
    except CouponryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    store = f" of store {user.store_id}" if user.store_id else ""
    if password_stdin:
        typer.echo(f"created {user.role} user {user.email}{store} ({user.id})")
        return
    typer.echo(f"created {user.role} user {user.email}{store} ({user.id}); the password, shown only once:")
    typer.echo(password)


@users_app.command("list")
def list_() -> None:
    """List users: id, e-mail, role, store, and whether disabled (passwords are stored hashed)."""
    from couponry.services.access.users import list_users

    for u in list_users(_database()):
        state = f"disabled {u['disabled_at']:%Y-%m-%d %H:%M}" if u["disabled_at"] else "active"
        store = f" store={u['store_id']}" if u["store_id"] else ""
        typer.echo(f"{u['id']}  {u['email']}  {u['role']}{store}  {state}")


@users_app.command("disable")
def disable(
    user_id: Annotated[str, typer.Argument(help="the user's id (see `couponry users list`)")],
) -> None:
    """Stop a user signing in; their open sessions end at once."""
    from couponry.services.access.users import disable_user
    from couponry.services.ids import utcnow

    try:
        disable_user(_database(), user_id, utcnow())
    except CouponryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"disabled {user_id}")
