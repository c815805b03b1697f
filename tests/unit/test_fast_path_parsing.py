"""The hot routes' fast path (api.fast_path) parses a body with pydantic's JSON parser; FastAPI parses it
with json.loads and validates the result. Every body the fast path accepts must come out the same as
FastAPI's way; a body it refuses goes to the declared endpoint, so refusing more is allowed."""

import json

import pytest
from pydantic import ValidationError

from couponry.api.schemas.carts import RedemptionIn, ValidationIn

LINE = '{"id":"1","unit_price":%s,"quantity":1%s}'
BODY = '{"cart":{"currency":"USD","lines":[%s]},"codes":["A"]}'

EDGE_CASES = [
    *(BODY % (LINE % (price, "")) for price in ("100", "100.0", "1e2", "-0", '"100"', "true", "1e400")),
    *(BODY % (LINE % (price, "")) for price in ("9007199254740991", "9007199254740992", "NaN", "Infinity")),
    *(
        BODY % (LINE % ("1", extra))
        for extra in (
            ',"on_sale":0',
            ',"on_sale":true',
            ',"on_sale":"true"',
            ',"on_sale":null',
            ',"id":"2"',
            ',"product_id":"\\ud800"',
            ',"product_id":"\\u0000"',
            ',"brand":""',
        )
    ),
    '{"cart":{"currency":"USD","lines":[]},"codes":["A"],"codes":["B","C"]}',
    '{"cart":{"currency":"usd","lines":[]},"codes":["A"]}',
    '{"cart":{"currency":"USD","lines":[]},"codes":["A"],"customer_id":5}',
    '{"cart":{"currency":"USD","lines":[],"shipping":1.0},"codes":["A"]}',
    '{"cart":{"currency":"USD","lines":[]},"codes":["A\\ud83d\\ude00"]}',
    '{"cart":{"currency":"USD","lines":[],"shipping_country":"DE\\n"},"codes":["A"]}',
    '{"cart":{"currency":"USD","lines":[]},"codes":[]}',
    '{"cart":{"currency":"USD","lines":[]},"codes":["A"]} ',
    '\ufeff{"cart":{"currency":"USD","lines":[]},"codes":["A"]}',
    "[1]",
    '"x"',
    "{}",
]


def _fastapi_way(model: type, raw: bytes) -> object:
    try:
        return model.model_validate(json.loads(raw)).model_dump()
    except (ValueError, ValidationError, RecursionError):
        return "refused"


def _fast_way(model: type, raw: bytes) -> object:
    try:
        return model.model_validate_json(raw).model_dump()
    except ValidationError:
        return "refused"


@pytest.mark.parametrize("body", EDGE_CASES)
def test_a_body_the_fast_path_accepts_is_parsed_as_fastapi_parses_it(body: str) -> None:
    raw = body.encode()
    fast = _fast_way(ValidationIn, raw)
    if fast != "refused":
        assert fast == _fastapi_way(ValidationIn, raw)


def test_the_fast_path_and_fastapi_agree_on_a_whole_redemption_body() -> None:
    raw = json.dumps(
        {
            "order_id": "o-1",
            "cart": {
                "currency": "EUR",
                "shipping": 500,
                "lines": [{"id": "a", "unit_price": 1005, "quantity": 2}],
            },
            "codes": ["SAVE10", "ship"],
            "customer_id": "c-1",
        }
    ).encode()
    assert _fast_way(RedemptionIn, raw) == _fastapi_way(RedemptionIn, raw) != "refused"


def test_the_fast_path_leaves_a_malformed_body_to_the_declared_endpoint() -> None:
    for raw in (b"", b"{", b'{"cart": ', b"\xff\xfe"):
        assert _fast_way(ValidationIn, raw) == "refused"
