"""The measuring pages over plain HTTP: `/` sends each person home, the reports' CSV downloads through
the web session are the API's own CSV, a store user gets its own store's figures only, and a period
the service refuses is shown on the page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.builders import campaign_with_code, cart, line, redeem, unique
from tests.e2e.web_helpers import browser, make_user, sign_in
from tests.serving import Server


@pytest.fixture
def signed_in(server: Server) -> Iterator[Callable[..., httpx.Client]]:
    opened: list[httpx.Client] = []

    def open_as(role: str, store_id: str | None = None) -> httpx.Client:
        email = f"{unique(role)}@example.com".lower()
        password = make_user(server, email, role, store_id)
        client = browser(server)
        opened.append(client)
        assert sign_in(client, email, password).status_code == 303
        return client

    yield open_as
    for client in opened:
        client.close()


def _period() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}


@pytest.mark.parametrize(
    ("role", "home"), [("admin", "/dashboard"), ("store", "/dashboard"), ("pos", "/pos")]
)
def test_the_root_sends_a_signed_in_person_to_their_home(server: Server, signed_in, role, home) -> None:
    web = signed_in(role, "s1" if role == "store" else None)
    answer = web.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == home


def test_the_root_sends_a_visitor_to_sign_in(server: Server) -> None:
    with browser(server) as web:
        answer = web.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"


def test_the_reports_csv_downloads_are_the_apis_csv(server: Server, admin: httpx.Client, signed_in) -> None:
    store = unique("S")
    created, code = campaign_with_code(
        admin, name="Report me, =1+1", discount={"type": "amount", "amount": 700}
    )
    assert redeem(admin, code, cart=cart(line("1", 3000, 1, store_id=store))).status_code == 201
    web = signed_in("admin")
    period = _period()

    for path, params in [(p, q) for p in ("campaigns.csv", "settlement.csv") for q in (period, {})]:
        ours = web.get(f"/dashboard/reports/{path}", params=params)
        theirs = admin.get(f"/v1/reports/{path}", params=params)
        assert ours.status_code == 200 and theirs.status_code == 200
        assert ours.headers["content-type"].startswith("text/csv")
        assert "attachment" in ours.headers["content-disposition"]
        assert ours.text == theirs.text
    rows = list(csv.DictReader(io.StringIO(web.get("/dashboard/reports/campaigns.csv", params=period).text)))
    mine = next(r for r in rows if r["campaign_id"] == created["id"])
    assert mine["redeemed"] == "1" and mine["name"] == "Report me, =1+1"
    settlement = list(
        csv.DictReader(io.StringIO(web.get("/dashboard/reports/settlement.csv", params=period).text))
    )
    assert {"store_id": store, "currency": "USD", "amount": "700"}.items() <= next(
        r for r in settlement if r["store_id"] == store
    ).items()
    page = web.get("/dashboard/reports", params=period)
    assert page.status_code == 200 and "Report me, =1+1" in page.text and store in page.text


def test_a_store_user_downloads_only_its_own_stores_rows(
    server: Server, admin: httpx.Client, signed_in
) -> None:
    ours, theirs = unique("S"), unique("S")
    own, own_code = campaign_with_code(admin, name="Own sale", issuer={"type": "store", "store_id": ours})
    other, _ = campaign_with_code(admin, name="Their sale", issuer={"type": "store", "store_id": theirs})
    _, platform_code = campaign_with_code(admin, discount={"type": "amount", "amount": 300})
    for store in (ours, theirs):
        assert redeem(admin, platform_code, cart=cart(line("1", 3000, 1, store_id=store))).status_code == 201
    web = signed_in("store", ours)
    period = _period()

    rows = list(csv.DictReader(io.StringIO(web.get("/dashboard/reports/campaigns.csv", params=period).text)))
    assert {r["campaign_id"] for r in rows} == {own["id"]}
    owed = list(csv.DictReader(io.StringIO(web.get("/dashboard/reports/settlement.csv", params=period).text)))
    assert [r["store_id"] for r in owed] == [ours]
    assert web.get(f"/dashboard/campaigns/{other['id']}").status_code == 403
    page = web.get(f"/dashboard/campaigns/{own['id']}", params=period)
    assert page.status_code == 200 and 'data-figure="issued" data-value="1"' in page.text


def test_a_period_the_service_refuses_is_shown_on_the_page(
    server: Server, admin: httpx.Client, signed_in
) -> None:
    created, _ = campaign_with_code(admin)
    web = signed_in("admin")
    backwards = {"from": "2026-11-20", "to": "2026-11-01"}

    campaign_page = web.get(f"/dashboard/campaigns/{created['id']}", params=backwards)
    reports_page = web.get("/dashboard/reports", params=backwards)

    assert campaign_page.status_code == 200 and "must not be before from" in campaign_page.text
    assert reports_page.status_code == 422 and "must not be before from" in reports_page.text
    assert web.get("/dashboard/reports/campaigns.csv", params=backwards).status_code == 422
