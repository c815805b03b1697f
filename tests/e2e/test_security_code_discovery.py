"""Codes cannot be discovered through issuing or best-coupons (issue #10, items 1 and 3).

The attacks: a store key sent 10,000 candidate vanity codes to its own campaign and the 409
`code_taken` named every one that existed anywhere (200,000 candidates in 4.7 s, never throttled);
`/v1/best-coupons` answered 4,000 unknown codes in 0.9 s while validation answered 429, and gave any
key a customer's personal codes, one of which a store key then redeemed.
The e2e server refuses a key after 6 failed look-ups a window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.e2e.builders import campaign, cart, line, unique
from tests.e2e.keys import make_key
from tests.serving import Server


@pytest.fixture
def client_for(server: Server) -> Iterator[Callable[..., httpx.Client]]:
    """A client with a new key of a role (and store); all closed after the test."""
    with ExitStack() as stack:

        def client(role: str, store_id: str | None = None) -> httpx.Client:
            return stack.enter_context(server.client(make_key(server.database_url, role, store_id)))

        yield client


def issue(client: httpx.Client, campaign_id: str, *codes: str, **extra: str) -> httpx.Response:
    return client.post(f"/v1/campaigns/{campaign_id}/coupons", json={"codes": list(codes), **extra})


def test_code_taken_names_only_the_callers_own_stores_codes_and_counts_the_others(
    admin: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    # given: a platform code, another store's code, a customer's personal code, and one of s1's own
    platform, other_store = campaign(admin), campaign(admin, issuer={"type": "store", "store_id": "s2"})
    hidden = [unique("PLAT"), unique("OTHER"), unique("MINE")]
    assert issue(admin, platform["id"], hidden[0]).status_code == 201
    assert issue(admin, other_store["id"], hidden[1]).status_code == 201
    assert issue(admin, platform["id"], hidden[2], customer_id=unique("cust")).status_code == 201
    s1 = client_for("store", "s1")
    own = campaign(s1)
    own_code, fresh = unique("OWN"), unique("FRESH")
    assert issue(s1, own["id"], own_code).status_code == 201

    # when: s1 tries them all as vanity codes of its own campaign
    response = issue(s1, own["id"], *hidden, own_code, fresh)

    # then: refused whole, naming only its own code, counting the rest
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "code_taken"
    assert problem["codes"] == [own_code] and problem["taken"] == 4
    assert not any(code in response.text for code in hidden)
    assert admin.get(f"/v1/coupons/{fresh}").status_code == 404


def test_an_admin_is_told_every_taken_code(admin: httpx.Client) -> None:
    first, second = campaign(admin), campaign(admin, issuer={"type": "store", "store_id": "s2"})
    taken = [unique("T"), unique("T")]
    assert issue(admin, second["id"], *taken).status_code == 201

    response = issue(admin, first["id"], *taken, unique("FREE"))

    assert response.status_code == 409
    assert sorted(response.json()["codes"]) == sorted(taken)


def test_a_store_key_probing_codes_by_issuing_them_is_throttled(
    admin: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    # given: six existing platform codes the store key may not see
    platform = campaign(admin)
    existing = [unique("PROBE") for _ in range(6)]
    assert issue(admin, platform["id"], *existing).status_code == 201
    prober = client_for("store", "s3")
    own = campaign(prober)

    # when: it probes them in a batch, then tries again
    probe = issue(prober, own["id"], *existing, unique("CAND"))
    again = issue(prober, own["id"], unique("CAND"))

    # then: the batch cost six failed look-ups, and the key is refused
    assert probe.status_code == 409 and probe.json()["taken"] == 6
    assert again.status_code == 429
    assert int(again.headers["Retry-After"]) >= 1


def test_best_coupons_reads_a_customers_wallet_only_for_keys_that_may_read_wallets(
    admin: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    # given: a customer holding a personal code
    customer = unique("cust")
    personal = campaign(admin)
    (code,) = admin.post(
        f"/v1/campaigns/{personal['id']}/coupons", json={"count": 1, "customer_id": customer}
    ).json()["codes"]
    body = {"cart": cart(line(unit_price=5000)), "customer_id": customer}

    # when
    answers = {
        role: client_for(*role).post("/v1/best-coupons", json=body)
        for role in (("pos",), ("store", "s1"), ("storefront",))
    }

    # then: a POS or store key learns nothing of the wallet; the storefront gets it
    assert [c["code"] for c in answers[("storefront",)].json()["codes"]] == [code]
    for role in (("pos",), ("store", "s1")):
        assert answers[role].status_code == 200
        assert answers[role].json()["codes"] == []
        assert code not in answers[role].text


def test_a_store_key_cannot_learn_or_redeem_another_stores_personal_code(
    admin: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    # given: a personal code of store s2's campaign
    customer = unique("cust")
    s2_campaign = campaign(admin, issuer={"type": "store", "store_id": "s2"})
    (code,) = admin.post(
        f"/v1/campaigns/{s2_campaign['id']}/coupons", json={"count": 1, "customer_id": customer}
    ).json()["codes"]
    s1 = client_for("store", "s1")

    # when: s1 asks for the customer's best coupons, then tries the code itself
    best = s1.post("/v1/best-coupons", json={"cart": cart(line(store_id="s2")), "customer_id": customer})
    redeemed = s1.post(
        "/v1/redemptions",
        json={
            "order_id": unique("O"),
            "cart": cart(line(store_id="s2")),
            "codes": [code],
            "customer_id": customer,
        },
    )

    # then
    assert code not in best.text
    assert redeemed.status_code == 409
    assert redeemed.json()["codes"][0]["reason"] == "unknown_code"
    assert admin.get(f"/v1/coupons/{code}").json()["redeemed_count"] == 0


def test_unknown_codes_given_to_best_coupons_count_against_the_throttle(
    client_for: Callable[..., httpx.Client],
) -> None:
    pos = client_for("pos")
    body = {"cart": cart(), "codes": [unique("GUESS") for _ in range(6)]}

    first = pos.post("/v1/best-coupons", json=body)
    second = pos.post("/v1/best-coupons", json={**body, "codes": [unique("GUESS")]})
    validation = pos.post("/v1/validations", json={"cart": cart(), "codes": [unique("GUESS")]})

    assert first.status_code == 200
    assert second.status_code == validation.status_code == 429
