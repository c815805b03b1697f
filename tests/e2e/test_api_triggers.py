"""Triggers over HTTP and `couponry tick`: each event rewards its customers once, up to the trigger's
per-customer cap, however often it is delivered; the daily job finds birthdays, anniversaries and
customers whose new-user package expired unused."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from couponry.adapters.db.engine import normalize_url
from couponry.adapters.db.tables import outbox
from tests.e2e.builders import campaign, database_fingerprint, unique
from tests.e2e.messaging_helpers import tick
from tests.serving import Server, create_key


def wallet(admin: httpx.Client, customer_id: str) -> list[dict[str, Any]]:
    response = admin.get(f"/v1/customers/{customer_id}/wallet")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def campaigns_in(admin: httpx.Client, customer_id: str) -> list[str]:
    return sorted(c["campaign_id"] for c in wallet(admin, customer_id))


def trigger(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    response = admin.post("/v1/triggers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def event(admin: httpx.Client, **body: Any) -> None:
    response = admin.post("/v1/events", json=body)
    assert response.status_code == 202, response.text


def issued_events(server: Server, customer_id: str) -> list[dict[str, Any]]:
    engine = create_engine(normalize_url(server.database_url))
    try:
        with engine.connect() as conn:
            payloads = conn.execute(
                select(outbox.c.payload).where(outbox.c.type == "coupon.issued")
            ).scalars()
            return [p for p in payloads if p.get("customer_id") == customer_id]
    finally:
        engine.dispose()


def mails(server: Server, customer_id: str, template: str) -> list[dict[str, Any]]:
    engine = create_engine(normalize_url(server.database_url))
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(outbox.c.payload).where(
                        outbox.c.customer_id == customer_id, outbox.c.type == template
                    )
                ).scalars()
            )
    finally:
        engine.dispose()


def a_day_in_the_future() -> datetime:
    """A random day years ahead at 08:30 UTC (after the daily job's 08:00 start), so no other test nor
    the server's own scheduler runs the daily job for it."""
    day = datetime(2031, 1, 1, 8, 30, tzinfo=UTC) + timedelta(days=random.randrange(3000))
    return day + timedelta(days=1) if f"{day:%m-%d}" == "02-29" else day


def test_a_new_customer_gets_one_coupon_of_each_campaign_once_however_often_the_event_comes(
    admin: httpx.Client, server: Server
) -> None:
    # given a webhook on coupon.issued and a new-user package of two campaigns
    hook = admin.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["coupon.issued"]})
    assert hook.status_code == 201, hook.text
    first, second = campaign(admin, name="welcome 1"), campaign(admin, name="welcome 2")
    trigger(admin, event="customer.created", campaign_ids=[first["id"], second["id"]])
    customer = unique("new")
    admin.put(f"/v1/customers/{customer}", json={})
    # when customer.created is delivered twice
    event(admin, type="customer.created", customer_id=customer)
    event(admin, type="customer.created", customer_id=customer)
    # then the customer holds one coupon of each campaign, each reported as coupon.issued
    assert campaigns_in(admin, customer) == sorted([first["id"], second["id"]])
    assert sorted(e["campaign_id"] for e in issued_events(server, customer)) == sorted(
        [first["id"], second["id"]]
    )


def test_an_order_trigger_rewards_orders_from_its_minimum_up_to_its_cap_each_order_once(
    admin: httpx.Client,
) -> None:
    # given a trigger for orders of 50.00 or more, twice per customer, on a campaign valid 30 days from issue
    reward = campaign(admin, name="thanks", validity={"days_after_issue": 30})
    trigger(admin, event="order.completed", campaign_ids=[reward["id"]], min_amount=5000, per_customer=2)
    customer = unique("buyer")
    # when the customer orders 49.99, then 60.00 (delivered twice), 70.00 and 80.00
    for order_id, amount in [("o1", 4999), ("o2", 6000), ("o2", 6000), ("o3", 7000), ("o4", 8000)]:
        event(
            admin,
            type="order.completed",
            customer_id=customer,
            order_id=f"{customer}-{order_id}",
            amount=amount,
        )
    # then two coupons were issued (o2 and o3), each valid 30 days from its issue
    held = wallet(admin, customer)
    assert [c["campaign_id"] for c in held] == [reward["id"]] * 2
    for coupon in held:
        issued = datetime.fromisoformat(coupon["issued_at"])
        assert datetime.fromisoformat(coupon["validity"]["ends_at"]) == issued + timedelta(days=30)


def test_a_trigger_naming_an_unknown_campaign_is_refused_and_nothing_is_written(
    admin: httpx.Client, server: Server
) -> None:
    known = campaign(admin)
    before = database_fingerprint(server.database_url)
    refused = admin.post("/v1/triggers", json={"event": "birthday", "campaign_ids": [known["id"], "nope"]})
    assert refused.status_code == 422 and refused.json()["code"] == "unknown_campaign", refused.text
    no_first = admin.post(
        "/v1/triggers",
        json={
            "event": "welcome.unused",
            "campaign_ids": [known["id"]],
            "after_trigger_id": "nope",
            "days": 3,
        },
    )
    assert no_first.status_code == 422 and no_first.json()["code"] == "unknown_trigger", no_first.text
    bad = admin.post(
        "/v1/triggers", json={"event": "birthday", "campaign_ids": [known["id"]], "per_customer": 0}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request", bad.text
    assert database_fingerprint(server.database_url) == before


def test_a_deleted_trigger_is_no_longer_listed_and_no_longer_fires(
    admin: httpx.Client, server: Server
) -> None:
    reward = campaign(admin)
    created = trigger(admin, event="order.completed", campaign_ids=[reward["id"]], min_amount=123_456)
    assert created["id"] in {t["id"] for t in admin.get("/v1/triggers").json()["items"]}
    assert admin.get(f"/v1/triggers/{created['id']}").json()["min_amount"] == 123_456
    assert admin.delete(f"/v1/triggers/{created['id']}").status_code == 204
    assert admin.delete(f"/v1/triggers/{created['id']}").status_code == 404
    assert created["id"] not in {t["id"] for t in admin.get("/v1/triggers").json()["items"]}
    customer = unique("late")
    event(admin, type="order.completed", customer_id=customer, order_id=unique("O"), amount=200_000)
    assert reward["id"] not in campaigns_in(admin, customer)


def test_only_an_admin_key_manages_triggers(server: Server) -> None:
    with server.client(create_key(server.database_url, "store", "s1")) as store:
        assert store.get("/v1/triggers").status_code == 403
        assert (
            store.post("/v1/triggers", json={"event": "birthday", "campaign_ids": ["x"]}).status_code == 403
        )


def test_the_daily_job_rewards_birthdays_and_anniversaries_once_a_year_and_mails_the_birthday(
    admin: httpx.Client, server: Server
) -> None:
    # given birthday and anniversary triggers, and customers born / signed up on a day T
    day = a_day_in_the_future()
    gift, party = campaign(admin, name="birthday"), campaign(admin, name="anniversary")
    trigger(admin, event="birthday", campaign_ids=[gift["id"]])
    trigger(admin, event="signup_anniversary", campaign_ids=[party["id"]])
    born, signed, other = unique("born"), unique("signed"), unique("other")
    admin.put(
        f"/v1/customers/{born}",
        json={"birthday": f"1990-{day:%m-%d}", "email": "born@example.com", "marketing_consent": True},
    )
    signed_up = day.replace(year=day.year - 2, hour=23)
    admin.put(f"/v1/customers/{signed}", json={"signed_up_at": signed_up.isoformat()})
    admin.put(f"/v1/customers/{other}", json={"birthday": f"1990-{day + timedelta(days=1):%m-%d}"})
    # when the daily job runs on T, and again later that day (a second process, say)
    assert tick(server.database_url, day, "triggers.daily") == {"triggers.daily": "succeeded"}
    assert tick(server.database_url, day + timedelta(hours=3), "triggers.daily") == {
        "triggers.daily": "skipped"
    }
    # then each was rewarded once, and the birthday mail carries the birthday coupon
    assert campaigns_in(admin, born) == [gift["id"]]
    assert campaigns_in(admin, signed) == [party["id"]]
    assert campaigns_in(admin, other) == []
    (mail,) = mails(server, born, "birthday")
    assert mail["code"] == wallet(admin, born)[0]["code"]
    # and the same day a year later rewards them again, once
    tick(server.database_url, day.replace(year=day.year + 1), "triggers.daily")
    assert campaigns_in(admin, born) == [gift["id"]] * 2


def test_the_second_package_goes_to_customers_whose_first_expired_unused_and_who_have_not_ordered(
    admin: httpx.Client, server: Server
) -> None:
    # given a first package valid one day and a second package three days after it
    welcome, again = campaign(admin, name="welcome", validity={"days_after_issue": 1}), campaign(admin)
    first = trigger(admin, event="customer.created", campaign_ids=[welcome["id"]])
    trigger(admin, event="welcome.unused", campaign_ids=[again["id"]], after_trigger_id=first["id"], days=3)
    idle, buyer = unique("idle"), unique("buyer")
    for customer in (idle, buyer):
        event(admin, type="customer.created", customer_id=customer)
    event(admin, type="order.completed", customer_id=buyer, order_id=unique("O"), amount=100)
    now = datetime.now(UTC)
    # when the daily job runs two days later, then four and five days later
    tick(server.database_url, now + timedelta(days=2), "triggers.daily")
    assert again["id"] not in campaigns_in(admin, idle)  # too early
    tick(server.database_url, now + timedelta(days=4), "triggers.daily")
    tick(server.database_url, now + timedelta(days=5), "triggers.daily")
    # then only the customer without an order got the second package, once
    coupons_of_idle = [c["campaign_id"] for c in wallet(admin, idle)]
    assert coupons_of_idle.count(again["id"]) == 1
    assert again["id"] not in campaigns_in(admin, buyer)
