"""Referrals: when an invitee qualifies, the inviter and the invitee are each rewarded once.

The program (one row) says when an invitee qualifies: at sign-up (the first PUT naming `referred_by`)
or at the first completed order. The reward runs in that PUT's or that event's transaction: one
`referral_rewards` row per invitee (its primary key is "once"), a coupon of `inviter_campaign_id` to
the inviter and of `invitee_campaign_id` to the invitee, and the `referral.completed` triggers fire for
the inviter. `inviter_points` is recorded on the reward and credited to the inviter's points ledger
(a `bonus` entry, services/loyalty) in the same transaction.

Self-referral and unknown codes are refused when the profile is saved (services/customers/profiles.py).
Only `order.completed` qualifies an order, once per invitee; a qualifying order refunded later does not
take the rewards back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import customers, referral_program, referral_rewards
from couponry.domain.errors import InvalidInput, NotFound
from couponry.domain.triggers import Occurrence
from couponry.services.access.actors import Actor, Permission
from couponry.services.distribution.rewards import issuable_campaigns, issue_package
from couponry.services.distribution.triggers import check_campaigns_exist, on_occurrence
from couponry.services.loyalty.ledger import credit_bonus

REWARD_ON = ("signup", "first_order")
PROGRAM_ID = 1


def _body(row: Any) -> dict[str, Any]:
    return {
        "reward_on": row.reward_on,
        "inviter_campaign_id": row.inviter_campaign_id,
        "invitee_campaign_id": row.invitee_campaign_id,
        "inviter_points": row.inviter_points,
        "inviter_points_credited": True,  # to the inviter's points ledger, as a bonus entry
        "updated_at": row.updated_at,
    }


def put_program(db: Database, actor: Actor, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Create or replace the program; an unknown campaign is 422 unknown_campaign, nothing written."""
    actor.require(Permission.MANAGE_TRIGGERS)
    if body.get("reward_on") not in REWARD_ON:
        raise InvalidInput("reward_on", "must be signup or first_order")
    points = body.get("inviter_points") or 0
    if not isinstance(points, int) or isinstance(points, bool) or points < 0:
        raise InvalidInput("inviter_points", "must be a non-negative integer")
    values = {
        "reward_on": body["reward_on"],
        "inviter_campaign_id": body.get("inviter_campaign_id"),
        "invitee_campaign_id": body.get("invitee_campaign_id"),
        "inviter_points": points,
        "updated_at": now,
    }
    with db.write() as conn:
        for side in ("inviter_campaign_id", "invitee_campaign_id"):
            if values[side] is not None:
                check_campaigns_exist(conn, side, [values[side]])
        if not insert_ignoring_conflicts(conn, referral_program, {"id": PROGRAM_ID, **values}):
            conn.execute(update(referral_program).where(referral_program.c.id == PROGRAM_ID).values(**values))
        return _body(_program(conn))


def get_program(db: Database, actor: Actor) -> dict[str, Any]:
    actor.require(Permission.MANAGE_TRIGGERS)
    with db.read() as conn:
        row = _program(conn)
    if row is None:
        raise NotFound("no referral program yet: PUT /v1/referral-program")
    return _body(row)


def _program(conn: Connection) -> Any:
    return conn.execute(select(referral_program).where(referral_program.c.id == PROGRAM_ID)).first()


def on_signup(conn: Connection, invitee_id: str, now: datetime) -> None:
    """The invitee's first profile save named a referrer: reward if the program rewards sign-ups."""
    program = _program(conn)
    if program is None or program.reward_on != "signup":
        return
    inviter_id = conn.execute(select(customers.c.referrer_id).where(customers.c.id == invitee_id)).scalar()
    if inviter_id is not None:
        _reward(conn, program, invitee_id, inviter_id, None, now)


def on_order_completed(conn: Connection, customer_id: str, order_id: str, now: datetime) -> None:
    """A completed order (counted already): the customer's first one qualifies a referred customer."""
    program = _program(conn)
    if program is None or program.reward_on != "first_order":
        return
    row = conn.execute(
        select(customers.c.referrer_id, customers.c.order_count).where(customers.c.id == customer_id)
    ).first()
    if row is not None and row.referrer_id is not None and row.order_count == 1:
        _reward(conn, program, customer_id, row.referrer_id, order_id, now)


def _reward(
    conn: Connection, program: Any, invitee_id: str, inviter_id: str, order_id: str | None, now: datetime
) -> None:
    claimed = insert_ignoring_conflicts(
        conn,
        referral_rewards,
        {
            "invitee_id": invitee_id,
            "inviter_id": inviter_id,
            "reward_on": program.reward_on,
            "order_id": order_id,
            "inviter_points": program.inviter_points,
            "rewarded_at": now,
        },
    )
    if not claimed:  # rewarded already (a redelivery, another process)
        return
    codes: dict[str, str | None] = {"inviter_code": None, "invitee_code": None}
    for side, customer_id in (("inviter", inviter_id), ("invitee", invitee_id)):
        campaign_id = getattr(program, f"{side}_campaign_id")
        if campaign_id is not None:
            issued = issue_package(conn, issuable_campaigns(conn, [campaign_id]), customer_id, now)
            codes[f"{side}_code"] = issued[0].display_code if issued else None
    conn.execute(update(referral_rewards).where(referral_rewards.c.invitee_id == invitee_id).values(**codes))
    if program.inviter_points > 0:
        credit_bonus(conn, inviter_id, program.inviter_points, "referral", invitee_id, now, reason="referral")
    on_occurrence(conn, Occurrence("referral.completed", inviter_id, invitee_id, now), now)
