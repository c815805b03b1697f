"""The `couponry` command: serve, migrate, keys, codes, tick, bench."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from couponry.cli_codes import codes_app
from couponry.cli_customers import customers_app
from couponry.cli_report import report_app
from couponry.cli_users import users_app

app = typer.Typer(help="Couponry: coupon campaigns, codes, validation and redemption.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(codes_app, name="codes")
app.add_typer(customers_app, name="customers")
app.add_typer(users_app, name="users")
app.add_typer(report_app, name="report")


def _database():  # noqa: ANN202
    from couponry.adapters.db.engine import Database
    from couponry.settings import get_settings

    settings = get_settings()
    return Database(settings.database_url, limit_slots=settings.limit_slots)


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
    """Revoke an API key: every server process refuses it within a second."""
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

    from couponry import serving
    from couponry.adapters.db.migrate import upgrade
    from couponry.api.metrics import prepare_multiprocess_dir

    db = _database()
    upgrade(db.engine)
    if demo:
        from couponry.services.access.keys import create_key
        from couponry.services.demo import seed_demo
        from couponry.services.ids import utcnow

        for line in seed_demo(db):
            typer.echo(f"demo {line}")
        typer.echo(f"demo customer  {_demo_portal_line(db)}")
        _, secret = create_key(db, role="admin", name="demo admin", store_id=None, now=utcnow())
        password = _demo_admin_user(db)
        _announce_when_up(host, port, secret, _save_demo_key(secret), password)
    db.dispose()
    options: dict[str, Any] = {
        "access_log": False,
        "log_config": None,
        "server_header": False,  # no "server: uvicorn" banner
        "timeout_graceful_shutdown": 5,
    }
    if workers > 1:
        prepare_multiprocess_dir()
        if serving.supported():  # each process on a socket of its own: connections spread evenly
            try:
                status = serving.run_workers(host, port, workers, options)
            except OSError as exc:  # the port is taken, or the address is not this machine's
                typer.echo(f"cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
                raise typer.Exit(1) from None
            raise typer.Exit(status)
    uvicorn.run(serving.APP, factory=True, host=host, port=port, workers=workers, **options)


def _demo_portal_line(db: Any) -> str:
    """The demo customer's own pages (wallet, coupon center, points, rewards, prize wheel): a signed link
    that expires, so a new one each start."""
    from couponry.services.access.actors import SYSTEM
    from couponry.services.distribution.portal import create_portal_link
    from couponry.services.ids import utcnow
    from couponry.settings import get_settings

    settings = get_settings()
    link = create_portal_link(db, SYSTEM, "demo-customer", utcnow(), settings)
    return f"demo-customer's pages (valid {settings.portal_link_minutes} min): {link['url']}"


DEMO_KEY_FILE = "couponry-demo-key.txt"
DEMO_PASSWORD_FILE = "couponry-demo-password.txt"
DEMO_ADMIN_EMAIL = "admin@demo.couponry.dev"


def _demo_admin_user(db) -> str:  # noqa: ANN001
    """The demo's admin user for the dashboard, with a new password each run (saved beside the key)."""
    from couponry.domain.errors import Conflict
    from couponry.services.access.users import create_user, generate_password, set_password
    from couponry.services.ids import utcnow

    password = generate_password()
    try:
        create_user(db, email=DEMO_ADMIN_EMAIL, role="admin", password=password, store_id=None, now=utcnow())
    except Conflict:
        set_password(db, DEMO_ADMIN_EMAIL, password)
    _private_file(DEMO_PASSWORD_FILE, f"{DEMO_ADMIN_EMAIL}\n{password}\n")
    return password


def _private_file(name: str, content: str) -> Path:
    path = Path(name).resolve()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(content)
    return path


def _save_demo_key(secret: str) -> Path:
    """Write the demo's admin key to a file in the working directory, readable by its owner only."""
    return _private_file(DEMO_KEY_FILE, secret + "\n")


def _announce_when_up(host: str, port: int, secret: str, key_file: Path, password: str) -> None:
    """Print the demo's address, admin key and dashboard sign-in in a frame once the server answers,
    after uvicorn's start-up lines, so it is the last thing on the console until the first request."""
    import threading
    import time
    import urllib.request

    base = f"http://{host}:{port}"
    probe = f"http://127.0.0.1:{port}/healthz" if host in ("0.0.0.0", "::", "") else f"{base}/healthz"

    def announce() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:  # urllib rather than httpx, which would log this request on the server's console
                with urllib.request.urlopen(probe, timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            return
        time.sleep(0.3)  # let the log line of that health check go out first
        lines = [
            f"Couponry demo shop: {base}  (interactive API docs: {base}/docs)",
            "Admin API key:",
            f"    {secret}",
            f"also saved in {key_file}",
            "",
            f"Dashboard: {base}/dashboard",
            f"    e-mail    {DEMO_ADMIN_EMAIL}",
            f"    password  {password}",
            f"also saved in {Path(DEMO_PASSWORD_FILE).resolve()}",
        ]
        width = max(map(len, lines)) + 2
        frame = "+" + "-" * width + "+"
        body = "\n".join(f"| {line.ljust(width - 2)} |" for line in lines)
        typer.echo(f"\n{frame}\n{body}\n{frame}\n")

    threading.Thread(target=announce, name="couponry-demo-announce", daemon=True).start()


@app.command()
def tick(
    now: Annotated[
        str | None,
        typer.Option(help="run as of this RFC 3339 time (default: now), e.g. 2026-12-01T09:00:00Z"),
    ] = None,
    job: Annotated[list[str] | None, typer.Option(help="only this job (repeatable)")] = None,
) -> None:
    """Run every scheduled job that is due (as of --now) and exit; for cron, or to drive time in tests.

    Each job runs once per period across every process and every tick: a second tick in the same
    period prints `skipped`. The exit status is 1 if a job failed."""
    from datetime import datetime

    from couponry.services.ids import utcnow
    from couponry.services.scheduling.catalog import default_registry
    from couponry.services.scheduling.scheduler import run_due
    from couponry.settings import get_settings

    at = utcnow()
    if now:
        try:
            at = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            raise typer.BadParameter(f"not an RFC 3339 time: {now!r}", param_hint="--now") from None
        if at.tzinfo is None:
            raise typer.BadParameter("give an offset (Z or +HH:MM)", param_hint="--now")
    registry = default_registry()
    unknown = set(job or ()) - set(registry.jobs)
    if unknown:
        raise typer.BadParameter(
            f"unknown job(s) {', '.join(sorted(unknown))}; known: {', '.join(registry.jobs)}"
        )
    outcomes = run_due(_database(), get_settings(), registry, at, set(job) if job else None)
    for o in outcomes:
        typer.echo(
            f"{o.status:9} {o.job}  period {o.scheduled_for.isoformat()}"
            + (f"  {o.error}" if o.error else "")
        )
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="smaller runs, for a smoke check")] = False,
    only: Annotated[
        str | None,
        typer.Option(
            help="comma-separated: pricing,validation,redemption,codes,distribution,claims,loyalty,cpu,"
            "latency,measuring,rollups"
        ),
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
