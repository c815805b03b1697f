"""The hot routes' fast path (api.fast_path) parses a body with pydantic's JSON parser; FastAPI parses it
with json.loads and validates the result. Every body the fast path accepts must come out the same as
FastAPI's way; a body it refuses goes to the declared endpoint, so refusing more is allowed."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from couponry.api.schemas.carts import RedemptionIn, ValidationIn, ValidationRequest, parse_validation
from couponry.api.schemas.lean import lean_adapter

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


# The validation's fast path parses its body as dicts (api.schemas.lean) straight into the domain cart.


def _declared_validation(raw: bytes) -> object:
    try:
        body = ValidationIn.model_validate(json.loads(raw))
    except (ValueError, ValidationError, RecursionError):
        return "refused"
    return ValidationRequest(body.cart.to_domain(), body.codes, body.customer_id)


def _lean_validation(raw: bytes) -> object:
    parsed = parse_validation(raw)
    return "refused" if parsed is None else parsed


@pytest.mark.parametrize("body", EDGE_CASES)
def test_the_lean_validation_parser_refuses_or_agrees_with_the_declared_model(body: str) -> None:
    lean = _lean_validation(body.encode())
    if lean != "refused":
        assert lean == _declared_validation(body.encode())


def test_the_lean_validation_parser_refuses_what_the_models_validators_refuse() -> None:
    twice = BODY % ",".join([LINE % ("1", ""), LINE % ("2", "")])  # both lines have id "1"
    over = BODY % (LINE % ("9007199254740991", ',"quantity":2'))  # quantity given twice: the last counts
    for raw in (twice.encode(), over.encode()):
        assert _declared_validation(raw) == "refused"
        assert _lean_validation(raw) == "refused"


def _mostly(valid: st.SearchStrategy[object], odd: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """`valid` nine times in ten, else `odd`: a body with a few fields, each sometimes off."""
    return st.integers(0, 9).flatmap(lambda n: odd if n == 0 else valid)


_odd = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=2**53 + 1),
    st.floats(allow_nan=False),
    st.sampled_from(["", "1", "usd", "\x00", "a" * 201]),
    st.lists(st.integers(), max_size=1),
)
_label = st.text(min_size=1, max_size=4)
_line = st.fixed_dictionaries(
    {
        "id": _mostly(st.sampled_from(["1", "2", "3", "a"]), _odd),
        "unit_price": _mostly(st.integers(0, 10**6) | st.just(2**53 - 1), _odd),
        "quantity": _mostly(st.integers(1, 5), _odd),
    },
    optional={
        "product_id": _mostly(_label | st.none(), _odd),
        "category": _mostly(_label | st.none(), _odd),
        "brand": _mostly(_label | st.none(), _odd),
        "store_id": _mostly(_label | st.none(), _odd),
        "on_sale": _mostly(st.booleans(), _odd),
        "extra": _odd,
    },
)
_cart = st.fixed_dictionaries(
    {"currency": _mostly(st.sampled_from(["USD", "EUR"]), _odd), "lines": st.lists(_line, max_size=3)},
    optional={
        "channel": _mostly(st.sampled_from(["online", "pos"]), _odd),
        "shipping": _mostly(st.integers(0, 10**4), _odd),
        "shipping_country": _mostly(st.sampled_from(["DE", "NO"]) | st.none(), _odd),
    },
)
_body = st.fixed_dictionaries(
    {"cart": _cart, "codes": _mostly(st.lists(_label, min_size=1, max_size=3), _odd)},
    optional={"customer_id": _mostly(_label | st.none(), _odd)},
)


@settings(max_examples=400, deadline=None)
@given(_body)
def test_any_validation_body_the_lean_parser_takes_comes_out_as_the_declared_model_reads_it(
    body: dict[str, object],
) -> None:
    raw = json.dumps(body).encode()
    assert _lean_validation(raw) == _declared_validation(raw)


def test_the_lean_parser_takes_a_whole_cart_with_every_field() -> None:
    raw = json.dumps(
        {
            "cart": {
                "currency": "EUR",
                "channel": "pos",
                "shipping": 500,
                "shipping_country": "DE",
                "lines": [
                    {"id": "a", "unit_price": 1005, "quantity": 2, "category": "shoes", "on_sale": True},
                    {
                        "id": "b",
                        "unit_price": 1,
                        "quantity": 1,
                        "product_id": "p",
                        "brand": "x",
                        "store_id": "s",
                    },
                ],
            },
            "codes": ["SAVE10", "ship"],
            "customer_id": "c-1",
        }
    ).encode()
    assert _lean_validation(raw) == _declared_validation(raw) != "refused"


def test_a_lean_schema_keeps_its_models_configuration() -> None:
    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
        name: str

    class Outer(BaseModel):
        inner: Strict
        note: str = "default"

    lean = lean_adapter(Outer)
    assert lean.validate_json('{"inner": {"name": " x "}}') == {"inner": {"name": "x"}}
    with pytest.raises(ValidationError):
        lean.validate_json('{"inner": {"name": "x", "other": 1}}')
    Outer.model_validate_json(
        '{"inner": {"name": "x"}, "other": 1}'
    )  # Outer ignores extras: so does its lean
    assert lean.validate_json('{"inner": {"name": "x"}, "other": 1}') == {"inner": {"name": "x"}}
