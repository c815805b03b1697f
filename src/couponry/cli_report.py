"""`couponry report campaigns --from --to [--csv FILE]`: every campaign's figures as a table (or CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from couponry.adapters.db.engine import Database
from couponry.adapters.db.migrate import upgrade
from couponry.domain.errors import CouponryError
from couponry.services.access.actors import SYSTEM
from couponry.services.ids import utcnow
from couponry.services.reporting.reports import campaign_rows, campaigns_csv
from couponry.settings import get_settings

report_app = typer.Typer(help="Reports.", no_args_is_help=True)


def _money(amount: int | None) -> str:
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100:,}.{abs(amount) % 100:02d}"


def _ratio(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.1f} %" if percent else f"{value:.2f}"


@report_app.command("campaigns")
def campaigns(
    start: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD (shop's zone)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="last day, inclusive (default: today)")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="write the rows to this CSV file as well")] = None,
) -> None:
    """Issued, redeemed, orders, revenue, discount cost and ROI of every campaign over the period."""
    settings = get_settings()
    db = Database(settings.database_url, pool_size=1)
    upgrade(db.engine)
    try:
        period, rows = campaign_rows(db, SYSTEM, start, end, settings.shop_timezone, utcnow())
    except CouponryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    table = Table(title=f"Campaigns {period.start} to {period.end} ({period.timezone})")
    for name, justify in (
        ("campaign", "left"), ("cur", "left"), ("issued", "right"), ("claimed", "right"),
        ("redeemed", "right"), ("rate", "right"), ("orders", "right"), ("revenue", "right"),
        ("cost platform", "right"), ("cost store", "right"), ("avg order", "right"), ("ROI", "right"),
    ):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            f"{r['name']}\n[dim]{r['campaign_id']}[/dim]", r["currency"], str(r["issued"]), str(r["claimed"]),
            str(r["redeemed"]), _ratio(r["redemption_rate"], percent=True), str(r["orders"]),
            _money(r["revenue"]), _money(r["discount_cost_platform"]), _money(r["discount_cost_store"]),
            _money(r["average_order_value"]), _ratio(r["roi"]),
        )  # fmt: skip
    Console(width=200).print(table)
    if csv is not None:
        csv.write_text("".join(campaigns_csv(rows)), encoding="utf-8")
        typer.echo(f"wrote {len(rows)} campaigns to {csv}")
