"""Push over HTTP: a publication issues one personal coupon per customer, once per campaign, queues
the coupon.issued events and (with notify) the mails, and exports the coupons as CSV."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from couponry.adapters.db.engine import normalize_url
from couponry.adapters.db.tables import outbox
from tests.e2e.builders import campaign, database_fingerprint, unique
from tests.serving import Server


def finished(admin: httpx.Client, publication: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = admin.get(f"/v1/publications/{publication['id']}").json()
        if body["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def customers_tagged(admin: httpx.Client, n: int, **profile: Any) -> tuple[str, list[str]]:
    tag = unique("tag")
    ids = [f"{tag}-{i:02d}" for i in range(n)]
    for customer in ids:
        admin.put(f"/v1/customers/{customer}", json={"tags": [tag], **profile})
    return tag, ids


def tag_segment(admin: httpx.Client, tag: str) -> str:
    response = admin.post(
        "/v1/segments", json={"name": tag, "rules": [{"field": "tags", "op": "contains", "value": tag}]}
    )
    return response.json()["id"]


def outbox_rows(server: Server, **where: Any) -> list[Any]:
    engine = create_engine(normalize_url(server.database_url))
    try:
        with engine.connect() as conn:
            query = select(outbox)
            for name, value in where.items():
                query = query.where(outbox.c[name] == value)
            return conn.execute(query).all()
    finally:
        engine.dispose()


def test_a_push_to_a_segment_issues_a_coupon_each_mails_those_who_consented_and_exports_them(
    admin: httpx.Client, server: Server
) -> None:
    # given 5 customers with consent and e-mail, 2 without consent, and a campaign
    tag, consenting = customers_tagged(admin, 5, email="buyer@example.com", marketing_consent=True)
    for customer in (f"{tag}-x1", f"{tag}-x2"):
        admin.put(f"/v1/customers/{customer}", json={"tags": [tag], "email": "no@example.com"})
    created = campaign(admin, name="Spring push", code_config={"length": 10, "prefix": "SP-"})
    # when the campaign is pushed to the segment with notify
    response = admin.post(
        f"/v1/campaigns/{created['id']}/publications",
        json={"segment_id": tag_segment(admin, tag), "notify": True},
    )
    assert response.status_code == 202, response.text
    assert set(response.json()) >= {"id", "status", "done", "total", "issued"}
    assert response.json()["total"] == 7
    done = finished(admin, response.json())
    # then every member got one coupon of the campaign
    assert (done["status"], done["done"], done["total"], done["issued"]) == ("succeeded", 7, 7, 7)
    wallet = admin.get(f"/v1/customers/{consenting[0]}/wallet").json()["items"]
    assert [c["campaign_id"] for c in wallet] == [created["id"]]
    code = wallet[0]["code"]
    assert code.startswith("SP-") and len(code) == 13
    # and one coupon.issued event per coupon, and a mail only to those who consented
    events = [
        r for r in outbox_rows(server, type="coupon.issued") if r.payload["campaign_id"] == created["id"]
    ]
    assert len(events) == 7
    mails = [
        r for r in outbox_rows(server, type="coupon_issued") if r.payload["campaign_id"] == created["id"]
    ]
    assert sorted(m.customer_id for m in mails) == consenting
    mail = next(m for m in mails if m.customer_id == consenting[0])
    assert mail.kind == "mail" and mail.dedupe_key == f"issued:{code}"
    assert mail.payload["code"] == code and mail.payload["campaign_name"] == "Spring push"
    assert mail.payload["coupon_url"].split("?")[0].endswith(f"/c/{code}")
    # and the export lists each customer's code and link
    export = admin.get(f"/v1/publications/{done['id']}/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0] == ["customer_id", "email", "code", "coupon_url"]
    assert len(rows) == 8
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first == {
        "customer_id": consenting[0],
        "email": "buyer@example.com",
        "code": code,
        "coupon_url": mail.payload["coupon_url"],
    }
    assert "?t=" in first["coupon_url"]


def test_a_customer_gets_no_second_coupon_of_a_campaign_from_another_publication(admin: httpx.Client) -> None:
    # given a campaign already pushed to three customers
    _, ids = customers_tagged(admin, 5)
    created = campaign(admin)
    first = admin.post(f"/v1/campaigns/{created['id']}/publications", json={"customer_ids": ids[:3]})
    assert finished(admin, first.json())["issued"] == 3
    # when it is pushed again to an overlapping list
    second = admin.post(f"/v1/campaigns/{created['id']}/publications", json={"customer_ids": ids[1:]})
    done = finished(admin, second.json())
    # then only the two new customers get one, and nobody holds two
    assert (done["status"], done["done"], done["issued"]) == ("succeeded", 4, 2)
    for customer in ids:
        wallet = admin.get(f"/v1/customers/{customer}/wallet").json()["items"]
        assert len([c for c in wallet if c["campaign_id"] == created["id"]]) == 1
    rows = list(csv.reader(io.StringIO(admin.get(f"/v1/publications/{done['id']}/export.csv").text)))
    assert [r[0] for r in rows[1:]] == ids[3:]


def test_relative_validity_starts_when_the_coupon_is_issued(admin: httpx.Client) -> None:
    _, ids = customers_tagged(admin, 1)
    created = campaign(admin, validity={"days_after_issue": 7})
    done = finished(
        admin, admin.post(f"/v1/campaigns/{created['id']}/publications", json={"customer_ids": ids}).json()
    )
    assert done["issued"] == 1
    (coupon,) = admin.get(f"/v1/customers/{ids[0]}/wallet").json()["items"]
    issued_at = datetime.fromisoformat(coupon["issued_at"])
    assert datetime.fromisoformat(coupon["validity"]["ends_at"]) == issued_at + timedelta(days=7)


def test_bad_publications_are_refused_and_write_nothing(admin: httpx.Client, server: Server) -> None:
    created = campaign(admin)
    _, ids = customers_tagged(admin, 1)
    before = database_fingerprint(server.database_url)
    url = f"/v1/campaigns/{created['id']}/publications"
    for body, field in [
        ({"notify": True}, "segment_id"),
        ({"segment_id": "nope"}, "segment_id"),
        ({"segment_id": "nope", "customer_ids": ids}, "segment_id"),
        ({"customer_ids": [*ids, "not-a-customer"]}, "customer_ids"),
        ({"customer_ids": []}, "customer_ids"),
        ({"customer_ids": ids, "notify": "loudly"}, "notify"),
    ]:
        response = admin.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["field"] == field, body
        assert response.json()["code"] == "invalid_request", body
    assert admin.post("/v1/campaigns/nope/publications", json={"customer_ids": ids}).status_code == 404
    assert database_fingerprint(server.database_url) == before
    assert admin.get("/v1/publications/nope").status_code == 404
    assert admin.get("/v1/publications/nope/export.csv").status_code == 404


def test_a_store_key_cannot_publish_another_stores_campaign(admin: httpx.Client, server: Server) -> None:
    from tests.serving import create_key

    created = campaign(admin, issuer={"type": "store", "store_id": "s1"})
    _, ids = customers_tagged(admin, 1)
    with server.client(create_key(server.database_url, "store", "s2")) as other_store:
        response = other_store.post(f"/v1/campaigns/{created['id']}/publications", json={"customer_ids": ids})
        assert response.status_code == 403


REACHING_CUSTOMERS_ROUTES = [
    ("post", "/v1/segments"),
    ("get", "/v1/segments/{segment_id}"),
    ("get", "/v1/segments/{segment_id}/customers"),
    ("post", "/v1/campaigns/{campaign_id}/publications"),
    ("get", "/v1/publications/{publication_id}"),
    ("get", "/v1/publications/{publication_id}/export.csv"),
]


def test_the_segment_and_push_endpoints_are_documented_with_their_problems(server: Server) -> None:
    paths = httpx.get(server.base + "/openapi.json").json()["paths"]
    for method, path in REACHING_CUSTOMERS_ROUTES:
        assert method in paths.get(path, {}), (method, path)
        assert "application/problem+json" in paths[path][method]["responses"]["422"]["content"]
