"""Issuing reward coupons one customer at a time (triggers, referrals), in the caller's transaction.

Publications issue in bulk through adapters/db/publishing.py, whose (campaign, customer) claim makes a
customer's published coupon unique per campaign; a trigger may reward the same customer with the same
campaign several times (`per_customer`), and its coupon must not stop a later push, so rewards are
plain personal coupons, counted by their own tables (trigger_rewards, referral_rewards).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.tables import campaigns, coupons
from couponry.adapters.db.variants import assign_variants
from couponry.domain.codes import CodeConfig, generate, normalize_generated
from couponry.services.messaging import events


@dataclass(frozen=True, slots=True)
class IssuedCoupon:
    campaign_id: str
    code: str  # stored (normalized)
    display_code: str


def issuable_campaigns(conn: Connection, campaign_ids: Sequence[str]) -> list[Any]:
    """The campaigns a reward can still issue, in the given order (archived ones are left out)."""
    rows = {
        r.id: r
        for r in conn.execute(
            select(campaigns.c.id, campaigns.c.status, campaigns.c.definition).where(
                campaigns.c.id.in_(list(campaign_ids))
            )
        )
    }
    return [rows[c] for c in campaign_ids if c in rows and rows[c].status != "archived"]


def issue_package(
    conn: Connection, package: Sequence[Any], customer_id: str, now: datetime
) -> list[IssuedCoupon]:
    """One personal coupon of each campaign row (from `issuable_campaigns`) to the customer, issued at
    `now` (relative validity starts here), each reported as `coupon.issued`."""
    issued = []
    for campaign in package:
        config = CodeConfig.from_dict(campaign.definition.get("code_config"))
        while True:  # a drawn code taken elsewhere (rare: the code space is checked) is drawn again
            (display,) = generate(config, 1)
            code = normalize_generated(display)
            row = {"code": code, "display_code": display, "campaign_id": campaign.id,
                   "customer_id": customer_id, "issued_at": now}  # fmt: skip
            if insert_ignoring_conflicts(conn, coupons, row):
                break
        issued.append(IssuedCoupon(campaign.id, code, display))
        assign_variants(conn, campaign.id, [customer_id], now, campaign.definition)  # A/B: sticky arm
        events.coupons_issued(conn, campaign.id, customer_id, [display], now)
    return issued
