"""`couponry codes generate|export` against the test database."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, coupons
from couponry.cli_codes import codes_app
from couponry.settings import get_settings

runner = CliRunner()


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("COUPONRY_DATABASE_URL", db_url)
    get_settings.cache_clear()
    database = Database(db_url, pool_size=2)
    yield database
    database.dispose()
    get_settings.cache_clear()


def add_campaign(db: Database, campaign_id: str, code_config: dict | None = None) -> None:
    now = datetime.now(UTC)
    definition: dict = {"discount": {"type": "amount", "amount": 500}}
    if code_config is not None:
        definition["code_config"] = code_config
    with db.write() as conn:
        conn.execute(
            insert(campaigns).values(
                id=campaign_id,
                name="Spring",
                issuer_type="platform",
                currency="USD",
                status="active",
                stacking="order",
                definition=definition,
                created_at=now,
                updated_at=now,
            )
        )


def codes_in(db: Database, campaign_id: str) -> list[tuple[str, str | None]]:
    with db.read() as conn:
        query = select(coupons.c.display_code, coupons.c.customer_id)
        query = query.where(coupons.c.campaign_id == campaign_id)
        return sorted(tuple(row) for row in conn.execute(query))


def test_generate_stores_codes_per_the_campaign_config_and_writes_them_to_csv(
    cli_db: Database, tmp_path: Path
) -> None:
    # given
    add_campaign(cli_db, "spring", {"prefix": "SPR-", "length": 8})
    output = tmp_path / "codes.csv"
    # when
    result = runner.invoke(
        codes_app,
        ["generate", "--campaign", "spring", "--count", "2500", "--customer", "cust-7"]
        + ["--output", str(output)],
    )
    # then
    assert result.exit_code == 0, result.output
    assert "Stored 2500 codes" in result.stdout.strip().splitlines()[-1]
    stored = codes_in(cli_db, "spring")
    assert len(stored) == 2500
    assert all(code.startswith("SPR-") and len(code) == 12 and owner == "cust-7" for code, owner in stored)
    with output.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted((row["code"], row["customer_id"]) for row in rows) == stored
    assert {row["campaign_id"] for row in rows} == {"spring"}


def test_generate_without_a_code_config_makes_twelve_character_codes(cli_db: Database) -> None:
    add_campaign(cli_db, "plain")
    result = runner.invoke(codes_app, ["generate", "--campaign", "plain", "--count", "10"])
    assert result.exit_code == 0, result.output
    assert [len(code) for code, _ in codes_in(cli_db, "plain")] == [12] * 10


def test_generate_refuses_an_unknown_campaign_with_exit_code_1(cli_db: Database) -> None:
    result = runner.invoke(codes_app, ["generate", "--campaign", "missing", "--count", "10"])
    assert result.exit_code == 1
    assert "unknown campaign 'missing'" in result.stderr


def test_generate_refuses_a_code_space_too_small_before_storing_anything(cli_db: Database) -> None:
    add_campaign(cli_db, "tiny", {"pattern": "TINY-###"})
    result = runner.invoke(codes_app, ["generate", "--campaign", "tiny", "--count", "100"])
    assert result.exit_code == 1
    assert "29,791 possible codes" in result.stderr
    assert codes_in(cli_db, "tiny") == []


def test_export_streams_every_code_of_the_campaign_as_csv_in_code_order(
    cli_db: Database, tmp_path: Path
) -> None:
    # given
    add_campaign(cli_db, "spring")
    add_campaign(cli_db, "autumn")
    assert runner.invoke(codes_app, ["generate", "--campaign", "spring", "--count", "300"]).exit_code == 0
    assert runner.invoke(codes_app, ["generate", "--campaign", "autumn", "--count", "20"]).exit_code == 0
    # when: to standard output, and to a file
    to_stdout = runner.invoke(codes_app, ["export", "--campaign", "spring"])
    export_to_file = ["export", "--campaign", "spring", "--output", str(tmp_path / "x.csv")]
    to_file = runner.invoke(codes_app, export_to_file)
    # then
    assert to_stdout.exit_code == 0 and to_file.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(to_stdout.stdout)))
    assert [row["code"] for row in rows] == sorted(code for code, _ in codes_in(cli_db, "spring"))
    assert "Exported 300 codes" in to_stdout.stderr
    assert "Exported 300 codes" in to_file.stdout
    assert (tmp_path / "x.csv").read_text().replace("\r\n", "\n") == to_stdout.stdout.replace("\r\n", "\n")


def test_export_refuses_an_unknown_campaign(cli_db: Database) -> None:
    result = runner.invoke(codes_app, ["export", "--campaign", "missing"])
    assert result.exit_code == 1
