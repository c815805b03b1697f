"""Two publications of one campaign to overlapping segments, run at once by two server processes on
PostgreSQL: every customer ends up with exactly one coupon of the campaign, and the database agrees."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from couponry.adapters.db.engine import normalize_url
from couponry.adapters.db.tables import coupons, jobs, publications, published_coupons
from tests.serving import cli, create_key, running_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CUSTOMERS = 8_000


def test_two_concurrent_publications_to_overlapping_segments_issue_one_coupon_per_customer(
    postgres_url: str, tmp_path: Path
) -> None:
    # given 8,000 customers numbered n = 0..7999, imported with the CLI
    path = tmp_path / "customers.csv"
    with path.open("w") as fh:
        fh.write("id,attributes\n")
        for n in range(CUSTOMERS):
            fh.write(f'c{n:05d},"{{""n"": {n}}}"\n')
    with running_server(postgres_url, workers=2, COUPONRY_JOB_POLL_SECONDS="0.1") as server:
        cli(postgres_url, "customers", "import", str(path))
        with server.client(create_key(postgres_url, "admin")) as admin:
            low = admin.post(
                "/v1/segments",
                json={"name": "low", "rules": [{"field": "attributes.n", "op": "lt", "value": 6000}]},
            ).json()
            high = admin.post(
                "/v1/segments",
                json={"name": "high", "rules": [{"field": "attributes.n", "op": "gte", "value": 2000}]},
            ).json()
            campaign = admin.post(
                "/v1/campaigns",
                json={"name": "push", "currency": "USD", "discount": {"type": "amount", "amount": 500}},
            ).json()
            # when both segments are pushed at once (6,000 each, 4,000 in common)
            started = [
                admin.post(
                    f"/v1/campaigns/{campaign['id']}/publications", json={"segment_id": s["id"]}
                ).json()
                for s in (low, high)
            ]
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                states = [admin.get(f"/v1/publications/{p['id']}").json() for p in started]
                if all(s["status"] in ("succeeded", "failed") for s in states):
                    break
                time.sleep(0.2)
    # then both succeeded, and together they issued one coupon to each of the 8,000 customers
    assert [s["status"] for s in states] == ["succeeded", "succeeded"], states
    assert sum(s["issued"] for s in states) == CUSTOMERS
    engine = create_engine(normalize_url(postgres_url))
    with engine.connect() as conn:
        per_customer = (
            select(coupons.c.customer_id, func.count().label("n"))
            .where(coupons.c.campaign_id == campaign["id"])
            .group_by(coupons.c.customer_id)
            .subquery()
        )
        assert conn.execute(select(func.count(), func.max(per_customer.c.n))).one() == (CUSTOMERS, 1)
        assert conn.execute(select(func.count()).select_from(published_coupons)).scalar_one() == CUSTOMERS
        # and the two jobs really ran at the same time, in two processes
        runs = conn.execute(
            select(jobs.c.started_at, jobs.c.finished_at).join(
                publications, publications.c.job_id == jobs.c.id
            )
        ).all()
    engine.dispose()
    (a_start, a_end), (b_start, b_end) = runs
    assert a_start < b_end and b_start < a_end, runs
