"""Look-alike codes: a fullwidth or Cyrillic twin of a code, or one with control characters, is never
issued beside it; at validation such a code is simply unknown."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.builders import campaign, cart, unique


def _issue(client: httpx.Client, campaign_id: str, *codes: str) -> httpx.Response:
    return client.post(f"/v1/campaigns/{campaign_id}/coupons", json={"codes": list(codes)})


def test_a_fullwidth_twin_of_an_issued_code_is_the_same_code(admin: httpx.Client) -> None:
    created = campaign(admin)
    assert _issue(admin, created["id"], "SUMMER25").status_code == 201
    twin = _issue(admin, created["id"], "ＳＵＭＭＥＲ２５")
    assert twin.status_code == 409, twin.text
    assert twin.json()["code"] == "code_taken"


@pytest.mark.parametrize(
    "code", ["СУММЕР25", "SUMMER\x0025", "SUMMER\t25", "ÉTÉ25", "SUMMER25\u200b", "ＳＵＭＭＥＲ２５\u0301"]
)
def test_a_code_with_characters_other_than_ascii_letters_digits_and_separators_is_refused(
    admin: httpx.Client, code: str
) -> None:
    created = campaign(admin)
    fine = unique("FINE-")
    refused = _issue(admin, created["id"], fine, code)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "invalid_request"
    assert refused.json()["field"] == "codes[1]"
    # all or nothing: the valid code of the batch was not issued either, so it is still free
    # (not looked up with GET /v1/coupons: unknown codes count against this key's throttle)
    assert _issue(admin, created["id"], fine).status_code == 201


def test_a_fullwidth_vanity_code_is_stored_and_shown_in_its_ascii_form(admin: httpx.Client) -> None:
    created = campaign(admin)
    issued = _issue(admin, created["id"], "ＷＩＮＴＥＲ－７")
    assert issued.status_code == 201, issued.text
    assert issued.json()["codes"] == ["WINTER-7"]
    assert admin.get("/v1/coupons/winter7").json()["code"] == "WINTER-7"


def test_validating_a_look_alike_code_says_unknown_code(admin: httpx.Client) -> None:
    created = campaign(admin)
    _issue(admin, created["id"], "AUTUMN25")
    answer = admin.post("/v1/validations", json={"cart": cart(), "codes": ["АUTUMN25", "ＡＵＴＵＭＮ２５"]})
    assert answer.status_code == 200, answer.text
    cyrillic, fullwidth = answer.json()["codes"]
    assert (cyrillic["valid"], cyrillic["reason"]) == (False, "unknown_code")
    assert fullwidth["valid"] is True  # the same code, typed on a phone's fullwidth keyboard
