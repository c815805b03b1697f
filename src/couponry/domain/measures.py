"""What one redemption contributes to the daily figures of its campaigns and stores, given which of its
facts have been counted so far.

A redemption's facts never change once written: its codes (each with a sequence number), a whole
rollback and partial refunds (adjustments, each with a sequence number) and the order's
`order.completed` event (with one too). "Counted" is "sequence number <= the watermark" of its kind, so
the contribution under two sets of watermarks differs exactly by what the facts between them add. The
roll-ups hold the sum over all redemptions at the current watermarks; folding adds the differences.

Money: a partial refund of k of a line's n units gives back round_half_up(discount * k / n) of each
code's discount on it (the rule the checkout writes in redemption_lines.returned) and takes
round_half_up(paid * k / n) off the order's revenue, `paid` being the line's amount after discounts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date


def share(amount: int, part: int, whole: int) -> int:
    """round_half_up(amount * part / whole) in integers (amounts are never negative)."""
    return (2 * amount * part + whole) // (2 * whole)


@dataclass(frozen=True, slots=True)
class Watermarks:
    codes: int
    events: int
    adjustments: int


@dataclass(frozen=True, slots=True)
class CodeFact:
    seq: int
    code: str
    campaign_id: str
    platform: bool  # who bears the cost: the platform, or the issuing store
    discount: int
    shipping_discount: int


@dataclass(frozen=True, slots=True)
class LineFact:
    code: str
    line_id: str
    store_id: str  # "" when the line names no store
    borne_by: str
    quantity: int
    discount: int


@dataclass(frozen=True, slots=True)
class Adjustment:
    seq: int
    kind: str  # rollback | refund
    line_id: str | None = None
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class RedemptionFacts:
    day: date  # the redemption's day in the shop's time zone
    base_revenue: int  # what the order paid at redemption (the validation body's total)
    codes: tuple[CodeFact, ...]
    lines: tuple[LineFact, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    event: tuple[int, int] | None = None  # (seq, amount) of the order's order.completed event
    paid: Mapping[str, int] = field(default_factory=dict)  # line id -> amount after every discount
    quantities: Mapping[str, int] = field(default_factory=dict)  # line id -> units bought
    variants: Mapping[str, str] = field(default_factory=dict)  # campaign id -> variant ("" none)


# (campaign, variant, day) -> [redeemed, orders, revenue, cost_platform, cost_store]
CampaignKey = tuple[str, str, date]
# (campaign, store, borne_by, day) -> discount on that store's lines
StoreKey = tuple[str, str, str, date]
CAMPAIGN_FIELDS = ("redeemed", "orders", "revenue", "cost_platform", "cost_store")


@dataclass
class Deltas:
    campaigns: dict[CampaignKey, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 5))
    stores: dict[StoreKey, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, facts: RedemptionFacts, marks: Watermarks, sign: int = 1) -> None:
        """Add (sign 1) or remove (sign -1) the contribution of `facts` under `marks`."""
        codes = [c for c in facts.codes if c.seq <= marks.codes]
        if not codes:
            return
        counted = [a for a in facts.adjustments if a.seq <= marks.adjustments]
        if any(a.kind == "rollback" for a in counted):
            return
        refunded: dict[str, int] = defaultdict(int)
        for a in counted:
            if a.kind == "refund" and a.line_id is not None:
                refunded[a.line_id] += a.quantity
        returned: dict[str, int] = defaultdict(int)
        campaign_of = {c.code: c.campaign_id for c in codes}
        for line in facts.lines:
            campaign_id = campaign_of.get(line.code)
            if campaign_id is None:
                continue
            units = refunded[line.line_id]
            back = share(line.discount, units, line.quantity) if units else 0
            returned[line.code] += back
            self.stores[campaign_id, line.store_id, line.borne_by, facts.day] += sign * (line.discount - back)
        order_amount = facts.base_revenue
        if facts.event is not None and facts.event[0] <= marks.events:
            order_amount = facts.event[1]
        refunded_revenue = sum(
            share(facts.paid.get(line_id, 0), units, facts.quantities.get(line_id, units) or 1)
            for line_id, units in refunded.items()
        )
        seen: set[str] = set()
        for c in codes:
            row = self.campaigns[c.campaign_id, facts.variants.get(c.campaign_id, ""), facts.day]
            cost = c.discount + c.shipping_discount - returned[c.code]
            row[0] += sign
            row[3 if c.platform else 4] += sign * cost
            if c.campaign_id not in seen:  # an order counts once per campaign, whatever its codes
                seen.add(c.campaign_id)
                row[1] += sign
                row[2] += sign * (order_amount - refunded_revenue)

    def change(self, facts: RedemptionFacts, before: Watermarks, after: Watermarks) -> None:
        self.add(facts, after, 1)
        self.add(facts, before, -1)

    def nonzero(self) -> tuple[dict[CampaignKey, list[int]], dict[StoreKey, int]]:
        return (
            {k: v for k, v in self.campaigns.items() if any(v)},
            {k: v for k, v in self.stores.items() if v},
        )


def roi(revenue: int, cost: int) -> float | None:
    """(revenue of the orders that used the campaign - discount cost) / discount cost; None without cost."""
    if cost <= 0:
        return None
    return (revenue - cost) / cost


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def sum_rows(rows: Sequence[Sequence[int]]) -> list[int]:
    return [sum(col) for col in zip(*rows, strict=True)] if rows else [0] * len(CAMPAIGN_FIELDS)
