"""Codes through the HTTP API: vanity, generated, jobs for large counts, look-ups and exports."""

from __future__ import annotations

import csv
import io
import time

import httpx

from tests.e2e.builders import campaign, unique
from tests.serving import Server, create_key

LOOKALIKES = set("01OIL")


def test_a_vanity_code_that_exists_anywhere_is_409_code_taken_ignoring_case_and_separators(
    admin: httpx.Client,
) -> None:
    code = unique("VANITY")
    first, second = campaign(admin), campaign(admin)
    assert admin.post(f"/v1/campaigns/{first['id']}/coupons", json={"codes": [code]}).status_code == 201

    spelled_differently = code[:3].lower() + "-" + code[3:]
    response = admin.post(
        f"/v1/campaigns/{second['id']}/coupons", json={"codes": ["FRESH" + code, spelled_differently]}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "code_taken"
    assert admin.get(f"/v1/coupons/FRESH{code}").status_code == 404  # all or nothing


def test_generated_codes_follow_the_code_config_and_avoid_lookalikes(admin: httpx.Client) -> None:
    created = campaign(admin, code_config={"pattern": "SUMMER-####-####"})
    response = admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"count": 50})

    codes = response.json()["codes"]
    assert response.status_code == 201 and len(set(codes)) == 50
    for code in codes:
        assert code.startswith("SUMMER-") and len(code) == len("SUMMER-####-####")
        assert not LOOKALIKES & set(code.replace("SUMMER-", ""))


def test_a_code_space_too_small_for_the_request_is_refused(admin: httpx.Client) -> None:
    created = campaign(admin, code_config={"pattern": "X-###"})
    response = admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"count": 100})
    assert response.status_code == 422
    assert response.json()["code"] == "code_space_too_small"


def test_a_coupon_is_found_by_its_code_whatever_the_case_and_separators(admin: httpx.Client) -> None:
    created = campaign(admin)
    code = admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"count": 1}).json()["codes"][0]

    found = admin.get(f"/v1/coupons/{code[:4].lower()}-{code[4:]}")

    assert found.status_code == 200
    assert found.json()["code"] == code
    assert found.json()["redeemed_count"] == 0
    assert found.json()["status"] == "active"


def test_more_than_1000_codes_become_a_job_with_progress_then_list_and_export(admin: httpx.Client) -> None:
    # given
    created = campaign(admin)
    # when
    response = admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"count": 5000})
    job = response.json()
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = admin.get(f"/v1/jobs/{job['id']}").json()
    # then
    assert response.status_code == 202
    assert job["status"] == "succeeded" and job["done"] == job["total"] == 5000
    page = admin.get(f"/v1/campaigns/{created['id']}/coupons", params={"limit": 1000}).json()
    assert len(page["items"]) == 1000 and page["next_cursor"]
    exported = admin.get(f"/v1/campaigns/{created['id']}/coupons", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert exported.headers["content-type"].startswith("text/csv")
    assert len(rows) == 5000 and len({r["code"] for r in rows}) == 5000


def test_personal_codes_appear_in_the_customers_wallet(admin: httpx.Client) -> None:
    customer = unique("cust")
    created = campaign(admin, validity={"days_after_issue": 7})
    issued = admin.post(
        f"/v1/campaigns/{created['id']}/coupons", json={"count": 2, "customer_id": customer}
    ).json()["codes"]

    wallet = admin.get(f"/v1/customers/{customer}/wallet").json()["items"]

    assert sorted(c["code"] for c in wallet) == sorted(issued)
    assert all(c["customer_id"] == customer and c["validity"]["ends_at"] for c in wallet)


def test_repeated_unknown_codes_are_slowed_then_refused_with_retry_after(server: Server) -> None:
    # The e2e server slows a key after 3 unknown codes a minute and refuses it after 6.
    with server.client(create_key(server.database_url, "pos")) as pos:
        answers = [pos.get(f"/v1/coupons/{unique('GUESS')}") for _ in range(8)]
    statuses = [a.status_code for a in answers]
    assert statuses[:6] == [404] * 6
    assert statuses[6:] == [429, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].json()["code"] == "too_many_requests"
