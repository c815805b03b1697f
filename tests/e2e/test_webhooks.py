"""Webhooks through the HTTP API, delivered by `couponry tick` to a real receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.builders import campaign, campaign_with_code, redeem, unique
from tests.e2e.messaging_helpers import WebhookReceiver, tick
from tests.serving import Server, create_key, running_server

# Each test ticks in its own hour, so delivery periods of one never cover another's. Two hours ahead of
# the collection: the next full hour alone can pass while the suite runs, and then events queued at the
# real time would not yet be due at the ticked time.
SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[Server]:
    """The API without its in-process scheduler: these tests drive time with `couponry tick --now`."""
    with running_server(module_db_url, COUPONRY_RUN_BACKGROUND_WORKERS="false") as srv:
        yield srv


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client(create_key(server.database_url, "admin")) as client:
        yield client


def _subscribe(admin: httpx.Client, receiver: WebhookReceiver, *events: str) -> str:
    response = admin.post("/v1/webhooks", json={"url": receiver.url, "events": list(events)})
    assert response.status_code == 201, response.text
    receiver.secret = response.json()["secret"]
    return response.json()["id"]


def _deliver(server: Server, at: datetime) -> None:
    assert tick(server.database_url, at, "outbox.deliver") == {"outbox.deliver": "succeeded"}


def test_a_redemption_reaches_a_receiver_that_fails_twice_exactly_once(
    server: Server, admin: httpx.Client
) -> None:
    with WebhookReceiver(script=[500, 500]) as receiver:
        # given an endpoint subscribed to redemptions that answers 500 twice, then 200
        webhook_id = _subscribe(admin, receiver, "coupon.redeemed", "redemption.rolled_back")
        created, code = campaign_with_code(admin)
        # when a coupon is redeemed and the outbox is delivered over time
        redemption = redeem(admin, code, customer_id="c-hook").json()
        t = SOON
        _deliver(server, t)  # 500
        _deliver(server, t + timedelta(seconds=10))  # still within the 30 s backoff: not tried
        _deliver(server, t + timedelta(minutes=1))  # 500
        _deliver(server, t + timedelta(minutes=3))  # 200
        _deliver(server, t + timedelta(hours=1))  # nothing left
        # then it was tried three times, with the same body, and accepted once
        assert len(receiver.posts) == 3 and receiver.refused == []
        assert receiver.posts[0] == receiver.posts[2]
        [event] = receiver.accepted
        assert set(event) == {"id", "type", "created_at", "data"}
        assert event["type"] == "coupon.redeemed"
        assert event["data"]["code"] == code and event["data"]["campaign_id"] == created["id"]
        assert event["data"]["redemption_id"] == redemption["id"] and event["data"]["customer_id"] == "c-hook"
        [delivery] = admin.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["items"]
        assert (delivery["status"], delivery["attempts"], delivery["event_id"]) == (
            "delivered",
            3,
            event["id"],
        )
        # and a rollback is an event of its own
        assert (
            admin.post(
                f"/v1/redemptions/{redemption['id']}/rollback", json={"reason": "cancelled"}
            ).status_code
            == 200
        )
        _deliver(server, t + timedelta(hours=1, seconds=5))
        assert [e["type"] for e in receiver.accepted] == ["coupon.redeemed", "redemption.rolled_back"]
        assert receiver.accepted[1]["data"]["redemption_id"] == redemption["id"]
        admin.delete(f"/v1/webhooks/{webhook_id}")


def test_coupons_issued_to_a_customer_are_events_and_anonymous_codes_are_not(
    server: Server, admin: httpx.Client
) -> None:
    with WebhookReceiver() as receiver:
        webhook_id = _subscribe(admin, receiver, "coupon.issued")
        created = campaign(admin)
        personal = unique("P")
        admin.post(
            f"/v1/campaigns/{created['id']}/coupons", json={"codes": [personal], "customer_id": "c-issued"}
        )
        admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [unique("ANON")]})
        admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"count": 2, "customer_id": "c-issued"})
        _deliver(server, SOON + timedelta(hours=2))
        assert sorted(e["data"]["customer_id"] for e in receiver.accepted) == ["c-issued"] * 3
        assert personal in {e["data"]["code"] for e in receiver.accepted}
        admin.delete(f"/v1/webhooks/{webhook_id}")


def test_a_deleted_endpoint_gets_nothing_more(server: Server, admin: httpx.Client) -> None:
    with WebhookReceiver() as receiver:
        webhook_id = _subscribe(admin, receiver, "coupon.redeemed")
        _, code = campaign_with_code(admin)
        assert redeem(admin, code).status_code == 201
        assert admin.delete(f"/v1/webhooks/{webhook_id}").status_code == 204
        _deliver(server, SOON + timedelta(hours=3))
        assert receiver.posts == []
        assert webhook_id not in {w["id"] for w in admin.get("/v1/webhooks").json()["items"]}
        assert admin.delete(f"/v1/webhooks/{webhook_id}").status_code == 404


def test_webhooks_are_for_admin_keys_and_refuse_urls_that_are_not_http(
    server: Server, admin: httpx.Client
) -> None:
    refused = admin.post("/v1/webhooks", json={"url": "ftp://example.com/x", "events": ["coupon.issued"]})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["code"], refused.json()["field"]) == ("invalid_request", "url")
    unknown = admin.post("/v1/webhooks", json={"url": "https://example.com/x", "events": ["coupon.eaten"]})
    assert (unknown.status_code, unknown.json()["field"]) == (422, "events[0]")
    with server.client(create_key(server.database_url, "storefront")) as storefront:
        body = {"url": "https://example.com/x", "events": ["coupon.issued"]}
        assert storefront.post("/v1/webhooks", json=body).status_code == 403
        assert storefront.get("/v1/webhooks").status_code == 403
    listed = admin.get("/v1/webhooks").json()["items"]
    assert all("secret" not in w for w in listed)
