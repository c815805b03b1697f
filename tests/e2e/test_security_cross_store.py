"""A key touches only what it may: another store's codes, holds and redemptions (issue #10, item 5).

The attack: a store key for s1 redeemed store s2's code on a cart of s2 lines (201), and any pos,
storefront or store key could release any reservation by id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.e2e.builders import campaign, cart, line, unique
from tests.e2e.keys import make_key
from tests.serving import Server


def store_code(admin: httpx.Client, store_id: str, **spec: Any) -> tuple[dict[str, Any], str]:
    created = campaign(admin, issuer={"type": "store", "store_id": store_id}, **spec)
    code = unique("STORE")
    assert admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]}).status_code == 201
    return created, code


def platform_code(admin: httpx.Client) -> str:
    created = campaign(admin)
    code = unique("PLAT")
    assert admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]}).status_code == 201
    return code


def order(code: str, store_id: str, **extra: Any) -> dict[str, Any]:
    return {"order_id": unique("O"), "cart": cart(line(store_id=store_id)), "codes": [code], **extra}


@pytest.fixture
def client_for(server: Server) -> Iterator[Callable[..., httpx.Client]]:
    """A client with a new key of a role (and store); all closed after the test."""
    with ExitStack() as stack:

        def client(role: str, store_id: str | None = None) -> httpx.Client:
            return stack.enter_context(server.client(make_key(server.database_url, role, store_id)))

        yield client


@pytest.fixture
def s1(client_for: Callable[..., httpx.Client]) -> httpx.Client:
    return client_for("store", "s1")


def test_a_store_key_cannot_redeem_another_stores_code_and_cannot_tell_it_exists(
    admin: httpx.Client, s1: httpx.Client
) -> None:
    # given: a code of store s2 and a code that does not exist
    created, s2_code = store_code(admin, "s2")
    missing = unique("NOSUCH")

    # when: s1's key redeems each on a cart of s2 lines
    stolen = s1.post("/v1/redemptions", json=order(s2_code, "s2"))
    guessed = s1.post("/v1/redemptions", json=order(missing, "s2"))

    # then: both are refused the same way, and nothing was used
    assert stolen.status_code == guessed.status_code == 409
    refused = stolen.json()["codes"][0]
    assert refused["reason"] == "unknown_code"
    assert {k: v for k, v in refused.items() if k != "code"} == {
        k: v for k, v in guessed.json()["codes"][0].items() if k != "code"
    }
    assert admin.get(f"/v1/coupons/{s2_code}").json()["redeemed_count"] == 0


def test_a_store_key_validates_and_reserves_another_stores_code_as_unknown(
    admin: httpx.Client, s1: httpx.Client
) -> None:
    _, s2_code = store_code(admin, "s2")

    validated = s1.post("/v1/validations", json={"cart": cart(line(store_id="s2")), "codes": [s2_code]})
    reserved = s1.post("/v1/reservations", json=order(s2_code, "s2"))

    assert validated.status_code == 200
    assert validated.json()["codes"][0]["reason"] == "unknown_code"
    assert reserved.status_code == 409
    assert reserved.json()["codes"][0]["reason"] == "unknown_code"


def test_a_store_key_still_redeems_its_own_and_platform_codes(admin: httpx.Client, s1: httpx.Client) -> None:
    _, own = store_code(admin, "s1")
    shared = platform_code(admin)

    assert s1.post("/v1/redemptions", json=order(own, "s1")).status_code == 201
    assert s1.post("/v1/redemptions", json=order(shared, "s1")).status_code == 201


def test_a_reservation_is_released_only_by_its_key_its_store_or_an_admin(
    admin: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    # given: holds made by a pos key and by a key of store s1
    pos, other_pos, storefront = client_for("pos"), client_for("pos"), client_for("storefront")
    s1, s1_other, s2 = client_for("store", "s1"), client_for("store", "s1"), client_for("store", "s2")

    def hold(client: httpx.Client, store: str) -> str:
        _, code = store_code(admin, store)
        response = client.post("/v1/reservations", json=order(code, store))
        assert response.status_code == 201, response.text
        return response.json()["id"]

    pos_hold = hold(pos, "s1")
    s1_hold = hold(s1, "s1")

    # when / then: strangers are told there is no such hold, and it stays held
    for stranger in (other_pos, storefront, s2):
        for reservation in (pos_hold, s1_hold):
            answer = stranger.delete(f"/v1/reservations/{reservation}")
            assert answer.status_code == 404, answer.text
            assert answer.json()["code"] == "not_found"
    assert pos.delete(f"/v1/reservations/{pos_hold}").json()["status"] == "released"
    assert s1_other.delete(f"/v1/reservations/{s1_hold}").json()["status"] == "released"
    third = hold(pos, "s1")
    assert admin.delete(f"/v1/reservations/{third}").json()["status"] == "released"


def test_a_reservation_is_confirmed_only_by_its_key_its_store_or_an_admin(
    admin: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    # given: a hold made by a pos key
    pos, other_pos = client_for("pos"), client_for("pos")
    _, code = store_code(admin, "s1")
    body = order(code, "s1")
    held = pos.post("/v1/reservations", json=body).json()

    # when: another pos key tries to turn it into its redemption
    hijack = other_pos.post(
        "/v1/redemptions", json={"order_id": body["order_id"], "reservation_id": held["id"]}
    )

    # then: no such reservation for it; its own key confirms it
    assert hijack.status_code == 404
    confirmed = pos.post("/v1/redemptions", json={"order_id": body["order_id"], "reservation_id": held["id"]})
    assert confirmed.status_code == 201, confirmed.text


def test_a_store_key_sees_and_rolls_back_only_its_own_stores_redemptions(
    admin: httpx.Client, s1: httpx.Client
) -> None:
    # given: one marketplace order with a redemption of an s1 code and another of an s2 code
    order_id = unique("O")
    _, s1_code = store_code(admin, "s1")
    _, s2_code = store_code(admin, "s2")
    mine = admin.post("/v1/redemptions", json={**order(s1_code, "s1"), "order_id": order_id}).json()
    theirs = admin.post("/v1/redemptions", json={**order(s2_code, "s2"), "order_id": order_id}).json()

    # when
    found = s1.get("/v1/redemptions", params={"order_id": order_id})
    read_theirs = s1.get(f"/v1/redemptions/{theirs['id']}")
    roll_theirs = s1.post(f"/v1/redemptions/{theirs['id']}/rollback", json={"reason": "refund"})

    # then: the order shows s1 only its own; the other store's is forbidden and untouched
    assert [r["id"] for r in found.json()["items"]] == [mine["id"]]
    assert read_theirs.status_code == roll_theirs.status_code == 403
    assert admin.get(f"/v1/redemptions/{theirs['id']}").json()["status"] == "succeeded"
    assert s1.post(f"/v1/redemptions/{mine['id']}/rollback", json={"reason": "refund"}).status_code == 200


def test_a_store_key_reads_its_own_and_platform_coupons_and_another_stores_counts_as_a_failed_look_up(
    admin: httpx.Client, s1: httpx.Client
) -> None:
    # given: six codes of store s2 (the e2e server refuses a key after 6 failed look-ups)
    s2_codes = [store_code(admin, "s2")[1] for _ in range(6)]

    _, own = store_code(admin, "s1")
    shared = platform_code(admin)

    # when: s1's key looks up its own code and a platform code, then each of s2's, then its own again
    readable = [s1.get(f"/v1/coupons/{own}"), s1.get(f"/v1/coupons/{shared}")]
    answers = [s1.get(f"/v1/coupons/{code}") for code in s2_codes]
    after = s1.get(f"/v1/coupons/{own}")

    # then
    assert [r.status_code for r in readable] == [200, 200]
    assert {a.status_code for a in answers} == {403}
    assert after.status_code == 429
