"""The public feed (no key): active public campaigns with their open codes and terms, paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.builders import campaign, unique
from tests.serving import Server


def _public_campaign(admin: httpx.Client, **spec: object) -> tuple[str, str]:
    created = campaign(admin, public=True, **spec)
    code = unique("PUB")
    assert admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]}).status_code == 201
    return created["id"], code


def _feed(server: Server, **params: object) -> list[dict]:
    items, cursor = [], None
    with httpx.Client(base_url=server.base) as anonymous:
        while True:
            page = anonymous.get(
                "/v1/public/coupons", params={**params, **({"cursor": cursor} if cursor else {})}
            )
            assert page.status_code == 200, page.text
            items += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return items


def test_the_feed_lists_public_running_campaigns_with_open_codes_and_terms(
    server: Server, admin: httpx.Client
) -> None:
    # given public campaigns (running, ended, paused) and a private one
    shown, code = _public_campaign(
        admin, discount={"type": "percent", "percent": 12.5}, conditions={"min_spend": 5000}
    )
    ended, _ = _public_campaign(
        admin, validity={"ends_at": (datetime.now(UTC) - timedelta(days=1)).isoformat()}
    )
    paused, _ = _public_campaign(admin)
    admin.patch(f"/v1/campaigns/{paused}", json={"status": "paused"})
    private = campaign(admin)
    admin.post(f"/v1/campaigns/{private['id']}/coupons", json={"codes": [unique("PRIV")]})
    admin.post(f"/v1/campaigns/{shown}/coupons", json={"codes": [unique("MINE")], "customer_id": "c-own"})
    # when anyone reads the feed, a page of one at a time
    items = _feed(server, limit=1)
    # then only the running public campaign is there, with its open code (not a personal one) and terms
    by_id = {i["campaign_id"]: i for i in items}
    assert shown in by_id and not {ended, paused, private["id"]} & set(by_id)
    item = by_id[shown]
    assert item["codes"] == [code]
    assert item["summary"] == "12.5% off"
    assert item["terms"]["min_spend"] == 5000
    assert admin.get(f"/v1/campaigns/{shown}").json()["public"] is True
    assert private["public"] is False


def test_the_feed_refuses_an_unbounded_page(server: Server) -> None:
    response = httpx.get(f"{server.base}/v1/public/coupons", params={"limit": 1000})
    assert response.status_code == 422 and response.json()["field"] == "limit"


def test_the_messaging_endpoints_are_documented_with_their_problem_answers(server: Server) -> None:
    paths = httpx.get(server.base + "/openapi.json").json()["paths"]
    assert "application/problem+json" in paths["/v1/webhooks"]["post"]["responses"]["422"]["content"]
    assert "403" in paths["/v1/webhooks"]["get"]["responses"]
    assert "404" in paths["/v1/webhooks/{webhook_id}"]["delete"]["responses"]
    assert "get" in paths["/v1/public/coupons"]
    assert {"get", "post"} <= set(paths["/unsubscribe/{token}"])
