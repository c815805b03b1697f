"""Usage counted from the records themselves: active redemptions and live holds.

Campaigns without a campaign-wide limit keep no counters (see adapters.db.usage), nor do coupons
without a per-coupon limit, so their figures come from here; and a campaign that gets such a limit
starts its counters from here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from couponry.adapters.db.tables import redemption_codes, reservations


@dataclass
class CampaignUsage:
    redeemed_count: int = 0
    budget_used: int = 0
    held_count: int = 0
    budget_held: int = 0


def count_usage(conn: Connection, campaign_ids: Collection[str]) -> dict[str, CampaignUsage]:
    usage = {campaign_id: CampaignUsage() for campaign_id in campaign_ids}
    if not usage:
        return usage
    active = (
        select(
            redemption_codes.c.campaign_id,
            func.count(),
            func.coalesce(
                func.sum(
                    redemption_codes.c.discount
                    + redemption_codes.c.shipping_discount
                    - redemption_codes.c.returned
                ),
                0,
            ),
        )
        .where(redemption_codes.c.campaign_id.in_(list(usage)), redemption_codes.c.active.is_(True))
        .group_by(redemption_codes.c.campaign_id)
    )
    for campaign_id, count, spent in conn.execute(active):
        usage[campaign_id].redeemed_count = count
        usage[campaign_id].budget_used = int(spent)
    # live holds are few (they expire within minutes), and their codes are JSON: add them up here
    for (codes,) in conn.execute(select(reservations.c.codes).where(reservations.c.status == "held")):
        for held in codes:
            if held["campaign_id"] in usage:
                usage[held["campaign_id"]].held_count += 1
                usage[held["campaign_id"]].budget_held += held["discount"] + held["shipping_discount"]
    return usage


def count_coupon_redemptions(conn: Connection, codes: Collection[str]) -> dict[str, int]:
    """Active redemptions of each code (through the unique (code, order_id) index of the active ones)."""
    counted = dict.fromkeys(codes, 0)
    if counted:
        rows = conn.execute(
            select(redemption_codes.c.code, func.count())
            .where(redemption_codes.c.code.in_(list(counted)), redemption_codes.c.active.is_(True))
            .group_by(redemption_codes.c.code)
        )
        counted.update({code: count for code, count in rows})
    return counted


def count_coupon_usage(conn: Connection, campaign_id: str) -> dict[str, tuple[int, int]]:
    """(redeemed, held) of every code of a campaign that has any: a per-coupon limit's starting counters."""
    usage: dict[str, list[int]] = {}
    active = (
        select(redemption_codes.c.code, func.count())
        .where(redemption_codes.c.campaign_id == campaign_id, redemption_codes.c.active.is_(True))
        .group_by(redemption_codes.c.code)
    )
    for code, count in conn.execute(active):
        usage.setdefault(code, [0, 0])[0] = count
    for (codes,) in conn.execute(select(reservations.c.codes).where(reservations.c.status == "held")):
        for held in codes:
            if held["campaign_id"] == campaign_id:
                usage.setdefault(held["code"], [0, 0])[1] += 1
    return {code: (redeemed, held) for code, (redeemed, held) in usage.items()}
