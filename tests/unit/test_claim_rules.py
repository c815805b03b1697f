"""The coupon center's pure rules: parsing an offer, where it is listed, and why a claim is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from couponry.domain.claims import ClaimOffer, ClaimRefusal, parse_offer, refusal
from couponry.domain.coupon import CustomerProfile
from couponry.domain.errors import InvalidCampaign
from couponry.domain.rules import AmountOff, CampaignRules, CampaignStatus, Conditions, Validity

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
RULES = CampaignRules(id="c", currency="USD", benefit=AmountOff(100))
FIVE = ClaimOffer(stock=5)


def test_an_empty_claim_section_is_one_per_customer_without_stock_or_window() -> None:
    assert parse_offer({}) == ClaimOffer(stock=None, per_customer=1)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"stock": -1}, "claim.stock"),
        ({"stock": True}, "claim.stock"),
        ({"per_customer": 0}, "claim.per_customer"),
        ({"per_customer": None}, "claim.per_customer"),
        ({"starts_at": "2026-05-02T00:00:00+00:00", "ends_at": "2026-05-01T00:00:00+00:00"}, "claim.ends_at"),
        ({"starts_at": "2026-05-02T00:00:00"}, "claim.starts_at"),
        ({"products": ["p1", ""]}, "claim.products"),
    ],
)
def test_nonsense_offers_are_refused_naming_the_field(data: dict, field: str) -> None:
    with pytest.raises(InvalidCampaign) as refused:
        parse_offer(data)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("products", "categories", "product_id", "category", "listed"),
    [
        ((), (), "p1", "shoes", True),  # names nothing: every page
        (("p1",), (), "p1", None, True),
        (("p1",), (), "p2", "shoes", False),
        ((), ("shoes",), "p2", "shoes", True),
        (("p1",), ("hats",), "p2", "hats", True),  # a product or a category it names
        (("p1",), (), None, None, True),  # no page asked: every offer
    ],
)
def test_an_offer_is_listed_on_the_pages_it_names(
    products: tuple, categories: tuple, product_id: str | None, category: str | None, listed: bool
) -> None:
    offer = ClaimOffer(products=products, categories=categories)
    assert offer.listed_for(product_id, category) is listed


def why(offer: ClaimOffer | None = FIVE, rules: CampaignRules = RULES, **kw: object) -> object:
    args = {"customer": None, "remaining": 5, "claimed_by_customer": 0, **kw}
    return refusal(offer, rules, args.pop("customer"), NOW, **args)  # type: ignore[arg-type]


def test_refusals_name_the_campaign_first_then_the_window_then_the_customer_then_the_stock() -> None:
    assert why() is None
    assert why(None) is ClaimRefusal.NOT_CLAIMABLE
    paused = CampaignRules(id="c", currency="USD", benefit=AmountOff(100), status=CampaignStatus.PAUSED)
    assert why(rules=paused) is ClaimRefusal.NOT_CLAIMABLE
    over = CampaignRules(id="c", currency="USD", benefit=AmountOff(100), validity=Validity(ends_at=NOW))
    assert why(rules=over) is ClaimRefusal.NOT_CLAIMABLE
    later = ClaimOffer(stock=5, starts_at=NOW + timedelta(hours=1))
    assert why(later, remaining=0, claimed_by_customer=1) is ClaimRefusal.CLAIM_NOT_OPEN
    assert why(ClaimOffer(ends_at=NOW)) is ClaimRefusal.CLAIM_NOT_OPEN  # the end is exclusive
    assert why(ClaimOffer(starts_at=NOW)) is None  # the start is inclusive
    assert why(remaining=0, claimed_by_customer=1) is ClaimRefusal.CLAIM_LIMIT_REACHED
    assert why(remaining=0) is ClaimRefusal.OUT_OF_STOCK
    assert why(ClaimOffer(stock=None), remaining=None) is None


def test_customer_conditions_decide_who_may_claim() -> None:
    vip = CampaignRules(
        id="c", currency="USD", benefit=AmountOff(100), conditions=Conditions(segment_id="s1")
    )
    assert why(rules=vip, customer=CustomerProfile("a")) is ClaimRefusal.NOT_CLAIMABLE
    assert why(rules=vip, customer=CustomerProfile("a", segment_ids=frozenset({"s1"}))) is None
    first = CampaignRules(
        id="c", currency="USD", benefit=AmountOff(100), conditions=Conditions(first_order_only=True)
    )
    assert why(rules=first, customer=CustomerProfile("a", order_count=1)) is ClaimRefusal.NOT_CLAIMABLE
