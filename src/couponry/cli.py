"""The `couponry` command: serve, migrate, keys, codes, bench."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from couponry.cli_codes import codes_app
from couponry.cli_customers import customers_app

app = typer.Typer(help="Couponry: coupon campaigns, codes, validation and redemption.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(codes_app, name="codes")
app.add_typer(customers_app, name="customers")


def _database():  # noqa: ANN202
    from couponry.adapters.db.engine import Database
    from couponry.settings import get_settings

    return Database(get_settings().database_url)


@app.command()
def migrate() -> None:
    """Bring the database (COUPONRY_DATABASE_URL) to the newest schema."""
    from couponry.adapters.db.migrate import upgrade

    db = _database()
    upgrade(db.engine)
    typer.echo(f"migrated {db.engine.url.render_as_string(hide_password=True)}")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin | store | pos | storefront")],
    name: Annotated[str, typer.Option(help="who the key is for")] = "default",
    store_id: Annotated[str | None, typer.Option("--store-id", help="the store of a store key")] = None,
) -> None:
    """Create an API key; the key itself is the last line of the output and is shown only once."""
    from couponry.adapters.db.migrate import upgrade
    from couponry.domain.errors import CouponryError
    from couponry.services.access.keys import create_key
    from couponry.services.ids import utcnow

    db = _database()
    upgrade(db.engine)
    try:
        key_id, secret = create_key(db, role=role, name=name, store_id=store_id, now=utcnow())
    except CouponryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created {role} key {key_id} ({name}); store it now, it is not shown again:")
    typer.echo(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys: id, role, store, name, and whether revoked (secrets are never stored)."""
    from couponry.services.access.keys import list_keys

    for key in list_keys(_database()):
        state = f"revoked {key['revoked_at']:%Y-%m-%d %H:%M}" if key["revoked_at"] else "active"
        store = f" store={key['store_id']}" if key["store_id"] else ""
        typer.echo(f"{key['id']}  {key['prefix']}…  {key['role']}{store}  {state}  {key['name']}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (see `couponry keys list`)")],
) -> None:
    """Revoke an API key: it is refused from now on (within 10 s in servers that used it just now)."""
    from couponry.domain.errors import CouponryError
    from couponry.services.access.keys import revoke_key
    from couponry.services.ids import utcnow

    try:
        revoke_key(_database(), key_id, utcnow())
    except CouponryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"revoked {key_id}")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="server processes")] = 1,
    demo: Annotated[bool, typer.Option(help="fill a demo shop and print an admin key")] = False,
) -> None:
    """Run the HTTP API (migrating the database first)."""
    import uvicorn

    from couponry.adapters.db.migrate import upgrade
    from couponry.api.metrics import prepare_multiprocess_dir

    db = _database()
    upgrade(db.engine)
    if demo:
        from couponry.services.access.keys import create_key
        from couponry.services.demo import seed_demo
        from couponry.services.ids import utcnow

        for line in seed_demo(db):
            typer.echo(f"demo campaign  {line}")
        _, secret = create_key(db, role="admin", name="demo admin", store_id=None, now=utcnow())
        typer.echo(f"demo shop ready at http://{host}:{port}/docs — admin key:")
        typer.echo(secret)
    db.dispose()
    if workers > 1:
        prepare_multiprocess_dir()
    uvicorn.run(
        "couponry.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=5,
    )


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="smaller runs, for a smoke check")] = False,
    only: Annotated[
        str | None,
        typer.Option(help="comma-separated: pricing,validation,redemption,codes,distribution,claims"),
    ] = None,
    output: Annotated[str | None, typer.Option(help="also write the report to this Markdown file")] = None,
) -> None:
    """Run the benchmarks, each figure beside its raw baseline measured in the same run."""
    from couponry.bench.suite import run_all

    os.environ.setdefault("COUPONRY_BENCH", "1")
    report = run_all(quick=quick, only=set(only.split(",")) if only else None)
    typer.echo(report)
    if output:
        with open(output, "w") as fh:
            fh.write(report)


if __name__ == "__main__":  # pragma: no cover
    app()
