"""What the loyalty program tells the outside: the monthly statement by mail (once per member and month,
only with marketing consent) and a `points.changed` webhook event for every ledger entry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.builders import unique
from tests.e2e.loyalty_helpers import ledger, order, program
from tests.e2e.messaging_helpers import SmtpSink, WebhookReceiver, tick
from tests.serving import Server, create_key, running_server

NOW = datetime.now(UTC)
# 07:30 on the first of next month: the statement job's period (07:00 UTC daily) has started
NEXT_MONTH = (NOW.replace(day=1) + timedelta(days=32)).replace(
    day=1, hour=7, minute=30, second=0, microsecond=0
)


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    smtp = SmtpSink().start()
    yield smtp
    smtp.stop()


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[Server]:
    """The API without its in-process scheduler: these tests drive time with `couponry tick --now`."""
    with running_server(module_db_url, COUPONRY_RUN_BACKGROUND_WORKERS="false") as srv:
        yield srv


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client(create_key(server.database_url, "admin")) as client:
        yield client


def joined(admin: httpx.Client, consent: bool) -> tuple[str, str]:
    customer = unique("cust-").lower()
    address = f"{customer}@example.com"
    body = {"email": address, "name": "Ann", "marketing_consent": consent}
    assert admin.put(f"/v1/customers/{customer}", json=body).status_code == 201
    assert admin.post(f"/v1/customers/{customer}/loyalty").status_code == 201
    return customer, address


def test_the_monthly_statement_reaches_consenting_members_once_even_if_tick_runs_twice(
    admin: httpx.Client, server: Server, sink: SmtpSink
) -> None:
    # given two members who earned points this month, one consenting to marketing mail
    program(admin)
    (fan, fan_address), (quiet, quiet_address) = joined(admin, True), joined(admin, False)
    for customer in (fan, quiet):
        order(admin, customer, NOW, amount=12_000)
    smtp = {"COUPONRY_SMTP_URL": sink.url}
    # when the scheduler ticks on the first of next month, twice, and a day later
    tick(server.database_url, NEXT_MONTH, "loyalty.monthly_statement", "outbox.deliver", **smtp)
    tick(
        server.database_url,
        NEXT_MONTH + timedelta(minutes=5),
        "loyalty.monthly_statement",
        "outbox.deliver",
        **smtp,
    )
    tick(
        server.database_url,
        NEXT_MONTH + timedelta(days=1),
        "loyalty.monthly_statement",
        "outbox.deliver",
        **smtp,
    )
    # then the consenting member got one statement of the month, with the points earned, and the other none
    (mail,) = sink.to(fan_address)
    month = f"{NOW.year:04d}-{NOW.month:02d}"
    assert mail["Subject"] == f"Your points for {month}: 0 available"
    text = mail.get_body(("plain",)).get_content()
    assert "Pending (until the return window closes): 12" in text and "Earned this month: 12" in text
    assert mail["List-Unsubscribe"]
    assert sink.to(quiet_address) == []


def test_every_ledger_entry_is_a_points_changed_event(admin: httpx.Client, server: Server) -> None:
    with WebhookReceiver() as receiver:
        # given a receiver of points.changed
        response = admin.post("/v1/webhooks", json={"url": receiver.url, "events": ["points.changed"]})
        assert response.status_code == 201, response.text
        receiver.secret = response.json()["secret"]
        program(admin, pending_days=0)
        customer, _ = joined(admin, False)
        # when a member earns, the points mature, and some are adjusted away
        order(admin, customer, NOW - timedelta(hours=1), amount=5000)
        tick(server.database_url, NOW + timedelta(hours=2), "loyalty.mature")
        body = {"customer_id": customer, "points": -2, "reason": "correction"}
        assert admin.post("/v1/loyalty/adjustments", json=body).status_code == 201
        tick(server.database_url, NOW + timedelta(hours=3), "outbox.deliver")
        # then each entry was reported once, with the available balance after it
        events = sorted(
            (e["data"] for e in receiver.accepted if e["data"]["customer_id"] == customer),
            key=lambda d: int(d["entry_id"]),
        )
        assert [(d["kind"], d["points"], d["balance"]) for d in events] == [
            ("earned", 5, 0),
            ("matured", 5, 5),
            ("adjusted", -2, 3),
        ]
        assert [d["entry_id"] for d in events] == [e["id"] for e in ledger(admin, customer)]
