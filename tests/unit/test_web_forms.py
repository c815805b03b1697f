"""The dashboard's forms read as the API's JSON: amounts in minor units, lists, time windows, tiers,
and errors named by the API's field paths; a stored campaign reads back into the same form."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from couponry.api.schemas.campaigns import CampaignCreate
from couponry.domain.wording import describe_terms
from couponry.services.ids import utcnow
from couponry.web import campaign_form, segment_form
from couponry.web.security import safe_next
from couponry.web.wording import campaign_rules, discount_words, terms_words


def _form(**fields: str) -> dict[str, str]:
    base = {
        "name": "Spring",
        "currency": "usd",
        "discount.type": "amount",
        "discount.amount": "10.00",
        "conditions.channels.online": "on",
        "conditions.channels.pos": "on",
    }
    return {**base, **fields}


def test_a_form_reads_as_the_apis_campaign_with_amounts_in_minor_units() -> None:
    spec, errors = campaign_form.to_spec(
        _form(
            **{
                "conditions.min_spend": "1,250.50",
                "limits.budget": "99",
                "scope.categories": "shoes, bags,",
                "conditions.shipping_countries": "no, se",
                "validity.ends_at": "2026-12-31T23:59",
                "issuer.type": "store",
                "issuer.store_id": "s1",
            }
        ),
        is_admin=True,
        creating=True,
    )
    assert errors == {}
    assert spec["currency"] == "USD" and spec["discount"] == {"type": "amount", "amount": 1000}
    assert spec["conditions"]["min_spend"] == 125050 and spec["limits"]["budget"] == 9900
    assert spec["scope"]["categories"] == ["shoes", "bags"]
    assert spec["conditions"]["shipping_countries"] == ["NO", "SE"]
    assert spec["validity"]["ends_at"] == "2026-12-31T23:59:00Z"
    assert spec["issuer"] == {"type": "store", "store_id": "s1"}
    CampaignCreate.model_validate(spec)  # what the API would take


def test_a_store_user_cannot_choose_the_issuer() -> None:
    spec, _ = campaign_form.to_spec(_form(**{"issuer.type": "platform"}), is_admin=False, creating=True)
    assert "issuer" not in spec  # the service makes it the user's store


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"discount.amount": "ten"}, "discount.amount", "must be an amount such as 12.50"),
        ({"discount.amount": "1.005"}, "discount.amount", "must be an amount with at most 2 decimals"),
        ({"discount.amount": ""}, "discount.amount", "required for this discount type"),
        ({"limits.max_redemptions": "1.5"}, "limits.max_redemptions", "must be a whole number"),
        (
            {"validity.starts_at": "tomorrow"},
            "validity.starts_at",
            "must be a date and time such as 2026-12-31T23:59",
        ),
        (
            {"discount.type": "tiered", "discount.tiers": "100 => ten"},
            "discount.tiers",
            "line 1: write each tier as SPEND = OFF, e.g. 100.00 = 10.00",
        ),
        (
            {"conditions.time_windows": "someday 10:00-12:00"},
            "conditions.time_windows",
            "line 1: write DAYS START-END [TIME ZONE], e.g. mon,tue 14:00-17:00 Europe/Oslo",
        ),
    ],
)
def test_what_cannot_be_read_is_named_by_its_field(fields: dict, field: str, message: str) -> None:
    _, errors = campaign_form.to_spec(_form(**fields), is_admin=True, creating=True)
    assert errors == {field: message}


def test_schema_errors_land_on_the_form_field_of_their_path() -> None:
    spec, _ = campaign_form.to_spec(
        _form(**{"discount.type": "percent", "discount.percent": "150", "code_config.prefix": "no spaces"}),
        is_admin=True,
        creating=True,
    )
    with pytest.raises(ValidationError) as refused:
        CampaignCreate.model_validate(spec)
    errors = campaign_form.schema_errors(refused.value)
    assert set(errors) == {"discount.percent", "code_config.prefix"}
    assert campaign_form.form_field("discount.tiers[1].amount") == "discount.tiers"
    assert campaign_form.form_field("conditions.time_windows[0].days") == "conditions.time_windows"


def test_a_stored_campaign_reads_back_into_the_same_form() -> None:
    posted = _form(
        **{
            "discount.type": "tiered",
            "discount.tiers": "100.00 = 10.00\n200.00 = 25.00",
            "conditions.time_windows": "mon,tue 14:00-17:00 Europe/Oslo",
            "scope.brands": "acme, zeta",
            "limits.per_customer": "2",
            "claim.enabled": "on",
            "claim.stock": "0",
            "claim.per_customer": "3",
            "stacking": "item",
            "status": "paused",
            "public": "on",
        }
    )
    spec, errors = campaign_form.to_spec(posted, is_admin=True, creating=True)
    assert errors == {}
    body = CampaignCreate.model_validate(spec).model_dump(mode="json")
    stored = {**body, "claim": {**body["claim"], "claimed": 0}}
    values = campaign_form.to_form(stored)
    assert values["discount.tiers"] == "100.00 = 10.00\n200.00 = 25.00"
    assert values["conditions.time_windows"] == "mon,tue 14:00-17:00 Europe/Oslo"
    assert values["scope.brands"] == "acme, zeta" and values["limits.per_customer"] == "2"
    assert values["claim.enabled"] is True and values["claim.stock"] == "0" and values["public"] is True
    again, _ = campaign_form.to_spec(
        {
            **values,
            "conditions.channels.online": "on",
            "conditions.channels.pos": "on",
            "claim.enabled": "on",
            "public": "on",
        },
        is_admin=True,
        creating=True,
    )
    assert again["discount"] == spec["discount"] and again["conditions"] == spec["conditions"]
    assert again["claim"] == spec["claim"]


def test_segment_rows_read_as_typed_rules_and_a_bad_value_names_its_row() -> None:
    match, rules = segment_form.rules_from(
        {
            "match": "any",
            "rule.0.field": "total_spent",
            "rule.0.op": "gte",
            "rule.0.value": "100.50",
            "rule.1.field": "birthday_month",
            "rule.1.op": "eq",
            "rule.1.value": "current",
            "rule.2.field": "attribute",
            "rule.2.attribute": "tier",
            "rule.2.op": "in",
            "rule.2.value": "gold, 3",
            "rule.3.field": "marketing_consent",
            "rule.3.op": "eq",
            "rule.3.value": "yes",
            "rule.4.field": "",
            "rule.4.value": "ignored",
        }
    )
    assert match == "any"
    assert rules == [
        {"field": "total_spent", "op": "gte", "value": 10050},
        {"field": "birthday_month", "op": "eq", "value": "current"},
        {"field": "attributes.tier", "op": "in", "value": ["gold", 3]},
        {"field": "marketing_consent", "op": "eq", "value": True},
    ]
    with pytest.raises(segment_form.RuleError) as refused:
        segment_form.rules_from({"rule.1.field": "order_count", "rule.1.op": "gt", "rule.1.value": "many"})
    assert refused.value.row == 1


def test_the_dashboard_words_a_campaigns_terms_as_the_coupon_page_does() -> None:
    campaign = {
        "currency": "USD",
        "discount": {"type": "amount", "amount": 1000},
        "conditions": {"min_spend": 5000, "channels": ["pos"], "first_order_only": True},
    }
    assert terms_words(campaign) == "10.00 off orders of 50.00 or more, on a first order only, in shops only"
    ending = {**campaign, "conditions": {"min_spend": 5000}, "validity": {"ends_at": "2099-01-01T00:00:00Z"}}
    assert terms_words(ending) == describe_terms(campaign_rules(ending), now=utcnow())
    assert terms_words(ending).endswith(", until 31 Dec 2098")
    percent = {"currency": "EUR", "discount": {"type": "percent", "percent": "12.500000", "max_amount": 2000}}
    assert discount_words(percent) == "12.5% off (up to 20.00)"
    tiers = {
        "currency": "USD",
        "discount": {"type": "tiered", "tiers": [{"min_spend": 10000, "amount": 1000}]},
    }
    assert discount_words(tiers) == "up to 10.00 off"
    assert terms_words(tiers) == "10.00 off orders of 100.00 or more"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dashboard/codes?code=X", "/dashboard/codes?code=X"),
        ("//evil.example", "/d"),
        ("https://evil.example", "/d"),
        ("/\\evil.example", "/d"),
        ("", "/d"),
        (None, "/d"),
    ],
)
def test_sign_in_only_sends_back_to_a_page_of_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target, "/d") == expected
