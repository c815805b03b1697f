"""Referrals over HTTP: both sides rewarded once when the invitee signs up or completes a first order,
as the program says, and the referral.completed trigger fires for the inviter."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.builders import campaign, unique
from tests.e2e.test_api_triggers import campaigns_in, event, trigger


def program(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    response = admin.put("/v1/referral-program", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def inviter(admin: httpx.Client) -> tuple[str, str]:
    customer = unique("inviter")
    body = admin.put(f"/v1/customers/{customer}", json={}).json()
    return customer, body["referral_code"]


def test_on_signup_both_sides_are_rewarded_once_and_the_inviter_trigger_fires(admin: httpx.Client) -> None:
    # given a sign-up program and a referral.completed trigger
    for_inviter, for_invitee, bonus = campaign(admin), campaign(admin), campaign(admin)
    saved = program(
        admin,
        reward_on="signup",
        inviter_campaign_id=for_inviter["id"],
        invitee_campaign_id=for_invitee["id"],
        inviter_points=50,
    )
    assert saved["inviter_points"] == 50 and saved["inviter_points_credited"] is True
    assert admin.get("/v1/referral-program").json()["reward_on"] == "signup"
    trigger(admin, event="referral.completed", campaign_ids=[bonus["id"]], per_customer=5)
    host, code = inviter(admin)
    # when an invitee signs up with the code, and saves the profile again
    guest = unique("guest")
    assert admin.put(f"/v1/customers/{guest}", json={"referred_by": code}).status_code == 201
    assert admin.put(f"/v1/customers/{guest}", json={"referred_by": code, "name": "G"}).status_code == 200
    # then each side holds its coupon once, and the inviter the trigger's bonus
    assert campaigns_in(admin, guest) == [for_invitee["id"]]
    assert campaigns_in(admin, host) == sorted([for_inviter["id"], bonus["id"]])


def test_on_first_order_the_sides_are_rewarded_at_the_first_completed_order_only(admin: httpx.Client) -> None:
    for_inviter, for_invitee = campaign(admin), campaign(admin)
    program(
        admin,
        reward_on="first_order",
        inviter_campaign_id=for_inviter["id"],
        invitee_campaign_id=for_invitee["id"],
    )
    host, code = inviter(admin)
    guest = unique("guest")
    admin.put(f"/v1/customers/{guest}", json={"referred_by": code})
    assert campaigns_in(admin, guest) == [] and campaigns_in(admin, host) == []
    # when the first order is delivered twice, then a second order comes
    first = unique("O")
    for order_id in (first, first, unique("O")):
        event(admin, type="order.completed", customer_id=guest, order_id=order_id, amount=1000)
    assert campaigns_in(admin, guest) == [for_invitee["id"]]
    assert campaigns_in(admin, host).count(for_inviter["id"]) == 1  # (other tests' triggers may add theirs)


def test_own_or_unknown_referral_codes_and_unknown_campaigns_are_refused(admin: httpx.Client) -> None:
    host, code = inviter(admin)
    own = admin.put(f"/v1/customers/{host}", json={"referred_by": code})
    assert own.status_code == 422 and own.json()["code"] == "self_referral"
    unknown = admin.put(f"/v1/customers/{unique('x')}", json={"referred_by": "r-nosuchcode00000"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_referral_code"
    invited = admin.put(f"/v1/customers/{unique('y')}", json={"referred_by": code})
    assert invited.status_code == 201  # someone else's code is fine
    bad = admin.put("/v1/referral-program", json={"reward_on": "signup", "inviter_campaign_id": "nope"})
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_campaign"
