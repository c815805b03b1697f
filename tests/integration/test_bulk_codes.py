"""Bulk code storage on the real database (SQLite, or PostgreSQL with COUPONRY_TEST_DATABASE_URL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, event, func, insert, select

from couponry.adapters.db import bulk_codes
from couponry.adapters.db.bulk_codes import store_generated_codes, stream_codes, write_codes_csv
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, coupons
from couponry.domain.codes import ALPHABET, CodeConfig, generate
from couponry.domain.errors import CodeSpaceTooSmall, NotFound

ISSUED = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def add_campaign(db: Database, campaign_id: str, code_config: dict | None = None) -> None:
    now = datetime.now(UTC)
    definition = {"discount": {"type": "amount", "amount": 500}}
    if code_config is not None:
        definition["code_config"] = code_config
    with db.write() as conn:
        conn.execute(
            insert(campaigns).values(
                id=campaign_id,
                name=f"Campaign {campaign_id}",
                issuer_type="platform",
                currency="USD",
                status="active",
                stacking="order",
                definition=definition,
                created_at=now,
                updated_at=now,
            )
        )


def stored_codes(db: Database, campaign_id: str) -> list[str]:
    with db.read() as conn:
        query = select(coupons.c.display_code).where(coupons.c.campaign_id == campaign_id)
        return list(conn.execute(query).scalars())


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_120000_codes_are_stored_in_batches_with_monotone_progress_ending_at_the_count(db: Database) -> None:
    # given
    add_campaign(db, "c1")
    progress: list[int] = []
    out = io.StringIO()
    # when
    stored = store_generated_codes(
        db,
        "c1",
        CodeConfig(),
        120_000,
        issued_at=ISSUED,
        on_progress=progress.append,
        csv_out=out,
        batch_size=50_000,
    )
    # then
    codes = stored_codes(db, "c1")
    assert stored == len(codes) == len(set(codes)) == 120_000
    assert progress == [50_000, 100_000, 120_000]
    assert all(len(code) == 12 and set(code) <= set(ALPHABET) for code in codes)
    rows = read_csv(out.getvalue())
    assert sorted(row["code"] for row in rows) == sorted(codes)
    assert {(row["campaign_id"], row["customer_id"]) for row in rows} == {("c1", "")}


def test_personal_codes_keep_their_customer_issue_time_and_normalized_key(db: Database) -> None:
    add_campaign(db, "c1")
    config = CodeConfig.from_dict({"pattern": "####-####", "prefix": "vip-"})
    store_generated_codes(db, "c1", config, 10, customer_id="cust\t1", issued_at=ISSUED)
    with db.read() as conn:
        rows = conn.execute(select(coupons).where(coupons.c.campaign_id == "c1")).mappings().all()
    assert len(rows) == 10
    for row in rows:
        assert row["display_code"].startswith("vip-") and row["display_code"][8] == "-"
        assert row["code"] == row["display_code"].replace("-", "").upper()
        assert (row["customer_id"], row["issued_at"]) == ("cust\t1", ISSUED)
        assert (row["redeemed_count"], row["held_count"]) == (0, 0)


def test_codes_taken_anywhere_are_skipped_and_the_shortfall_is_generated_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: codes already taken by another campaign, and a generator whose first batch repeats
    # ten of them, plus a code twice within the batch
    add_campaign(db, "other")
    add_campaign(db, "c1")
    store_generated_codes(db, "other", CodeConfig(), 1_000, issued_at=ISSUED)
    taken = stored_codes(db, "other")
    calls: list[int] = []

    def colliding_generate(config: CodeConfig, n: int) -> list[str]:
        calls.append(n)
        if len(calls) > 1:
            return generate(config, n)
        fresh = generate(config, n - 11)
        return taken[:10] + fresh + fresh[:1]

    monkeypatch.setattr(bulk_codes, "generate", colliding_generate)
    progress: list[int] = []
    out = io.StringIO()
    # when
    stored = store_generated_codes(
        db,
        "c1",
        CodeConfig(),
        5_000,
        issued_at=ISSUED,
        on_progress=progress.append,
        csv_out=out,
        batch_size=2_000,
    )
    # then: exactly the count is new, the other campaign keeps its codes, the CSV names only new ones
    codes = stored_codes(db, "c1")
    assert stored == len(codes) == 5_000
    assert sorted(stored_codes(db, "other")) == sorted(taken)
    assert calls == [2_000, 2_000, 1_011]
    assert progress == [1_989, 3_989, 5_000]
    assert sorted(row["code"] for row in read_csv(out.getvalue())) == sorted(codes)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(coupons)).scalar_one() == 6_000


def test_a_code_space_used_up_in_practice_stops_instead_of_looping(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_campaign(db, "c1")
    store_generated_codes(db, "c1", CodeConfig(), 3, issued_at=ISSUED)
    taken = stored_codes(db, "c1")
    monkeypatch.setattr(bulk_codes, "generate", lambda config, n: taken[:n])
    with pytest.raises(CodeSpaceTooSmall):
        store_generated_codes(db, "c1", CodeConfig(), 2, issued_at=ISSUED)
    assert len(stored_codes(db, "c1")) == 3


def test_a_code_space_too_small_for_the_count_stores_nothing(db: Database) -> None:
    add_campaign(db, "c1")
    with pytest.raises(CodeSpaceTooSmall):
        store_generated_codes(db, "c1", CodeConfig.from_dict({"pattern": "###"}), 30, issued_at=ISSUED)
    assert stored_codes(db, "c1") == []


def test_an_unknown_campaign_is_refused(db: Database) -> None:
    with pytest.raises(NotFound):
        store_generated_codes(db, "nope", CodeConfig(), 10, issued_at=ISSUED)


def test_streamed_codes_come_in_code_order_and_only_from_the_campaign(db: Database) -> None:
    # given
    add_campaign(db, "c1")
    add_campaign(db, "c2")
    store_generated_codes(db, "c1", CodeConfig(), 95, customer_id="cust-1", issued_at=ISSUED)
    store_generated_codes(db, "c2", CodeConfig(), 50, issued_at=ISSUED)
    # when: fetched a few rows at a time
    rows = list(stream_codes(db, "c1", batch=7))
    # then
    assert [row["code"] for row in rows] == sorted(stored_codes(db, "c1"))
    assert {(row["campaign_id"], row["customer_id"], row["issued_at"]) for row in rows} == {
        ("c1", "cust-1", ISSUED)
    }
    out = io.StringIO()
    assert write_codes_csv(rows, out) == 95
    assert out.getvalue().splitlines()[0] == "code,campaign_id,customer_id"


def test_a_bulk_job_on_sqlite_holds_the_write_lock_for_short_transactions_only(db: Database) -> None:
    """SQLite has one write lock for the whole database: a request's write waits for the job's batch.
    Batches of 50,000 codes held it for seconds on a busy server (PUT and PATCH stalled past 10 s)."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL locks rows, not the database: its batches may be large")
    # given
    add_campaign(db, "c1")
    write_transactions: list[int] = []

    @event.listens_for(db.engine, "commit")
    def count_commit(conn: Connection) -> None:
        if conn.get_execution_options().get("write"):
            write_transactions.append(1)

    # when
    store_generated_codes(db, "c1", CodeConfig(), 25_000, issued_at=ISSUED)
    # then
    assert len(stored_codes(db, "c1")) == 25_000
    assert len(write_transactions) >= 3  # batches of at most 10,000 codes


def test_a_batch_that_meets_taken_codes_on_sqlite_stores_the_rest_in_one_statement(db: Database) -> None:
    # given codes of another campaign, some of which the next batch will draw again
    add_campaign(db, "c1")
    add_campaign(db, "c2")
    config = CodeConfig.from_dict({"pattern": "#####"})  # 28.6 million codes
    store_generated_codes(db, "c2", config, 20_000, issued_at=ISSUED)
    # when
    stored = store_generated_codes(db, "c1", config, 5_000, issued_at=ISSUED)
    # then exactly the count is stored, none of them taken from c2
    mine = stored_codes(db, "c1")
    assert stored == len(mine) == len(set(mine)) == 5_000
    assert not set(mine) & set(stored_codes(db, "c2"))
