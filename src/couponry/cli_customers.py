"""`couponry customers import FILE.csv`: upsert customers from a CSV file, with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from couponry.adapters.db.engine import Database
from couponry.adapters.db.migrate import upgrade
from couponry.services.customers.imports import COLUMNS, BadFile, import_customers
from couponry.services.ids import utcnow
from couponry.settings import get_settings

customers_app = typer.Typer(help="Customers.", no_args_is_help=True)


@customers_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the CSV file")],
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="rows per transaction")] = 1000,
) -> None:
    """Upsert customers by id from FILE (columns: id, then any of the PUT fields; tags separated by ';').

    A row that cannot be taken is skipped whole and reported by line number; the exit status is then 1."""
    err = Console(stderr=True)
    db = Database(get_settings().database_url, pool_size=1)
    upgrade(db.engine)
    with file.open(newline="", encoding="utf-8-sig") as fh:
        lines = sum(1 for _ in fh)
    progress = Progress(
        TextColumn("Importing customers"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("lines"),
        TimeRemainingColumn(),
        console=err,
    )
    try:
        with progress, file.open(newline="", encoding="utf-8-sig") as fh:
            task = progress.add_task("import", total=lines)
            report = import_customers(
                db,
                fh,
                utcnow(),
                batch_size=batch_size,
                on_progress=lambda line: progress.update(task, completed=line),
            )
            progress.update(task, completed=lines)
    except BadFile as exc:
        err.print(f"[red]Error:[/red] {exc}; columns: {', '.join(COLUMNS)}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    for line, why in report.skipped:
        err.print(f"line {line}: skipped: {why}", highlight=False, markup=False)
    if report.skipped_count > len(report.skipped):
        err.print(f"... and {report.skipped_count - len(report.skipped)} more rows skipped", highlight=False)
    typer.echo(
        f"imported {report.saved} customers ({report.created} new, {report.saved - report.created} updated); "
        f"{report.skipped_count} rows skipped"
    )
    if report.skipped_count:
        raise typer.Exit(1)
