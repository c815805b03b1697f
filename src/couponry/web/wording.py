"""Template filters `discount_words` and `terms_words`: a campaign (the API's JSON, as the services
return it) in words. They only translate the JSON into the domain's CampaignRules; the words themselves
are domain/wording.py's, the same the coupon page, the POS page and the portal use ("10.00 off orders
of 50.00 or more, until 31 Dec"). Amounts are written without the currency code: pages name it once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from couponry.adapters.db.campaign_rules import benefit_from_dict, rules_from_parts
from couponry.domain.rules import CampaignRules
from couponry.domain.wording import describe_discount, describe_terms
from couponry.services.ids import utcnow


def campaign_rules(campaign: Mapping[str, Any]) -> CampaignRules:
    """The domain's rules of a campaign in the API's JSON shape (a web page's `c`)."""
    limits = campaign.get("limits") or {}
    return rules_from_parts(
        campaign.get("id") or "",
        currency=campaign.get("currency", ""),
        status=campaign.get("status", "active"),
        stacking=campaign.get("stacking", "exclusive"),
        definition=campaign,
        max_redemptions=limits.get("max_redemptions"),
        budget=limits.get("budget"),
        per_coupon=limits.get("per_coupon"),
        per_customer=limits.get("per_customer"),
    )


def discount_words(campaign: Mapping[str, Any]) -> str:
    """The discount alone: "10.00 off", "12.5% off (up to 20.00)", "free shipping"."""
    return describe_discount(benefit_from_dict(campaign["discount"]), campaign.get("currency", ""))


def terms_words(campaign: Mapping[str, Any]) -> str:
    """The discount with every condition a person must know: "10.00 off orders of 50.00 or more"."""
    return describe_terms(campaign_rules(campaign), now=utcnow())
