"""Mail through a real SMTP server on loopback: reminders, consent, unsubscribe, retries, `couponry tick`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import outbox
from couponry.services.access.actors import SYSTEM
from couponry.services.campaigns import campaigns, coupons
from couponry.services.customers import customers
from tests.e2e.builders import campaign, unique
from tests.e2e.messaging_helpers import SmtpSink
from tests.e2e.messaging_helpers import tick as cli_tick
from tests.serving import Server, create_key, running_server

PUBLIC_URL = "https://shop.example"
# Each test ticks on its own day, so the daily job of one never covers another's period.
TODAY = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    smtp = SmtpSink().start()
    yield smtp
    smtp.stop()


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[Server]:
    """The API without its in-process scheduler: these tests drive time with `couponry tick --now`."""
    env = {"COUPONRY_RUN_BACKGROUND_WORKERS": "false", "COUPONRY_PUBLIC_URL": PUBLIC_URL}
    with running_server(module_db_url, **env) as srv:
        yield srv


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client(create_key(server.database_url, "admin")) as client:
        yield client


def tick(database_url: str, now: datetime, *jobs: str, **env: str) -> dict[str, str]:
    return cli_tick(database_url, now, *jobs, COUPONRY_PUBLIC_URL=PUBLIC_URL, **env)


def _customer(admin: httpx.Client, consent: bool = True) -> tuple[str, str]:
    customer_id = unique("cust-").lower()
    address = f"{customer_id}@example.com"
    body = {"email": address, "name": "Ann Example", "marketing_consent": consent}
    assert admin.put(f"/v1/customers/{customer_id}", json=body).status_code in (200, 201)
    return customer_id, address


def _expiring_coupon(admin: httpx.Client, customer_id: str, ends_at: datetime) -> str:
    created = campaign(
        admin,
        name="Autumn 15",
        discount={"type": "percent", "percent": 15},
        validity={"ends_at": ends_at.isoformat()},
    )
    code = unique("AUT")
    response = admin.post(
        f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code], "customer_id": customer_id}
    )
    assert response.status_code == 201, response.text
    return code


def _mail_rows(server: Server, customer_id: str) -> list[tuple[str, int]]:
    db = Database(server.database_url)
    try:
        with db.read() as conn:
            rows = conn.execute(
                select(outbox.c.status, outbox.c.attempts).where(outbox.c.customer_id == customer_id)
            ).all()
    finally:
        db.dispose()
    return [tuple(r) for r in rows]


def test_an_expiring_coupon_sends_one_reminder_with_both_parts_and_one_click_unsubscribe(
    server: Server, admin: httpx.Client, sink: SmtpSink
) -> None:
    # given a consenting customer whose coupon ends in two days, and one who does not consent
    now = TODAY + timedelta(days=10)
    ann, ann_address = _customer(admin)
    bob, bob_address = _customer(admin, consent=False)
    code = _expiring_coupon(admin, ann, now + timedelta(days=2))
    _expiring_coupon(admin, bob, now + timedelta(days=2))
    # when the day's jobs run, twice that day and again the next day
    first = tick(server.database_url, now, COUPONRY_SMTP_URL=sink.url)
    tick(server.database_url, now + timedelta(hours=2), COUPONRY_SMTP_URL=sink.url)
    tick(server.database_url, now + timedelta(days=1), COUPONRY_SMTP_URL=sink.url)
    # then Ann got one reminder, Bob none
    assert first["mail.expiry_reminders"] == "succeeded"
    assert sink.to(bob_address) == []
    [mail] = sink.to(ann_address)
    assert mail["Subject"] == "Your coupon expires in 2 days"
    assert mail["To"] == f"Ann Example <{ann_address}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = mail["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{PUBLIC_URL}/unsubscribe/")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for part in (text, html):
        assert code in part and "15% off" in part and unsubscribe in part
    assert "<html" in html and "<html" not in text
    # and the link shows a page on GET, changing nothing, and unsubscribes on one POST
    path = urlsplit(unsubscribe).path
    with httpx.Client(base_url=server.base) as browser:
        page = browser.get(path)
        assert page.status_code == 200 and 'method="post"' in page.text
        assert admin.get(f"/v1/customers/{ann}").json()["marketing_consent"] is True
        done = browser.post(
            path,
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "unsubscribed" in done.text
        assert browser.get(path[:-3] + "AAA").status_code == 404  # a forged token does nothing
    assert admin.get(f"/v1/customers/{ann}").json()["marketing_consent"] is False


def test_a_customer_who_withdraws_consent_before_the_mail_leaves_is_skipped(
    server: Server, admin: httpx.Client, sink: SmtpSink
) -> None:
    now = TODAY + timedelta(days=20)
    carl, address = _customer(admin)
    _expiring_coupon(admin, carl, now + timedelta(days=1))
    tick(server.database_url, now, "mail.expiry_reminders")  # queued while Carl consents
    admin.put(f"/v1/customers/{carl}", json={"email": address, "marketing_consent": False})
    tick(server.database_url, now, "outbox.deliver", COUPONRY_SMTP_URL=sink.url)
    assert sink.to(address) == []
    assert _mail_rows(server, carl) == [("skipped", 1)]


def test_a_stopped_smtp_server_loses_no_mail_it_leaves_once_the_server_is_back(
    server: Server, admin: httpx.Client
) -> None:
    # given a reminder queued while the SMTP server is down
    now = TODAY + timedelta(days=30)
    dana, address = _customer(admin)
    _expiring_coupon(admin, dana, now + timedelta(days=3))
    down = SmtpSink()  # not started: nothing listens on its port
    tick(server.database_url, now, COUPONRY_SMTP_URL=down.url)
    tick(server.database_url, now + timedelta(seconds=30), COUPONRY_SMTP_URL=down.url)  # within the backoff
    assert _mail_rows(server, dana) == [("pending", 1)]
    # when the server is back and the backoff has passed
    up = SmtpSink(down.port).start()
    try:
        tick(server.database_url, now + timedelta(minutes=2), COUPONRY_SMTP_URL=up.url)
        tick(server.database_url, now + timedelta(minutes=10), COUPONRY_SMTP_URL=up.url)
    finally:
        up.stop()
    # then it was delivered, once
    assert len(up.to(address)) == 1
    assert _mail_rows(server, dana) == [("delivered", 2)]


def test_a_reply_lost_after_data_is_sent_again_with_the_same_message_id(
    server: Server, admin: httpx.Client, sink: SmtpSink
) -> None:
    # given a server that takes the message but answers only after the client's timeout
    now = TODAY + timedelta(days=40)
    erin, address = _customer(admin)
    _expiring_coupon(admin, erin, now + timedelta(days=2))
    sink.stall_next = 3.0
    env = {"COUPONRY_SMTP_URL": sink.url, "COUPONRY_SMTP_TIMEOUT_SECONDS": "1"}
    tick(server.database_url, now, **env)
    assert _mail_rows(server, erin) == [("pending", 1)]  # the outcome is unknown: not taken as sent
    tick(server.database_url, now + timedelta(minutes=2), **env)
    # then the mail went twice, as one message: the same Message-ID
    first, second = sink.to(address)
    assert first["Message-ID"] == second["Message-ID"]
    assert _mail_rows(server, erin) == [("delivered", 2)]


def test_serve_runs_the_scheduled_jobs_in_process(db_url: str, sink: SmtpSink) -> None:
    # given, before the server starts, a consenting customer whose coupon ends tomorrow
    now = datetime.now(UTC)
    db = Database(db_url)
    customers.put_customer(db, SYSTEM, "gil", {"email": "gil@example.com", "marketing_consent": True}, now)
    spec = {
        "name": "Soon over",
        "currency": "USD",
        "issuer": {"type": "platform"},
        "discount": {"type": "amount", "amount": 500},
        "scope": {},
        "conditions": {},
        "validity": {"ends_at": (now + timedelta(days=1)).isoformat()},
        "limits": {},
        "stacking": "order",
        "code_config": {"length": 12},
        "status": "active",
    }
    campaign_id = campaigns.create_campaign(db, SYSTEM, spec, now)["id"]
    coupons.issue_codes(db, SYSTEM, campaign_id, codes=["GILSOON"], count=None, customer_id="gil", now=now)
    db.dispose()
    # when the server runs (its scheduler ticks in-process, nobody runs `couponry tick`)
    env = {"COUPONRY_SMTP_URL": sink.url, "COUPONRY_SCHEDULER_POLL_SECONDS": "0.2"}
    with running_server(db_url, **env):
        deadline = time.monotonic() + 20
        while not sink.to("gil@example.com") and time.monotonic() < deadline:
            time.sleep(0.1)
    # then the day's reminder was queued and delivered
    [mail] = sink.to("gil@example.com")
    assert "GILSOON" in mail.get_body(("plain",)).get_content()
