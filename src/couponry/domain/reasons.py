"""Why a code does not apply: the stable reason codes of shared/API.md."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    UNKNOWN_CODE = "unknown_code"
    CAMPAIGN_INACTIVE = "campaign_inactive"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    USAGE_LIMIT_REACHED = "usage_limit_reached"
    COUPON_USED_UP = "coupon_used_up"
    CUSTOMER_LIMIT_REACHED = "customer_limit_reached"
    BUDGET_EXHAUSTED = "budget_exhausted"
    MIN_SPEND_NOT_MET = "min_spend_not_met"
    MIN_QUANTITY_NOT_MET = "min_quantity_not_met"
    NO_ELIGIBLE_ITEMS = "no_eligible_items"
    EXCLUDED_ITEM_IN_CART = "excluded_item_in_cart"
    CUSTOMER_REQUIRED = "customer_required"
    NOT_ASSIGNED_TO_CUSTOMER = "not_assigned_to_customer"
    FIRST_ORDER_ONLY = "first_order_only"
    CUSTOMER_NOT_ELIGIBLE = "customer_not_eligible"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed"
    CURRENCY_MISMATCH = "currency_mismatch"
    NOT_COMBINABLE = "not_combinable"
    OUTSIDE_TIME_WINDOW = "outside_time_window"
    COUNTRY_NOT_ALLOWED = "country_not_allowed"


MESSAGES: dict[Reason, str] = {
    Reason.UNKNOWN_CODE: "No coupon has this code.",
    Reason.CAMPAIGN_INACTIVE: "The campaign of this coupon is not active.",
    Reason.NOT_STARTED: "This coupon is not valid yet.",
    Reason.EXPIRED: "This coupon has expired.",
    Reason.USAGE_LIMIT_REACHED: "The campaign has reached its redemption limit.",
    Reason.COUPON_USED_UP: "This coupon has been used the maximum number of times.",
    Reason.CUSTOMER_LIMIT_REACHED: "This customer has used this campaign the maximum number of times.",
    Reason.BUDGET_EXHAUSTED: "The campaign's discount budget is used up.",
    Reason.MIN_SPEND_NOT_MET: "The qualifying items do not reach the minimum spend.",
    Reason.MIN_QUANTITY_NOT_MET: "The cart does not hold enough qualifying items.",
    Reason.NO_ELIGIBLE_ITEMS: "No item in the cart qualifies for this coupon.",
    Reason.EXCLUDED_ITEM_IN_CART: "The cart holds an item this coupon excludes.",
    Reason.CUSTOMER_REQUIRED: "This coupon needs a customer_id.",
    Reason.NOT_ASSIGNED_TO_CUSTOMER: "This coupon belongs to another customer.",
    Reason.FIRST_ORDER_ONLY: "This coupon is for a customer's first order only.",
    Reason.CUSTOMER_NOT_ELIGIBLE: "This customer is not in the coupon's audience.",
    Reason.CHANNEL_NOT_ALLOWED: "This coupon cannot be used on this channel.",
    Reason.CURRENCY_MISMATCH: "The cart's currency is not the campaign's currency.",
    Reason.NOT_COMBINABLE: "This coupon cannot be combined with another coupon in the cart.",
    Reason.OUTSIDE_TIME_WINDOW: "This coupon is not valid at this time of day or week.",
    Reason.COUNTRY_NOT_ALLOWED: "This coupon is not valid for the shipping destination.",
}
