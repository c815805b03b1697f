"""`couponry codes ...`: generate a campaign's codes by the million into the database, and export them."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import select

from couponry.adapters.db.bulk_codes import store_generated_codes, stream_codes, write_codes_csv
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns
from couponry.domain.codes import CodeConfig, check_code_space
from couponry.domain.errors import CouponryError
from couponry.settings import get_settings

codes_app = typer.Typer(help="Generate and export coupon codes.", no_args_is_help=True)

CampaignOption = Annotated[str, typer.Option("--campaign", help="The campaign id.")]


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]Error:[/red] {message}", highlight=False)
    return typer.Exit(1)


def _campaign_definition(db: Database, campaign_id: str) -> dict:
    with db.read() as conn:
        definition = conn.execute(
            select(campaigns.c.definition).where(campaigns.c.id == campaign_id)
        ).scalar_one_or_none()
    if definition is None:
        raise _fail(f"unknown campaign {campaign_id!r}")
    return definition


@codes_app.command()
def generate(
    campaign: CampaignOption,
    count: Annotated[int, typer.Option("--count", min=1, help="How many new codes to store.")],
    customer: Annotated[str | None, typer.Option("--customer", help="Make the codes personal.")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Also write the codes to this CSV.")] = None,
) -> None:
    """Generate COUNT new codes for a campaign, per its code_config, and store them."""
    db = Database(get_settings().database_url, pool_size=1)
    try:
        config = CodeConfig.from_dict(_campaign_definition(db, campaign).get("code_config"))
        check_code_space(config, count)
        progress = Progress(
            TextColumn("Storing codes"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        with progress, output.open("w", newline="") if output else nullcontext() as csv_out:
            task = progress.add_task("codes", total=count)
            stored = store_generated_codes(
                db,
                campaign,
                config,
                count,
                customer_id=customer,
                issued_at=datetime.now(UTC),
                on_progress=lambda done: progress.update(task, completed=done),
                csv_out=csv_out,
            )
    except CouponryError as exc:
        raise _fail(exc.detail) from None
    finally:
        db.dispose()
    where = f" and written to {output}" if output else ""
    typer.echo(f"Stored {stored} codes for campaign {campaign}{where}.")


@codes_app.command()
def export(
    campaign: CampaignOption,
    output: Annotated[str, typer.Option("--output", help="CSV file, or - for standard output.")] = "-",
) -> None:
    """Write every code of a campaign as CSV (code,campaign_id,customer_id), in code order."""
    db = Database(get_settings().database_url, pool_size=1)
    try:
        _campaign_definition(db, campaign)  # refuses an unknown campaign
        if output == "-":
            written = write_codes_csv(stream_codes(db, campaign), sys.stdout)
        else:
            with open(output, "w", newline="") as out:
                written = write_codes_csv(stream_codes(db, campaign), out)
    finally:
        db.dispose()
    # the count goes to stderr when the CSV itself goes to stdout
    typer.echo(f"Exported {written} codes for campaign {campaign}.", err=output == "-")
